"""The opslib emulator: a local AWS endpoint that keeps its state and really runs builds.

Outside this package only these names are used; everything else talks to the emulator
through the AWS API, like to AWS.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from opslib.emulator.core.faultclient import clear_faults, inject_fault, list_faults
from opslib.emulator.core.faultspec import Fault
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

__all__ = [
    "EmulatorInfo",
    "EmulatorStatus",
    "Fault",
    "clear_faults",
    "ensure_running",
    "inject_fault",
    "list_faults",
    "log_lines",
    "reset",
    "start",
    "status",
    "stop",
]


def ensure_running(config: StackConfig) -> EmulatorInfo:
    """The stack's emulator, started on demand when none runs on its state directory."""
    state_dir: Path = config.state_dir()
    return start(state_dir, config.emulator.port)
