"""Chaos Toolkit probes: the steady state of a stack, each over the AWS API.

A probe returns True when its part of the steady state holds and raises with the reason
when it does not: chaoslib records the exception in the journal (the reason is then in
the record and the report) and counts the tolerance as not met. The steady state a drill
returns to: the fleet at its configured size, every instance healthy on the last good
commit, the last pipeline run green, the artifact present and ``opslib plan`` empty.
"""

from __future__ import annotations

import time
from typing import Any

from opslib import stack
from opslib.drills.common import Configuration, fleet_problems, present
from opslib.drills.context import run_of, step_of
from opslib.exceptions import ExecutionError
from opslib.ops import fleet, pipeline


def fleet_steady(commit: str = "", configuration: Configuration = None) -> bool:
    """The fleet at its configured size, every instance running, healthy, on ``commit``."""
    run = run_of(configuration)
    report = fleet.check_fleet(run.session, run.config, minutes=5)
    problems = fleet_problems(report, run.config.fleet.size, commit)
    if problems:
        raise ExecutionError(f"fleet of {run.config.stack} not steady: " + "; ".join(problems))
    return True


def await_fleet_steady(
    commit: str = "", timeout: float = 600.0, poll: float = 2.0, configuration: Configuration = None
) -> dict[str, Any]:
    """Poll until the fleet is steady on ``commit`` (the moment it is: the restore)."""
    run = step_of(configuration)
    deadline = time.monotonic() + float(timeout)
    while True:
        report = fleet.check_fleet(run.session, run.config, minutes=5)
        problems = fleet_problems(report, run.config.fleet.size, commit)
        if not problems:
            run.say(f"fleet steady again: {len(report.instances)} instance(s) on {commit[:12]}")
            return {"instances": len(report.instances), "versions": report.versions}
        if time.monotonic() >= deadline:
            raise ExecutionError(f"fleet not steady after {timeout:.0f} s: " + "; ".join(problems))
        time.sleep(float(poll))  # the apps push nothing when they are back


def pipeline_green(configuration: Configuration = None) -> bool:
    """The pipeline's newest execution succeeded."""
    run = run_of(configuration)
    name = pipeline.pipeline_name(run.config.stack)
    latest = pipeline.latest_execution(run.session, name)
    if latest is None:
        raise ExecutionError(f"pipeline {name} has never run: release first")
    if latest.get("status") != "Succeeded":
        raise ExecutionError(f"last run of {name}: {pipeline.describe_execution(latest)}")
    return True


def artifact_present(bucket: str, key: str, configuration: Configuration = None) -> bool:
    """The artifact's current version is there (HeadObject)."""
    run = run_of(configuration)
    if not present(run, bucket, key):
        raise ExecutionError(f"artifact s3://{bucket}/{key} is missing")
    return True


def plan_empty(configuration: Configuration = None) -> bool:
    """``opslib plan`` has nothing to do: the stack is as its config describes it."""
    run = run_of(configuration)
    pending = stack.plan(run.session, run.config).pending()
    if pending:
        changes = ", ".join(f"{c.action.value} {c.kind} {c.name}" for c in pending[:5])
        raise ExecutionError(f"opslib plan is not empty: {changes}")
    return True
