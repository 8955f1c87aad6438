"""What a drill will do, before it does it: the dry run's content (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from opslib.drills.model import Objective
from opslib.drills.safety import Target

if TYPE_CHECKING:
    import pandas


@dataclass
class Preparation:
    """What a drill's ``prepare`` learned by reading only: its targets, the values its
    experiment file refers to as ``${name}``, the fault in one sentence, and notes."""

    targets: list[Target]
    values: dict[str, str]
    fault: str
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Step:
    """One activity of the experiment as the plan shows it."""

    phase: str  # "steady state", "method", "rollback"
    kind: str  # "probe" or "action"
    name: str
    does: str  # the provider's function, with its arguments filled in


def _describe(activity: Mapping[str, Any], values: Mapping[str, str]) -> str:
    provider = activity.get("provider") or {}
    args = ", ".join(
        f"{k}={_filled(v, values)}" for k, v in (provider.get("arguments") or {}).items()
    )
    return f"{provider.get('func', '?')}({args})"


def _filled(value: Any, values: Mapping[str, str]) -> str:
    text = str(value)
    for key, known in values.items():
        text = text.replace(f"${{{key}}}", known[:40])
    return text


def steps(experiment: Mapping[str, Any], values: Mapping[str, str]) -> list[Step]:
    """Every activity of the experiment, phase by phase."""
    hypothesis = (experiment.get("steady-state-hypothesis") or {}).get("probes") or []
    phases = (
        ("steady state", hypothesis),
        ("method", experiment.get("method") or []),
        ("rollback", experiment.get("rollbacks") or []),
    )
    return [
        Step(phase, str(a.get("type", "")), str(a.get("name", "")), _describe(a, values))
        for phase, activities in phases
        for a in activities
    ]


@dataclass
class DrillPlan:
    """A drill's plan: the hypothesis, the fault, its targets, the rollbacks, the objective."""

    drill: str
    title: str
    stack: str
    target: str  # where: "local emulator at ...", "aws account ..."
    preparation: Preparation
    steps: list[Step]
    objective: Objective

    def frame(self) -> pandas.DataFrame:
        import pandas

        rows = [{"phase": s.phase, "kind": s.kind, "activity": s.name, "does": s.does}
                for s in self.steps]  # fmt: skip
        return pandas.DataFrame(rows, columns=["phase", "kind", "activity", "does"])

    def describe(self) -> str:
        targets = ", ".join(t.describe() for t in self.preparation.targets) or "none"
        return f"{self.title}: {self.preparation.fault}; targets: {targets}"

    def _repr_markdown_(self) -> str:
        lines = [
            f"**{self.title}** on stack `{self.stack}` ({self.target})",
            "",
            f"- **fault:** {self.preparation.fault}",
            f"- **targets:** {', '.join(t.describe() for t in self.preparation.targets)}",
            f"- **objective:** back to steady state within {self.objective.rto_minutes} min, "
            f"at most {self.objective.rpo_minutes} min of work lost",
            *(f"- {note}" for note in self.preparation.notes),
        ]
        return "\n".join(lines)

    def summary(self) -> dict[str, Any]:
        return {
            "drill": self.drill,
            "stack": self.stack,
            "fault": self.preparation.fault,
            "targets": [{"kind": t.kind, "name": t.name} for t in self.preparation.targets],
            "values": self.preparation.values,
            "notes": self.preparation.notes,
            "steps": [
                {"phase": s.phase, "kind": s.kind, "name": s.name, "does": s.does}
                for s in self.steps
            ],  # fmt: skip
            "objectives": {
                "rto_minutes": self.objective.rto_minutes,
                "rpo_minutes": self.objective.rpo_minutes,
            },  # fmt: skip
        }
