"""Launch the emulator's server process: a fork of the caller when that is safe, else a new
interpreter. Either way the child runs ``python -m opslib.emulator.server ARGS`` in a session
of its own, reading nothing, writing to the log, with only the ready pipe left open.

A new interpreter pays its start-up again (the interpreter and ``site``) and every module the
caller had already imported (click, PyYAML, opslib's config, much of the standard library):
about 0.1 s of CPU on every ``opslib emulator start``, the gap between it and a bare
``moto_server`` (docs/benchmarks.md). A fork inherits them. It is only safe in a process
that runs no other thread, since a thread that holds a lock at the fork leaves it held for
ever in the child (why Python 3.12 warns about forking with threads), and only on Linux
(macOS's system libraries do not survive a fork; Python's multiprocessing spawns there).
So the command line forks (and so does a single-threaded caller such as an xdist worker),
and a notebook kernel, which runs threads, starts a new interpreter.
"""

from __future__ import annotations

import logging
import os
import runpy
import select
import signal
import subprocess
import sys
import threading
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn, Protocol

SERVER_MODULE = "opslib.emulator.server"


class ServerProcess(Protocol):
    """What :mod:`~opslib.emulator.core.lifecycle` needs of the child: a Popen's subset."""

    @property
    def pid(self) -> int: ...

    @property
    def returncode(self) -> int | None: ...

    def poll(self) -> int | None: ...

    def wait(self, timeout: float | None = None) -> int: ...

    def kill(self) -> None: ...


@dataclass
class ForkedServer:
    """A forked child, waited for like a :class:`subprocess.Popen` (through a pidfd)."""

    pid: int
    returncode: int | None = None
    _pidfd: int = field(default=-1, repr=False)

    def __post_init__(self) -> None:
        self._pidfd = os.pidfd_open(self.pid)

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:  # collected elsewhere (lifecycle's stop reaps)
                self.returncode = -1
            else:
                if pid:
                    self.returncode = os.waitstatus_to_exitcode(status)
        if self.returncode is not None and self._pidfd >= 0:
            os.close(self._pidfd)
            self._pidfd = -1
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.poll() is None and self._pidfd >= 0:
            readable, _, _ = select.select([self._pidfd], [], [], timeout)
            if not readable:
                raise subprocess.TimeoutExpired(SERVER_MODULE, timeout or 0.0)
        code = self.poll()
        if code is None:  # readable means exited; a zombie not yet visible is a moment away
            pid, status = os.waitpid(self.pid, 0)
            self.returncode = code = os.waitstatus_to_exitcode(status)
        return code

    def kill(self) -> None:
        if self.poll() is None:
            os.kill(self.pid, signal.SIGKILL)


def can_fork() -> bool:
    """Whether this process may fork the server: Linux, and no thread but this one."""
    return sys.platform == "linux" and threading.active_count() == 1


def launch(args: list[str], log: Path, ready_fd: int) -> ServerProcess:
    """The server process running ``args``, its output appended to ``log``."""
    with open(log, "ab") as log_file:
        if can_fork():
            return _fork(args, log_file.fileno(), ready_fd)
        return subprocess.Popen(
            [sys.executable, "-m", SERVER_MODULE, *args],
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # not killed with the terminal that started it
            close_fds=True,
            pass_fds=(ready_fd,),
        )


def _fork(args: list[str], log_fd: int, ready_fd: int) -> ServerProcess:
    for stream in (sys.stdout, sys.stderr):  # or the child would write the parent's buffers
        stream.flush()
    pid = os.fork()
    if pid == 0:
        _become_server(args, log_fd, ready_fd)
    return ForkedServer(pid)


def _become_server(args: list[str], log_fd: int, ready_fd: int) -> NoReturn:
    """In the forked child: what ``Popen`` above sets up, then ``-m`` the server; never returns."""
    code = 1
    try:
        os.setsid()
        _redirect_stdio(log_fd)
        _close_fds_but(ready_fd)
        _reset_logging()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        sys.argv = [SERVER_MODULE, *args]
        runpy.run_module(SERVER_MODULE, run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as exc:
        code = _exit_code(exc)
    except BaseException:  # the server's own failure: into its log, as a new interpreter would
        traceback.print_exc()
    finally:
        logging.shutdown()
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        os._exit(code)


def _redirect_stdio(log_fd: int) -> None:
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    # The caller's stream objects may not be these descriptors (click's test runner, a
    # notebook): the server writes through new ones.
    sys.stdin = open(0, closefd=False)
    sys.stdout = open(1, "w", buffering=1, closefd=False)
    sys.stderr = open(2, "w", buffering=1, closefd=False)


def _close_fds_but(keep: int) -> None:
    """Every descriptor past stdio is closed but ``keep`` (the ready pipe), as close_fds does."""
    os.closerange(3, keep)
    os.closerange(keep + 1, os.sysconf("SC_OPEN_MAX"))


def _reset_logging() -> None:
    """Logging as a fresh interpreter has it, so that the server's own set-up takes effect."""
    manager = logging.Logger.manager
    for logger in [logging.root, *manager.loggerDict.values()]:
        if isinstance(logger, logging.Logger):
            logger.handlers.clear()
            logger.setLevel(logging.NOTSET)
            logger.propagate = True
            logger.disabled = False
    logging.root.setLevel(logging.WARNING)
    logging.disable(logging.NOTSET)


def _exit_code(exc: SystemExit) -> int:
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code
    print(exc.code, file=sys.stderr)  # what the interpreter does with a message
    return 1
