"""What people see of a drill: the verdict, the timeline chart, the scorecard of all drills.

Everything is drawn from a drill's summary (itself read from the journal) or from the JSON
summaries earlier runs left under ``reports/<stack>/<date>/drill-*.json``: no second
bookkeeping. Times are UTC, and say so.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opslib.drills.engine import DrillResult
from opslib.drills.measures import parse_time
from opslib.render import Chart
from opslib.runbooks.context import RunbookContext
from opslib.runbooks.reports import summary_path
from opslib.runbooks.verdict import Verdict, rerun_hint

if TYPE_CHECKING:
    import pandas

_LABELS = {
    "injected": "fault injected",
    "detected": "detected",
    "recovery_started": "recovery started",
    "restored": "steady state restored",
}


def human_seconds(seconds: float | None) -> str:
    """``4 m 12 s``; a dash for no figure."""
    if seconds is None:
        return "–"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} m {rest} s" if minutes else f"{rest} s"


def verdict(result: DrillResult) -> Verdict:
    """✓ for a dry run that found its targets, or a drill that met its objectives."""
    name = result.plan.drill
    if result.journal is None:
        hint = rerun_hint(f"drill-{name}", "confirm", True)
        return Verdict(True, f"dry run: nothing changed; {result.plan.describe()}; {hint}")
    data = result.summary_data
    rto = human_seconds(data.get("rto_seconds"))
    objective = result.objective
    if data.get("objective_met"):
        return Verdict(True, f"{name}: back to steady state in {rto} (objective "
                       f"{objective.rto_minutes} min), {_rpo(data)}; rollbacks ran")  # fmt: skip
    reasons = "; ".join(data.get("reasons") or []) or "objective not met"
    return Verdict(False, f"{name}: {reasons}")


def _rpo(data: Mapping[str, Any]) -> str:
    if not data.get("data_at_stake"):
        return "no data at stake"
    lost = data.get("data_lost") or []
    if not lost:
        return "nothing lost (RPO 0 s)"
    return f"lost {', '.join(lost)} (RPO {human_seconds(data.get('rpo_seconds'))})"


def timeline_frame(data: Mapping[str, Any]) -> pandas.DataFrame:
    """One row per moment: what, when (UTC), seconds since the fault, which activity."""
    import pandas

    moments = data.get("timeline") or []
    start = parse_time(moments[0]["at"]) if moments else None
    rows = []
    for moment in moments:
        at = parse_time(moment["at"])
        since = (at - start).total_seconds() if at and start else None
        rows.append({"moment": _LABELS.get(moment["mark"], moment["mark"]),
                     "at (UTC)": f"{at:%H:%M:%S}" if at else "",
                     "after the fault": human_seconds(since),
                     "reported by": moment["source"]})  # fmt: skip
    return pandas.DataFrame(rows, columns=["moment", "at (UTC)", "after the fault", "reported by"])


def timeline_chart(data: Mapping[str, Any]) -> Chart:
    """The moments on a time axis, the impact shaded, the RTO objective dashed."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 2.4))
    moments = data.get("timeline") or []
    if not moments:
        return Chart(figure, note="no timeline: the drill did not run its method")
    times = [parse_time(m["at"]) for m in moments]
    start = times[0]
    assert start is not None
    seconds = [(t - start).total_seconds() if t else 0.0 for t in times]
    axes = figure.add_subplot()
    axes.scatter(seconds, [0] * len(seconds), zorder=3)
    for x, moment in zip(seconds, moments, strict=True):
        axes.annotate(_LABELS.get(moment["mark"], moment["mark"]), (x, 0), xytext=(0, 10),
                      textcoords="offset points", rotation=30, fontsize=8)  # fmt: skip
    rto = data.get("rto_seconds")
    if rto is not None:
        axes.axvspan(0, rto, alpha=0.15, label=f"impact ({human_seconds(rto)})")
    objective = (data.get("objectives") or {}).get("rto_minutes")
    if objective:
        axes.axvline(objective * 60, linestyle="--", color="grey", label=f"RTO {objective} min")
    axes.set_yticks([])
    axes.set_xlabel(f"seconds after the fault (injected {start:%Y-%m-%d %H:%M:%S} UTC)")
    axes.legend(loc="upper right", fontsize=8)
    figure.tight_layout()
    return Chart(figure)


def past_runs(root: Path, stack: str) -> list[dict[str, Any]]:
    """Every drill run's summary under ``root/<stack>/``: the ``data`` of each
    ``drill-*.json`` a runbook left (journals and dry runs left out), oldest first."""
    found = []
    for path in sorted((root / stack).glob("*/drill-*.json")):
        if path.stem.endswith("-journal"):
            continue
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        data = document.get("data") or {}
        if data.get("drill") and data.get("status") != "dry-run" and "rto_seconds" in data:
            started = parse_time(document.get("started"))
            found.append({**data, "started": started})
    return sorted(found, key=lambda d: d["started"] or datetime.min)


def scorecard(runs: Iterable[Mapping[str, Any]]) -> pandas.DataFrame:
    """Each drill's latest run against its objectives, newest first, with the RTO trend."""
    import pandas

    latest: dict[str, list[Mapping[str, Any]]] = {}
    for run in runs:
        latest.setdefault(str(run["drill"]), []).append(run)
    rows = []
    for drill, history in latest.items():
        last = history[-1]
        objectives = last.get("objectives") or {}
        rows.append({
            "drill": drill,
            "last run (UTC)": f"{last['started']:%Y-%m-%d %H:%M}" if last.get("started") else "",
            "status": last.get("status", ""),
            "RTO": human_seconds(last.get("rto_seconds")),
            "RTO objective": f"{objectives.get('rto_minutes', '?')} min",
            "RPO": _rpo(last),
            "objective met": "✓" if last.get("objective_met") else "✗",
            "trend": _trend([r.get("rto_seconds") for r in history]),
            "runs": len(history),
        })  # fmt: skip
    columns = ["drill", "last run (UTC)", "status", "RTO", "RTO objective", "RPO",
               "objective met", "trend", "runs"]  # fmt: skip
    frame = pandas.DataFrame(rows, columns=columns)
    return frame.sort_values("last run (UTC)", ascending=False, ignore_index=True)


def _trend(values: list[Any]) -> str:
    """↘ faster than the run before, ↗ slower, → about the same (±10 %), blank for one run."""
    figures = [float(v) for v in values if v is not None]
    if len(figures) < 2:
        return ""
    before, now = figures[-2], figures[-1]
    if abs(now - before) <= 0.1 * max(before, 1.0):
        return "→"
    return "↘ faster" if now < before else "↗ slower"


def scorecard_verdict(runs: list[Mapping[str, Any]]) -> Verdict:
    """✓ when every drill's latest run met its objectives."""
    latest = {str(r["drill"]): r for r in runs}
    if not latest:
        return Verdict(True, "no drill has run yet: run a drill-<name> runbook with confirm=True")
    missed = sorted(name for name, r in latest.items() if not r.get("objective_met"))
    if missed:
        return Verdict(False, f"latest run missed its objectives: {', '.join(missed)}")
    return Verdict(True, f"all {len(latest)} drill(s) met their objectives on their latest run")


def trend_chart(runs: list[Mapping[str, Any]]) -> Chart:
    """RTO per drill across runs, each against its objective (dashed)."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 3.2))
    measured = [r for r in runs if r.get("rto_seconds") is not None and r.get("started")]
    if not measured:
        return Chart(figure, note="no drill has run yet with confirm=True")
    axes = figure.add_subplot()
    drills = sorted({str(r["drill"]) for r in measured})
    for drill in drills:
        points = [r for r in measured if r["drill"] == drill]
        axes.plot([r["started"] for r in points], [r["rto_seconds"] / 60 for r in points],
                  marker="o", label=drill)  # fmt: skip
        objective = (points[-1].get("objectives") or {}).get("rto_minutes")
        if objective and len(drills) == 1:
            axes.axhline(objective, linestyle="--", color="grey", label="RTO objective")
    axes.set_ylabel("RTO (minutes)")
    axes.set_xlabel("drill run (UTC)")
    if len(drills) > 1 or len(axes.get_lines()) > 1:
        axes.legend(fontsize=8)
    figure.autofmt_xdate()
    figure.tight_layout()
    return Chart(figure)


def report_path(context: RunbookContext) -> Path:
    """The runbook run's JSON summary path: the drill's journal goes beside it."""
    config = context.config
    return summary_path(config.stack, context.name, context.started, config.base_dir())
