"""Benchmark: the pipeline report over 90 simulated days vs over 1, on the same emulator.

Set up once: a fresh emulator in a temp dir (no run starts by itself), a one-host stack
from a tiny git repository, then ``opslib emulator simulate-history``'s library call for
``--days`` x ``--runs-per-day`` (timed: the backfill's own figure).

Then, alternately ``--repeats`` times each, the report over the last 1 day (A) and over
the last ``--days`` days (B):

- ``library``: what the runbook calls, ``telemetry.history.collect`` as the runbook calls
  it and ``reports.pipelinereport.build`` (every figure and the JSON summary), in this process;
- ``runbook`` (auto when ``runbooks/pipeline-report.ipynb`` exists, or ``--path runbook``):
  ``opslib runbook run pipeline-report -p days N`` under papermill, kernel start included.

Prints each side's median seconds and the ratio B/A (the goal: at most 2.5), and for the
library path the API calls B made beside :func:`telemetry.history.minimum_calls`, what its
data needs at the APIs' page and batch sizes (the goal: at most 2x).

    .venv/bin/python bench/report_scale.py [--days 90] [--runs-per-day 20] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from opslib import emulator, stack  # noqa: E402
from opslib.config import StackConfig, parse_config  # noqa: E402
from opslib.reports import pipelinereport  # noqa: E402
from opslib.stack.context import Names  # noqa: E402
from opslib.target import Session, Target, TargetKind  # noqa: E402
from opslib.telemetry import history  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
RUNBOOK = REPO / "runbooks" / "pipeline-report.ipynb"
STACK = "scale"
REPOSITORY_FILES = {
    "buildspec.yml": "version: 0.2\nphases:\n  build:\n    commands:\n      - echo ok\n"
    "artifacts:\n  files:\n    - '**/*'\n",
    "appspec.yml": "version: 0.0\nos: linux\nfiles:\n  - source: /\n    destination: /opt/s\n",
}


def make_repository(path: Path) -> None:
    path.mkdir(parents=True)
    for name, text in REPOSITORY_FILES.items():
        (path / name).write_text(text)
    identity = ["-c", "user.name=bench", "-c", "user.email=bench@example.com"]
    for command in (["init", "-q", "-b", "main"], ["add", "-A"], [*identity, "commit", "-qm", "1"]):
        subprocess.run(["git", *command], cwd=path, check=True)


def library_report(session: Session, config: StackConfig, days: float) -> history.History:
    """What the pipeline-report runbook computes, in this process: its collect and figures."""
    collected = history.collect(session, config, history.report_window(days), with_events=False)
    pipelinereport.build(collected, config.objectives, stack=config.stack)
    return collected


def runbook_report(config_file: Path, reports: Path, days: float) -> None:
    """``opslib runbook run pipeline-report`` under papermill, as a scheduled report runs."""
    opslib = Path(sys.executable).with_name("opslib")
    for old in reports.rglob("pipeline-report*.json"):
        old.unlink()  # so that the summary read next is this run's
    subprocess.run(
        [str(opslib), "--config", str(config_file), "runbook", "run", "pipeline-report",
         "-p", "days", str(days), "-p", "config", str(config_file),
         "--reports-dir", str(reports), "-q"],
        check=True, capture_output=True,
    )  # fmt: skip


def runbook_executions(reports: Path) -> object:
    """How many executions the last runbook run's JSON summary counted (it really read them)."""
    (found,) = reports.rglob("pipeline-report*.json")
    return json.loads(found.read_text())["data"]["executions"]


def timed(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def calls_line(collected: history.History) -> str:
    needed = history.minimum_calls(collected)
    made = {k: collected.calls.get(k, 0) for k in needed}
    rows = [f"    {k:<40} {made[k]:>5} made, {v:>5} needed" for k, v in needed.items()]
    extra = {k: v for k, v in collected.calls.items() if k not in needed}
    rows += [f"    {k:<40} {v:>5} made (not in the minimum's table)" for k, v in extra.items()]
    total_made, total_needed = sum(collected.calls.values()), sum(needed.values())
    rows.append(f"    total: {total_made} made, {total_needed} needed at least "
                f"({total_made / max(1, total_needed):.2f}x)")  # fmt: skip
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--runs-per-day", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--path", choices=("auto", "library", "runbook"), default="auto")
    args = parser.parse_args()
    path = ("runbook" if RUNBOOK.exists() else "library") if args.path == "auto" else args.path
    os.environ.update(OPSLIB_PIPELINE_START_ON_CREATE="0", OPSLIB_SOURCE_POLL_INTERVAL="3600")
    with tempfile.TemporaryDirectory(prefix="opslib-scale-") as tmp:
        root = Path(tmp)
        make_repository(root / "app")
        info = emulator.start(root / "state", 0)
        try:
            run(args, path, root, info)
        finally:
            emulator.stop(root / "state")


def run(args: argparse.Namespace, path: str, root: Path, info: emulator.EmulatorInfo) -> None:
    settings = {"stack": STACK, "source": {"repository": str(root / "app")},
                "fleet": {"size": 1},
                "emulator": {"port": info.port, "state_dir": str(root / "state")}}  # fmt: skip
    config = parse_config(settings)
    config_file = root / "opslib.yml"
    config_file.write_text(yaml.safe_dump(settings))
    session = Session(Target(TargetKind.LOCAL, config.region, endpoint_url=info.endpoint))
    stack.apply(session, config)
    names = Names(STACK, "", config.region)
    spec = emulator.HistorySpec(
        names.pipeline, names.events_log_group, args.days, args.runs_per_day, time.time(),
        0.1, args.seed,
    )  # fmt: skip
    backfill = timed(lambda: emulator.simulate_history(info, spec, config.region))
    total = args.days * args.runs_per_day
    print(f"simulate-history {args.days} days x {args.runs_per_day} runs ({total} executions): "
          f"{backfill:.1f} s")  # fmt: skip

    def report(days: float) -> Callable[[], object]:
        if path == "runbook":
            return lambda: runbook_report(config_file, root / "reports", days)
        return lambda: library_report(session, config, days)

    report(1)(), report(args.days)()  # warm-up: imports, caches, the store's pages
    short, long = [], []
    for _ in range(args.repeats):
        short.append(timed(report(1)))
        long.append(timed(report(args.days)))
    a, b = statistics.median(short), statistics.median(long)
    print(f"path: {path}")
    print(f"  A  1-day report:  median {a:.2f} s  {[round(s, 2) for s in short]}")
    print(f"  B  {args.days}-day report: median {b:.2f} s  {[round(s, 2) for s in long]}")
    print(f"  B/A = {b / a:.2f} (goal <= 2.5)")
    if path == "runbook":
        for days in (1, args.days):
            runbook_report(config_file, root / "reports", days)
            print(f"  the {days}-day runbook's summary counts "
                  f"{runbook_executions(root / 'reports')} executions")  # fmt: skip
    for days in (1, args.days):  # the API calls: the runbook's own collect, in this process
        collected = library_report(session, config, days)
        print(f"  API calls of the {days}-day report "
              f"({len(collected.frames['executions'])} executions):")  # fmt: skip
        print(calls_line(collected))


if __name__ == "__main__":
    main()
