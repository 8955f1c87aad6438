"""The vocabulary of a drill: its moments, its measures, its status (pure, no AWS)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any


class Mark(Enum):
    """The moments of a drill's timeline, in the order they happen."""

    INJECTED = "injected"  # the fault took effect: impact starts here
    DETECTED = "detected"  # the system (a hook, a probe, an alarm) saw it
    RECOVERY_STARTED = "recovery_started"  # the first recovery step began
    RESTORED = "restored"  # the steady state holds again: impact ends here


class DrillStatus(Enum):
    """How a drill ended, as its journal says (Chaos Toolkit's statuses) or before it ran."""

    COMPLETED = "completed"  # the method ran to its end
    FAILED = "failed"  # an activity failed or the steady state did not hold before
    ABORTED = "aborted"  # the method ran into an unexpected error
    INTERRUPTED = "interrupted"  # Ctrl-C, SIGTERM or an InterruptExecution; rollbacks ran
    DRY_RUN = "dry-run"  # nothing ran: the plan was shown


@dataclass(frozen=True)
class Moment:
    """One moment of the timeline: what, when, and which activity of the journal said so."""

    mark: Mark
    at: datetime
    source: str  # the activity's name

    def summary(self) -> dict[str, Any]:
        return {"mark": self.mark.value, "at": self.at.isoformat(), "source": self.source}


@dataclass(frozen=True)
class Timeline:
    """The drill's moments, one per mark at most, in time order."""

    moments: tuple[Moment, ...] = ()

    def at(self, mark: Mark) -> datetime | None:
        return next((m.at for m in self.moments if m.mark is mark), None)

    def summary(self) -> list[dict[str, Any]]:
        return [m.summary() for m in self.moments]


@dataclass(frozen=True)
class RecoveryPoint:
    """What the drill lost: seconds of work that could not be restored and which items."""

    rpo_seconds: float = 0.0
    data_lost: tuple[str, ...] = ()
    at_stake: bool = False  # whether the drill put any data at risk at all


@dataclass(frozen=True)
class Objective:
    """The recovery objectives one drill is measured against (config, per-drill override)."""

    rto_minutes: int
    rpo_minutes: int

    @property
    def rto_seconds(self) -> int:
        return self.rto_minutes * 60

    @property
    def rpo_seconds(self) -> int:
        return self.rpo_minutes * 60


@dataclass
class Verification:
    """Why the objective was or was not met: one sentence per reason."""

    met: bool
    reasons: list[str] = field(default_factory=list)
