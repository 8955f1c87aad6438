"""Benchmark: how long a CodeDeploy deployment takes on 1, 3 and 10 hosts, per config.

One emulator, one prebuilt sample-app bundle (tests.emulator.deploy_helpers.app_bundle, no
npm). For each deployment config (OneAtATime, HalfAtATime, AllAtOnce) and fleet size N:
launch N instances with a tag of their own, create a deployment group with that config,
time CreateDeployment until GetDeployment (polled every 0.05 s) says Succeeded, then
terminate the instances. Every host really runs the hooks: stop, install, start the app,
validate /health. Cells are taken round by round (every cell once, then again), so load
on a shared machine spreads over all of them; each cell's median is reported, with the
per-host cost (median / N) that shows how the cost grows with the fleet.

    .venv/bin/python bench/deploy_scaling.py [--runs 3] [--sizes 1,3,10]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from opslib import emulator  # noqa: E402
from opslib.emulator import EmulatorInfo  # noqa: E402
from tests.emulator import deploy_helpers as helpers  # noqa: E402
from tests.emulator.conftest import client  # noqa: E402

CONFIGS = (
    "CodeDeployDefault.OneAtATime",
    "CodeDeployDefault.HalfAtATime",
    "CodeDeployDefault.AllAtOnce",
)
POLL = 0.05
TIMEOUT = 600.0


def timed_deployment(
    info: EmulatorInfo, revision: dict[str, Any], config: str, size: int, tag: str
) -> float | None:
    """Seconds from CreateDeployment to Succeeded on a fresh fleet of ``size`` hosts.

    None when the config cannot deploy to that fleet at all: HalfAtATime on one host asks
    for one healthy host out of one and fails HEALTH_CONSTRAINTS_INVALID, as on AWS.
    """
    group = f"Bench-{config.rsplit('.', 1)[-1]}-{size}-{tag}"
    ids = helpers.launch(info, size, group)
    try:
        helpers.create_group(info, group, config=config)
        codedeploy = client(info, "codedeploy")
        start = time.perf_counter()
        deployment_id = helpers.deploy(info, revision, group)
        deadline = time.monotonic() + TIMEOUT
        while True:
            found = codedeploy.get_deployment(deploymentId=deployment_id)["deploymentInfo"]
            if found["status"] in ("Succeeded", "Failed", "Stopped"):
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"{deployment_id} ({group}) still {found['status']}")
            time.sleep(POLL)
        elapsed = time.perf_counter() - start
    finally:
        helpers.terminate(info, ids)
    if found.get("errorInformation", {}).get("code") == "HEALTH_CONSTRAINTS_INVALID":
        return None
    if found["status"] != "Succeeded":
        raise SystemExit(f"{deployment_id} ({group}) ended {found['status']}: {found}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sizes", default="1,3,10", help="fleet sizes, comma-separated")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    times: dict[tuple[str, int], list[float]] = {(c, n): [] for c in CONFIGS for n in sizes}
    invalid: set[tuple[str, int]] = set()
    with tempfile.TemporaryDirectory() as tmp:
        info = emulator.start(Path(tmp) / "state", port=0)
        try:
            revision = helpers.upload(info, "bench/app.zip", helpers.app_bundle(Path(tmp), "bench"))
            timed_deployment(info, revision, CONFIGS[-1], 1, "warmup")  # not counted
            for run in range(args.runs):
                for config in CONFIGS:
                    for size in sizes:
                        if (config, size) in invalid:
                            continue
                        elapsed = timed_deployment(info, revision, config, size, f"r{run}")
                        if elapsed is None:
                            invalid.add((config, size))
                            print(f"{config} x{size}: HEALTH_CONSTRAINTS_INVALID", flush=True)
                            continue
                        times[config, size].append(elapsed)
                        print(f"run {run + 1}: {config} x{size}: {elapsed:.2f}s", flush=True)
        finally:
            try:
                helpers.terminate_all(info)
            finally:
                emulator.stop(info.state_dir)
    print(f"\nCreateDeployment -> Succeeded, median of {args.runs} runs (min-max), seconds")
    print(f"{'config':<30}" + "".join(f"{f'{n} host(s)':>22}" for n in sizes))
    for config in CONFIGS:
        cells = []
        for size in sizes:
            values = times[config, size]
            cells.append(
                f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"
                if values
                else "invalid"
            )
        print(f"{config:<30}" + "".join(f"{c:>22}" for c in cells))
    print("\nper-host cost: median seconds / N")
    print(f"{'config':<30}" + "".join(f"{f'{n} host(s)':>22}" for n in sizes))
    for config in CONFIGS:
        cells = [
            f"{statistics.median(times[config, n]) / n:.2f}" if times[config, n] else "invalid"
            for n in sizes
        ]
        print(f"{config:<30}" + "".join(f"{c:>22}" for c in cells))
    if invalid:
        print("\ninvalid: HEALTH_CONSTRAINTS_INVALID (the config leaves no host to deploy to)")


if __name__ == "__main__":
    main()
