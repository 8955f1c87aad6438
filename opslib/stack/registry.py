"""Every resource of the stack, in dependency order (``down`` goes in reverse)."""

from __future__ import annotations

from opslib.stack.cloudwatch import EventsRule, LogGroup, LogsResourcePolicy, Topic
from opslib.stack.codebuild import REPORT_GROUPS, Project, ReportGroup
from opslib.stack.codedeploy import Application, DeploymentGroup
from opslib.stack.codepipeline import Pipeline
from opslib.stack.context import Names
from opslib.stack.hostconfig import AgentConfigParameter
from opslib.stack.iam import InstanceProfile, Role
from opslib.stack.model import Resource
from opslib.stack.monitoring import (
    Alarm,
    Dashboard,
    MetricFilter,
    StatusCheckAlarms,
)
from opslib.stack.network import Fleet, SecurityGroup
from opslib.stack.s3 import Bucket
from opslib.stack.schedules import (
    SOURCE_KEY,
    ReportsAlarm,
    ReportsBucket,
    ReportsLogGroup,
    ReportsProject,
    ReportsRole,
    ReportsSource,
    ScheduleGroup,
    SchedulerRole,
    Schedules,
)
from opslib.stack.source import Connection

ROLE_SERVICES = ("codepipeline", "codebuild", "codedeploy", "ec2", "fis")
ALARMS = ("pipeline-failures", "build-failures", "deploy-failures", "app-errors")


def resources(names: Names) -> list[Resource]:
    """The stack's resources, each after everything it refers to."""
    log_groups = (
        names.build_log_group,
        names.deploy_log_group,
        names.app_log_group,
        names.events_log_group,
    )
    return [
        Connection(names.connection),
        *(LogGroup(g) for g in log_groups),
        Topic(names.topic),
        Bucket(names.bucket),
        AgentConfigParameter(names.agent_config_parameter),
        *(Role(names.role(s), s) for s in ROLE_SERVICES),
        InstanceProfile(names.instance_profile, names.role("ec2")),
        SecurityGroup(names.security_group),
        Fleet(f"{names.stack}-fleet"),
        *(ReportGroup(names.report_group(g), t) for g, t in REPORT_GROUPS.items()),
        Project(names.project),
        Application(names.application),
        *(
            MetricFilter(names.alarm(a))
            for a in ("pipeline-failures", "deploy-failures", "app-errors")
        ),
        *(Alarm(names.alarm(a)) for a in ALARMS),
        StatusCheckAlarms(names.alarm("status")),
        DeploymentGroup(names.deployment_group, names.application),
        LogsResourcePolicy(names.logs_resource_policy),
        EventsRule(names.events_rule),
        Pipeline(names.pipeline),
        Dashboard(names.dashboard),
        *reports_resources(names),
    ]


def reports_resources(names: Names) -> list[Resource]:
    """The scheduled reports' resources (wanted only when the config has schedules)."""
    return [
        ReportsBucket(names.reports_bucket),
        ReportsSource(SOURCE_KEY, names.reports_bucket),
        ReportsLogGroup(names.reports_log_group),
        ReportsRole(names.role("reports"), "reports"),
        ReportsProject(names.reports_project),
        ReportsAlarm(names.alarm("reports-failures")),
        SchedulerRole(names.role("scheduler"), "scheduler"),
        ScheduleGroup(names.schedule_group),
        Schedules(f"{names.stack}-schedules", names.schedule_group),
    ]
