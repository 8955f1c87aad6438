"""Browser tier: the walkthrough in JupyterLab in headless Chromium, against a fresh emulator.

The project is what a newcomer has: a clone of this repository (its committed HEAD, which
the pipeline builds) with an ``opslib.yml`` at its top whose paths are relative, and the
working tree's walkthrough notebook in ``notebooks/``. JupyterLab serves the clone, so the
kernel runs in ``notebooks/`` and must find the top's config and state by itself: nothing
names them through the environment.

``make setup`` installs Debian's ``chromium`` and ``chromium-driver`` and the selenium
package; without them this tier fails rather than skips, so CI cannot go green untested.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from opslib import emulator
from opslib.emulator import EmulatorInfo
from tests.browser import jupyterlab
from tests.browser.jupyterlab import JupyterLab
from tests.browser.page import NotebookPage, find_browser, open_browser

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = "notebooks/setup-walkthrough.ipynb"
STACK = "wt-browser"
# As in the runbook suite: every pipeline run is one the test asked for.
EMULATOR_ENV = {"OPSLIB_PIPELINE_START_ON_CREATE": "0", "OPSLIB_SOURCE_POLL_INTERVAL": "3600"}


@dataclass(frozen=True)
class Project:
    """The newcomer's checkout and the emulator running on its state dir."""

    root: Path
    state_dir: Path
    emulator: EmulatorInfo


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}"
    return done.stdout.strip()


def make_project(root: Path) -> Path:
    git(REPO, "clone", "--quiet", "--no-hardlinks", str(REPO), str(root))
    git(root, "checkout", "--quiet", "-B", "main")
    shutil.copyfile(REPO / NOTEBOOK, root / NOTEBOOK)  # the notebook as it is being edited
    settings = {
        "stack": STACK,
        "emulator": {"port": 0, "state_dir": ".opslib/emulator"},
        "source": {"repository": ".", "branch": "main"},
        "fleet": {"size": 1},
    }
    (root / "opslib.yml").write_text(yaml.safe_dump(settings, sort_keys=False))
    return root


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    root = make_project(tmp_path / "project")
    state_dir = root / ".opslib" / "emulator"
    with pytest.MonkeyPatch.context() as patch:  # only the emulator process inherits these
        for key, value in EMULATOR_ENV.items():
            patch.setenv(key, value)
        info = emulator.start(state_dir, port=0)
    try:
        yield Project(root, state_dir, info)
    finally:
        emulator.stop(state_dir)
        stray = root / "notebooks" / ".opslib" / "emulator"
        if stray.exists():  # the bug of issue 11: a kernel's own emulator; stop it too
            emulator.stop(stray)


@pytest.fixture
def lab(project: Project, tmp_path: Path) -> Iterator[JupyterLab]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPSLIB_")}
    server = jupyterlab.start(project.root, tmp_path / "jupyter", env)
    try:
        yield server
    finally:
        survivors = server.stop()
        assert not survivors, f"JupyterLab's processes outlived it (killed): {survivors}"


@pytest.fixture
def page(lab: JupyterLab, tmp_path: Path) -> Iterator[NotebookPage]:
    found = find_browser()
    if found is None:
        pytest.fail("chromium and chromedriver are missing: `make setup` apt-installs them")
    work = tmp_path / "chromium"
    work.mkdir()
    driver = open_browser(*found, work)
    browser_pids = jupyterlab.descendants(driver.service.process.pid)
    try:
        yield NotebookPage(driver, tmp_path, lambda: f"JupyterLab log:\n{lab.log_tail()}")
    finally:
        driver.quit()
        survivors = jupyterlab.kill_survivors(browser_pids)
        assert not survivors, f"chromium's processes outlived it (killed): {survivors}"
