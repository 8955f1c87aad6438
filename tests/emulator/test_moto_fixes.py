"""Each fix the emulator makes to moto's behaviour, asserted through the API."""

from __future__ import annotations

import pytest

from opslib.emulator.lifecycle import EmulatorInfo
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
