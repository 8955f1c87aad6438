"""The notebooks as files: committed without outputs, all covered by the runbook suite, and
every runbook shaped by the house rules (title, documented parameters, safe defaults, the
opslib params check first, a verdict and JSON summary last)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import papermill
import pytest

from opslib.params import SECRET_NAME, TYPE_NAMES
from tests.runbooks.suite import REPO, SUITE, in_suite_order, notebooks_on_disk, read_junit

NOTEBOOKS = notebooks_on_disk()
RUNBOOKS = [n for n in NOTEBOOKS if n.startswith("runbooks/")]


def read(notebook: str) -> nbformat.NotebookNode:
    return nbformat.read(REPO / notebook, as_version=4)


def code_cells(notebook: str) -> list[nbformat.NotebookNode]:
    return [c for c in read(notebook).cells if c.cell_type == "code"]


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_notebook_is_committed_without_outputs(notebook: str) -> None:
    dirty = [
        i
        for i, cell in enumerate(read(notebook).cells)
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)
    ]
    assert not dirty, (
        f"{notebook}: cells {dirty} carry outputs or execution counts; clear them with "
        f"'jupyter nbconvert --clear-output --inplace {notebook}'"
    )


def test_every_notebook_is_covered_by_the_runbook_suite() -> None:
    missing = [n for n in NOTEBOOKS if n not in SUITE]
    assert not missing, (
        f"not in the runbook suite: {missing}; add each to SUITE in tests/runbooks/suite.py "
        "at the place in the order where its defaults work against the suite's stack"
    )


def test_the_suite_lists_only_notebooks_that_exist() -> None:
    assert [n for n in SUITE if not (REPO / n).exists()] == []


def test_suite_order_puts_unlisted_notebooks_last() -> None:
    assert in_suite_order(["runbooks/zz.ipynb", "runbooks/teardown.ipynb", SUITE[0]]) == [
        SUITE[0],
        "runbooks/teardown.ipynb",
        "runbooks/zz.ipynb",
    ]


def test_read_junit_groups_nbval_cells_by_notebook(tmp_path: Path) -> None:
    xml = tmp_path / "junit.xml"
    xml.write_text(
        '<testsuites><testsuite name="pytest">'
        '<testcase file="runbooks/a.ipynb" name="Cell 0"/>'
        '<testcase file="runbooks/a.ipynb" name="Cell 1">'
        '<failure message="boom">tb</failure></testcase>'
        '<testcase file="runbooks/b.ipynb" name="Cell 0"/>'
        "</testsuite></testsuites>"
    )
    results = read_junit(xml)
    assert not results["runbooks/a.ipynb"].ok and results["runbooks/b.ipynb"].ok
    assert results["runbooks/a.ipynb"].failed[0].message == "boom\ntb"


def parameters_cell(notebook: str) -> nbformat.NotebookNode:
    tagged = [c for c in code_cells(notebook) if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{notebook}: expected one cell tagged 'parameters'"
    return tagged[0]


@pytest.mark.parametrize("notebook", RUNBOOKS)
def test_runbook_basics(notebook: str) -> None:
    cells = read(notebook).cells
    assert cells[0].cell_type == "markdown" and cells[0].source.startswith("# "), "title first"
    first_code = code_cells(notebook)[0]
    assert parameters_cell(notebook).source == first_code.source, "parameters: the first code cell"
    declared = papermill.inspect_notebook(str(REPO / notebook))
    assigned = ast.parse(parameters_cell(notebook).source).body
    assert len(declared) == len(assigned), "papermill could not read every parameter line"
    for name, info in declared.items():
        assert info["inferred_type_name"] in TYPE_NAMES, f"{name}: annotate its type"
        assert info["help"], f"{name}: add a trailing '# help' comment"
        assert not SECRET_NAME.search(name), f"{name}: never pass secrets as parameters"
    defaults = {name: info["default"] for name, info in declared.items()}
    assert defaults.get("confirm", "False") == "False", "destructive steps need confirm=True"
    assert defaults.get("dry_run", "True") == "True", "dry_run must default to True"


@pytest.mark.parametrize("notebook", RUNBOOKS)
def test_runbook_uses_the_params_check_and_ends_with_a_verdict(notebook: str) -> None:
    code = code_cells(notebook)
    declared = papermill.inspect_notebook(str(REPO / notebook))
    assert declared["target"]["default"] == '"local"', "the safe default target is local"
    assert "config" in declared, "a config parameter lets tests point at a temp stack"
    validates = re.search(r"params\.validate\(\s*globals\(\)", code[1].source)
    assert validates, "validate right after the parameters"
    stem = Path(notebook).stem
    assert any(f'runbooks.begin("{stem}"' in c.source for c in code), "begin with its own name"
    assert "runbooks.conclude(" in code[-1].source, "end with the verdict and JSON summary"
