"""Each fix the emulator makes to moto's behaviour, asserted through the API."""

from __future__ import annotations

from typing import Any

import pytest

from opslib.emulator import EmulatorInfo
from tests.emulator.conftest import ROLE_ARN, client

ENVIRONMENT = {
    "type": "LINUX_CONTAINER",
    "image": "aws/codebuild/standard:7.0",
    "computeType": "BUILD_GENERAL1_SMALL",
}


@pytest.mark.parametrize("source_type", ["CODEPIPELINE", "NO_SOURCE"])
def test_create_project_needs_no_location_for_pipeline_or_no_source(
    running: EmulatorInfo, source_type: str
) -> None:
    source = {"type": source_type}
    if source_type == "NO_SOURCE":
        source["buildspec"] = "version: 0.2\nphases:\n  build:\n    commands: [echo hi]\n"
    artifacts = {"type": "CODEPIPELINE" if source_type == "CODEPIPELINE" else "NO_ARTIFACTS"}
    codebuild = client(running, "codebuild")
    codebuild.create_project(
        name=f"p-{source_type.lower()}",
        source=source,
        artifacts=artifacts,
        environment=ENVIRONMENT,
        serviceRole=ROLE_ARN,
    )
    projects = codebuild.batch_get_projects(names=[f"p-{source_type.lower()}"])["projects"]
    assert projects[0]["source"]["type"] == source_type


def test_s3_source_still_needs_a_location(running: EmulatorInfo) -> None:
    codebuild = client(running, "codebuild")
    with pytest.raises(codebuild.exceptions.InvalidInputException):
        codebuild.create_project(
            name="no-location",
            source={"type": "S3"},
            artifacts={"type": "NO_ARTIFACTS"},
            environment=ENVIRONMENT,
            serviceRole=ROLE_ARN,
        )


def test_build_status_is_real_not_invented(running: EmulatorInfo) -> None:
    """moto reports SUCCEEDED for any build; the emulator runs it: `false` fails."""
    codebuild = client(running, "codebuild")
    codebuild.create_project(
        name="fails",
        source={
            "type": "NO_SOURCE",
            "buildspec": "version: 0.2\nphases:\n  build:\n    commands: ['false']\n",
        },
        artifacts={"type": "NO_ARTIFACTS"},
        environment=ENVIRONMENT,
        serviceRole=ROLE_ARN,
    )
    from tests.emulator.test_codebuild import wait_build

    build_id = codebuild.start_build(projectName="fails")["build"]["id"]
    assert wait_build(running, build_id)["buildStatus"] == "FAILED"


# --- fixes the stack needs (opslib up/down) -------------------------------------------

_TRUST = (
    '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", '
    '"Principal": {"Service": "codedeploy.amazonaws.com"}, "Action": "sts:AssumeRole"}]}'
)


def test_ssm_state_survives_a_put_parameter(running: EmulatorInfo) -> None:
    """moto's SSM backend did not pickle: a PutParameter after any SSM call was a 500."""
    ssm = client(running, "ssm")
    ssm.get_parameter(Name="/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64")
    assert ssm.put_parameter(Name="p", Value="v", Type="String")["Version"] == 1
    ssm.add_tags_to_resource(
        ResourceType="Parameter", ResourceId="p", Tags=[{"Key": "k", "Value": "v"}]
    )
    assert ssm.get_parameter(Name="p")["Parameter"]["Value"] == "v"


def test_tls_only_bucket_policy_lets_requests_through(running: EmulatorInfo) -> None:
    """moto ignored the Bool condition: "deny when not TLS" denied everything."""
    import json

    s3 = client(running, "s3")
    s3.create_bucket(Bucket="tls-only")
    deny_plain = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": ["arn:aws:s3:::tls-only", "arn:aws:s3:::tls-only/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }
    s3.put_bucket_policy(Bucket="tls-only", Policy=json.dumps(deny_plain))
    s3.put_object(Bucket="tls-only", Key="k", Body=b"x")
    assert s3.get_object(Bucket="tls-only", Key="k")["Body"].read() == b"x"


def test_unconditional_deny_still_denies(running: EmulatorInfo) -> None:
    import json

    from botocore.exceptions import ClientError

    s3 = client(running, "s3")
    s3.create_bucket(Bucket="deny-all")
    deny = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": "arn:aws:s3:::deny-all/*",
            }
        ],
    }
    s3.put_bucket_policy(Bucket="deny-all", Policy=json.dumps(deny))
    with pytest.raises(ClientError):
        s3.put_object(Bucket="deny-all", Key="k", Body=b"x")


def test_codebuild_update_project(running: EmulatorInfo) -> None:
    codebuild = client(running, "codebuild")
    codebuild.create_project(
        name="upd",
        source={"type": "CODEPIPELINE"},
        artifacts={"type": "CODEPIPELINE"},
        environment=ENVIRONMENT,
        serviceRole=ROLE_ARN,
    )
    codebuild.update_project(name="upd", timeoutInMinutes=42, tags=[{"key": "k", "value": "v"}])
    (project,) = codebuild.batch_get_projects(names=["upd"])["projects"]
    assert project["timeoutInMinutes"] == 42
    assert project["tags"] == [{"key": "k", "value": "v"}]
    with pytest.raises(codebuild.exceptions.ResourceNotFoundException):
        codebuild.update_project(name="nope", timeoutInMinutes=5)


def _deployment_group(running: EmulatorInfo) -> Any:
    iam, codedeploy = client(running, "iam"), client(running, "codedeploy")
    role = iam.create_role(RoleName="cd", AssumeRolePolicyDocument=_TRUST)["Role"]["Arn"]
    codedeploy.create_application(applicationName="app", computePlatform="Server")
    codedeploy.create_deployment_group(
        applicationName="app",
        deploymentGroupName="grp",
        serviceRoleArn=role,
        alarmConfiguration={"enabled": True, "alarms": [{"name": "a1"}]},
        tags=[{"Key": "k", "Value": "v"}],
    )
    return codedeploy


def test_codedeploy_group_keeps_its_alarm_configuration(running: EmulatorInfo) -> None:
    codedeploy = _deployment_group(running)
    info = codedeploy.get_deployment_group(applicationName="app", deploymentGroupName="grp")
    alarms = info["deploymentGroupInfo"]["alarmConfiguration"]
    assert alarms == {"enabled": True, "alarms": [{"name": "a1"}]}


def test_codedeploy_update_deployment_group(running: EmulatorInfo) -> None:
    codedeploy = _deployment_group(running)
    codedeploy.update_deployment_group(
        applicationName="app",
        currentDeploymentGroupName="grp",
        deploymentConfigName="CodeDeployDefault.AllAtOnce",
    )
    info = codedeploy.get_deployment_group(applicationName="app", deploymentGroupName="grp")
    assert info["deploymentGroupInfo"]["deploymentConfigName"] == "CodeDeployDefault.AllAtOnce"


def test_codedeploy_delete_group_and_application(running: EmulatorInfo) -> None:
    codedeploy = _deployment_group(running)
    codedeploy.delete_deployment_group(applicationName="app", deploymentGroupName="grp")
    assert codedeploy.list_deployment_groups(applicationName="app")["deploymentGroups"] == []
    codedeploy.delete_application(applicationName="app")
    with pytest.raises(codedeploy.exceptions.ApplicationDoesNotExistException):
        codedeploy.get_application(applicationName="app")
    tagged = client(running, "resourcegroupstaggingapi").get_resources()["ResourceTagMappingList"]
    assert not [r for r in tagged if ":codedeploy:" in r["ResourceARN"]]
