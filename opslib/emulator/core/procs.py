"""Find and end processes by a marker in their environment.

Work the emulator starts (a build's shell, a host's app) carries a marker variable
(``CODEBUILD_BUILD_ID``, ``OPSLIB_HOST_ID``) that every child inherits, even one that
detached with setsid. That survives an emulator crash: on restart the emulator can still
find, and end, what an interrupted build left running.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path


def processes_with_env(name: str, value: str) -> list[int]:
    """Pids whose environment holds ``name=value`` (this process excluded)."""
    marker = f"{name}={value}".encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if marker in environ.split(b"\0"):
            pids.append(int(entry.name))
    return pids


def kill_all(pids: list[int]) -> int:
    """SIGKILL each pid (already gone is fine); returns how many were signalled."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return len(pids)
