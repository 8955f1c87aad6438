"""The cost report assembled from the issue's scripted history: usage, bill, month to date."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from opslib.exceptions import ConfigError
from opslib.reports import cost, costreport
from opslib.telemetry.schema import frame
from tests.unit import telemetry_fixtures as fx
from tests.unit.test_reports_dora import frames

pytestmark = pytest.mark.unit


def cost_inputs(since: datetime, until: datetime) -> costreport.Inputs:
    f = frames()
    instances = frame("instances", [
        {"instance_id": "i-1", "type": "t3.micro", "state": "running", "launch": fx.at(-600)},
    ])  # fmt: skip
    kinds = ("volumes", "object_versions", "log_groups", "alarms", "custom_metrics", "dashboards")
    empty = {kind: frame(kind, []) for kind in kinds}
    return costreport.Inputs(
        history={**f, "events": frame("events", [])},
        inventory={"instances": instances, **empty},
        usage_metrics=frame("metrics", []),
        pipeline_type="V2",
        since=since,
        until=until,
    )


def test_the_cost_report_bills_the_builds_rounded_up_and_the_instance_hours() -> None:
    since, until = fx.at(-60), fx.at(120)  # three hours inside November
    report = costreport.build(cost_inputs(since, until), cost.prices(), tier=cost.FreeTier.NONE)
    usage = report.summary["usage"]
    assert usage["codebuild_build_minutes"] == 2 + 1 + 2 + 4  # each build rounded up
    assert usage["ec2_instance_hour_t3_micro"] == pytest.approx(3.0)
    assert usage["logs_ingest_gb"] is None and "IncomingBytes" in report.notes()._repr_html_()
    builds = 9 * 0.005
    instances = 3.0 * 0.0104
    assert report.summary["by_service"]["codebuild"] == pytest.approx(builds)
    assert report.summary["total_usd"] == pytest.approx(
        sum(report.summary["by_service"].values())
    )  # fmt: skip
    assert report.summary["by_service"]["ec2"] == pytest.approx(instances)
    assert report.per_release.value == pytest.approx(report.bill.total_usd / 2)


def test_the_free_tier_covers_a_small_month() -> None:
    inputs = cost_inputs(fx.at(-60), fx.at(120))
    report = costreport.build(inputs, cost.prices(), tier=cost.FreeTier.LEGACY)
    assert report.summary["total_usd"] == 0.0 and report.summary["free_tier_usd"] > 0


def test_a_window_across_months_is_billed_month_by_month() -> None:
    slices = costreport.month_slices(
        datetime(2026, 11, 20, tzinfo=UTC), datetime(2026, 12, 3, tzinfo=UTC)
    )
    assert slices == [
        (datetime(2026, 11, 20, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)),
        (datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 12, 3, tzinfo=UTC)),
    ]


def test_month_to_date_and_forecast() -> None:
    until = fx.at(120)  # 2026-11-02 11:00
    report = costreport.build(
        cost_inputs(fx.at(-60), until), cost.prices(), tier=cost.FreeTier.NONE
    )
    # the window holds everything since the month began: month to date equals its cost
    assert report.month_to_date.total_usd == pytest.approx(report.bill.total_usd)
    elapsed = (until - datetime(2026, 11, 1, tzinfo=UTC)).total_seconds()
    expected = report.month_to_date.total_usd * 30 * 86400 / elapsed
    assert report.summary["forecast_month_usd"] == pytest.approx(expected)


def test_cost_explorer_and_a_price_refresh_are_shown_or_said_unavailable() -> None:
    inputs = cost_inputs(fx.at(-60), fx.at(120))
    report = costreport.build(
        inputs, cost.prices(), explorer=(None, "the local emulator has no Cost Explorer")
    )
    explorer = report.headlines()[-1]
    assert explorer.value == "–" and "no Cost Explorer" in explorer.note
    fresh = costreport.refreshed(cost.prices(), {"ec2.instance_hour.t3.micro": 0.02}, "2026-12-02")
    assert fresh.usd["ec2.instance_hour.t3.micro"] == 0.02 and fresh.date == "2026-12-02"
    assert "Price List API" in fresh.source


def test_an_unknown_free_tier_is_refused_by_name() -> None:
    with pytest.raises(ConfigError, match="free_tier: expected one of legacy, credits, none"):
        costreport.free_tier("always")
