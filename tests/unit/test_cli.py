from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from opslib import __version__


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "opslib.cli.main", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
    )


def test_version() -> None:
    result = run("--version")
    assert result.returncode == 0
    assert __version__ in result.stdout


def test_help_lists_commands() -> None:
    result = run("--help")
    assert result.returncode == 0
    for command in ("config", "lint"):
        assert command in result.stdout


def test_config_show_defaults(tmp_path: Path) -> None:
    result = run("config", "show", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "stack: opslib-demo" in result.stdout
    assert "local emulator at http://127.0.0.1:4599" in result.stdout


def test_config_validate_bad_file_is_one_line_no_traceback(tmp_path: Path) -> None:
    (tmp_path / "opslib.yml").write_text("fleet:\n  size: many\n")
    result = run("config", "validate", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"Error: {tmp_path / 'opslib.yml'}: fleet.size: expected an integer from 1 to 100, "
        "got 'many'"
    ]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("flag", [("--target", "gcp"), ("--region", "nowhere")])
def test_bad_flags_fail_clearly(tmp_path: Path, flag: tuple[str, str]) -> None:
    result = run(*flag, "config", "validate", cwd=tmp_path)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert flag[1] in result.stderr
