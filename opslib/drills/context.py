"""What a drill's Chaos Toolkit providers reach: the run's session, config and scratch state.

chaoslib calls a Python provider with the experiment's ``configuration`` (a dict of plain
values, copied into the journal), so the live objects cannot travel in it. The engine
registers each run under a random token instead and puts only the token in the
configuration (``opslib_run``); a provider looks its run up with :func:`run_of`. The
run's ``state`` carries what one activity learns for the next (the deployment the fault
created, the version the recovery restored) — the facts themselves go into each activity's
output, so the journal keeps them.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from opslib.config import StackConfig
from opslib.exceptions import DrillRefused, ExecutionError
from opslib.stack.api import Api
from opslib.stack.context import Context
from opslib.stack.engine import discover
from opslib.target import Session

logger = logging.getLogger(__name__)

RUN_KEY = "opslib_run"
FAILED_KEY = "method_failed"  # state: the first method step that failed


@dataclass
class DrillRun:
    """One drill in progress: where it runs and what its activities share."""

    drill: str
    session: Session
    config: StackConfig
    echo: Callable[[str], None] = lambda _: None
    state: dict[str, Any] = field(default_factory=dict)
    _context: Context | None = None

    @property
    def context(self) -> Context:
        """The stack's names and ARNs (the account from STS, asked once)."""
        if self._context is None:
            self._context = discover(Api(self.session), self.config)
        return self._context

    def say(self, line: str) -> None:
        logger.info("drill %s: %s", self.drill, line)
        self.echo(line)


_RUNS: dict[str, DrillRun] = {}


@contextmanager
def registered(run: DrillRun) -> Iterator[str]:
    """The run under a fresh token for the providers, for as long as the drill lasts."""
    token = uuid.uuid4().hex
    _RUNS[token] = run
    try:
        yield token
    finally:
        _RUNS.pop(token, None)


def run_of(configuration: Mapping[str, Any] | None) -> DrillRun:
    """The run a provider was called for (its configuration's token)."""
    token = str((configuration or {}).get(RUN_KEY, ""))
    run = _RUNS.get(token)
    if run is None:
        raise DrillRefused(
            "an opslib drill provider was called outside an opslib drill: run drills with "
            "opslib.drills.run_drill or the drill-<name> runbooks, not 'chaos run'"
        )
    return run


def step_of(configuration: Mapping[str, Any] | None) -> DrillRun:
    """The run of a method step, which is skipped at once when an earlier step failed.

    chaoslib goes on with the method after a failed activity; a drill's later steps would
    then wait for a recovery that never comes.
    """
    run = run_of(configuration)
    failed = run.state.get(FAILED_KEY)
    if failed:
        raise ExecutionError(f"skipped: the earlier step {failed} failed")
    return run
