"""Run a drill: plan it (a dry run changes nothing), then — only with ``confirm`` — take the
stack's lock and let chaoslib's ``run_experiment`` carry it out, rollbacks always.

Chaos Toolkit runs the steady-state hypothesis, the method, the hypothesis again and the
rollbacks. Its default plays no rollback after a failure or an interrupt; the drills run
with the rollback strategy ``always`` (``chaos run --rollback-strategy always``), so the
stack is put back whatever happened. chaoslib swallows KeyboardInterrupt and SystemExit
(SIGTERM, SIGUSR1) to play the rollbacks, and the journal says ``interrupted``.

A failed method activity does not stop chaoslib's method; a drill's later steps would then
wait for a recovery that never comes. An event handler notes the failure and the next
method step is skipped at once (:func:`opslib.drills.context.step_of`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opslib.config import StackConfig
from opslib.drills import catalog, measures
from opslib.drills.context import FAILED_KEY, RUN_KEY, DrillRun, registered
from opslib.drills.lock import DrillLock
from opslib.drills.model import DrillStatus, Objective
from opslib.drills.plan import DrillPlan, steps
from opslib.drills.safety import check_targets
from opslib.target import Session

logger = logging.getLogger(__name__)

SETTINGS: dict[str, Any] = {"runtime": {"rollbacks": {"strategy": "always"}}}


def plan_drill(
    session: Session,
    config: StackConfig,
    name: str,
    params: dict[str, Any] | None = None,
    echo: Callable[[str], None] = lambda _: None,
) -> tuple[DrillPlan, DrillRun, dict[str, Any]]:
    """The drill's plan, its run and its experiment: reads only, and checks every target
    carries the stack's tag (DrillRefused otherwise)."""
    params = dict(params or {})
    drill = catalog.get(name)
    experiment = drill.experiment()
    run = DrillRun(name, session, config, echo)
    preparation = drill.prepare(run, params)
    check_targets(session, config.stack, preparation.targets)
    objective = catalog.objective(
        config, experiment, int(params.get("rto_minutes") or 0), int(params.get("rpo_minutes") or 0)
    )
    plan = DrillPlan(
        name, str(experiment.get("title", name)), config.stack, session.target.describe(),
        preparation, steps(experiment, preparation.values), objective,
    )  # fmt: skip
    return plan, run, experiment


def journal_path(report: Path) -> Path:
    """``<report>-journal.json`` beside the report's JSON summary."""
    return report.with_name(f"{report.stem}-journal.json")


@dataclass
class DrillResult:
    """A drill's outcome: its plan, the journal (None for a dry run) and its summary."""

    plan: DrillPlan
    confirm: bool
    journal: dict[str, Any] | None = None
    journal_file: Path | None = None
    summary_data: dict[str, Any] = field(default_factory=dict)

    @property
    def objective(self) -> Objective:
        return self.plan.objective

    @property
    def objective_met(self) -> bool:
        return bool(self.summary_data.get("objective_met"))

    def summary(self) -> dict[str, Any]:
        if self.journal is None:
            status = DrillStatus.DRY_RUN.value
            return {"drill": self.plan.drill, "status": status, "deviated": False,
                    "objective_met": None, "plan": self.plan.summary()}  # fmt: skip
        return {**self.summary_data, "plan": self.plan.summary()}


class _FailureNotes:
    """chaoslib event handler: notes a failed method activity in the run's state."""

    def __init__(self, run: DrillRun) -> None:
        self.run = run
        self.in_method = False

    def __getattr__(self, name: str) -> Callable[..., None]:
        return lambda *args, **kwargs: None  # every other event: nothing to do

    def start_method(self, experiment: Any) -> None:
        self.in_method = True

    def method_completed(self, experiment: Any, state: Any = None) -> None:
        self.in_method = False

    def activity_completed(self, activity: dict[str, Any], run: dict[str, Any]) -> None:
        if self.in_method and run.get("status") == "failed":
            self.run.state.setdefault(FAILED_KEY, str(activity.get("name", "")))


def _execute(run: DrillRun, experiment: dict[str, Any], values: dict[str, str]) -> dict[str, Any]:
    from chaoslib.experiment import run_experiment

    with registered(run) as token:
        # chaoslib takes from experiment_vars only keys the experiment declares: the run's
        # token and the prepared values are the experiment's configuration outright.
        configuration = {**(experiment.get("configuration") or {}), RUN_KEY: token, **values}
        journal: dict[str, Any] = run_experiment(
            {**experiment, "configuration": configuration},
            settings=SETTINGS,
            event_handlers=[_FailureNotes(run)],
        )
    return journal


def write_journal(path: Path, journal: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(journal, indent=2, default=str) + "\n", encoding="utf-8")
    return path


def run_drill(
    session: Session,
    config: StackConfig,
    name: str,
    *,
    confirm: bool = False,
    report: Path | None = None,
    params: dict[str, Any] | None = None,
    echo: Callable[[str], None] = lambda _: None,
) -> DrillResult:
    """Plan the drill; with ``confirm``, run it under the stack's lock and measure it.

    ``report`` is the run's JSON summary path: the journal goes beside it as
    ``<report>-journal.json``. Without ``confirm`` nothing is changed: no lock, no fault.
    """
    plan, run, experiment = plan_drill(session, config, name, params, echo)
    if not confirm:
        echo(f"dry run: {plan.describe()}")
        return DrillResult(plan, False)
    with DrillLock(session, config.stack).hold(name):
        journal = _execute(run, experiment, plan.preparation.values)
    path = write_journal(journal_path(report), journal) if report else None
    summary = measures.summary(name, journal, plan.objective, str(path or ""))
    logger.info("drill %s: %s, objective met: %s", name, summary["status"],
                summary["objective_met"])  # fmt: skip
    return DrillResult(plan, True, journal, path, summary)
