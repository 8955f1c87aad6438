"""Benchmark: ``opslib up`` on a fresh emulator vs the same create calls as an AWS CLI script.

Paired in one run, A B A B: each side gets its own fresh emulator (start not timed); A runs
the ``opslib up`` command, B runs ``bench/up_cli.sh`` (one ``aws`` process per call, the
documents written beforehand, untimed). Then, on A's emulator, a second ``up`` is made
in-process and its mutating calls are counted (botocore before-call hook): must be 0.

    .venv/bin/python bench/up_vs_cli.py [--pairs 2] [--write docs/benchmarks-provisioning.md]
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
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from opslib import emulator, stack  # noqa: E402
from opslib.config import load_config  # noqa: E402
from opslib.stack import policies  # noqa: E402
from opslib.stack.cloudwatch import event_pattern  # noqa: E402
from opslib.stack.codedeploy import DeploymentGroup  # noqa: E402
from opslib.stack.codepipeline import Pipeline  # noqa: E402
from opslib.stack.context import Context  # noqa: E402
from opslib.stack.hostconfig import agent_config, user_data  # noqa: E402
from opslib.stack.monitoring import (  # noqa: E402
    MetricFilter,
    alarm_specs,
    dashboard_body,
    metric_filters,  # noqa: E402
)
from opslib.stack.s3 import _LIFECYCLE_RULE  # noqa: E402
from opslib.target import Session, Target, TargetKind  # noqa: E402

STACK = "bench"
ACCOUNT = "123456789012"
REGION = "us-east-1"
BIN = Path(sys.executable).parent


def write_config(folder: Path) -> Path:
    settings = {
        "stack": STACK,
        "emulator": {"port": 0, "state_dir": str(folder / "state")},
        "source": {"repository": str(REPO)},
    }
    path = folder / "opslib.yml"
    path.write_text(yaml.safe_dump(settings))
    return path


def write_documents(config_path: Path, docs: Path) -> None:
    """Every document the CLI script passes as file://, from the same opslib functions."""
    docs.mkdir()
    ctx = Context(load_config(config_path), ACCOUNT, facts={"connection_arn": "@CONNECTION@"})

    def put(name: str, data: object) -> None:
        (docs / name).write_text(data if isinstance(data, str) else json.dumps(data))

    put("bucket-policy.json", policies.bucket_policy(ctx))
    put("lifecycle.json", {"Rules": [_LIFECYCLE_RULE]})
    put("agent-config.json", json.dumps(agent_config(ctx.names, 14), indent=2))
    for service, build in policies.ROLE_POLICIES.items():
        put(f"trust-{service}.json", policies.trust(service))
        put(f"policy-{service}.json", build(ctx))
    put("user-data.sh", user_data(ctx.names))
    for name, spec in metric_filters(ctx).items():
        transform = MetricFilter(name).desired(ctx)["metric"]
        put(
            f"filter-{name.removeprefix(STACK + '-')}.json",
            {
                "logGroupName": spec.log_group,
                "filterName": name,
                "filterPattern": spec.pattern,
                "metricTransformations": [transform],
            },
        )
    for name, spec in alarm_specs(ctx).items():
        put(f"alarm-{name.removeprefix(STACK + '-')}.json", spec)
    group = DeploymentGroup(ctx.names.deployment_group, ctx.names.application).desired(ctx)
    put("deployment-group.json", {k: v for k, v in group.items() if k != "tags"})
    put("logs-policy.json", policies.events_to_logs_policy(ctx))
    put("pattern.json", event_pattern())
    pipeline = Pipeline(ctx.names.pipeline).desired(ctx)
    declaration = {"name": ctx.names.pipeline, **{k: v for k, v in pipeline.items() if k != "tags"}}
    tags = [{"key": "opslib:stack", "value": STACK}]
    put("pipeline.json", {"pipeline": declaration, "tags": tags})
    put("dashboard.json", dashboard_body(ctx))


def run_opslib(folder: Path) -> float:
    config = write_config(folder)
    emulator.start(folder / "state", port=0)  # not timed: both sides start warm
    started = time.perf_counter()
    subprocess.run(
        [str(BIN / "opslib"), "--config", str(config), "up"], check=True, capture_output=True
    )
    return time.perf_counter() - started


def run_cli(folder: Path) -> float:
    config = write_config(folder)
    info = emulator.start(folder / "state", port=0)
    write_documents(config, folder / "docs")
    env = {
        **os.environ,
        "PATH": f"{BIN}:{os.environ['PATH']}",
        "AWS_ENDPOINT_URL": info.endpoint,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "STACK": STACK,
        "ACCOUNT": ACCOUNT,
        "REGION": REGION,
        "DOCS": str(folder / "docs"),
        "REPOSITORY": str(REPO),
        "FLEET_SIZE": "3",
    }
    started = time.perf_counter()
    subprocess.run(
        ["bash", str(REPO / "bench" / "up_cli.sh")], check=True, env=env, capture_output=True
    )
    return time.perf_counter() - started


def second_up(folder: Path) -> tuple[int, int]:
    """Mutating and total calls of an ``up`` on an already provisioned stack."""
    info = emulator.start(folder / "state", port=0)
    session = Session(Target(TargetKind.LOCAL, REGION, endpoint_url=info.endpoint))
    result = stack.apply(session, load_config(folder / "opslib.yml"))
    return result.mutating_calls, len(result.calls.calls)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=2)
    parser.add_argument("--write", type=Path, help="write the figures as a markdown section")
    args = parser.parse_args()
    opslib_times: list[float] = []
    cli_times: list[float] = []
    second: tuple[int, int] = (-1, -1)
    for pair in range(args.pairs):
        with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
            try:
                opslib_times.append(run_opslib(Path(a)))
                if pair == 0:
                    second = second_up(Path(a))
            finally:
                emulator.stop(Path(a) / "state")
            try:
                cli_times.append(run_cli(Path(b)))
            finally:
                emulator.stop(Path(b) / "state")
        print(f"pair {pair + 1}: opslib up {opslib_times[-1]:.1f} s, aws cli {cli_times[-1]:.1f} s")
    report = render(opslib_times, cli_times, second)
    print(report)
    if args.write:
        args.write.write_text(report)


def render(opslib_times: list[float], cli_times: list[float], second: tuple[int, int]) -> str:
    a, b = statistics.median(opslib_times), statistics.median(cli_times)
    runs = ", ".join(f"{x:.1f}/{y:.1f}" for x, y in zip(opslib_times, cli_times, strict=True))
    return (
        "## Provisioning\n\n"
        "`bench/up_vs_cli.py`: `opslib up` (the command, one process) on a fresh emulator vs "
        "`bench/up_cli.sh`, the same create calls as an AWS CLI script (one `aws` process per "
        "call), paired A B A B, each on its own fresh emulator (start not timed); 32 "
        "resources, fleet of 3.\n\n"
        "| measure | value |\n|---|---|\n"
        f"| `opslib up`, fresh emulator (median) | {a:.1f} s |\n"
        f"| AWS CLI script, same calls (median) | {b:.1f} s |\n"
        f"| ratio opslib / CLI | {a / b:.2f} |\n"
        f"| pairs (opslib/CLI, s) | {runs} |\n"
        f"| mutating calls of a second `up` | {second[0]} (of {second[1]} calls, all reads) |\n\n"
        f"Measured {time.strftime('%Y-%m-%d')} on this machine (Python {sys.version.split()[0]}).\n"
    )


if __name__ == "__main__":
    main()
