"""Desired state from the config: names, stages, deployment group, network, host config."""

from __future__ import annotations

import pytest

from opslib.stack.cloudwatch import EVENT_SOURCES, event_pattern
from opslib.stack.codedeploy import DeploymentGroup
from opslib.stack.codepipeline import stages
from opslib.stack.context import LOCAL_REPOSITORY_TAG, UNKNOWN, Names
from opslib.stack.hostconfig import agent_config, user_data
from opslib.stack.monitoring import StatusCheckAlarms, dashboard_body, metric_filters
from opslib.stack.network import Fleet, ingress_rules
from opslib.stack.registry import resources
from opslib.stack.source import Connection
from opslib.stack.tags import STACK_TAG
from tests.unit.stack_fixtures import ACCOUNT, CONNECTION_ARN, make_context


def test_bucket_name_is_global_by_account_and_region() -> None:
    assert Names("demo", ACCOUNT, "eu-west-1").bucket == f"demo-artifacts-{ACCOUNT}-eu-west-1"


def test_bucket_name_fits_s3s_limit_for_long_stack_names() -> None:
    name = Names("a" * 32, ACCOUNT, "ap-southeast-2").bucket
    assert len(name) <= 63 and name.startswith("a" * 32)


def test_connection_name_fits_32_characters() -> None:
    assert len(Names("s" * 32, ACCOUNT, "us-east-1").connection) <= 32


def test_every_resource_name_is_unique_within_its_kind() -> None:
    found = [(r.kind, r.name) for r in resources(Names("demo", ACCOUNT, "us-east-1"))]
    assert len(found) == len(set(found))


def test_registry_puts_dependencies_first() -> None:
    kinds = [r.kind for r in resources(Names("demo", ACCOUNT, "us-east-1"))]

    def first(kind: str) -> int:
        return kinds.index(kind)

    assert first("codestar connection") < first("iam role")  # the pipeline policy names it
    assert first("iam instance profile") < first("ec2 fleet")
    assert first("ec2 security group") < first("ec2 fleet")
    assert first("ec2 fleet") < first("cloudwatch alarms")  # status checks per instance
    assert first("cloudwatch alarm") < first("codedeploy deployment group")
    assert first("codebuild project") < first("codepipeline pipeline")
    assert first("s3 bucket") < first("codepipeline pipeline")
    assert first("logs log group") < first("events rule")


def test_every_desired_state_carries_the_stack_tag_or_lives_in_a_tagged_parent() -> None:
    ctx = make_context()
    untaggable = {"logs resource policy", "cloudwatch dashboard", "logs metric filter"}
    for resource in resources(ctx.names):
        desired = resource.desired(ctx)
        if resource.kind not in untaggable:
            assert desired["tags"][STACK_TAG] == "demo", resource


def test_pipeline_stages_in_order_with_artifacts() -> None:
    result = stages(make_context())
    assert [s["name"] for s in result] == ["Source", "Build", "Deploy"]
    source = result[0]["actions"][0]
    assert source["actionTypeId"]["provider"] == "CodeStarSourceConnection"
    assert source["configuration"]["ConnectionArn"] == CONNECTION_ARN
    assert source["configuration"]["FullRepositoryId"] == "example/opslib-sample-app"
    assert source["outputArtifacts"] == [{"name": "SourceArtifact"}]
    build = result[1]["actions"][0]
    assert build["configuration"] == {"ProjectName": "demo-build"}
    assert build["outputArtifacts"] == [{"name": "BuildArtifact"}]
    deploy = result[2]["actions"][0]
    assert deploy["configuration"] == {
        "ApplicationName": "demo-app",
        "DeploymentGroupName": "demo-fleet",
    }


def test_approval_stage_comes_before_deploy_when_asked() -> None:
    result = stages(make_context(deploy={"approval": True}))
    assert [s["name"] for s in result] == ["Source", "Build", "Approval", "Deploy"]
    assert result[2]["actions"][0]["actionTypeId"]["provider"] == "Manual"


def test_deployment_group_targets_the_fleet_tag_and_rolls_back() -> None:
    ctx = make_context(deploy={"config": "CodeDeployDefault.HalfAtATime"})
    desired = DeploymentGroup("demo-fleet", "demo-app").desired(ctx)
    assert desired["deploymentConfigName"] == "CodeDeployDefault.HalfAtATime"
    assert desired["ec2TagFilters"] == [
        {"Key": "DeploymentGroup", "Value": "Production-Fleet", "Type": "KEY_AND_VALUE"}
    ]
    assert desired["autoRollbackConfiguration"] == {
        "enabled": True,
        "events": ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"],
    }
    assert desired["alarmConfiguration"]["alarms"] == [{"name": "demo-app-errors"}]


@pytest.mark.parametrize(
    ("network", "expected"),
    [
        ({}, ["tcp/3000 from 0.0.0.0/0", "tcp/443 from 0.0.0.0/0", "tcp/80 from 0.0.0.0/0"]),
        ({"ingress_ports": [8080]}, ["tcp/8080 from 0.0.0.0/0"]),
        (
            {"ingress_ports": [80], "ssh_cidr": "203.0.113.7/32"},
            ["tcp/22 from 203.0.113.7/32", "tcp/80 from 0.0.0.0/0"],
        ),
    ],
)
def test_ingress_rules(network: dict[str, object], expected: list[str]) -> None:
    assert ingress_rules(make_context(network=network)) == expected


def test_fleet_has_one_entry_per_instance_with_deploy_tag_and_index() -> None:
    desired = Fleet("demo-fleet").desired(make_context(fleet={"size": 2}))
    assert desired["size"] == 2
    second = desired["instances"]["2"]
    assert second["instance_type"] == "t2.micro"
    assert second["instance_profile"] == "demo-ec2"
    assert second["tags"]["DeploymentGroup"] == "Production-Fleet"
    assert second["tags"]["opslib:fleet-index"] == "2"


def test_unknown_facts_show_as_known_after_apply() -> None:
    ctx = make_context(facts={})
    assert stages(ctx)[0]["actions"][0]["configuration"]["ConnectionArn"] == UNKNOWN
    assert list(StatusCheckAlarms("demo-status").desired(ctx)["alarms"]) == [
        f"demo-status-{UNKNOWN}"
    ]


def test_one_status_check_alarm_per_instance() -> None:
    alarms = StatusCheckAlarms("demo-status").desired(make_context())["alarms"]
    assert sorted(alarms) == ["demo-status-i-1", "demo-status-i-2", "demo-status-i-3"]
    assert alarms["demo-status-i-2"]["Dimensions"] == [{"Name": "InstanceId", "Value": "i-2"}]


def test_connection_is_tagged_with_the_local_repository(tmp_path: object) -> None:
    ctx = make_context(source={"repository": "/srv/repo"})
    assert Connection("demo-github").desired(ctx)["tags"][LOCAL_REPOSITORY_TAG] == "/srv/repo"


def test_agent_config_ships_app_and_deploy_logs_to_the_stack_groups() -> None:
    names = Names("demo", ACCOUNT, "us-east-1")
    files = agent_config(names, 14)["logs"]["logs_collected"]["files"]["collect_list"]
    assert [(f["file_path"], f["log_group_name"]) for f in files] == [
        ("/var/log/sample-app/app.log", "/demo/app"),
        (
            "/opt/codedeploy-agent/deployment-root/deployment-logs/"
            "codedeploy-agent-deployments.log",
            "/demo/codedeploy-agent-deployments",
        ),
    ]
    assert all(f["log_stream_name"] == "{instance_id}" for f in files)


def test_user_data_installs_agents_and_node_and_fetches_the_agent_config() -> None:
    script = user_data(Names("demo", ACCOUNT, "eu-west-1"))
    assert script.startswith("#!/bin/bash")
    for needle in ("nodejs20", "amazon-cloudwatch-agent", "aws-codedeploy-eu-west-1"):
        assert needle in script
    assert "-c ssm:AmazonCloudWatch-linux" in script


def test_event_pattern_covers_the_telemetry_contract() -> None:
    pattern = event_pattern()
    assert pattern["source"] == EVENT_SOURCES
    assert "CodePipeline Pipeline Execution State Change" in pattern["detail-type"]
    assert "CloudWatch Alarm State Change" in pattern["detail-type"]


def test_metric_filters_count_failures_of_this_stack_only() -> None:
    filters = metric_filters(make_context())
    assert '"demo-pipeline"' in filters["demo-pipeline-failures"].pattern
    assert '"demo-app"' in filters["demo-deploy-failures"].pattern
    assert filters["demo-app-errors"].log_group == "/demo/app"


def test_dashboard_carries_the_stack_marker() -> None:
    body = dashboard_body(make_context())
    assert "opslib:stack=demo" in body["widgets"][0]["properties"]["markdown"]
