"""Processes found by a marker in their environment, as the emulator finds a host's or a
build's processes: real child processes, each with its own value, found in one pass."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import pytest

from opslib.emulator.core.procs import kill_all, processes_by_env, processes_with_env

MARKER = "OPSLIB_TEST_PROCS_MARKER"


@pytest.fixture
def marked() -> Iterator[dict[str, list[int]]]:
    """Two processes marked "a", one marked "b", one marked only in a longer name's value."""
    started: dict[str, list[int]] = {"a": [], "b": []}
    procs = []
    for value in ("a", "a", "b", None):
        env = {**os.environ, "DECOY": f"{MARKER}=a"}
        if value is not None:
            env[MARKER] = value
        proc = subprocess.Popen(["sleep", "60"], env=env)
        procs.append(proc)
        if value is not None:
            started[value].append(proc.pid)
    try:
        yield started
    finally:
        kill_all([p.pid for p in procs])
        for proc in procs:
            proc.wait()


@pytest.mark.unit
def test_one_pass_finds_every_value_and_only_the_variable_itself(
    marked: dict[str, list[int]],
) -> None:
    found = processes_by_env(MARKER)
    assert sorted(found["a"]) == sorted(marked["a"])
    assert found["b"] == marked["b"]
    assert sorted(found) == ["a", "b"]  # the decoy's value is no marker
    assert sorted(processes_with_env(MARKER, "a")) == sorted(marked["a"])
    assert processes_with_env(MARKER, "nope") == []
