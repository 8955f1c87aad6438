"""Benchmark: emulator cold start against a bare moto_server, side by side.

A = ``opslib emulator start`` (the real command, one process, on a fresh state directory)
until the first answered ListBuckets; B = ``moto_server -p PORT`` until its first answered
ListBuckets. Run in turn A B A B; each pair's ratio A/B is taken pair by pair, so load on
this shared machine hits both sides alike.

Wall: from spawning the command to the answer. Both sides make their boto3 client before the
clock starts (A's on a free port written into its config, as B's on the port it is given):
making a client costs the bench 0.1-0.2 s, and until 2026-12-02 A paid it inside its wall.

CPU: user + system seconds of every process that took part, read when the answer arrives —
the ``opslib`` command (its rusage, once it exited) plus the emulator server it started
(``/proc/PID/stat``: it runs in a session of its own, so it is nobody's waited-for child);
for B, moto_server's. The client's own CPU (one boto3 call, the same on both sides) is not
counted.

Bytecode: pip compiles moto's modules when it installs them; an editable install of opslib
does not, and with ``PYTHONDONTWRITEBYTECODE`` set (as on the project's shared machine)
no run writes it, so every start would compile opslib's modules from source again. So
that both sides start from bytecode, as a user's second start does, opslib's is compiled
before the first pair (``--no-compile`` measures without doing so).

    .venv/bin/python bench/cold_start.py [--pairs 5] [--no-compile]
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import botocore.config
import botocore.exceptions

BIN = Path(sys.executable).parent
POLL = 0.01  # seconds between connection attempts to a server that is not up yet
DEADLINE = 120.0
_TICK = os.sysconf("SC_CLK_TCK")
_NOT_UP = (botocore.exceptions.EndpointConnectionError, botocore.exceptions.ConnectionClosedError)


@dataclass(frozen=True)
class Sample:
    wall: float
    cpu: float


def _client(endpoint: str) -> Any:
    return boto3.session.Session().client(
        "s3", region_name="us-east-1", endpoint_url=endpoint,
        aws_access_key_id="bench", aws_secret_access_key="bench",
        config=botocore.config.Config(retries={"max_attempts": 1}, connect_timeout=2),
    )  # fmt: skip


def _proc_cpu(pid: int) -> float:
    """User + system CPU seconds of a live process (fields 14 and 15 of /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _until_answered(call: Callable[[], Any], alive: Callable[[], bool]) -> None:
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        try:
            call()
            return
        except _NOT_UP:
            if not alive():
                raise SystemExit("the server exited before it answered") from None
            time.sleep(POLL)  # nothing listens yet: poll the condition with a deadline
    raise SystemExit(f"no answer within {DEADLINE:.0f}s")


def run_emulator() -> Sample:
    """A: ``opslib emulator start`` on a fresh state dir, then the first ListBuckets."""
    port = _free_port()
    s3 = _client(f"http://127.0.0.1:{port}")  # made before the clock starts, as for B
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "opslib.yml"
        config.write_text(f"emulator:\n  state_dir: state\n  port: {port}\n")
        state = Path(tmp) / "state"
        env = {**os.environ, "OPSLIB_CONFIG": str(config)}
        cpu_before = _children_cpu()
        start = time.perf_counter()
        subprocess.run([str(BIN / "opslib"), "emulator", "start"], env=env, check=True,
                       stdout=subprocess.DEVNULL)  # fmt: skip
        s3.list_buckets()
        wall = time.perf_counter() - start
        info = json.loads((state / "emulator.json").read_text())
        if info["port"] != port:
            raise SystemExit(f"the emulator took port {info['port']}, not {port}: rerun")
        cpu = _children_cpu() - cpu_before + _proc_cpu(int(info["pid"]))
        subprocess.run([str(BIN / "opslib"), "emulator", "stop"], env=env, check=True,
                       stdout=subprocess.DEVNULL)  # fmt: skip
    return Sample(wall, cpu)


def run_moto() -> Sample:
    """B: a bare ``moto_server -p PORT`` until its first answered ListBuckets."""
    port = _free_port()
    s3 = _client(f"http://127.0.0.1:{port}")
    start = time.perf_counter()
    server = subprocess.Popen([str(BIN / "moto_server"), "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        _until_answered(s3.list_buckets, lambda: server.poll() is None)
        wall = time.perf_counter() - start
        cpu = _proc_cpu(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=15)
    return Sample(wall, cpu)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--no-compile", action="store_true",
                        help="do not compile opslib's bytecode first")  # fmt: skip
    args = parser.parse_args()
    if not args.no_compile:
        import opslib

        compileall.compile_dir(Path(opslib.__file__).parent, quiet=1)
    pairs = []
    for number in range(1, args.pairs + 1):
        a, b = run_emulator(), run_moto()
        pairs.append((a, b))
        print(f"pair {number}: A {a.wall:.2f}s wall {a.cpu:.2f}s cpu | "
              f"B {b.wall:.2f}s wall {b.cpu:.2f}s cpu | "
              f"A/B wall {a.wall / b.wall:.2f} cpu {a.cpu / b.cpu:.2f}", flush=True)  # fmt: skip
    for measure in ("wall", "cpu"):
        a_values = [getattr(a, measure) for a, _ in pairs]
        b_values = [getattr(b, measure) for _, b in pairs]
        ratios = [getattr(a, measure) / getattr(b, measure) for a, b in pairs]
        print(f"{measure}: A median {statistics.median(a_values):.2f}s, "
              f"B median {statistics.median(b_values):.2f}s, "
              f"A/B median {statistics.median(ratios):.2f} "
              f"(min {min(ratios):.2f}, max {max(ratios):.2f}, {len(pairs)} pairs)")  # fmt: skip


if __name__ == "__main__":
    main()
