"""Finding the stack's config and its folder from anywhere in the project (issue 11, item 2).

JupyterLab and ``nbconvert --execute`` run a kernel in the notebook's folder; it must find
the same opslib.yml, state dir, reports and runbooks as a command run at the top.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from opslib.config import StackConfig, find_config, load_config, project_root
from opslib.runbooks.catalog import runbooks_dir
from opslib.runbooks.reports import REPORTS_ENV, reports_root
from opslib.stack.context import Context


@pytest.fixture(autouse=True)
def _no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPSLIB_CONFIG", REPORTS_ENV, "OPSLIB_RUNBOOKS_DIR"):
        monkeypatch.delenv(name, raising=False)


def checkout(root: Path, *, linked: bool = False) -> Path:
    """A git work tree's root: ``.git`` is a folder, or a file in a linked worktree."""
    root.mkdir(parents=True, exist_ok=True)
    if linked:
        (root / ".git").write_text("gitdir: /elsewhere/.git/worktrees/x\n")
    else:
        (root / ".git").mkdir()
    (root / "notebooks").mkdir()
    return root


def test_a_notebook_folder_finds_the_checkouts_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = checkout(tmp_path / "repo")
    (repo / "opslib.yml").write_text("stack: shop\nemulator: {state_dir: state}\n")
    monkeypatch.chdir(repo / "notebooks")
    config = load_config()
    assert config.stack == "shop"
    assert config.source_file == str(repo / "opslib.yml")
    assert config.state_dir() == repo / "state"


def test_without_a_config_relative_paths_start_at_the_work_trees_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = checkout(tmp_path / "repo", linked=True)
    deep = repo / "notebooks" / "drafts"
    deep.mkdir()
    monkeypatch.chdir(deep)
    config = load_config()
    assert config == StackConfig()
    assert project_root() == repo
    assert config.state_dir() == repo / ".opslib" / "emulator"


def test_the_nearest_config_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = checkout(tmp_path / "repo")
    (repo / "opslib.yml").write_text("stack: top\n")
    (repo / "notebooks" / "opslib.yml").write_text("stack: nearer\n")
    monkeypatch.chdir(repo / "notebooks")
    assert load_config().stack == "nearer"


def test_the_search_stops_at_the_work_trees_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "opslib.yml").write_text("stack: unrelated\n")
    repo = checkout(tmp_path / "repo")
    monkeypatch.chdir(repo / "notebooks")
    assert find_config() is None
    assert project_root() == repo


def test_outside_a_work_tree_only_the_current_folder_counts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "opslib.yml").write_text("stack: above\n")
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    assert find_config() is None
    assert project_root() == tmp_path / "sub"


def test_opslib_config_still_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = checkout(tmp_path / "repo")
    (repo / "opslib.yml").write_text("stack: top\n")
    chosen = tmp_path / "chosen.yml"
    chosen.write_text("stack: chosen\n")
    monkeypatch.setenv("OPSLIB_CONFIG", str(chosen))
    monkeypatch.chdir(repo / "notebooks")
    assert load_config().stack == "chosen"


def test_source_repository_is_taken_from_the_configs_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = checkout(tmp_path / "repo")
    (repo / "opslib.yml").write_text("source: {repository: app}\n")
    monkeypatch.chdir(repo / "notebooks")
    context = Context(load_config(), "123456789012")
    assert context.local_repository() == str(repo / "app")


def test_reports_and_runbooks_are_the_project_roots(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = checkout(tmp_path / "repo")
    (repo / "runbooks").mkdir()
    monkeypatch.chdir(repo / "notebooks")
    assert reports_root() == repo / "reports"
    assert runbooks_dir() == repo / "runbooks"
    assert reports_root(tmp_path / "elsewhere") == tmp_path / "elsewhere" / "reports"
