"""The opslib emulator: a local AWS endpoint that keeps its state and really runs builds.

Outside this package only these names are used; everything else talks to the emulator
through the AWS API, like to AWS.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opslib.emulator.core.lifecycle import (
    EmulatorInfo,
    EmulatorStatus,
    log_lines,
    reset,
    start,
    status,
    stop,
)

if TYPE_CHECKING:  # the server process imports this package too: it needs no config
    from opslib.config import StackConfig
    from opslib.emulator.core.backfill import DayWritten, HistorySpec
    from opslib.emulator.core.faultclient import clear_faults, inject_fault, list_faults
    from opslib.emulator.core.faultspec import Fault

# Imported by their first use: ``opslib emulator start`` needs none of them, and every
# module it imports is CPU the cold start pays (bench/cold_start.py).
_LAZY = {
    "DayWritten": "opslib.emulator.core.backfill",
    "HistorySpec": "opslib.emulator.core.backfill",
    "clear_faults": "opslib.emulator.core.faultclient",
    "inject_fault": "opslib.emulator.core.faultclient",
    "list_faults": "opslib.emulator.core.faultclient",
    "Fault": "opslib.emulator.core.faultspec",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


__all__ = [
    "DayWritten",
    "EmulatorInfo",
    "EmulatorStatus",
    "Fault",
    "clear_faults",
    "HistorySpec",
    "ensure_running",
    "inject_fault",
    "list_faults",
    "log_lines",
    "reset",
    "simulate_history",
    "start",
    "status",
    "stop",
]


def ensure_running(config: StackConfig) -> EmulatorInfo:
    """The stack's emulator, started on demand when none runs on its state directory."""
    state_dir: Path = config.state_dir()
    return start(state_dir, config.emulator.port)


def simulate_history(
    info: EmulatorInfo,
    spec: HistorySpec,
    region: str,
    on_day: Callable[[DayWritten], None] | None = None,
) -> list[DayWritten]:
    """Backfill ``spec``'s window into the running emulator, oldest day first.

    Through the emulator's own door (``/opslib/simulate-history``): AWS has no backfill.
    One request per day, so ``on_day`` can draw progress as the days are written.
    """
    from opslib.emulator.core.backfill import post_day

    done = []
    for day in range(spec.days):
        written = post_day(info.endpoint, spec, day, region)
        done.append(written)
        if on_day is not None:
            on_day(written)
    return done
