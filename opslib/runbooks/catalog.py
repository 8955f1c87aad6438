"""The runbooks on disk: their names, titles and parameters (as papermill reads them).

A runbook is ``runbooks/<name>.ipynb``. Its parameters are the assignments of the cell
tagged ``parameters``: type from the annotation, default as written, help from the
trailing comment — the facts :func:`papermill.inspect_notebook` (``papermill
--help-notebook``) reports, read here from the notebook's JSON with :mod:`ast`. Importing
papermill or nbformat costs seconds (nbformat's JSON-schema validation alone loads dozens
of grammars), which ``opslib runbook list`` and the checks before a run need not pay;
``tests/unit/test_runbook_runner.py`` holds this reading equal to papermill's for every
runbook. The folder is ``$OPSLIB_RUNBOOKS_DIR``, else ``./runbooks`` when it exists, else
the one next to the opslib package (a source checkout).
"""

from __future__ import annotations

import ast
import difflib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opslib.config import project_root
from opslib.exceptions import ConfigError

if TYPE_CHECKING:
    from nbformat import NotebookNode

RUNBOOKS_ENV = "OPSLIB_RUNBOOKS_DIR"
KERNEL_NAME = "python3"


@dataclass(frozen=True)
class ParameterInfo:
    """One declared parameter: name, type, default (as written) and help text."""

    name: str
    type_name: str
    default: str
    help: str


@dataclass(frozen=True)
class RunbookInfo:
    """A runbook: its name (file stem), path, title, purpose and parameters.

    ``schedulable`` says the runbook only reads (notebook metadata ``opslib.schedulable``):
    a scheduled report runs with a read-only role, so only these may be scheduled.
    """

    name: str
    path: Path
    title: str
    purpose: str
    parameters: tuple[ParameterInfo, ...]
    schedulable: bool = False

    def parameter(self, name: str) -> ParameterInfo | None:
        return next((p for p in self.parameters if p.name == name), None)


def read_notebook(path: Path) -> NotebookNode:
    """nbformat.read, typed (nbformat has no type hints; imported late: it is slow to load)."""
    import nbformat

    notebook: NotebookNode = nbformat.read(path, as_version=4)  # type: ignore[no-untyped-call]
    return notebook


def runbooks_dir() -> Path:
    """Where the runbooks are: ``$OPSLIB_RUNBOOKS_DIR``, the project root's ``runbooks/``
    (see config.project_root) or the checkout's."""
    if os.environ.get(RUNBOOKS_ENV):
        return Path(os.environ[RUNBOOKS_ENV])
    local = project_root() / "runbooks"
    if local.is_dir():
        return local
    return Path(__file__).resolve().parents[2] / "runbooks"


def _source(cell: Mapping[str, Any]) -> str:
    """A cell's source: on disk a string or a list of lines (nbformat allows both)."""
    source = cell.get("source") or ""
    return "".join(source) if isinstance(source, list) else str(source)


def _title_and_purpose(cells: list[Mapping[str, Any]]) -> tuple[str, str]:
    """The first markdown cell's heading and its first paragraph after the heading."""
    cell = next((c for c in cells if c.get("cell_type") == "markdown"), None)
    if cell is None:
        return "", ""
    lines = [line.strip() for line in _source(cell).splitlines()]
    title = next((line.lstrip("# ") for line in lines if line.startswith("#")), "")
    body = [line for line in lines if line and not line.startswith("#")]
    purpose = []
    for line in body:
        purpose.append(line)
        if line.endswith("."):
            break
    return title, " ".join(purpose)


_HELP = re.compile(r"\s*#\s*(?:type:\s*\S*\s*)?(?P<help>.*)$")


def _assignment(node: ast.stmt) -> tuple[str, ast.expr | None, ast.expr] | None:
    """(name, annotation, value) of ``name: type = value`` or ``name = value``, else None."""
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value:
        return node.target.id, node.annotation, node.value
    if isinstance(node, ast.Assign) and len(node.targets) == 1:
        target = node.targets[0]
        return (target.id, None, node.value) if isinstance(target, ast.Name) else None
    return None


def parameters_of(source: str) -> tuple[ParameterInfo, ...]:
    """The parameters a ``parameters`` cell assigns: name, annotation, default, help.

    As papermill's inspection reads them: an unannotated parameter's type is ``None``
    (unknown), the help is the comment after the assignment (a ``type:`` comment left out).
    """
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise ConfigError(f"parameters cell: not Python ({exc.msg}, line {exc.lineno})") from exc
    lines = source.splitlines()
    found = []
    for node in tree.body:
        assigned = _assignment(node)
        if assigned is None:
            continue
        name, annotation, value = assigned
        type_name = ast.get_source_segment(source, annotation) if annotation else None
        default = ast.get_source_segment(source, value) or ""
        if "\n" in default:  # written over several lines: shown on one
            default = ast.unparse(value)
        comment = _HELP.match(
            lines[(node.end_lineno or node.lineno) - 1][node.end_col_offset or 0 :]
        )
        found.append(
            ParameterInfo(name, type_name or "None", default, comment["help"] if comment else "")
        )
    return tuple(found)


def _cells(path: Path) -> list[Mapping[str, Any]]:
    """The cells of a notebook file (nbformat 4 JSON); ConfigError when it is not one."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: not a readable notebook ({exc})") from exc
    cells = document.get("cells") if isinstance(document, dict) else None
    if not isinstance(cells, list) or not all(isinstance(c, dict) for c in cells):
        raise ConfigError(f"{path}: not a readable notebook (no list of cells, nbformat 4)")
    return cells


def _schedulable(path: Path) -> bool:
    document = json.loads(path.read_text(encoding="utf-8"))
    metadata = document.get("metadata") if isinstance(document, dict) else None
    own = metadata.get("opslib") if isinstance(metadata, dict) else None
    return isinstance(own, dict) and own.get("schedulable") is True


def read_runbook(path: Path) -> RunbookInfo:
    """A runbook's title, purpose and parameters; ConfigError when it cannot be read."""
    cells = _cells(path)
    tagged = [c for c in cells if "parameters" in ((c.get("metadata") or {}).get("tags") or [])]
    try:
        parameters = parameters_of(_source(tagged[0])) if tagged else ()
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    title, purpose = _title_and_purpose(cells)
    return RunbookInfo(path.stem, path, title or path.stem, purpose, parameters, _schedulable(path))


def notebook_paths(directory: Path) -> list[Path]:
    """The runbook notebooks of a folder, by name (checkpoints left out)."""
    return sorted(p for p in directory.glob("*.ipynb") if not p.name.startswith("."))


def list_runbooks(directory: Path | None = None) -> list[RunbookInfo]:
    """Every runbook in the folder, by name."""
    return [read_runbook(p) for p in notebook_paths(directory or runbooks_dir())]


def find_runbook(name: str, directory: Path | None = None) -> RunbookInfo:
    """The runbook called ``name`` (with or without ``.ipynb``); ConfigError naming the known."""
    folder = directory or runbooks_dir()
    stem = name.removesuffix(".ipynb")
    path = folder / f"{stem}.ipynb"
    if path.is_file():
        return read_runbook(path)
    known = [p.stem for p in notebook_paths(folder)]
    hint = difflib.get_close_matches(stem, known, n=1)
    suggestion = f"did you mean {hint[0]!r}?" if hint else f"known: {', '.join(known) or 'none'}"
    raise ConfigError(f"runbook {stem!r}: no {path} ({suggestion})")
