"""Opt-in checks against a real AWS account: read-only, nothing is created.

Run with ``OPSLIB_AWS_TESTS=1`` and the usual credential chain (``AWS_PROFILE``,
``AWS_REGION``); tests/conftest.py skips this tier otherwise.
"""

from __future__ import annotations

import os

from opslib import stack
from opslib.config import StackConfig, override, parse_config
from opslib.stack.model import Action
from opslib.target import connect

REGION = os.environ.get("AWS_REGION", "us-east-1")


def _config() -> StackConfig:
    profile = os.environ.get("AWS_PROFILE")
    return override(StackConfig(), target="aws", region=REGION, profile=profile)


def test_credentials_reach_the_account() -> None:
    identity = connect(_config()).client("sts").get_caller_identity()
    assert identity["Account"].isdigit()


def test_plan_reads_every_resource_of_the_stack_without_changing_anything() -> None:
    config = _config()
    result = stack.plan(connect(config), config)
    assert len(result.changes) >= 30
    assert {c.action for c in result.changes} <= {Action.CREATE, Action.UPDATE, Action.NOOP}


def test_a_schedule_plans_the_reports_resources_on_aws() -> None:
    """The same `schedules:` config that fires on the emulator plans, on AWS, the reports
    project, its roles, the schedule group and the schedules (read-only: plan creates none)."""
    schedule = {"name": "fleet-hourly", "runbook": "fleet-health", "expression": "rate(1 hour)"}
    config = override(
        parse_config({"stack": "opslib-aws-check", "schedules": [schedule]}),
        target="aws", region=REGION, profile=os.environ.get("AWS_PROFILE"),
    )  # fmt: skip
    result = stack.plan(connect(config), config)
    planned = {(c.kind, c.name): c.action for c in result.changes}
    stack_name = "opslib-aws-check"
    assert {
        ("codebuild project", f"{stack_name}-reports"),
        ("iam role", f"{stack_name}-reports"),
        ("iam role", f"{stack_name}-scheduler"),
        ("cloudwatch alarm", f"{stack_name}-reports-failures"),
        ("scheduler schedule group", stack_name),
        ("scheduler schedules", f"{stack_name}-schedules"),
    } <= set(planned)
    assert set(planned.values()) <= {Action.CREATE, Action.UPDATE, Action.NOOP}
