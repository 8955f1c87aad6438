"""The HTML record of a runbook run: what people read, without code and without tracebacks.

The executed notebook keeps everything for whoever opens it — code, outputs, tracebacks.
The HTML beside it is for people: outputs only (``nbconvert --no-input``), and where a step
failed a short red box naming the step and its one-line error instead of a traceback, with
the same box at the top of the page so nobody has to scroll to learn that the run stopped.
The runbook's header card (``opslib.render.Card``, shown by its conclusion) is lifted to
the top too, under that box: the verdict and the headline figures come first.
Papermill's own failure banners (cells tagged ``papermill-error-cell-tag``, red 2em text
pointing at ``In [n]``) are replaced by these boxes.

:func:`for_people` is the pure part (notebook in, notebook out); :func:`export_html`
writes the file.
"""

from __future__ import annotations

import copy
import html
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opslib.render import CARD_METADATA

if TYPE_CHECKING:
    from nbformat import NotebookNode

PAPERMILL_ERROR_TAG = "papermill-error-cell-tag"  # the banner cells papermill adds on failure
TRACEBACK_HEADER = "Traceback (most recent call last)"
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
MAX_ERROR_CHARS = 300
BOX_STYLE = (
    "border:1px solid #d73a49;border-left:6px solid #d73a49;background:#ffeef0;"
    "color:#86181d;padding:8px 12px;margin:8px 0;border-radius:4px;"
    "font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;"
)


@dataclass(frozen=True)
class StepError:
    """A failed step as people read it: which step, the one-line error, where it is."""

    step: str  # "step 'verdict'" for a named cell, else "cell In [9]"
    error: str  # "ExecutionError: no earlier successful revision"
    anchor: str  # the box's HTML id, for the link from the top of the page


def random_cell_id(cell_id: str) -> bool:
    """Whether a cell id is one nbformat generated (8 hex digits), not a chosen name."""
    return len(cell_id) == 8 and all(c in "0123456789abcdef" for c in cell_id)


def step_name(cell: Any, index: int) -> str:
    """A cell as a step: its chosen id (``step 'verdict'``), else its execution count."""
    cell_id = str(cell.get("id") or "")
    if cell_id and not random_cell_id(cell_id):
        return f"step {cell_id!r}"
    count = cell.get("execution_count")
    return f"cell In [{count}]" if count else f"cell #{index}"


def one_line_error(output: Any) -> str:
    """``Name: first line of the message`` of an error output, plain text, bounded."""
    name = ANSI_ESCAPE.sub("", str(output.get("ename") or "Error"))
    lines = ANSI_ESCAPE.sub("", str(output.get("evalue") or "")).strip().splitlines()
    message = lines[0].strip().removeprefix("✗ ") if lines else ""
    text = f"{name}: {message}" if message else name
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"


def without_tracebacks(text: str) -> str:
    """A stream's text with each Python traceback cut down to its last line (the error)."""
    kept: list[str] = []
    inside = False
    for line in text.splitlines(keepends=True):
        if TRACEBACK_HEADER in line:
            inside = True
            continue
        if inside and (not line.strip() or line[:1].isspace()):
            continue
        inside = False  # the first unindented line after the frames is the exception
        kept.append(line)
    return "".join(kept)


def error_box(failure: StepError, notebook_name: str, *, summary: bool = False) -> str:
    """The red box: at the failed step, or (``summary``) at the top linking to it."""
    step = html.escape(failure.step)
    error = html.escape(failure.error)
    if summary:
        head = f'✗ This run stopped at <a href="#{failure.anchor}">{step}</a>'
        note = "The steps after it did not run."
    else:
        head = f"✗ {step[:1].upper()}{step[1:]} failed"
        note = f"The executed notebook {html.escape(notebook_name)} keeps the details."
    anchor = "" if summary else f' id="{failure.anchor}"'
    return (
        f'<div class="opslib-step-error"{anchor} style="{BOX_STYLE}">'
        f"<strong>{head}</strong>: <code>{error}</code>"
        f'<div style="font-size:0.85em;margin-top:4px;color:#6a737d">{note}</div></div>'
    )


def _box_output(markup: str, text: str) -> Any:
    import nbformat

    data = {"text/html": markup, "text/plain": text}
    return nbformat.v4.new_output("display_data", data=data)  # type: ignore[no-untyped-call]


def _scrubbed_outputs(cell: Any, index: int, notebook_name: str) -> list[StepError]:
    """Replace the cell's error outputs by boxes and cut tracebacks from its stderr."""
    failures: list[StepError] = []
    outputs: list[Any] = []
    for output in cell.get("outputs") or []:
        kind = output.get("output_type")
        if kind == "error":
            failure = StepError(
                step_name(cell, index), one_line_error(output), f"step-error-{index}"
            )
            failures.append(failure)
            text = f"✗ {failure.step} failed: {failure.error}"
            outputs.append(_box_output(error_box(failure, notebook_name), text))
            continue
        if kind == "stream" and output.get("name") == "stderr":
            output["text"] = without_tracebacks(str(output.get("text") or ""))
            if not output["text"].strip():
                continue
        outputs.append(output)
    cell["outputs"] = outputs
    return failures


def for_people(notebook: NotebookNode, notebook_name: str = "") -> NotebookNode:
    """A copy of an executed notebook fit for the HTML record: no traceback anywhere, a red
    box at each failed step and one at the top (papermill's banners dropped)."""
    import nbformat

    readable = copy.deepcopy(notebook)
    readable.cells = [
        c
        for c in readable.cells
        if PAPERMILL_ERROR_TAG not in (c.get("metadata", {}).get("tags") or [])
    ]
    failures: list[StepError] = []
    for index, cell in enumerate(readable.cells):
        if cell.get("cell_type") == "code":
            failures += _scrubbed_outputs(cell, index, notebook_name)
    card = _lifted_card(readable.cells)
    if card is not None:
        top_card = nbformat.v4.new_code_cell()  # type: ignore[no-untyped-call]
        top_card.outputs = [card]
        readable.cells.insert(0, top_card)
    if failures:
        box = error_box(failures[0], notebook_name, summary=True)
        top = nbformat.v4.new_markdown_cell(box)  # type: ignore[no-untyped-call]
        readable.cells.insert(0, top)
    return readable


def _lifted_card(cells: list[Any]) -> Any | None:
    """Take the last header card (an output marked ``CARD_METADATA``) out of its cell."""
    found: tuple[Any, Any] | None = None
    for cell in cells:
        for output in cell.get("outputs") or []:
            if (output.get("metadata") or {}).get(CARD_METADATA):
                found = (cell, output)
    if found is None:
        return None
    cell, output = found
    cell["outputs"] = [o for o in cell["outputs"] if o is not output]
    return output


def export_html(notebook: Path, html_path: Path) -> Path:
    """The executed notebook as the HTML record: no code cells, no tracebacks."""
    from nbconvert import HTMLExporter

    from opslib.runbooks.catalog import read_notebook

    executed = read_notebook(notebook)
    exporter = HTMLExporter(  # type: ignore[no-untyped-call]
        exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True
    )
    body, _ = exporter.from_notebook_node(for_people(executed, notebook.name))
    html_path.write_text(body, encoding="utf-8")
    return html_path
