"""The runbooks on disk: their names, titles and parameters (as papermill reads them).

A runbook is ``runbooks/<name>.ipynb``. Its parameters come from the cell tagged
``parameters`` through :func:`papermill.inspect_notebook`, the same reading
``papermill --help-notebook`` does: type from the annotation, help from the trailing
comment. The folder is ``$OPSLIB_RUNBOOKS_DIR``, else ``./runbooks`` when it exists, else
the one next to the opslib package (a source checkout).
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

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
    """A runbook: its name (file stem), path, title, purpose and parameters."""

    name: str
    path: Path
    title: str
    purpose: str
    parameters: tuple[ParameterInfo, ...]

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


def _title_and_purpose(notebook: NotebookNode) -> tuple[str, str]:
    """The first markdown cell's heading and its first paragraph after the heading."""
    cell = next((c for c in notebook.cells if c.cell_type == "markdown"), None)
    if cell is None:
        return "", ""
    lines = [line.strip() for line in str(cell.source).splitlines()]
    title = next((line.lstrip("# ") for line in lines if line.startswith("#")), "")
    body = [line for line in lines if line and not line.startswith("#")]
    purpose = []
    for line in body:
        purpose.append(line)
        if line.endswith("."):
            break
    return title, " ".join(purpose)


def read_runbook(path: Path) -> RunbookInfo:
    """A runbook's title, purpose and parameters; ConfigError when it cannot be read."""
    import papermill

    try:
        notebook = read_notebook(path)
        inspected = papermill.inspect_notebook(str(path), {})
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: not a readable notebook ({exc})") from exc
    parameters = tuple(
        ParameterInfo(
            name=p["name"],
            type_name=str(p.get("inferred_type_name") or "None"),
            default=str(p.get("default", "")),
            help=str(p.get("help") or ""),
        )
        for p in inspected.values()
    )
    title, purpose = _title_and_purpose(notebook)
    return RunbookInfo(path.stem, path, title or path.stem, purpose, parameters)


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
