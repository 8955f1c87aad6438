from __future__ import annotations

import os
import resource
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


# --- bad input is a one-line error, never a traceback or a hang (issue 11, item 13) ---------

GUARD_SECONDS = 120  # a hang guard, not a timing assertion
MEMORY_CAP = 2 << 30  # bytes of address space: reading /dev/zero whole must fail, not swap


def _capped() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def guarded(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``opslib ARGS`` with a memory cap and a deadline, so a regression fails, not hangs."""
    return subprocess.run(
        [sys.executable, "-m", "opslib.cli.main", *args],
        capture_output=True, text=True, cwd=cwd, check=False, timeout=GUARD_SECONDS,
        preexec_fn=_capped,
    )  # fmt: skip


def one_line_error(result: subprocess.CompletedProcess[str], *expected: str) -> str:
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    for text in expected:
        assert text in lines[0]
    return lines[0]


CONFIGS = {
    "binary": (b"\x89PNG\r\n\x1a\n\x00\x00\xff", "not a YAML text file (not UTF-8"),
    "deep": (b"a: " + b"[" * 20000 + b"]" * 20000, "nested deeper than 64 levels"),
    "huge": (b"stack: a\n" + b"# padding\n" * 700_000, "is larger than 1 MiB"),
    "region": (b"region: xx-nowhere-9\n", "region: expected an AWS region that botocore knows"),
    "duplicate": (b"fleet: {size: 2}\nfleet: {size: 3}\n", "fleet: key given twice (lines 1 and"),
}  # fmt: skip


@pytest.mark.parametrize(("content", "message"), CONFIGS.values(), ids=CONFIGS.keys())
def test_bad_config_file_is_one_line(content: bytes, message: str, tmp_path: Path) -> None:
    (tmp_path / "opslib.yml").write_bytes(content)
    one_line_error(guarded("config", "validate", cwd=tmp_path), "opslib.yml: ", message)


@pytest.mark.parametrize("special", ["fifo", "/dev/zero"])
def test_config_from_a_fifo_or_a_device_is_refused(special: str, tmp_path: Path) -> None:
    path = tmp_path / special if special == "fifo" else Path(special)
    if special == "fifo":
        os.mkfifo(path)
    result = guarded("--config", str(path), "config", "validate", cwd=tmp_path)
    one_line_error(result, str(path), "not a regular file")


@pytest.mark.parametrize("special", ["fifo", "/dev/zero"])
def test_lint_of_a_fifo_or_a_device_is_refused(special: str, tmp_path: Path) -> None:
    path = tmp_path / special if special == "fifo" else Path(special)
    if special == "fifo":
        os.mkfifo(path)
    result = guarded("lint", str(path), cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"{path}: is a " in result.stderr and "not a regular file [error]" in result.stderr


def test_lint_of_a_pathological_spec_is_one_finding(tmp_path: Path) -> None:
    (tmp_path / "buildspec.yml").write_text("version: 0.2\nphases: " + "[" * 20000 + "]" * 20000)
    result = guarded("lint", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "nested deeper than 64 levels" in result.stderr


def test_config_validate_checks_the_local_source_and_state_dir(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    (tmp_path / "opslib.yml").write_text("emulator: {state_dir: afile}\n")
    one_line_error(guarded("config", "validate", cwd=tmp_path), "emulator.state_dir", "is a file")
    (tmp_path / "opslib.yml").write_text("source: {repository: missing}\n")
    one_line_error(guarded("config", "validate", cwd=tmp_path), "source.repository", "not exist")


@pytest.mark.parametrize("command", [["status"], ["logs"], ["stop"]])
def test_emulator_commands_with_a_file_as_state_dir_are_one_line(
    command: list[str], tmp_path: Path
) -> None:
    (tmp_path / "afile").write_text("x")
    (tmp_path / "opslib.yml").write_text("emulator: {state_dir: afile/state}\n")
    one_line_error(guarded("emulator", *command, cwd=tmp_path), "emulator.state_dir: ")


def test_unwritable_reports_dir_is_one_line(tmp_path: Path, repo_root: Path) -> None:
    (tmp_path / "afile").write_text("x")
    result = guarded(
        "runbook", "run", "fleet-health", "--dir", str(repo_root / "runbooks"),
        "--reports-dir", str(tmp_path / "afile" / "reports"), cwd=tmp_path,
    )  # fmt: skip
    one_line_error(result, "reports directory", "--reports-dir")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["emulator", "logs", "-n", "-5"], "-5 is not in the range x>=0"),
        (["emulator", "start", "--port", "70000"], "70000 is not in the range 0<=x<=65535"),
        (["emulator", "start", "--port", "-1"], "-1 is not in the range 0<=x<=65535"),
        (["run", "--timeout", "-1"], "-1.0 is not in the range x>0"),
    ],
    ids=["logs-negative", "port-too-high", "port-negative", "timeout-negative"],
)
def test_out_of_range_numbers_are_usage_errors(
    args: list[str], message: str, tmp_path: Path
) -> None:
    state = tmp_path / ".opslib" / "emulator"
    state.mkdir(parents=True)
    (state / "emulator.log").write_text("".join(f"line {i}\n" for i in range(10)))
    try:
        result = guarded(*args, cwd=tmp_path)
    finally:  # an old opslib would have started an emulator here: never leave it running
        subprocess.run(
            [sys.executable, "-m", "opslib.cli.main", "emulator", "stop"],
            cwd=tmp_path, capture_output=True, check=False, timeout=GUARD_SECONDS,
        )  # fmt: skip
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert message in result.stderr and "Traceback" not in result.stderr
    assert "line " not in result.stdout


@pytest.mark.parametrize("command", [["list"], ["clear"], ["add", "--service", "s3"]])
def test_fault_commands_without_an_emulator_are_one_line(
    command: list[str], tmp_path: Path
) -> None:
    (tmp_path / "opslib.yml").write_text("emulator: {state_dir: state}\n")
    one_line_error(guarded("emulator", "fault", *command, cwd=tmp_path), "not running")


def test_fault_add_refuses_a_rate_out_of_range(tmp_path: Path) -> None:
    result = guarded("emulator", "fault", "add", "--service", "s3", "--rate", "2", cwd=tmp_path)
    assert result.returncode == 2 and "--rate" in result.stderr
