"""The pipeline report: success, failures, durations, rollbacks, flaky tests, the four keys.

:func:`build` takes the stack's history (the frames ``opslib.telemetry.history.collect``
reads) and returns a :class:`PipelineReport`: every figure, its card, charts and tables in
the one look of ``opslib.render``, and the JSON summary in the contract's shape
(``summary.PipelineSummary``). Pure: no session, no AWS.

The window a report states is the one its data really covers: the latest start among
the sources it reads (executions, actions, builds, deployments), never earlier than asked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import pandas

from opslib import render
from opslib.config import Objectives
from opslib.render import Headline, Status
from opslib.reports import dora, success, summary
from opslib.reports.figures import Figure
from opslib.reports.summary import PipelineSummary, Reasons

SOURCES = ("executions", "actions", "builds", "deployments")
HALF_DAY = timedelta(hours=12)
# CodeBuild's phases in the order a build goes through them (BatchGetBuilds phaseType).
PHASE_ORDER = (
    "SUBMITTED",
    "QUEUED",
    "PROVISIONING",
    "DOWNLOAD_SOURCE",
    "INSTALL",
    "PRE_BUILD",
    "BUILD",
    "POST_BUILD",
    "UPLOAD_ARTIFACTS",
    "FINALIZING",
    "COMPLETED",
)
DORA_LABELS = {
    "deployment_frequency": ("deployment frequency", render.per_day),
    "lead_time_hours": ("lead time for changes", render.hours),
    "change_failure_rate": ("change failure rate", render.percent),
    "time_to_restore_hours": ("time to restore service", render.hours),
}


class WindowLike(Protocol):  # read-only members: telemetry's frozen dataclasses match
    @property
    def since(self) -> datetime: ...
    @property
    def until(self) -> datetime: ...


class CoverageLike(Protocol):
    @property
    def covered_since(self) -> datetime: ...
    @property
    def reason(self) -> str: ...


class HistoryLike(Protocol):
    """What a report reads of ``opslib.telemetry.history.History``."""

    @property
    def window(self) -> WindowLike: ...
    @property
    def frames(self) -> Mapping[str, pandas.DataFrame]: ...
    @property
    def coverage(self) -> Mapping[str, CoverageLike]: ...
    def simulated_fraction(self) -> float | None: ...


def covered_since(history: HistoryLike, sources: tuple[str, ...] = SOURCES) -> datetime:
    """The latest start among ``sources``: what all of them cover, never before the window."""
    found = [history.coverage[s].covered_since for s in sources if s in history.coverage]
    return max([history.window.since, *found])


@dataclass(frozen=True)
class PipelineReport:
    """Every figure of one pipeline report over one window."""

    stack: str
    since: datetime
    until: datetime
    covered_since: datetime
    coverage_notes: dict[str, str]
    objective: float
    outcomes: success.Outcomes
    keys: dora.FourKeys
    clusters: dict[str, Any]
    summary: PipelineSummary
    reasons: Reasons
    frames: Mapping[str, pandas.DataFrame]
    simulated_fraction: float | None

    # -- the verdict ------------------------------------------------------------------------
    @property
    def ok(self) -> bool:
        """The success rate meets the objective (no decided execution misses nothing)."""
        rate = self.outcomes.success_rate.value
        return rate is None or rate >= self.objective

    @property
    def sentence(self) -> str:
        rate = self.outcomes.success_rate
        goal = render.percent(self.objective)
        if rate.value is None:
            return f"no execution succeeded or failed in the window: nothing to hold against {goal}"
        decided = self.outcomes.succeeded + self.outcomes.failed
        shown = f"success rate {render.percent(rate.value)} of {decided} finished execution(s)"
        return f"{shown} {'meets' if self.ok else 'is below'} the objective of {goal}"

    # -- the card ---------------------------------------------------------------------------
    def headlines(self) -> tuple[Headline, ...]:
        counted = self.outcomes
        rate = counted.success_rate
        found = [
            Headline.of(
                "success rate",
                rate.value,
                render.percent,
                reason=rate.reason,
                note=f"objective ≥ {render.percent(self.objective)}",
                status=render.against(rate.value, self.objective),
            ),
            Headline(
                "executions",
                render.number(counted.executions),
                f"{counted.succeeded} succeeded · {counted.failed} failed · "
                f"{counted.stopped} stopped · {counted.superseded} superseded",
            ),
        ]
        for key, (label, fmt) in DORA_LABELS.items():
            figure: Figure = getattr(self.keys, key)
            cluster = self.clusters.get(key)
            found.append(
                Headline.of(
                    label,
                    figure.value,
                    fmt,
                    reason=figure.reason,
                    note=f"{cluster} ({self.clusters['year']})" if cluster else "",
                    status=_cluster_status(cluster),
                )
            )
        return tuple(found)

    def facts(self) -> tuple[tuple[str, str], ...]:
        facts = [
            ("stack", self.stack),
            ("window", f"{render.when(self.since)} – {render.when(self.until)}"),
            ("data covers from", render.when(self.covered_since)),
            (
                "deployments",
                f"{self.keys.deployments} by the pipeline, {self.keys.rollbacks} rollback(s)",
            ),
            ("DORA clusters", f"{self.clusters['year']} report"),
        ]
        return tuple(facts)

    def card(self, verdict: str = "") -> render.Card:
        return render.Card(
            "Pipeline report",
            self.headlines(),
            verdict or f"{'✓' if self.ok else '✗'} {self.sentence}",
            self.ok,
            self.facts(),
            self.simulated_fraction,
        )

    def notes(self) -> render.Notes:
        """Why a figure is missing, and where a source covers less than the window."""
        return render.notes(
            "Not computed, or covering less than asked",
            {
                **{
                    name.replace("dora.", "").replace("_", " "): why
                    for name, why in self.reasons.items()
                },
                **self.coverage_notes,
            },
        )

    # -- charts -----------------------------------------------------------------------------
    def _span(self) -> dict[str, Any]:
        """Whole UTC days from the covered start to the end: a day's point sits at its noon."""
        first = pandas.Timestamp(self.covered_since).floor("D").to_pydatetime()
        last = pandas.Timestamp(self.until).ceil("D").to_pydatetime()
        return {"start": first, "end": last, "simulated_fraction": self.simulated_fraction}

    def success_chart(self) -> render.Chart:
        """Success rate per day, its 7-day rolling line and the objective (dashed)."""
        daily = success.daily_success(self.frames["executions"])
        days = at_noon(daily["day"])
        return render.line_chart(
            "Success rate per day (UTC)",
            [
                render.Series("daily", days, list(daily["rate"]), {"marker": "o", "linestyle": ""}),
                render.Series("7-day rolling", days, list(daily["rolling_rate"])),
            ],
            unit="percent",
            ylabel="succeeded / (succeeded + failed)",
            objective=(self.objective, f"objective {render.percent(self.objective)}"),
            empty="no execution succeeded or failed in the window",
            **self._span(),
        )

    def duration_chart(self, kind: str) -> render.Chart:
        """p50 and p90 per day of ``builds`` or ``deployments``."""
        daily = success.duration_percentiles(self.frames[kind])
        days = at_noon(daily["day"])
        return render.line_chart(
            f"{kind.capitalize()} duration per day (p50, p90)",
            [
                render.Series("p50", days, list(daily["p50_s"]), {"marker": "o"}),
                render.Series(
                    "p90", days, list(daily["p90_s"]), {"marker": "s", "linestyle": "--"}
                ),
            ],
            unit="seconds",
            ylabel="duration",
            empty=f"no finished {kind[:-1]} in the window",
            **self._span(),
        )

    def phase_chart(self) -> render.Chart:
        """Mean seconds per build phase per day, stacked in CodeBuild's order."""
        table = success.phase_durations(self.frames["phases"], self.frames["builds"])
        if table.empty:
            return render.empty_chart(
                "Build phases per day", "no finished build phase in the window"
            )
        phases = [p for p in PHASE_ORDER if p in table.columns]
        phases += sorted(c for c in table.columns if c not in phases and c != "day")
        stacks = {p: list(table[p].fillna(0.0)) for p in phases}
        return render.stacked_bars(
            "Build phases per day (mean, stacked)",
            at_noon(table["day"]),
            stacks,
            ylabel="duration",
            **self._span(),
        )

    # -- tables -----------------------------------------------------------------------------
    def outcomes_table(self) -> render.Table:
        c = self.outcomes
        frame = pandas.DataFrame(
            [
                ("succeeded", c.succeeded),
                ("failed", c.failed),
                ("stopped", c.stopped),
                ("superseded", c.superseded),
                ("all executions", c.executions),
            ],
            columns=["outcome", "executions"],
        )
        return render.table(frame)

    def failures_table(self) -> render.Table:
        return render.table(
            success.failures_by_action(self.frames["actions"]),
            empty="no failed action in the window",
        )

    def reasons_table(self, limit: int = 10) -> render.Table:
        return render.table(
            success.top_failure_reasons(self.frames["actions"], limit),
            empty="no failed action in the window",
        )

    def rollbacks_table(self) -> render.Table:
        return render.table(
            success.rollbacks(self.frames["deployments"]),
            labels={"deployment_id": "rollback", "rolls_back": "undid"},
            empty="no rollback in the window",
        )

    def flaky_table(self) -> render.Table:
        cases = self.frames.get("test_cases")
        if cases is None:
            return render.table(pandas.DataFrame(), empty="test reports were not read")
        return render.table(
            success.flaky_tests(cases),
            labels={"source_version": "commit"},
            empty="no test failed and passed on the same commit",
        )

    def dora_table(self) -> render.Table:
        rows = []
        for key, (label, fmt) in DORA_LABELS.items():
            figure: Figure = getattr(self.keys, key)
            rows.append(
                {
                    "key": label,
                    "value": fmt(figure.value) if figure.value is not None else render.NO_VALUE,
                    "cluster": self.clusters.get(key) or render.NO_VALUE,
                    "note": figure.reason,
                }
            )
        return render.table(pandas.DataFrame(rows, columns=["key", "value", "cluster", "note"]))


def at_noon(days: pandas.Series) -> list[datetime]:
    """Each UTC day's midday: where its point or bar is drawn, inside the day it counts."""
    return [d.to_pydatetime() + HALF_DAY for d in pandas.to_datetime(days, utc=True)]


def _cluster_status(cluster: str | None) -> Status:
    if not cluster:
        return Status.UNKNOWN
    return Status.GOOD if cluster in ("elite", "high") else Status.BAD


def coverage_notes(history: HistoryLike, sources: tuple[str, ...] = SOURCES) -> dict[str, str]:
    """The sources that reach less far back than the window asked, with their reason."""
    notes = {}
    for name in sources:
        found = history.coverage.get(name)
        if found is not None and found.covered_since > history.window.since:
            notes[f"{name} cover from {render.when(found.covered_since)}"] = found.reason
    return notes


def build(
    history: HistoryLike, objectives: Objectives, *, stack: str = "", year: str | None = None
) -> PipelineReport:
    """Every figure of the pipeline report over the history's window."""
    frames = history.frames
    since, until = history.window.since, history.window.until
    covered = covered_since(history)
    days = (until - covered).total_seconds() / 86400
    counted = success.outcomes(frames["executions"])
    keys = dora.four_keys(frames["actions"], frames["deployments"], days)
    clusters = dora.clusters(keys, year or None)
    fraction = history.simulated_fraction()
    made, reasons = summary.pipeline_report(
        counted, keys, clusters, summary.window(since, until, covered), fraction
    )
    return PipelineReport(
        stack,
        since,
        until,
        covered,
        coverage_notes(history),
        objectives.success_rate,
        counted,
        keys,
        clusters,
        made,
        reasons,
        frames,
        fraction,
    )
