"""Which execution is in, or waiting for, each stage of one pipeline (its executionMode).

Below both the service (which keeps one gate per pipeline) and the execution (which enters
and leaves stages): the gate knows an execution only as an :class:`Entrant`.
"""

from __future__ import annotations

import threading
from typing import Protocol


class Entrant(Protocol):
    """What the gate asks of an execution: was it superseded, is it stopping."""

    superseded: bool

    def stopping(self) -> bool: ...


class StageGate:
    """Which execution is in, or waiting for, each stage of one pipeline.

    A stage processes one execution at a time. SUPERSEDED (the default): a newer execution
    waiting for a stage replaces an older one waiting there, which ends Superseded.
    QUEUED: they wait their turn. PARALLEL: no gate at all.
    """

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.cond = threading.Condition()
        self.occupant: dict[str, Entrant] = {}
        self.waiting: dict[str, Entrant] = {}

    def enter(self, run: Entrant, stage: str) -> bool:
        """Wait to enter ``stage``; False when superseded or stopped meanwhile."""
        if self.mode == "PARALLEL":
            return not run.stopping()
        with self.cond:
            self._release(run)
            older = self.waiting.get(stage)
            if self.mode == "SUPERSEDED" and older is not None and older is not run:
                older.superseded = True
            self.waiting[stage] = run
            while self.occupant.get(stage) not in (None, run):
                if run.superseded or run.stopping():
                    break
                self.cond.wait(0.5)
            if self.waiting.get(stage) is run:
                del self.waiting[stage]
            if run.superseded or run.stopping():
                self.cond.notify_all()
                return False
            self.occupant[stage] = run
            return True

    def _release(self, run: Entrant) -> None:
        for stage in [s for s, r in self.occupant.items() if r is run]:
            del self.occupant[stage]
        self.cond.notify_all()

    def leave(self, run: Entrant) -> None:
        with self.cond:
            self._release(run)
