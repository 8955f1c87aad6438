"""The emulator-only fault switch: a service or a region answers AWS's errors until cleared."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from typing import Any

import boto3
import botocore.config
import pytest
from botocore.exceptions import ClientError

from opslib import emulator
from opslib.emulator import EmulatorInfo
from opslib.exceptions import ConfigError


def _client(info: EmulatorInfo, service: str, region: str = "us-east-1") -> Any:
    """No retries: each call is one request, so a refusal is seen as it is."""
    return boto3.session.Session().client(
        service, region_name=region, endpoint_url=info.endpoint,
        aws_access_key_id="test", aws_secret_access_key="test",
        config=botocore.config.Config(retries={"max_attempts": 1}),
    )  # fmt: skip


def _refusal(call: Callable[[], Any]) -> tuple[str, int]:
    with pytest.raises(ClientError) as raised:
        call()
    response = raised.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def test_a_fault_on_s3_put_object_answers_503_until_cleared(running: EmulatorInfo) -> None:
    s3 = _client(running, "s3")
    s3.create_bucket(Bucket="artifacts")
    fault = emulator.inject_fault(
        running.endpoint, service="s3", region="us-east-1", operations=["PutObject"]
    )
    put = lambda: s3.put_object(Bucket="artifacts", Key="a", Body=b"x")  # noqa: E731
    assert _refusal(put) == ("ServiceUnavailable", 503)
    s3.list_objects_v2(Bucket="artifacts")  # another operation answers
    assert [f.id for f in emulator.list_faults(running.endpoint)] == [fault.id]

    assert [f.id for f in emulator.clear_faults(running.endpoint)] == [fault.id]
    put()
    assert s3.get_object(Bucket="artifacts", Key="a")["Body"].read() == b"x"


def test_throttling_on_s3_is_slow_down(running: EmulatorInfo) -> None:
    s3 = _client(running, "s3")
    emulator.inject_fault(running.endpoint, service="s3", error="Throttling")
    assert _refusal(s3.list_buckets) == ("SlowDown", 503)


def test_a_region_outage_fails_every_service_there_in_its_own_shape(
    running: EmulatorInfo,
) -> None:
    emulator.inject_fault(running.endpoint, region="us-west-2", error="InternalError")
    assert _refusal(_client(running, "ec2", "us-west-2").describe_vpcs) == ("InternalError", 500)
    logs = _client(running, "logs", "us-west-2")
    assert _refusal(logs.describe_log_groups) == ("InternalFailure", 500)
    sns = _client(running, "sns", "us-west-2")
    assert _refusal(sns.list_topics) == ("InternalFailure", 500)
    _client(running, "ec2", "us-east-1").describe_vpcs()  # the other region stands


def test_faults_survive_a_restart_until_cleared(
    start_emulator: Callable[..., EmulatorInfo],
) -> None:
    info = start_emulator()
    emulator.inject_fault(info.endpoint, service="codebuild", duration="1h")
    emulator.stop(info.state_dir)
    again = start_emulator()
    codebuild = _client(again, "codebuild")
    assert _refusal(codebuild.list_projects) == ("ServiceUnavailable", 503)
    (fault,) = emulator.list_faults(again.endpoint)
    assert fault.service == "codebuild" and fault.expires is not None


def test_the_switch_says_it_is_not_aws_and_refuses_bad_faults(running: EmulatorInfo) -> None:
    with urllib.request.urlopen(f"{running.endpoint}/_opslib/faults") as answer:
        assert "not an AWS API" in json.loads(answer.read())["notice"]
    with pytest.raises(ConfigError, match="rate"):
        emulator.inject_fault(running.endpoint, service="s3", rate=2.0)
    with pytest.raises(ConfigError, match="error"):
        emulator.inject_fault(running.endpoint, service="s3", error="Meltdown")
    assert emulator.list_faults(running.endpoint) == []
