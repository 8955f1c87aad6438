"""opslib.runbooks.html: the HTML record for people — no traceback, a red box per failed step."""

from __future__ import annotations

import nbformat

from opslib import render
from opslib.runbooks import html

TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "x.py", line 1, in <module>\n'
    "    boom()\n"
    "KeyError: 'bucket'\n"
)


def executed_notebook() -> nbformat.NotebookNode:
    """What papermill saves after a failure: its banners, a named cell, a random-id cell."""
    banner = nbformat.v4.new_markdown_cell("<span>An Exception was encountered at In [3]</span>")
    banner.metadata["tags"] = [html.PAPERMILL_ERROR_TAG]
    logged = nbformat.v4.new_code_cell("load()", execution_count=2)
    logged.id = "load"
    logged.outputs = [
        nbformat.v4.new_output("stream", name="stderr", text="WARNING slow\n" + TRACEBACK),
        nbformat.v4.new_output("stream", name="stderr", text=TRACEBACK),
        nbformat.v4.new_output("stream", name="stdout", text="loaded 3\n"),
    ]
    failed = nbformat.v4.new_code_cell("go(\n  1)", execution_count=3)
    failed.id = "a1b2c3d4"  # nbformat's own: no name to show
    failed.outputs = [
        nbformat.v4.new_output(
            "error",
            ename="ExecutionError",
            evalue="✗ 1 of 2 instance(s) not healthy\nsecond line",
            traceback=["\x1b[31m---\x1b[39m", "Traceback (most recent call last)", "..."],
        )
    ]
    book = nbformat.v4.new_notebook()
    book.cells = [banner, nbformat.v4.new_markdown_cell("# Title"), logged, failed]
    return book


def test_error_outputs_become_red_boxes_naming_the_step_and_the_one_line_error() -> None:
    readable = html.for_people(executed_notebook(), "triage-101010.ipynb")
    failed = readable.cells[-1]
    (box,) = failed.outputs
    assert box.output_type == "display_data"
    assert (
        box.data["text/plain"]
        == "✗ cell In [3] failed: ExecutionError: 1 of 2 instance(s) not healthy"
    )
    markup = box.data["text/html"]
    assert 'class="opslib-step-error"' in markup and "second line" not in markup
    assert "triage-101010.ipynb keeps the details" in markup
    assert "Traceback" not in markup


def test_the_top_of_the_record_says_where_the_run_stopped_instead_of_papermills_banner() -> None:
    readable = html.for_people(executed_notebook(), "x.ipynb")
    top = readable.cells[0]
    assert top.cell_type == "markdown" and "This run stopped at" in top.source
    assert 'href="#step-error-2"' in top.source  # the failed cell's box, below
    assert not [c for c in readable.cells if "An Exception was encountered" in c.source]


def test_tracebacks_in_stderr_shrink_to_their_error_line() -> None:
    readable = html.for_people(executed_notebook(), "x.ipynb")
    logged = readable.cells[2]
    assert [o.get("text") for o in logged.outputs] == [
        "WARNING slow\nKeyError: 'bucket'\n",
        "KeyError: 'bucket'\n",
        "loaded 3\n",
    ]


def test_the_executed_notebook_itself_is_left_alone() -> None:
    book = executed_notebook()
    html.for_people(book, "x.ipynb")
    assert book.cells[-1].outputs[0].output_type == "error"
    assert len(book.cells) == 4


def test_a_notebook_without_failures_gets_no_box() -> None:
    book = nbformat.v4.new_notebook()
    book.cells = [nbformat.v4.new_markdown_cell("# fine")]
    assert [c.source for c in html.for_people(book).cells] == ["# fine"]


def test_a_named_cell_is_a_step() -> None:
    cell = nbformat.v4.new_code_cell("x", execution_count=9)
    cell.id = "verdict"
    assert html.step_name(cell, 4) == "step 'verdict'"
    cell.id = "0e787c4d"
    assert html.step_name(cell, 4) == "cell In [9]"


def carded_notebook(failed: bool = False) -> nbformat.NotebookNode:
    """A run whose last cell showed the header card (a Card's display output) and a verdict."""
    book = executed_notebook() if failed else nbformat.v4.new_notebook()
    card = render.Card("Fleet health", verdict="✓ all 2 instance(s) healthy", ok=True)
    data, metadata = card._repr_mimebundle_()
    verdict = nbformat.v4.new_code_cell("runbooks.conclude(rb, v)", execution_count=9)
    verdict.id = "verdict"
    verdict.outputs = [
        nbformat.v4.new_output("display_data", data=data, metadata=metadata),
        nbformat.v4.new_output("execute_result", data={"text/markdown": "### ✓ fine"},
                               execution_count=9),
    ]  # fmt: skip
    book.cells = [nbformat.v4.new_markdown_cell("# Fleet health"), *book.cells[1:], verdict]
    return book


def test_the_header_card_is_lifted_to_the_top_of_the_record() -> None:
    readable = html.for_people(carded_notebook(), "x.ipynb")
    (card,) = readable.cells[0].outputs
    assert card.metadata[render.CARD_METADATA] is True
    assert "✓ all 2 instance(s) healthy" in card.data["text/html"]
    assert [o.output_type for o in readable.cells[-1].outputs] == ["execute_result"]  # moved


def test_after_a_failure_the_error_box_comes_first_then_the_card() -> None:
    readable = html.for_people(carded_notebook(failed=True), "x.ipynb")
    assert "opslib-step-error" in readable.cells[0].source
    assert readable.cells[1].outputs[0].metadata[render.CARD_METADATA] is True


def test_a_record_without_a_card_is_left_as_it_was() -> None:
    readable = html.for_people(executed_notebook(), "x.ipynb")
    assert not any(
        (o.get("metadata") or {}).get(render.CARD_METADATA)
        for c in readable.cells for o in c.get("outputs") or []
    )  # fmt: skip
