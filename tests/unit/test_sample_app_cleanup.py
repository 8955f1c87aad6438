"""The sample app's jest tests close what they open, even when their assertions fail.

A commit that renamed the app's ``/health`` route failed 11 tests, and the servers those
tests had started stayed open, so jest never exited and the build sat IN_PROGRESS until its
timeout. Here the same commit is made in a temporary copy of the app (never on the real
branch) and jest's ``--detectOpenHandles`` must find nothing left open; ``--forceExit``
only keeps this test from hanging if it does.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

SAMPLE_APP = Path(__file__).resolve().parents[2] / "sample-app"
JEST = SAMPLE_APP / "node_modules" / ".bin" / "jest"


@pytest.fixture
def renamed_health(tmp_path: Path) -> Path:
    """A copy of the sample app whose /health route is now /healthz (tests unchanged)."""
    if not JEST.exists() or shutil.which("node") is None:
        pytest.skip("the sample app's node_modules are not installed (make setup)")
    app = tmp_path / "sample-app"
    app.mkdir()
    for name in ("package.json", "src", "test"):
        source = SAMPLE_APP / name
        copy = shutil.copytree if source.is_dir() else shutil.copy2
        copy(source, app / name)
    (app / "node_modules").symlink_to(SAMPLE_APP / "node_modules")
    code = app / "src" / "app.js"
    text = code.read_text()
    assert "'/health': (req" in text, "the sample app's /health route moved"
    code.write_text(text.replace("'/health': (req", "'/healthz': (req"))
    return app


def test_failing_tests_leave_no_open_handles(renamed_health: Path) -> None:
    result = subprocess.run(
        [str(JEST), "--ci", "--coverage=false", "--detectOpenHandles", "--forceExit"],
        cwd=renamed_health,
        capture_output=True,
        text=True,
        timeout=300,  # a safety net for a broken jest, not what is asserted
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "failed" in next(line for line in output.splitlines() if line.startswith("Tests:"))
    assert "open handle" not in output, output[-3000:]
