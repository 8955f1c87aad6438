"""CodeStar Connections, which moto lacks: AVAILABLE at once, tagged with a local repo."""

from __future__ import annotations

import pytest

from opslib.emulator import EmulatorInfo
from tests.emulator.conftest import client


def test_connection_lifecycle(running: EmulatorInfo) -> None:
    connections = client(running, "codestar-connections")
    arn = connections.create_connection(
        ProviderType="GitHub",
        ConnectionName="opslib-demo-github",
        Tags=[{"Key": "opslib:local-repository", "Value": "/src/app"}],
    )["ConnectionArn"]
    assert arn.startswith("arn:aws:codestar-connections:us-east-1:123456789012:connection/")
    connection = connections.get_connection(ConnectionArn=arn)["Connection"]
    assert connection["ConnectionStatus"] == "AVAILABLE"
    assert [c["ConnectionArn"] for c in connections.list_connections()["Connections"]] == [arn]
    connections.tag_resource(ResourceArn=arn, Tags=[{"Key": "opslib:stack", "Value": "demo"}])
    tags = connections.list_tags_for_resource(ResourceArn=arn)["Tags"]
    assert {t["Key"]: t["Value"] for t in tags} == {
        "opslib:local-repository": "/src/app",
        "opslib:stack": "demo",
    }
    connections.delete_connection(ConnectionArn=arn)
    with pytest.raises(connections.exceptions.ResourceNotFoundException):
        connections.get_connection(ConnectionArn=arn)


def test_duplicate_name_is_refused(running: EmulatorInfo) -> None:
    connections = client(running, "codestar-connections")
    connections.create_connection(ProviderType="GitHub", ConnectionName="twice")
    with pytest.raises(connections.exceptions.ResourceAlreadyExistsException):
        connections.create_connection(ProviderType="GitHub", ConnectionName="twice")
