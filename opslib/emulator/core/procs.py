"""Find and end processes by a marker in their environment.

Work the emulator starts (a build's shell, a host's app) carries a marker variable
(``CODEBUILD_BUILD_ID``, ``OPSLIB_HOST_ID``) that every child inherits, even one that
detached with setsid. That survives an emulator crash: on restart the emulator can still
find, and end, what an interrupted build left running.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path


def processes_with_env(name: str, value: str) -> list[int]:
    """Pids whose environment holds ``name=value`` (this process excluded)."""
    return processes_by_env(name).get(value, [])


def processes_by_env(name: str) -> dict[str, list[int]]:
    """Pids by their value of the variable ``name``, in one pass over /proc (this process
    excluded): what a sampler of every host reads once, not once per host."""
    prefix = f"{name}=".encode()
    found: dict[str, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if prefix not in environ:  # most processes: no need to split their environment
            continue
        for variable in environ.split(b"\0"):
            if variable.startswith(prefix):
                value = variable[len(prefix) :].decode(errors="replace")
                found.setdefault(value, []).append(int(entry.name))
                break
    return found


KILL_WAIT_SECONDS = 5.0  # SIGKILL is delivered asynchronously; wait this long at most


def kill_all(pids: list[int]) -> int:
    """SIGKILL each pid and wait until they are gone; returns how many were signalled.

    Already gone is fine. Waiting matters: a caller that says "its processes are ended"
    (a crash recovery, an instance stop) must not return while the kernel still runs one.
    """
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + KILL_WAIT_SECONDS
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.01)
    return len(pids)


def _alive(pid: int) -> bool:
    """Running, not a zombie (a zombie has ended; only its parent's wait is missing)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")
