"""Run a runbook with papermill and leave a readable record in ``reports/``.

One run leaves three files under ``reports/<stack>/<YYYY-MM-DD>/``:
``<runbook>-<HHMMSS>.ipynb`` (the executed notebook, parameters and per-cell timings in its
metadata), ``.html`` (the same without code cells, for people) and ``.json`` (the
runbook's own summary — verdict and data — plus this run's record). As papermill does, the
output notebook is saved first, even when a cell fails; the record then names the cell
that failed, and :meth:`RunRecord.raise_for_status` turns it into an error.

Parameters are checked before any kernel starts: unknown names are refused (papermill
would only warn) and command-line strings are converted to the declared types. Ranges
are checked by the runbook itself, in its first cells (:func:`opslib.params.validate`).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from opslib import params as checks
from opslib.exceptions import ConfigError, ExecutionError
from opslib.runbooks.catalog import KERNEL_NAME, RunbookInfo, read_notebook
from opslib.runbooks.context import runbook_config, to_plain, write_summary
from opslib.runbooks.html import export_html, random_cell_id
from opslib.runbooks.reports import OUTPUT_ENV, report_base

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunPaths:
    """The files one run leaves: output notebook, HTML export, JSON summary."""

    notebook: Path
    html: Path
    summary: Path

    @classmethod
    def under(cls, root: Path, stack: str, runbook: str, when: datetime) -> RunPaths:
        base = report_base(root, stack, runbook, when)
        return cls(base.with_suffix(".ipynb"), base.with_suffix(".html"), base.with_suffix(".json"))


@dataclass(frozen=True)
class FailedCell:
    """Where a run failed: the cell (index, execution count, id, first line) and the error."""

    index: int
    execution_count: int | None
    cell_id: str
    first_line: str
    ename: str
    evalue: str

    def describe(self) -> str:
        count = f"In [{self.execution_count}]" if self.execution_count else f"#{self.index}"
        name = f" '{self.cell_id}'" if self.cell_id else ""
        code = f" ({balanced(self.first_line)})" if self.first_line else ""
        return f"cell {count}{name}{code}: {self.ename}: {self.evalue}"


_CLOSERS = {"(": ")", "[": "]", "{": "}"}


def balanced(code: str) -> str:
    """A line of code cut from its cell, its open brackets closed: ``conclude(…)``.

    The first line of ``runbooks.conclude(\n    rb, ...)`` would otherwise open a
    parenthesis the one-line error never closes. Brackets inside strings are ignored.
    """
    stack: list[str] = []
    quote = ""
    for char in code:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in _CLOSERS:
            stack.append(_CLOSERS[char])
        elif stack and char == stack[-1]:
            stack.pop()
    if not stack:
        return code
    return code + "…" + "".join(reversed(stack))


@dataclass
class RunRecord:
    """What a run did: runbook, parameters, files, times and, on failure, the cell."""

    runbook: str
    stack: str
    parameters: dict[str, Any]
    paths: RunPaths
    started: datetime
    finished: datetime | None = None
    failed_cell: FailedCell | None = None
    error: str = ""
    verdict: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.failed_cell is None and not self.error

    @property
    def duration_seconds(self) -> float:
        end = self.finished or datetime.now(UTC)
        return (end - self.started).total_seconds()

    def failure(self) -> str:
        """One line saying where and why the run failed ('' when it did not)."""
        if self.failed_cell is not None:
            return f"runbook {self.runbook} failed at {self.failed_cell.describe()}"
        return f"runbook {self.runbook} failed: {self.error}" if self.error else ""

    def summary(self) -> dict[str, Any]:
        document: dict[str, Any] = to_plain(
            {
                "runbook": self.runbook,
                "stack": self.stack,
                "parameters": self.parameters,
                "status": "succeeded" if self.ok else "failed",
                "started": self.started,
                "finished": self.finished,
                "duration_seconds": round(self.duration_seconds, 3),
                "notebook": self.paths.notebook,
                "html": self.paths.html,
                "failed_cell": self.failed_cell,
                "error": self.failure(),
                "verdict": self.verdict,
            }
        )
        return document

    def raise_for_status(self) -> None:
        if not self.ok:
            raise ExecutionError(self.failure())


def prepare_parameters(info: RunbookInfo, given: Mapping[str, Any]) -> dict[str, Any]:
    """The given parameters as the declared types; ConfigError for unknown or bad ones."""
    known = [p.name for p in info.parameters]
    prepared: dict[str, Any] = {}
    for name, value in given.items():
        declared = info.parameter(name)
        if declared is None:
            raise checks.unknown_parameter(name, known)
        if isinstance(value, str):
            value = checks.parse_value(name, value, declared.type_name)
        problem = checks.type_problem(value, checks.TYPE_NAMES.get(declared.type_name, Any))
        if problem:
            raise ConfigError(f"parameter {name!r}: {problem}, got {value!r}")
        prepared[name] = value
    return prepared


def json_parameters(text: str) -> dict[str, Any]:
    """Parameters given as one JSON object (a schedule's ``OPSLIB_PARAMETERS``); '' is none."""
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"--parameters-json: not JSON ({exc})") from exc
    if not isinstance(value, dict):
        raise ConfigError(f"--parameters-json: expected a JSON object of parameters, got {text!r}")
    return value


def _failed_cell(error: Any, output: Path) -> FailedCell:
    """The failing cell of a PapermillExecutionError, with its id from the saved notebook.

    papermill inserts error notes into the notebook it saves, so the cell is found by
    its source and execution count, not by the index the error carries.
    """
    cell_id = ""
    try:
        cells = read_notebook(output).cells
    except (OSError, ValueError):
        cells = []
    for cell in cells:
        if cell.get("execution_count") == error.exec_count and cell.source == error.source:
            cell_id = str(cell.get("id", ""))
            break
    lines = [line for line in str(error.source).splitlines() if line.strip()]
    first = lines[0].strip() if lines else ""
    return FailedCell(
        index=int(error.cell_index),
        execution_count=error.exec_count,
        cell_id=cell_id if not random_cell_id(cell_id) else "",
        first_line=first[:80],
        ename=str(error.ename),
        evalue=str(error.evalue).splitlines()[0] if error.evalue else "",
    )


@contextmanager
def _environment(name: str, value: str) -> Iterator[None]:
    """Set one environment variable for the kernel papermill starts (it inherits ours)."""
    before = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


def kernel_settings(has_curve: bool | None = None, posix: bool | None = None) -> dict[str, Any]:
    """How papermill's kernel manager talks to the kernel: never in plain text over TCP.

    jupyter_client starts kernels on TCP without encryption unless told otherwise, and
    ipykernel (7+) rightly warns about it in every run. With CurveZMQ (pyzmq built with
    libsodium) the manager provisions keys for kernels whose kernelspec declares support
    (``transport_encryption = auto``; ipykernel's does); without it, the kernel listens on
    Unix sockets in the Jupyter runtime folder (``transport = ipc``), reachable by no one
    on the network.
    """
    import zmq

    has_curve = bool(zmq.has("curve")) if has_curve is None else has_curve
    posix = os.name == "posix" if posix is None else posix
    if has_curve:
        return {"transport_encryption": "auto"}
    return {"transport": "ipc"} if posix else {}


def _execute(
    info: RunbookInfo,
    parameters: dict[str, Any],
    paths: RunPaths,
    kernel: str,
    stdout: IO[str] | None,
) -> None:
    import papermill
    from jupyter_client.kernelspec import NoSuchKernel
    from traitlets.config import Config

    paths.notebook.parent.mkdir(parents=True, exist_ok=True)
    try:
        with _environment(OUTPUT_ENV, str(paths.notebook.resolve())):
            papermill.execute_notebook(
                str(info.path),
                str(paths.notebook),
                parameters=parameters,
                kernel_name=kernel,
                progress_bar=False,
                request_save_on_cell_execute=True,
                stdout_file=stdout,
                config=Config({"KernelManager": kernel_settings()}),
            )
    except NoSuchKernel as exc:
        raise ConfigError(
            f"kernel {kernel!r} not found: install it with 'python -m pip install ipykernel'"
        ) from exc


def _make_report_dir(directory: Path, root: Path) -> None:
    """Create the run's folder, or a ConfigError naming the reports directory."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        writable = os.access(directory, os.W_OK | os.X_OK)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ConfigError(
            f"reports directory {root}: cannot create {directory} ({reason}); "
            "choose another with --reports-dir or $OPSLIB_REPORTS_DIR"
        ) from exc
    if not writable:
        raise ConfigError(f"reports directory {root}: {directory} is not writable")


def _merge_summary(record: RunRecord) -> None:
    """Fold the runbook's own summary (verdict, data) and this run's record into one file."""
    path = record.paths.summary
    own: dict[str, Any] = {}
    if path.exists():
        try:
            own = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            own = {}
    record.verdict = str(own.get("verdict", ""))
    record.data = dict(own.get("data") or {})
    # The runbook knows the effective parameters and its target; the run knows the rest.
    own_keys = ("target", "parameters", "ok", "verdict", "headline", "data")
    write_summary(path, {**record.summary(), **{k: own[k] for k in own_keys if k in own}})


def _stack_of(parameters: Mapping[str, Any]) -> str:
    """The stack a run is about (for the reports path), as the runbook will see it.

    A runbook may override the config file's ``stack`` (provision and teardown do).
    """
    path = parameters.get("config") or ""
    return str(parameters.get("stack") or runbook_config({"config": path}).stack)


def run_runbook(
    info: RunbookInfo,
    given: Mapping[str, Any],
    *,
    reports_dir: Path,
    kernel: str = KERNEL_NAME,
    stdout: IO[str] | None = None,
    when: datetime | None = None,
) -> RunRecord:
    """Execute a runbook into ``reports_dir``; the record says whether and where it failed.

    Failures of the notebook are in the record, not raised: the files are written either
    way. Bad parameters raise ConfigError before anything runs.
    """
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    parameters = prepare_parameters(info, given)
    stack = _stack_of(parameters)
    started = when or datetime.now(UTC)
    paths = RunPaths.under(reports_dir, stack, info.name, started)
    _make_report_dir(paths.notebook.parent, reports_dir)
    record = RunRecord(info.name, stack, parameters, paths, started)
    try:
        _execute(info, parameters, paths, kernel, stdout)
    except PapermillExecutionError as exc:
        record.failed_cell = _failed_cell(exc, paths.notebook)
    except (DeadKernelError, CellTimeoutError) as exc:
        record.error = f"{type(exc).__name__}: {exc}"
    finally:
        record.finished = datetime.now(UTC)
    if paths.notebook.exists():
        export_html(paths.notebook, paths.html)
    else:
        record.error = record.error or "papermill wrote no output notebook"
    _merge_summary(record)
    logger.info("runbook %s: %s in %.1fs", info.name, "ok" if record.ok else "failed",
                record.duration_seconds)  # fmt: skip
    return record
