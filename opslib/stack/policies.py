"""IAM policy documents of the stack: trust, least-privilege permissions, bucket, logs.

Pure functions of the context, so the security tests lint every document (parliament)
without AWS. Each permission is scoped to this stack's ARNs; ``"Resource": "*"`` appears
only for actions that accept no narrower resource, each listed in :data:`WILDCARD_ACTIONS`
with the reason, and the tests hold every wildcard statement to that list.
"""

from __future__ import annotations

from typing import Any

from opslib.stack.context import Context
from opslib.stack.tags import STACK_TAG

Document = dict[str, Any]
VERSION = "2012-10-17"

# Actions that take no resource narrower than "*" (per the AWS Service Authorization
# Reference: no resource types listed), and why this stack needs them.
WILDCARD_ACTIONS: dict[str, str] = {
    "ec2:DescribeInstances": "CodeDeploy and FIS find the fleet by tag; no resource type",
    "ec2:DescribeInstanceStatus": "CodeDeploy checks instance health; no resource type",
    "tag:GetResources": "CodeDeploy resolves the EC2 tag filter; no resource type",
    "ssmmessages:CreateControlChannel": "SSM Session Manager (SSH stays closed)",
    "ssmmessages:CreateDataChannel": "SSM Session Manager",
    "ssmmessages:OpenControlChannel": "SSM Session Manager",
    "ssmmessages:OpenDataChannel": "SSM Session Manager",
    "ec2messages:AcknowledgeMessage": "SSM agent's message channel",
    "ec2messages:DeleteMessage": "SSM agent's message channel",
    "ec2messages:FailMessage": "SSM agent's message channel",
    "ec2messages:GetEndpoint": "SSM agent's message channel",
    "ec2messages:GetMessages": "SSM agent's message channel",
    "ec2messages:SendReply": "SSM agent's message channel",
    "cloudwatch:GetMetricData": "scheduled reports chart metrics; no resource type",
}


def statement(sid: str, actions: list[str], resources: list[str] | str, **extra: Any) -> Document:
    """One Allow statement."""
    return {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources, **extra}


def document(*statements: Document) -> Document:
    return {"Version": VERSION, "Statement": list(statements)}


def trust(service: str) -> Document:
    """A role's trust policy for one service principal.

    One statement per principal: moto's CreatePipeline rejects several services in one
    statement, and AWS reads both forms alike.
    """
    return document(
        {
            "Effect": "Allow",
            "Principal": {"Service": f"{service}.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    )


def _objects(ctx: Context) -> str:
    return f"{ctx.bucket_arn}/*"


def pipeline_policy(ctx: Context) -> Document:
    """CodePipeline: artifacts in the bucket, the connection, the build, the deployment."""
    names = ctx.names
    app = ctx.arn("codedeploy", f"application:{names.application}")
    group = ctx.arn("codedeploy", f"deploymentgroup:{names.application}/{names.deployment_group}")
    config = ctx.arn("codedeploy", f"deploymentconfig:{ctx.config.deploy.config}")
    return document(
        statement(
            "Artifacts",
            ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"],
            [_objects(ctx)],
        ),
        statement("ArtifactBucket", ["s3:GetBucketVersioning", "s3:ListBucket"], [ctx.bucket_arn]),
        statement("Source", ["codestar-connections:UseConnection"], [ctx.fact("connection_arn")]),
        statement(
            "Build",
            ["codebuild:BatchGetBuilds", "codebuild:StartBuild"],
            [ctx.arn("codebuild", f"project/{names.project}")],
        ),
        statement(
            "DeployGroup", ["codedeploy:CreateDeployment", "codedeploy:GetDeployment"], [group]
        ),
        statement(
            "DeployApplication",
            [
                "codedeploy:GetApplication",
                "codedeploy:GetApplicationRevision",
                "codedeploy:RegisterApplicationRevision",
            ],
            [app],
        ),
        statement("DeployConfig", ["codedeploy:GetDeploymentConfig"], [config]),
    )


def build_policy(ctx: Context) -> Document:
    """CodeBuild: its log group, the artifacts, its report groups."""
    names = ctx.names
    group = ctx.log_group_arn(names.build_log_group)
    return document(
        statement(
            "Logs",
            ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            [group, f"{group}:*"],
        ),
        statement(
            "Artifacts",
            ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"],
            [_objects(ctx)],
        ),
        statement("ArtifactBucket", ["s3:GetBucketAcl", "s3:GetBucketLocation"], [ctx.bucket_arn]),
        statement(
            "Reports",
            [
                "codebuild:CreateReportGroup",
                "codebuild:CreateReport",
                "codebuild:UpdateReport",
                "codebuild:BatchPutTestCases",
                "codebuild:BatchPutCodeCoverages",
            ],
            [ctx.arn("codebuild", f"report-group/{names.project}-*")],
        ),
    )


def deploy_policy(ctx: Context) -> Document:
    """CodeDeploy: find the fleet by tag, read the attached alarms, notify the topic."""
    alarms = [ctx.arn("cloudwatch", f"alarm:{ctx.stack}-*")]
    return document(
        # No resource type exists for these: "*" is the narrowest AWS accepts.
        statement(
            "FindFleet",
            ["ec2:DescribeInstances", "ec2:DescribeInstanceStatus", "tag:GetResources"],
            "*",
        ),
        statement("Alarms", ["cloudwatch:DescribeAlarms"], alarms),
        statement("Notify", ["sns:Publish"], [ctx.topic_arn]),
    )


def instance_policy(ctx: Context) -> Document:
    """EC2 instances: the bundle, their log groups, the agent's config, Session Manager."""
    names = ctx.names
    groups = [ctx.log_group_arn(g) for g in (names.app_log_group, names.deploy_log_group)]
    parameter = ctx.arn("ssm", f"parameter/{names.agent_config_parameter}")
    session_manager = [
        a for a in WILDCARD_ACTIONS if a.startswith(("ssmmessages:", "ec2messages:"))
    ]
    return document(
        statement("Bundle", ["s3:GetObject", "s3:GetObjectVersion"], [_objects(ctx)]),
        statement(
            "Logs",
            ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
            groups + [f"{g}:*" for g in groups],
        ),
        statement("AgentConfig", ["ssm:GetParameter"], [parameter]),
        statement(
            "SessionManagerRegistration",
            ["ssm:UpdateInstanceInformation"],
            [ctx.arn("ec2", "instance/*")],
        ),
        # Session Manager's channels have no resource type: "*" is the narrowest.
        statement("SessionManagerChannels", session_manager, "*"),
    )


def fis_policy(ctx: Context) -> Document:
    """AWS FIS (the instance-loss drill): terminate only instances tagged with this stack.

    ``aws:ec2:terminate-instances`` needs ec2:TerminateInstances on the targets and
    ec2:DescribeInstances to resolve them by tag (FIS actions reference; the managed
    policy AWSFaultInjectionSimulatorEC2Access grants the same pair). The tag condition
    keeps an experiment of this role away from any other stack's instances.
    """
    return document(
        statement("FindTargets", ["ec2:DescribeInstances"], "*"),
        statement(
            "TerminateFleet",
            ["ec2:TerminateInstances"],
            [ctx.arn("ec2", "instance/*")],
            Condition={"StringEquals": {f"aws:ResourceTag/{STACK_TAG}": ctx.stack}},
        ),
    )


ROLE_POLICIES = {
    "codepipeline": pipeline_policy,
    "codebuild": build_policy,
    "codedeploy": deploy_policy,
    "ec2": instance_policy,
    "fis": fis_policy,
}


def bucket_policy(ctx: Context) -> Document:
    """The artifact bucket denies every request that does not come over TLS."""
    return tls_only_policy(ctx.bucket_arn)


def tls_only_policy(bucket_arn: str) -> Document:
    """A bucket policy that denies every request that does not come over TLS."""
    return document(
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [bucket_arn, f"{bucket_arn}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    )


# --- scheduled reports ------------------------------------------------------------------------

REPORTS_PREFIX = "reports/"  # the reports build's outputs: the only place it may write
SOURCE_PREFIX = "source/"  # the opslib source the reports build installs
CACHE_PREFIX = "cache/"  # CodeBuild's S3 cache of the reports project (pip downloads)


def reports_policy(ctx: Context) -> Document:
    """The reports build: read the stack's services and CloudWatch, write only its reports.

    What the schedulable runbooks (fleet-health, triage) read, each scoped to the stack's
    ARNs; S3 writes only under ``reports/`` (and CodeBuild's cache under ``cache/``), its
    own log group, and a publish to the stack's topic for a red verdict.
    """
    names = ctx.names
    bucket = ctx.reports_bucket_arn
    own_logs = ctx.log_group_arn(names.reports_log_group)
    read_groups = [
        ctx.log_group_arn(g)
        for g in (names.events_log_group, names.build_log_group, names.app_log_group,
                  names.deploy_log_group)
    ]  # fmt: skip
    app = ctx.arn("codedeploy", f"application:{names.application}")
    group = ctx.arn("codedeploy", f"deploymentgroup:{names.application}/{names.deployment_group}")
    return document(
        statement(
            "Logs", ["logs:CreateLogStream", "logs:PutLogEvents"], [own_logs, f"{own_logs}:*"]
        ),
        statement(
            "Source", ["s3:GetObject", "s3:GetObjectVersion"], [f"{bucket}/{SOURCE_PREFIX}*"]
        ),
        statement("Reports", ["s3:PutObject"], [f"{bucket}/{REPORTS_PREFIX}*"]),
        statement("Cache", ["s3:GetObject", "s3:PutObject"], [f"{bucket}/{CACHE_PREFIX}*"]),
        statement("Notify", ["sns:Publish"], [ctx.topic_arn]),
        # No resource type exists for these: "*" is the narrowest AWS accepts.
        statement("ReadFleet", ["ec2:DescribeInstances", "cloudwatch:GetMetricData"], "*"),
        statement(
            "ReadAlarms",
            ["cloudwatch:DescribeAlarms"],
            [ctx.arn("cloudwatch", f"alarm:{ctx.stack}-*")],
        ),
        statement(
            "ReadLogs",
            ["logs:DescribeLogStreams", "logs:FilterLogEvents", "logs:GetLogEvents"],
            read_groups + [f"{g}:*" for g in read_groups],
        ),
        statement(
            "ReadPipeline",
            [
                "codepipeline:GetPipeline",
                "codepipeline:GetPipelineExecution",
                "codepipeline:GetPipelineState",
                "codepipeline:ListActionExecutions",
                "codepipeline:ListPipelineExecutions",
            ],
            [ctx.arn("codepipeline", names.pipeline)],
        ),
        statement(
            "ReadBuilds",
            ["codebuild:BatchGetBuilds", "codebuild:ListBuildsForProject"],
            [ctx.arn("codebuild", f"project/{names.project}")],
        ),
        statement(
            "ReadTestReports",
            ["codebuild:BatchGetReports", "codebuild:DescribeTestCases"],
            [ctx.arn("codebuild", f"report-group/{names.project}-*")],
        ),
        statement(
            "ReadDeployments",
            [
                "codedeploy:BatchGetDeployments",
                "codedeploy:GetDeployment",
                "codedeploy:GetDeploymentGroup",
                "codedeploy:ListDeployments",
            ],
            [group],
        ),
        statement("ReadApplication", ["codedeploy:GetApplication"], [app]),
    )


def scheduler_trust(ctx: Context) -> Document:
    """The Scheduler's execution role: assumed by scheduler.amazonaws.com for this account only.

    "aws:SourceAccount" is the confused-deputy guard the Scheduler's set-up guide recommends.
    """
    return document(
        {
            "Effect": "Allow",
            "Principal": {"Service": "scheduler.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": ctx.account}},
        }
    )


def scheduler_policy(ctx: Context) -> Document:
    """The schedules' role: start builds of the reports project, nothing else."""
    project = ctx.arn("codebuild", f"project/{ctx.names.reports_project}")
    return document(statement("StartReports", ["codebuild:StartBuild"], [project]))


def events_to_logs_policy(ctx: Context) -> Document:
    """The log-group resource policy that lets EventBridge write the events log group."""
    group = ctx.log_group_arn(ctx.names.events_log_group)
    return document(
        {
            "Sid": f"{ctx.stack}-events".replace("-", ""),
            "Effect": "Allow",
            "Principal": {"Service": ["events.amazonaws.com", "delivery.logs.amazonaws.com"]},
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": f"{group}:*",
        }
    )
