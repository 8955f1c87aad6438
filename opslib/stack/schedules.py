"""Scheduled reports: EventBridge Scheduler starts a CodeBuild build that runs a runbook.

Only a config with ``schedules:`` wants these resources; without any, ``plan`` and ``up``
only look whether they exist (and delete them when a config that had schedules dropped
them all), and ``down`` removes them like the rest. In dependency order:

- the reports bucket (hardened like the artifact bucket, reports expire by a lifecycle),
- the opslib source the build installs (``source/opslib.zip``, see :mod:`reportsource`),
- the build's log group and its least-privilege role, the ``<stack>-reports`` project,
- an alarm on the project's ``FailedBuilds`` to the stack's topic,
- the schedules' role (may start only that project), the stack's schedule group, and one
  schedule per entry, each a universal target ``aws-sdk:codebuild:startBuild`` whose Input
  carries the runbook and its parameters as environment variable overrides.

Schedules take no tags (only schedule groups do): they belong to the stack through its
tagged group, which holds nothing else.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from opslib.config import ScheduleSettings
from opslib.stack import tags
from opslib.stack.api import Api
from opslib.stack.cloudwatch import LogGroup
from opslib.stack.codebuild import COMPUTE, IMAGE, Project
from opslib.stack.context import Context
from opslib.stack.iam import Role
from opslib.stack.model import Resource, State
from opslib.stack.monitoring import Alarm, _metric
from opslib.stack.policies import (
    CACHE_PREFIX,
    REPORTS_PREFIX,
    SOURCE_PREFIX,
    reports_policy,
    scheduler_policy,
    scheduler_trust,
    tls_only_policy,
    trust,
)
from opslib.stack.reportsource import REPORTS_BUILDSPEC, source_archive
from opslib.stack.s3 import _LIFECYCLE_RULE, Bucket

REPORT_DAYS = 90  # how long a report run's files stay in the bucket
SOURCE_KEY = f"{SOURCE_PREFIX}opslib.zip"
DIGEST_METADATA = "opslib-digest"  # S3 user metadata: the source zip's SHA-256
TIMEOUT_MINUTES = 30
START_BUILD_TARGET = "arn:aws:scheduler:::aws-sdk:codebuild:startBuild"
# A missed report is not worth a day of retries: retry for an hour at most.
RETRY_POLICY = {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 3}
# What a schedule's Input overrides in the build (the buildspec reads them).
RUNBOOK_VARIABLE = "OPSLIB_RUNBOOK"
PARAMETERS_VARIABLE = "OPSLIB_PARAMETERS"
SCHEDULE_VARIABLE = "OPSLIB_SCHEDULE"


def wants_reports(ctx: Context) -> bool:
    """Whether the config asks for scheduled reports at all."""
    return bool(ctx.config.schedules)


class _Wanted:
    """Mixin: wanted only when the config has schedules."""

    def wanted(self, ctx: Context) -> bool:
        return wants_reports(ctx)


class ReportsBucket(_Wanted, Bucket):
    """The reports bucket: the artifact bucket's hardening, reports expiring after 90 days."""

    def desired(self, ctx: Context) -> State:
        state = super().desired(ctx)
        reports_rule = {
            "ID": "expire-reports",
            "Status": "Enabled",
            "Filter": {"Prefix": REPORTS_PREFIX},
            "Expiration": {"Days": REPORT_DAYS},
        }
        state["policy"] = tls_only_policy(ctx.reports_bucket_arn)
        state["lifecycle"] = [reports_rule, _LIFECYCLE_RULE]
        return state


class ReportsSource(_Wanted, Resource):
    """The opslib source zip the reports build installs, updated when a file changes."""

    kind = "s3 object"

    def __init__(self, name: str, bucket: str) -> None:
        super().__init__(name)
        self.bucket = bucket

    def desired(self, ctx: Context) -> State:
        return {"digest": source_archive().digest, "tags": ctx.tags()}

    def read(self, api: Api, ctx: Context) -> State | None:
        missing = ("404", "NoSuchBucket", "NoSuchKey")
        head = api.find("s3", "head_object", missing, Bucket=self.bucket, Key=self.name)
        if head is None:
            return None
        tagging = api.call("s3", "get_object_tagging", Bucket=self.bucket, Key=self.name)
        return {
            "digest": head.get("Metadata", {}).get(DIGEST_METADATA),
            "tags": tags.to_dict(tagging.get("TagSet")),
        }

    def create(self, api: Api, ctx: Context, desired: State) -> None:
        archive = source_archive()
        api.call(
            "s3",
            "put_object",
            Bucket=self.bucket,
            Key=self.name,
            Body=archive.data,
            ContentType="application/zip",
            Metadata={DIGEST_METADATA: archive.digest},
            Tagging=urlencode(desired["tags"]),
        )

    def update(self, api: Api, ctx: Context, desired: State, changed: list[str]) -> None:
        self.create(api, ctx, desired)

    def delete(self, api: Api, ctx: Context, current: State) -> None:
        api.call("s3", "delete_object", Bucket=self.bucket, Key=self.name)


class ReportsLogGroup(_Wanted, LogGroup):
    """The reports build's log group, with the stack's retention."""


class ReportsRole(_Wanted, Role):
    """The reports build's role: read the stack, write only its reports."""

    def desired(self, ctx: Context) -> State:
        return {
            "trust": trust("codebuild"),
            "policy": reports_policy(ctx),
            "tags": ctx.tags(self.name),
        }


class SchedulerRole(_Wanted, Role):
    """The schedules' role: assumed by the Scheduler of this account, starts the reports only."""

    def desired(self, ctx: Context) -> State:
        return {
            "trust": scheduler_trust(ctx),
            "policy": scheduler_policy(ctx),
            "tags": ctx.tags(self.name),
        }


def _variable(name: str, value: str) -> dict[str, str]:
    return {"name": name, "value": value, "type": "PLAINTEXT"}


class ReportsProject(_Wanted, Project):
    """The ``<stack>-reports`` project: the reports buildspec over the uploaded opslib source."""

    def desired(self, ctx: Context) -> State:
        names = ctx.names
        variables = [
            _variable("OPSLIB_STACK", ctx.stack),
            _variable("OPSLIB_REPORTS_BUCKET", names.reports_bucket),
            _variable("OPSLIB_REPORTS_PREFIX", REPORTS_PREFIX),
            _variable("OPSLIB_TOPIC_ARN", ctx.topic_arn),
            _variable(RUNBOOK_VARIABLE, "fleet-health"),
            _variable(PARAMETERS_VARIABLE, "{}"),
            _variable(SCHEDULE_VARIABLE, ""),
        ]
        return {
            "source": {
                "type": "S3",
                "location": f"{names.reports_bucket}/{SOURCE_KEY}",
                "buildspec": REPORTS_BUILDSPEC,
            },
            "artifacts": {"type": "NO_ARTIFACTS"},
            "environment": {
                "type": "LINUX_CONTAINER",
                "image": IMAGE,
                "computeType": COMPUTE,
                "environmentVariables": variables,
            },
            "serviceRole": ctx.arn("iam", f"role/{names.role('reports')}", regional=False),
            "cache": {"type": "S3", "location": f"{names.reports_bucket}/{CACHE_PREFIX}reports"},
            "logsConfig": {
                "cloudWatchLogs": {"status": "ENABLED", "groupName": names.reports_log_group}
            },
            "timeoutInMinutes": TIMEOUT_MINUTES,
            "tags": ctx.tags(self.name),
        }


class ReportsAlarm(_Wanted, Alarm):
    """A failed reports build (whatever the cause) notifies the stack's topic."""

    def desired(self, ctx: Context) -> State:
        spec = _metric(
            "AWS/CodeBuild", "FailedBuilds", {"ProjectName": ctx.names.reports_project}, "Sum", 1
        )
        return {**spec, "AlarmActions": [ctx.topic_arn], "tags": ctx.tags(self.name)}


class ScheduleGroup(_Wanted, Resource):
    """The stack's schedule group: the tagged home of its schedules."""

    kind = "scheduler schedule group"

    def _arn(self, ctx: Context) -> str:
        return ctx.arn("scheduler", f"schedule-group/{self.name}")

    def desired(self, ctx: Context) -> State:
        return {"tags": ctx.tags(self.name)}

    def read(self, api: Api, ctx: Context) -> State | None:
        found = api.find("scheduler", "get_schedule_group", Name=self.name)
        if found is None:
            return None
        listed = api.call("scheduler", "list_tags_for_resource", ResourceArn=found["Arn"])
        return {"tags": tags.to_dict(listed.get("Tags")), "_arn": found["Arn"]}

    def create(self, api: Api, ctx: Context, desired: State) -> None:
        api.call(
            "scheduler",
            "create_schedule_group",
            Name=self.name,
            Tags=tags.to_list(desired["tags"]),
        )

    def update(self, api: Api, ctx: Context, desired: State, changed: list[str]) -> None:
        api.call(
            "scheduler",
            "tag_resource",
            ResourceArn=self._arn(ctx),
            Tags=tags.to_list(desired["tags"]),
        )

    def delete(self, api: Api, ctx: Context, current: State) -> None:
        api.call("scheduler", "delete_schedule_group", Name=self.name)


def build_input(project: str, schedule: ScheduleSettings) -> dict[str, Any]:
    """StartBuild's request for one schedule: the runbook and parameters as overrides."""
    parameters = json.dumps(schedule.parameters, sort_keys=True)
    return {
        "projectName": project,
        "environmentVariablesOverride": [
            _variable(RUNBOOK_VARIABLE, schedule.runbook),
            _variable(PARAMETERS_VARIABLE, parameters),
            _variable(SCHEDULE_VARIABLE, schedule.name),
        ],
    }


def schedule_state(ctx: Context, schedule: ScheduleSettings) -> State:
    """One schedule as CreateSchedule takes it (and GetSchedule shows it)."""
    names = ctx.names
    return {
        "ScheduleExpression": schedule.expression,
        "ScheduleExpressionTimezone": schedule.timezone,
        "State": "ENABLED" if schedule.enabled else "DISABLED",
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "Description": f"opslib report {schedule.runbook} of stack {ctx.stack}",
        "Target": {
            "Arn": START_BUILD_TARGET,
            "RoleArn": ctx.arn("iam", f"role/{names.role('scheduler')}", regional=False),
            "Input": json.dumps(build_input(names.reports_project, schedule), sort_keys=True),
            "RetryPolicy": dict(RETRY_POLICY),
        },
    }


_COMPARED = ("ScheduleExpression", "ScheduleExpressionTimezone", "State", "FlexibleTimeWindow",
             "Description", "Target")  # fmt: skip


class Schedules(_Wanted, Resource):
    """One schedule per config entry, in the stack's group (the set follows the config)."""

    kind = "scheduler schedules"

    def __init__(self, name: str, group: str) -> None:
        super().__init__(name)
        self.group = group

    def desired(self, ctx: Context) -> State:
        wanted = {s.name: schedule_state(ctx, s) for s in ctx.config.schedules}
        return {"names": sorted(wanted), "schedules": wanted, "tags": ctx.tags()}

    def read(self, api: Api, ctx: Context) -> State | None:
        group = api.find("scheduler", "get_schedule_group", Name=self.group)
        if group is None:
            return None
        listed = api.call("scheduler", "list_tags_for_resource", ResourceArn=group["Arn"])
        found = api.pages("scheduler", "list_schedules", "Schedules", GroupName=self.group)
        current = {}
        for entry in found:
            if entry.get("GroupName") != self.group:
                continue
            full = api.call("scheduler", "get_schedule", GroupName=self.group, Name=entry["Name"])
            current[entry["Name"]] = {k: full.get(k) for k in _COMPARED}
        if not current:
            return None
        return {"names": sorted(current), "schedules": current,
                "tags": tags.to_dict(listed.get("Tags"))}  # fmt: skip

    def _put(self, api: Api, method: str, name: str, state: State) -> None:
        api.call_after_iam(
            "scheduler",
            method,
            GroupName=self.group,
            Name=name,
            ActionAfterCompletion="NONE",
            **state,
        )

    def create(self, api: Api, ctx: Context, desired: State) -> None:
        for name, state in desired["schedules"].items():
            self._put(api, "create_schedule", name, state)

    def update(self, api: Api, ctx: Context, desired: State, changed: list[str]) -> None:
        current = (self.read(api, ctx) or {"schedules": {}})["schedules"]
        for name in current:
            if name not in desired["schedules"]:
                api.call("scheduler", "delete_schedule", GroupName=self.group, Name=name)
        for name, state in desired["schedules"].items():
            if name not in current:
                self._put(api, "create_schedule", name, state)
            elif state != current[name]:
                self._put(api, "update_schedule", name, state)

    def delete(self, api: Api, ctx: Context, current: State) -> None:
        for name in current["schedules"]:
            api.call("scheduler", "delete_schedule", GroupName=self.group, Name=name)
