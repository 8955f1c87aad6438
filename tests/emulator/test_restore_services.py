"""Every service the emulator keeps comes back whole: real data, stop/start and kill -9/start.

One writer and one checker per snapshotted moto service (``SNAPSHOT_SERVICES``) and per
kind of the emulator's own records. A service whose snapshot does not load again (moto's
SSM ``ParameterDict`` once made every start after ``opslib up`` fail) shows up here by name.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable
from typing import Any

import pytest

from opslib.emulator import EmulatorInfo
from opslib.emulator.core.store import OWN_STORES, SNAPSHOT_SERVICES
from tests.emulator.conftest import client

ACCOUNT = "123456789012"
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "sts:AssumeRole"}
        ],
    }
)
PIPELINE_TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "codepipeline.amazonaws.com"},
                       "Action": "sts:AssumeRole"}],
    }
)  # fmt: skip
Kept = dict[str, Any]


def _s3(info: EmulatorInfo, kept: Kept) -> None:
    s3 = client(info, "s3")
    s3.create_bucket(Bucket="kept-bucket")
    s3.put_bucket_versioning(Bucket="kept-bucket", VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket="kept-bucket", Key="k", Body=b"one")
    s3.put_object(Bucket="kept-bucket", Key="k", Body=b"two")


def _s3_check(info: EmulatorInfo, kept: Kept) -> None:
    s3 = client(info, "s3")
    versions = s3.list_object_versions(Bucket="kept-bucket")["Versions"]
    assert len(versions) == 2
    assert s3.get_object(Bucket="kept-bucket", Key="k")["Body"].read() == b"two"


def _iam(info: EmulatorInfo, kept: Kept) -> None:
    iam = client(info, "iam")
    iam.create_role(RoleName="kept-role", AssumeRolePolicyDocument=TRUST)
    iam.put_role_policy(
        RoleName="kept-role",
        PolicyName="inline",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
            }  # fmt: skip
        ),
    )
    iam.create_role(RoleName="kept-pipeline-role", AssumeRolePolicyDocument=PIPELINE_TRUST)
    iam.create_instance_profile(InstanceProfileName="kept-profile")
    iam.add_role_to_instance_profile(InstanceProfileName="kept-profile", RoleName="kept-role")


def _iam_check(info: EmulatorInfo, kept: Kept) -> None:
    iam = client(info, "iam")
    assert iam.list_role_policies(RoleName="kept-role")["PolicyNames"] == ["inline"]
    profile = iam.get_instance_profile(InstanceProfileName="kept-profile")["InstanceProfile"]
    assert [r["RoleName"] for r in profile["Roles"]] == ["kept-role"]


def _sts(info: EmulatorInfo, kept: Kept) -> None:
    creds = client(info, "sts").assume_role(
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/kept-role", RoleSessionName="kept-session"
    )["Credentials"]
    kept["sts"] = creds


def _sts_check(info: EmulatorInfo, kept: Kept) -> None:
    import boto3

    creds = kept["sts"]
    sts = boto3.session.Session().client(
        "sts",
        region_name="us-east-1",
        endpoint_url=info.endpoint,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )
    assert sts.get_caller_identity()["Arn"].endswith(":assumed-role/kept-role/kept-session")


def _ec2(info: EmulatorInfo, kept: Kept) -> None:
    ec2 = client(info, "ec2")
    group = ec2.create_security_group(GroupName="kept-sg", Description="kept")["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=group,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 3000,
                "ToPort": 3000,
                "IpRanges": [{"CidrIp": "10.0.0.0/8"}],
            }
        ],  # fmt: skip
    )
    reservation = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1,
                                    SecurityGroupIds=[group])  # fmt: skip
    kept["instance"] = reservation["Instances"][0]["InstanceId"]


def _ec2_check(info: EmulatorInfo, kept: Kept) -> None:
    ec2 = client(info, "ec2")
    groups = ec2.describe_security_groups(GroupNames=["kept-sg"])["SecurityGroups"]
    assert groups[0]["IpPermissions"][0]["FromPort"] == 3000
    instance = ec2.describe_instances(InstanceIds=[kept["instance"]])["Reservations"][0]
    tags = {t["Key"] for t in instance["Instances"][0]["Tags"]}
    assert "opslib:endpoint" in tags


def _ssm(info: EmulatorInfo, kept: Kept) -> None:
    ssm = client(info, "ssm")
    ssm.put_parameter(Name="/kept/param", Value="v1", Type="String")
    ssm.put_parameter(Name="/kept/param", Value="v2", Type="String", Overwrite=True)
    ssm.add_tags_to_resource(ResourceType="Parameter", ResourceId="/kept/param",
                             Tags=[{"Key": "k", "Value": "v"}])  # fmt: skip


def _ssm_check(info: EmulatorInfo, kept: Kept) -> None:
    ssm = client(info, "ssm")
    parameter = ssm.get_parameter(Name="/kept/param")["Parameter"]
    assert (parameter["Value"], parameter["Version"]) == ("v2", 2)
    tags = ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId="/kept/param")
    assert tags["TagList"] == [{"Key": "k", "Value": "v"}]
    ssm.put_parameter(Name="/kept/after", Value="x", Type="String")  # still writable


def _codebuild(info: EmulatorInfo, kept: Kept) -> None:
    client(info, "codebuild").create_project(
        name="kept-project",
        source={"type": "NO_SOURCE", "buildspec": "version: 0.2\nphases: {}\n"},
        artifacts={"type": "NO_ARTIFACTS"},
        environment={
            "type": "LINUX_CONTAINER",
            "image": "aws/codebuild/standard:7.0",
            "computeType": "BUILD_GENERAL1_SMALL",
        },  # fmt: skip
        serviceRole=f"arn:aws:iam::{ACCOUNT}:role/kept-role",
    )


def _codebuild_check(info: EmulatorInfo, kept: Kept) -> None:
    projects = client(info, "codebuild").batch_get_projects(names=["kept-project"])["projects"]
    assert projects[0]["source"]["type"] == "NO_SOURCE"


def _connections(info: EmulatorInfo, kept: Kept) -> None:
    arn = client(info, "codestar-connections").create_connection(
        ProviderType="GitHub", ConnectionName="kept-connection"
    )["ConnectionArn"]
    kept["connection"] = arn


def _connections_check(info: EmulatorInfo, kept: Kept) -> None:
    connection = client(info, "codestar-connections").get_connection(
        ConnectionArn=kept["connection"]
    )["Connection"]
    assert connection["ConnectionName"] == "kept-connection"


def _codepipeline(info: EmulatorInfo, kept: Kept) -> None:
    # A pipeline whose source bucket does not exist: stored, its first execution fails at once.
    client(info, "codepipeline").create_pipeline(
        pipeline={
            "name": "kept-pipeline",
            "roleArn": f"arn:aws:iam::{ACCOUNT}:role/kept-pipeline-role",
            "artifactStore": {"type": "S3", "location": "kept-bucket"},
            "stages": [
                {
                    "name": "Source",
                    "actions": [
                        _action(
                            "Source",
                            "Source",
                            "CodeStarSourceConnection",
                            {
                                "ConnectionArn": kept["connection"],
                                "FullRepositoryId": "kept/repo",
                                "BranchName": "main",
                            },
                            outputs=["src"],
                        )
                    ],
                },
                {
                    "name": "Build",
                    "actions": [
                        _action(
                            "Build",
                            "Build",
                            "CodeBuild",
                            {"ProjectName": "kept-project"},
                            inputs=["src"],
                        )
                    ],
                },
            ],  # fmt: skip
        }
    )


def _action(
    name: str,
    category: str,
    provider: str,
    configuration: dict[str, str],
    inputs: list[str] | None = None,
    outputs: list[str] | None = None,
) -> dict[str, Any]:
    return {
        "name": name,
        "actionTypeId": {
            "category": category,
            "owner": "AWS",
            "provider": provider,
            "version": "1",
        },  # fmt: skip
        "configuration": configuration,
        "inputArtifacts": [{"name": n} for n in inputs or []],
        "outputArtifacts": [{"name": n} for n in outputs or []],
    }


def _codepipeline_check(info: EmulatorInfo, kept: Kept) -> None:
    pipeline = client(info, "codepipeline").get_pipeline(name="kept-pipeline")["pipeline"]
    assert [s["name"] for s in pipeline["stages"]] == ["Source", "Build"]


def _codedeploy(info: EmulatorInfo, kept: Kept) -> None:
    codedeploy = client(info, "codedeploy")
    codedeploy.create_application(applicationName="kept-app", computePlatform="Server")
    codedeploy.create_deployment_group(
        applicationName="kept-app",
        deploymentGroupName="kept-group",
        serviceRoleArn=f"arn:aws:iam::{ACCOUNT}:role/kept-role",
        ec2TagFilters=[{"Key": "Name", "Value": "kept", "Type": "KEY_AND_VALUE"}],
        autoRollbackConfiguration={"enabled": True, "events": ["DEPLOYMENT_FAILURE"]},
    )


def _codedeploy_check(info: EmulatorInfo, kept: Kept) -> None:
    group = client(info, "codedeploy").get_deployment_group(
        applicationName="kept-app", deploymentGroupName="kept-group"
    )["deploymentGroupInfo"]
    assert group["autoRollbackConfiguration"]["events"] == ["DEPLOYMENT_FAILURE"]


def _cloudwatch(info: EmulatorInfo, kept: Kept) -> None:
    cloudwatch = client(info, "cloudwatch")
    cloudwatch.put_metric_data(
        Namespace="Kept", MetricData=[{"MetricName": "M", "Value": 42.0, "Unit": "Count"}]
    )
    cloudwatch.put_metric_alarm(
        AlarmName="kept-alarm", Namespace="Kept", MetricName="M", Statistic="Sum", Period=60,
        EvaluationPeriods=1, Threshold=1.0, ComparisonOperator="GreaterThanThreshold",
    )  # fmt: skip
    cloudwatch.put_dashboard(DashboardName="kept-dashboard", DashboardBody='{"widgets": []}')


def _cloudwatch_check(info: EmulatorInfo, kept: Kept) -> None:
    cloudwatch = client(info, "cloudwatch")
    assert [m["MetricName"] for m in cloudwatch.list_metrics(Namespace="Kept")["Metrics"]] == ["M"]
    alarms = cloudwatch.describe_alarms(AlarmNames=["kept-alarm"])["MetricAlarms"]
    assert alarms[0]["Threshold"] == 1.0
    assert cloudwatch.get_dashboard(DashboardName="kept-dashboard")["DashboardName"]


def _logs(info: EmulatorInfo, kept: Kept) -> None:
    logs = client(info, "logs")
    logs.create_log_group(logGroupName="/kept/group")
    logs.put_retention_policy(logGroupName="/kept/group", retentionInDays=14)
    logs.create_log_stream(logGroupName="/kept/group", logStreamName="s")
    now = int(time.time() * 1000)
    logs.put_log_events(
        logGroupName="/kept/group",
        logStreamName="s",
        logEvents=[{"timestamp": now, "message": f"line {i}"} for i in range(3)],
    )


def _logs_check(info: EmulatorInfo, kept: Kept) -> None:
    logs = client(info, "logs")
    group = logs.describe_log_groups(logGroupNamePrefix="/kept/group")["logGroups"][0]
    assert group["retentionInDays"] == 14
    events = logs.get_log_events(logGroupName="/kept/group", logStreamName="s")["events"]
    assert [e["message"] for e in events] == ["line 0", "line 1", "line 2"]


def _events(info: EmulatorInfo, kept: Kept) -> None:
    events = client(info, "events")
    events.put_rule(Name="kept-rule", EventPattern=json.dumps({"source": ["aws.codebuild"]}))
    group_arn = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/kept/group"
    events.put_targets(Rule="kept-rule", Targets=[{"Id": "logs", "Arn": group_arn}])


def _events_check(info: EmulatorInfo, kept: Kept) -> None:
    targets = client(info, "events").list_targets_by_rule(Rule="kept-rule")["Targets"]
    assert [t["Id"] for t in targets] == ["logs"]


def _sns(info: EmulatorInfo, kept: Kept) -> None:
    sns = client(info, "sns")
    arn = sns.create_topic(Name="kept-topic", Tags=[{"Key": "k", "Value": "v"}])["TopicArn"]
    sns.subscribe(TopicArn=arn, Protocol="email", Endpoint="ops@example.com")
    kept["topic"] = arn


def _sns_check(info: EmulatorInfo, kept: Kept) -> None:
    sns = client(info, "sns")
    subscriptions = sns.list_subscriptions_by_topic(TopicArn=kept["topic"])["Subscriptions"]
    assert [s["Endpoint"] for s in subscriptions] == ["ops@example.com"]


def _sqs(info: EmulatorInfo, kept: Kept) -> None:
    sqs = client(info, "sqs")
    url = sqs.create_queue(QueueName="kept-queue", Attributes={"VisibilityTimeout": "45"})
    sqs.send_message(QueueUrl=url["QueueUrl"], MessageBody="kept message")
    kept["queue"] = url["QueueUrl"]


def _sqs_check(info: EmulatorInfo, kept: Kept) -> None:
    sqs = client(info, "sqs")
    attributes = sqs.get_queue_attributes(QueueUrl=kept["queue"], AttributeNames=["All"])
    assert attributes["Attributes"]["VisibilityTimeout"] == "45"
    (message,) = sqs.receive_message(QueueUrl=kept["queue"])["Messages"]
    assert message["Body"] == "kept message"


def _tagging(info: EmulatorInfo, kept: Kept) -> None:
    client(info, "resourcegroupstaggingapi").tag_resources(
        ResourceARNList=[kept["topic"]], Tags={"opslib:stack": "kept"}
    )


def _tagging_check(info: EmulatorInfo, kept: Kept) -> None:
    found = client(info, "resourcegroupstaggingapi").get_resources(
        TagFilters=[{"Key": "opslib:stack", "Values": ["kept"]}]
    )["ResourceTagMappingList"]
    assert [r["ResourceARN"] for r in found] == [kept["topic"]]


def _fis(info: EmulatorInfo, kept: Kept) -> None:
    fis = client(info, "fis")
    template = fis.create_experiment_template(
        description="kept", roleArn="arn:aws:iam::123456789012:role/kept",
        stopConditions=[{"source": "none"}], tags={"opslib:stack": "kept"},
        actions={"w": {"actionId": "aws:fis:wait", "parameters": {"duration": "PT1M"}}},
    )["experimentTemplate"]  # fmt: skip
    kept["fis-template"] = template["id"]
    kept["fis-experiment"] = fis.start_experiment(experimentTemplateId=template["id"])[
        "experiment"
    ]["id"]


def _fis_check(info: EmulatorInfo, kept: Kept) -> None:
    fis = client(info, "fis")
    template = fis.get_experiment_template(id=kept["fis-template"])["experimentTemplate"]
    assert template["tags"] == {"opslib:stack": "kept"}
    experiment = fis.get_experiment(id=kept["fis-experiment"])["experiment"]
    assert experiment["experimentTemplateId"] == kept["fis-template"]
    assert experiment["state"]["status"] in ("stopped", "failed")  # a stop, or kill -9


def _scheduler(info: EmulatorInfo, kept: Kept) -> None:
    scheduler = client(info, "scheduler")
    scheduler.create_schedule_group(Name="kept-group")
    scheduler.create_schedule(
        Name="kept-schedule", GroupName="kept-group", ScheduleExpression="cron(0 9 ? * MON *)",
        ScheduleExpressionTimezone="Europe/Paris", FlexibleTimeWindow={"Mode": "OFF"},
        State="DISABLED",
        Target={"Arn": "arn:aws:scheduler:::aws-sdk:codebuild:startBuild",
                "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/kept-role",
                "Input": '{"projectName": "kept-project"}'},
    )  # fmt: skip


def _scheduler_check(info: EmulatorInfo, kept: Kept) -> None:
    schedule = client(info, "scheduler").get_schedule(Name="kept-schedule", GroupName="kept-group")
    assert (schedule["ScheduleExpressionTimezone"], schedule["State"]) == (
        "Europe/Paris",
        "DISABLED",
    )


# (what it stands for, writer, checker), in an order where later writers use earlier data.
Step = Callable[[EmulatorInfo, Kept], None]
SERVICES: list[tuple[str, Step, Step]] = [
    ("s3", _s3, _s3_check),
    ("iam", _iam, _iam_check),
    ("sts", _sts, _sts_check),
    ("ec2", _ec2, _ec2_check),
    ("ssm", _ssm, _ssm_check),
    ("codebuild", _codebuild, _codebuild_check),
    ("connection records", _connections, _connections_check),
    ("codepipeline", _codepipeline, _codepipeline_check),
    ("codedeploy", _codedeploy, _codedeploy_check),
    ("cloudwatch", _cloudwatch, _cloudwatch_check),
    ("logs", _logs, _logs_check),
    ("events", _events, _events_check),
    ("sns", _sns, _sns_check),
    ("sqs", _sqs, _sqs_check),
    ("scheduler", _scheduler, _scheduler_check),
    ("resourcegroupstaggingapi", _tagging, _tagging_check),
    ("fis", _fis, _fis_check),
]  # fmt: skip


def test_every_snapshot_service_has_a_restore_case() -> None:
    assert set(SNAPSHOT_SERVICES) | OWN_STORES <= {name for name, _, _ in SERVICES}


@pytest.mark.parametrize("how", ["stop", "kill -9"])
def test_every_service_restores(start_emulator: Callable[..., EmulatorInfo], how: str) -> None:
    from opslib import emulator

    first = start_emulator()
    kept: Kept = {}
    for _, write, _ in SERVICES:
        write(first, kept)
    if how == "stop":
        emulator.stop(first.state_dir)
    else:
        os.kill(first.pid, signal.SIGKILL)
    second = start_emulator()
    assert second.pid != first.pid
    failed = []
    for name, _, check in SERVICES:
        try:
            check(second, kept)
        except Exception as exc:  # noqa: BLE001 - collect every service's failure by name
            failed.append(f"{name}: {exc!r}")
    assert not failed, "\n".join(failed)
