"""Benchmark: a full pipeline run through the emulator vs the same work in a bash script.

A: one run of this repository's pipeline on the emulator, fleet of one host:
StartPipelineExecution, then ``opslib.ops.pipeline.follow`` until the execution ends
(Source from a local git clone, Build = the buildspec with npm ci, lint, jest, bundle,
Deploy = CodeDeploy's hooks on the host: stop, install, start, validate /health).
B: ``bench/bare_release.sh SOURCE_ZIP``: the buildspec's commands as bare_build.sh runs
them, then unpack the bundle into a temp root, start the app, poll /health, stop it.

Set up once before timing: a fresh emulator in a temp dir (started with
OPSLIB_PIPELINE_START_ON_CREATE=0 and OPSLIB_SOURCE_POLL_INTERVAL=3600, so that only
this script starts executions), a ``git clone`` of this repository as the source, and
``opslib.stack.apply`` of a one-host stack. Runs A B A B after one warm-up each and prints
each side's median and the median (min, max) of the pairwise ratios A/B.

    .venv/bin/python bench/pipeline_overhead.py [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from opslib import emulator, stack  # noqa: E402
from opslib.config import parse_config  # noqa: E402
from opslib.ops import pipeline  # noqa: E402
from opslib.ops.builds import package_source  # noqa: E402
from opslib.target import Session, Target, TargetKind  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
STACK = "bench"
FOLLOW_POLL = 0.2  # seconds between two looks at the execution (follow's default is 1 s)


def emulator_release(session: Session) -> float:
    name = pipeline.pipeline_name(STACK)
    codepipeline = session.client("codepipeline")
    start = time.perf_counter()
    execution_id = codepipeline.start_pipeline_execution(name=name)["pipelineExecutionId"]
    report = pipeline.follow(session, name, execution_id, timeout=1800, poll=FOLLOW_POLL)
    elapsed = time.perf_counter() - start
    if not report.succeeded:
        raise SystemExit(
            f"pipeline execution {execution_id} ended {report.status}: "
            f"{report.failed_action}\n" + "\n".join(report.log_tail or [])
        )
    return elapsed


def bare_release(source_zip: Path) -> float:
    start = time.perf_counter()
    script = REPO / "bench" / "bare_release.sh"
    subprocess.run(["bash", str(script), str(source_zip)], check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    # Read by the emulator process at start: no run on CreatePipeline, no source polling.
    os.environ["OPSLIB_PIPELINE_START_ON_CREATE"] = "0"
    os.environ["OPSLIB_SOURCE_POLL_INTERVAL"] = "3600"
    with tempfile.TemporaryDirectory() as tmp:
        clone = Path(tmp) / "source"
        subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
        source_zip = Path(tmp) / "src.zip"
        source_zip.write_bytes(package_source(clone))
        config = parse_config(
            {"stack": STACK, "source": {"repository": str(clone)}, "fleet": {"size": 1}}
        )
        info = emulator.start(Path(tmp) / "state", port=0)
        try:
            session = Session(Target(TargetKind.LOCAL, "us-east-1", endpoint_url=info.endpoint))
            try:
                stack.apply(session, config)
                emulator_release(session)  # warm-up: npm's cache, page cache, the host
                bare_release(source_zip)
                pairs = [
                    (emulator_release(session), bare_release(source_zip)) for _ in range(args.runs)
                ]
            finally:
                stack.destroy(session, config)  # terminates the fleet, and its app with it
        finally:
            emulator.stop(info.state_dir)
    ratios = [a / b for a, b in pairs]
    print(f"runs: {args.runs} pairs (A B A B ...), after one warm-up each")
    print("pairs (A/B, s): " + ", ".join(f"{a:.1f}/{b:.1f}" for a, b in pairs))
    for label, values in (
        ("A emulator pipeline", [p[0] for p in pairs]),
        ("B bare bash script ", [p[1] for p in pairs]),
        ("A/B ratio          ", ratios),
    ):
        print(f"{label} median {statistics.median(values):7.3f}"
              f"  min {min(values):7.3f}  max {max(values):7.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
