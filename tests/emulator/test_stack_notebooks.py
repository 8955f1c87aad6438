"""The provision/teardown runbooks and the setup walkthrough, executed with papermill."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import nbformat
import papermill as pm
import pytest
import yaml

from opslib import emulator
from opslib.runbooks.reports import OUTPUT_ENV
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


def _execute(name: str, tmp_path: Path, **parameters: Any) -> Path:
    """Execute a notebook; the output notebook (a runbook's JSON summary lands beside it)."""
    output = tmp_path / f"{name}-{len(list(tmp_path.glob('*.ipynb')))}.ipynb"
    with mock.patch.dict(os.environ, {OUTPUT_ENV: str(output)}):
        pm.execute_notebook(
            str(NOTEBOOKS[name]),
            str(output),
            parameters=parameters,
            kernel_name="python3",
            cwd=str(tmp_path),
            progress_bar=False,
        )
    return output


def _printed(output: Path) -> str:
    """All the printed output of an executed notebook as one string."""
    book = nbformat.read(output, as_version=4)
    texts = [o.get("text", "") for c in book.cells for o in c.get("outputs", [])]
    return "".join(texts)


def _run(name: str, tmp_path: Path, **parameters: Any) -> str:
    """Execute a notebook; all its printed output as one string."""
    return _printed(_execute(name, tmp_path, **parameters))


def _runbook(name: str, tmp_path: Path, **parameters: Any) -> tuple[str, dict[str, Any]]:
    """Execute a runbook; its printed output and the JSON summary it concluded with."""
    output = _execute(name, tmp_path, **parameters)
    summary: dict[str, Any] = json.loads(output.with_suffix(".json").read_text())
    return _printed(output), summary


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
    config = str(config_file)
    planned, dry = _runbook("provision", tmp_path, config=config)  # dry run by default
    assert "to create" in planned and "dry run: nothing changed" in planned
    assert dry["ok"] and dry["verdict"].startswith("✓ dry run: stack nbstack would get")
    assert dry["parameters"]["config"] == config and dry["parameters"]["target"] == "local"
    to_create = dry["data"]["plan"]["counts"]["create"]
    assert to_create > 0 and dry["data"]["result"] is None

    applied, up = _runbook("provision", tmp_path, config=config, dry_run=False)
    assert "up: " in applied and "source connection ready" in applied
    assert up["ok"] and up["verdict"].startswith(f"✓ stack nbstack is up: {to_create} created")
    assert len(up["data"]["result"]["created"]) == to_create

    listed, listing = _runbook("teardown", tmp_path, config=config)  # confirm=False by default
    assert "- delete s3 bucket" in listed and "nothing deleted" in listed
    to_delete = listing["data"]["plan"]["to_delete"]
    assert listing["ok"] and "would be deleted" in listing["verdict"] and to_delete

    other, elsewhere = _runbook("teardown", tmp_path, config=config, stack="other-stack")
    assert "nothing carries this stack's tag" in other and elsewhere["stack"] == "other-stack"

    deleted, down = _runbook("teardown", tmp_path, config=config, confirm=True)
    assert "down: " in deleted
    assert down["ok"] and down["verdict"].startswith("✓ stack nbstack torn down")
    assert sorted(down["data"]["result"]["deleted"]) == sorted(to_delete)
    assert down["data"]["result"]["still_tagged"] == []
    assert "nothing carries this stack's tag" in _run("teardown", tmp_path, config=config)


def test_walkthrough_runs_top_to_bottom_with_defaults(config_file: Path, tmp_path: Path) -> None:
    output = _run("walkthrough", tmp_path)
    assert "choices are valid" in output and "apply=False: nothing created" in output


def test_walkthrough_applies_with_a_progress_bar(config_file: Path, tmp_path: Path) -> None:
    output = _run("walkthrough", tmp_path, apply=True)
    assert "done: create codepipeline pipeline nbstack-pipeline" in output
