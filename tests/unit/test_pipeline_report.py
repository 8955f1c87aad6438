"""The pipeline report assembled from the issue's scripted history: summary, card, charts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pandas
import pytest

from opslib.config import Objectives
from opslib.render import Status
from opslib.reports import pipelinereport
from tests.unit import telemetry_fixtures as fx
from tests.unit.test_reports_dora import frames

pytestmark = pytest.mark.unit


@dataclass
class FakeWindow:
    since: datetime
    until: datetime


@dataclass
class FakeCoverage:
    covered_since: datetime
    reason: str = ""


@dataclass
class FakeHistory:
    window: FakeWindow
    frames: dict[str, pandas.DataFrame]
    coverage: dict[str, FakeCoverage] = field(default_factory=dict)
    fraction: float | None = 0.0

    def simulated_fraction(self) -> float | None:
        return self.fraction


def history(days: float = 1.0, **coverage: FakeCoverage) -> FakeHistory:
    since = fx.T0 - timedelta(hours=1)
    return FakeHistory(FakeWindow(since, since + timedelta(days=days)), frames(), coverage)


def test_the_pipeline_summary_counts_the_scripted_runs_exactly() -> None:
    report = pipelinereport.build(history(), Objectives(success_rate=0.95), stack="demo")
    s = report.summary
    assert (s["executions"], s["succeeded"], s["failed"], s["stopped"], s["superseded"]) == (
        4, 2, 2, 0, 0
    )  # fmt: skip
    assert s["success_rate"] == 0.5
    assert (s["dora"]["deployments"], s["dora"]["rollbacks"]) == (3, 1)
    assert s["dora"]["deployment_frequency"] == pytest.approx(2.0)  # 2 in one day
    assert s["dora"]["change_failure_rate"] == pytest.approx(1 / 3)
    assert s["dora"]["time_to_restore_hours"] == pytest.approx(0.25)
    assert s["dora"]["clusters"]["year"] == "2024"
    assert s["window"]["covered_since"] == s["window"]["since"]
    assert s["simulated_fraction"] == 0.0


def test_the_verdict_holds_the_rate_against_the_objective() -> None:
    below = pipelinereport.build(history(), Objectives(success_rate=0.95))
    assert not below.ok and "50.0 % of 4 finished" in below.sentence and "below" in below.sentence
    met = pipelinereport.build(history(), Objectives(success_rate=0.5))
    assert met.ok and "meets the objective of 50.0 %" in met.sentence
    rate = below.headlines()[0]
    assert (rate.label, rate.value, rate.status) == ("success rate", "50.0 %", Status.BAD)


def test_the_window_states_what_the_sources_really_cover() -> None:
    later = fx.T0 + timedelta(minutes=30)
    report = pipelinereport.build(
        history(executions=FakeCoverage(later, "CodePipeline keeps 12 months"),
                alarms=FakeCoverage(later + timedelta(hours=5), "not a source of this report")),
        Objectives(),
    )  # fmt: skip
    assert report.summary["window"]["covered_since"] == later.isoformat()
    shown = report.notes()._repr_html_()
    assert "CodePipeline keeps 12 months" in shown and "not a source" not in shown


def test_missing_figures_are_null_with_their_reason_in_the_report() -> None:
    empty = {name: f.iloc[0:0] for name, f in frames().items()}
    since = fx.T0
    h = FakeHistory(FakeWindow(since, since + timedelta(days=1)), empty, fraction=None)
    report = pipelinereport.build(h, Objectives())
    assert report.summary["success_rate"] is None
    assert report.summary["dora"]["lead_time_hours"] is None
    assert "no execution succeeded or failed" in report.notes()._repr_html_()
    assert report.ok  # nothing finished: nothing missed the objective
    assert report.success_chart().note  # a sentence, not empty axes


def test_the_charts_draw_the_days_and_the_objective() -> None:
    report = pipelinereport.build(history(), Objectives(success_rate=0.9))
    axes = report.success_chart().figure.axes[0]
    assert [line.get_label() for line in axes.get_lines()] == [
        "daily", "7-day rolling", "objective 90.0 %"
    ]  # fmt: skip
    phases = report.phase_chart().figure.axes[0]
    assert [c.get_label() for c in phases.containers] == ["SUBMITTED", "BUILD"]
    assert report.duration_chart("builds").note == ""
    assert "rollback" in report.rollbacks_table()._repr_html_()
