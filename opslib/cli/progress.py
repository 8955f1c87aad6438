"""Long work on the terminal: live with rich when stdout is a terminal, plain lines otherwise.

The library reports progress as events — a pipeline action's change
(:class:`~opslib.pipeline.ActionUpdate`), what the build or deployment behind it is doing
(:class:`~opslib.pipeline.JobProgress`), a stack step (``Change``, ``StepStatus``) — and this
module alone draws them. On a terminal, finished steps scroll as lines while one live area
shows the running job: a spinner, its phase, the elapsed time and the tail of its log. When
stdout is a file or a pipe (CI, ``| tee``) the same events become plain lines: every action
change and every phase change with its elapsed time, nothing redrawn.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import deque
from datetime import UTC, datetime
from types import TracebackType
from typing import IO

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.spinner import Spinner
from rich.text import Text

from opslib.ops.pipeline import ActionUpdate, JobProgress
from opslib.stack import display
from opslib.stack.engine import StepStatus
from opslib.stack.model import Change

MARKS = {"InProgress": "…", "Succeeded": "✓", "Failed": "✗", "Abandoned": "✗", "Stopped": "■"}
TAIL_LINES = 8


def elapsed(seconds: float) -> str:
    """``0:07``, ``12:30``, ``1:02:03``."""
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def action_line(update: ActionUpdate, indent: str = "  ") -> str:
    """``  ✓ Build/Build        Succeeded   <summary>`` (one line, at most 160 characters)."""
    mark = MARKS.get(update.status, "·")
    detail = update.error or update.summary or update.external_id
    return f"{indent}{mark} {update.stage}/{update.action:<12} {update.status:<11} {detail}"[:160]


class Progress:
    """Draws progress events; use it as a context manager around the long work."""

    def __init__(
        self,
        file: IO[str] | None = None,
        *,
        console: Console | None = None,
        indent: str = "  ",
        tail: int = TAIL_LINES,
    ) -> None:
        self.console = console or Console(file=file or sys.stdout, highlight=False)
        self.live = self.console.is_terminal
        self.indent = indent
        self._lock = threading.Lock()
        self._tail: deque[str] = deque(maxlen=tail)
        self._title = ""
        self._phase = ""
        self._since = time.time()
        self._job = ""
        self._steps_done = 0
        self._display: Live | None = None
        self._spinner = Spinner("dots", style="cyan")  # one instance: it animates by its age

    # -- the context -------------------------------------------------------------------
    def __enter__(self) -> Progress:
        if self.live:
            self._display = Live(self, console=self.console, refresh_per_second=4, transient=True)
            self._display.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._display is not None:
            self._display.stop()
            self._display = None

    # -- events --------------------------------------------------------------------------
    def echo(self, text: str) -> None:
        """A line that stays (printed above the live area on a terminal)."""
        if self.live:
            self.console.print(text, markup=False, highlight=False, soft_wrap=True)
        else:
            self.console.file.write(text + "\n")
            self.console.file.flush()

    def action(self, update: ActionUpdate) -> None:
        """A pipeline action changed: a line, and the live area follows the running one."""
        self.echo(action_line(update, self.indent))
        with self._lock:
            if update.status == "InProgress":
                self._start(f"{update.stage}/{update.action}", update.external_id)
            elif self._title == f"{update.stage}/{update.action}":
                self._title = ""

    def job(self, event: JobProgress) -> None:
        """The build or deployment behind a running action moved on."""
        with self._lock:
            if event.job_id != self._job:
                self._start(f"{event.stage}/{event.action}", event.job_id)
            if event.started is not None:
                self._since = event.started.timestamp()
            changed = event.phase != self._phase
            self._phase = event.phase
            self._tail.extend(line for line in event.lines if line.strip())
        if changed and not self.live:
            self.echo(f"{self.indent}  {event.stage}/{event.action} {event.phase} "
                      f"({elapsed(self._seconds())})")  # fmt: skip

    def step(self, change: Change, status: StepStatus) -> None:
        """A stack resource's step (``opslib up``/``down``)."""
        line = display.progress_line(change, status)
        if line:
            self.echo(self.indent + line.strip())
        with self._lock:
            if status is StepStatus.STARTED:
                self._start(change.summary(), change.name)
            else:
                self._steps_done += 1
                self._title = ""

    # -- the live area ---------------------------------------------------------------------
    def _start(self, title: str, job: str) -> None:
        if job != self._job or title != self._title:
            self._tail.clear()
            self._phase = ""
            self._since = time.time()
        self._title, self._job = title, job

    def _seconds(self) -> float:
        return datetime.now(UTC).timestamp() - self._since

    def __rich__(self) -> RenderableType:
        with self._lock:
            if not self._title:
                return Text("")
            parts = [self._title, self._phase, elapsed(self._seconds())]
            if self._steps_done:
                parts.append(f"({self._steps_done} done)")
            head = "  ".join(part for part in parts if part)
            lines = [
                Text(f"{self.indent}  │ {line}", style="dim", no_wrap=True, overflow="ellipsis")
                for line in self._tail
            ]
        self._spinner.update(text=Text(head))
        return Group(self._spinner, *lines)
