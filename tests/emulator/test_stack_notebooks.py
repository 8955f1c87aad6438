"""The provision/teardown runbooks and the setup walkthrough, executed with papermill."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import papermill as pm
import pytest
import yaml

from opslib import emulator
from tests.emulator.conftest import REPO

NOTEBOOKS = {
    "provision": REPO / "runbooks" / "provision.ipynb",
    "teardown": REPO / "runbooks" / "teardown.ipynb",
    "walkthrough": REPO / "notebooks" / "setup-walkthrough.ipynb",
}


@pytest.fixture
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An opslib.yml on a temp state dir, named by $OPSLIB_CONFIG (the kernel inherits it)."""
    settings = {
        "stack": "nbstack",
        "emulator": {"port": 0, "state_dir": str(tmp_path / "state")},
        "source": {"repository": str(REPO)},
        "fleet": {"size": 1},
    }
    path = tmp_path / "opslib.yml"
    path.write_text(yaml.safe_dump(settings))
    monkeypatch.setenv("OPSLIB_CONFIG", str(path))
    yield path
    emulator.stop(tmp_path / "state")


def _run(name: str, tmp_path: Path, **parameters: Any) -> str:
    """Execute a notebook; all its printed output as one string."""
    output = tmp_path / f"{name}-{len(list(tmp_path.glob('*.ipynb')))}.ipynb"
    pm.execute_notebook(
        str(NOTEBOOKS[name]),
        str(output),
        parameters=parameters,
        kernel_name="python3",
        cwd=str(tmp_path),
        progress_bar=False,
    )
    book = nbformat.read(output, as_version=4)
    texts = [o.get("text", "") for c in book.cells for o in c.get("outputs", [])]
    return "".join(texts)


@pytest.mark.parametrize("name", sorted(NOTEBOOKS))
def test_notebooks_are_committed_without_outputs_and_tag_their_parameters(name: str) -> None:
    book = nbformat.read(NOTEBOOKS[name], as_version=4)
    code = [c for c in book.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code)
    tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    for line in tagged[0].source.splitlines():
        assert ": " in line.split("=")[0] and "  # " in line, line  # typed, with help


def test_provision_then_teardown_runbooks(config_file: Path, tmp_path: Path) -> None:
    assert "to create" in _run("provision", tmp_path)  # dry run by default
    assert "dry run: nothing changed" in _run("provision", tmp_path)
    applied = _run("provision", tmp_path, dry_run=False)
    assert "up: " in applied and "source connection ready" in applied
    listed = _run("teardown", tmp_path)  # confirm=False by default
    assert "- delete s3 bucket" in listed and "nothing deleted" in listed
    deleted = _run("teardown", tmp_path, confirm=True)
    assert "down: " in deleted
    assert "nothing carries this stack's tag" in _run("teardown", tmp_path)


def test_walkthrough_runs_top_to_bottom_with_defaults(config_file: Path, tmp_path: Path) -> None:
    output = _run("walkthrough", tmp_path)
    assert "choices are valid" in output and "apply=False: nothing created" in output


def test_walkthrough_applies_with_a_progress_bar(config_file: Path, tmp_path: Path) -> None:
    output = _run("walkthrough", tmp_path, apply=True)
    assert "done: create codepipeline pipeline nbstack-pipeline" in output
