"""RTO, RPO and the timeline of a drill, read from its Chaos Toolkit journal (pure).

The journal is the record of a drill (chaos report renders from it too), so nothing here
keeps a second bookkeeping: a moment of the timeline is either a time an activity's output
reports under ``marks`` (``{"marks": {"detected": "<iso>"}}`` — a deployment's failure time
as CodeDeploy gives it, say), or the end of an activity that the experiment file tags with
``"x-opslib-mark": "<mark>"``. The output's own time wins: it is closer to the event.

RTO is impact to steady state: ``restored - injected``. RPO comes from the activity that
judged the data (``{"rpo": {"rpo_seconds": ..., "data_lost": [...]}}``); a drill that put
no data at risk lost none.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

from opslib.drills.model import (
    DrillStatus,
    Mark,
    Moment,
    Objective,
    RecoveryPoint,
    Timeline,
    Verification,
)

MARK_KEY = "x-opslib-mark"  # an activity's annotation in the experiment file


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 time from a journal (chaoslib writes ``datetime.isoformat()``)."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def activity_runs(journal: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """Every activity run of the journal in the order it ran: hypothesis before, method,
    hypothesis after, rollbacks."""
    states = journal.get("steady_states") or {}
    yield from ((states.get("before") or {}).get("probes") or [])
    yield from journal.get("run") or []
    yield from ((states.get("after") or {}).get("probes") or [])
    yield from journal.get("rollbacks") or []


def _name(run: Mapping[str, Any]) -> str:
    return str((run.get("activity") or {}).get("name", ""))


def _moments(run: Mapping[str, Any]) -> Iterator[Moment]:
    output = run.get("output")
    marks = output.get("marks") if isinstance(output, Mapping) else None
    for key, value in (marks or {}).items():
        at = parse_time(value)
        if at is not None and key in Mark._value2member_map_:
            yield Moment(Mark(key), at, _name(run))
    tagged = (run.get("activity") or {}).get(MARK_KEY)
    end = parse_time(run.get("end"))
    if tagged in Mark._value2member_map_ and end and run.get("status") == "succeeded":
        if not marks or tagged not in marks:
            yield Moment(Mark(tagged), end, _name(run))


def timeline(journal: Mapping[str, Any]) -> Timeline:
    """The drill's moments from the method's runs (rollbacks and hypotheses mark nothing):
    the first time each mark is reported, in time order."""
    found: dict[Mark, Moment] = {}
    for run in journal.get("run") or []:
        for moment in _moments(run):
            found.setdefault(moment.mark, moment)
    return Timeline(tuple(sorted(found.values(), key=lambda m: m.at)))


def rto_seconds(line: Timeline) -> float | None:
    """Impact to steady state (``restored - injected``); None when either is missing."""
    injected, restored = line.at(Mark.INJECTED), line.at(Mark.RESTORED)
    if injected is None or restored is None:
        return None
    return round(max(0.0, (restored - injected).total_seconds()), 3)


def recovery_point(journal: Mapping[str, Any]) -> RecoveryPoint:
    """What the drill lost, as the method's data-judging activity reported it."""
    for run in journal.get("run") or []:
        output = run.get("output")
        rpo = output.get("rpo") if isinstance(output, Mapping) else None
        if isinstance(rpo, Mapping):
            lost = tuple(str(item) for item in rpo.get("data_lost") or ())
            return RecoveryPoint(float(rpo.get("rpo_seconds") or 0.0), lost, True)
    return RecoveryPoint()


def status(journal: Mapping[str, Any]) -> DrillStatus:
    value = str(journal.get("status", ""))
    return DrillStatus(value) if value in DrillStatus._value2member_map_ else DrillStatus.FAILED


def steady_state(journal: Mapping[str, Any], phase: str) -> bool | None:
    """Whether the hypothesis held ``before`` or ``after`` the method (None: not run)."""
    state = (journal.get("steady_states") or {}).get(phase)
    return None if not state else bool(state.get("steady_state_met"))


def failed_runs(runs: Iterable[Mapping[str, Any]]) -> list[str]:
    """``name: error`` for each failed activity run (the exception's last line)."""
    out = []
    for run in runs:
        if run.get("status") == "failed":
            lines = [str(line).strip() for line in run.get("exception") or [] if str(line).strip()]
            out.append(f"{_name(run)}: {lines[-1] if lines else 'failed'}")
    return out


def judge(
    journal: Mapping[str, Any], line: Timeline, point: RecoveryPoint, objective: Objective
) -> Verification:
    """Whether the drill met its objectives: it completed, the steady state held before and
    after, every rollback succeeded, RTO and RPO within the objective."""
    reasons: list[str] = []
    ended = status(journal)
    if ended is not DrillStatus.COMPLETED:
        reasons.append(f"the drill ended {ended.value}")
    if steady_state(journal, "before") is False:
        reasons.append("the steady state did not hold before the fault")
    if steady_state(journal, "after") is not True:
        reasons.append("the steady state was not confirmed after the recovery")
    reasons += [f"activity {f}" for f in failed_runs(journal.get("run") or [])]
    reasons += [f"rollback {f}" for f in failed_runs(journal.get("rollbacks") or [])]
    rto = rto_seconds(line)
    if rto is None:
        reasons.append("no time to recovery: the timeline lacks the injection or the restore")
    elif rto > objective.rto_seconds:
        reasons.append(f"RTO {rto:.0f} s exceeds the objective of {objective.rto_minutes} min")
    if point.rpo_seconds > objective.rpo_seconds:
        reasons.append(
            f"RPO {point.rpo_seconds:.0f} s exceeds the objective of {objective.rpo_minutes} min"
        )
    return Verification(not reasons, reasons)


def summary(
    drill: str, journal: Mapping[str, Any], objective: Objective, journal_path: str = ""
) -> dict[str, Any]:
    """The drill's JSON summary: status, measures, timeline, steady states, the journal."""
    line = timeline(journal)
    point = recovery_point(journal)
    verdict = judge(journal, line, point, objective)
    return {
        "drill": drill,
        "status": status(journal).value,
        "deviated": bool(journal.get("deviated")),
        "objective_met": verdict.met,
        "reasons": verdict.reasons,
        "rto_seconds": rto_seconds(line),
        "rpo_seconds": point.rpo_seconds,
        "data_lost": list(point.data_lost),
        "data_at_stake": point.at_stake,
        "objectives": {"rto_minutes": objective.rto_minutes, "rpo_minutes": objective.rpo_minutes},
        "timeline": line.summary(),
        "steady_state": {
            "before": steady_state(journal, "before"),
            "after": steady_state(journal, "after"),
        },
        "rollbacks": [
            {"name": _name(r), "status": r.get("status", "")}
            for r in journal.get("rollbacks") or []
        ],
        "journal": journal_path,
    }
