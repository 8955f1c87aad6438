"""Unknown operations and malformed requests get AWS's error shapes; the emulator stays up.

Raw requests, signed with botocore's SigV4 as an SDK signs them, because an SDK's own
client-side validation would never send them. Each answer is parsed with botocore's
parser for the protocol, i.e. read exactly as an SDK reads it.
"""

from __future__ import annotations

import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import botocore.parsers
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from opslib import emulator
from opslib.emulator import EmulatorInfo
from tests.emulator.conftest import REGION, client

FORM = "application/x-www-form-urlencoded"


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorInfo]:
    """One emulator for the module: each case also checks that it goes on answering."""
    state_dir = tmp_path_factory.mktemp("api-errors") / "state"
    yield emulator.start(state_dir, port=0)
    emulator.stop(state_dir)


def _send(
    info: EmulatorInfo, service: str, body: bytes, target: str = "", content_type: str = FORM
) -> tuple[int, dict[str, str], bytes]:
    headers = {"Content-Type": content_type, **({"X-Amz-Target": target} if target else {})}
    request = AWSRequest("POST", f"{info.endpoint}/", data=body, headers=headers)
    SigV4Auth(Credentials("test", "test"), service, REGION).add_auth(request)
    prepared = request.prepare()
    raw = urllib.request.Request(prepared.url, prepared.body, dict(prepared.headers), method="POST")
    try:
        with urllib.request.urlopen(raw, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def _error(protocol: str, status: int, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    """The error as botocore's parser for ``protocol`` reads it (what a ClientError holds)."""
    response = {"status_code": status, "headers": headers, "body": body}
    parsed = botocore.parsers.create_parser(protocol).parse(response, None)
    return dict(parsed["Error"])


def _json(info: EmulatorInfo, service: str, target: str, body: bytes) -> tuple[int, dict[str, Any]]:
    status, headers, raw = _send(info, service, body, target, "application/x-amz-json-1.1")
    return status, _error("json", status, headers, raw)


JSON_CASES = [
    ("codebuild", "CodeBuild_20161006.NoSuchOperation", b"{}", "UnknownOperationException"),
    ("codebuild", "NotCodeBuild_20161006.ListProjects", b"{}", "UnknownOperationException"),
    # the emulator's own handler, then moto's: a number where a string belongs
    ("codebuild", "CodeBuild_20161006.ListBuildsForProject", b'{"projectName": 5}',
     "SerializationException"),
    ("codebuild", "CodeBuild_20161006.BatchGetProjects", b'{"names": "one"}',
     "SerializationException"),
    ("logs", "Logs_20140328.CreateLogGroup", b"not json", "SerializationException"),
    ("logs", "Logs_20140328.CreateLogGroup", b"[]", "SerializationException"),
    ("logs", "Logs_20140328.CreateLogGroup", b"{}", "ValidationException"),
]  # fmt: skip


def _still_answers(info: EmulatorInfo, service: str) -> None:
    if service == "codebuild":
        assert client(info, "codebuild").list_projects()["projects"] == []
    else:
        name = f"/after/the/error/{uuid.uuid4()}"
        client(info, "logs").create_log_group(logGroupName=name)
        groups = client(info, "logs").describe_log_groups(logGroupNamePrefix=name)["logGroups"]
        assert [g["logGroupName"] for g in groups] == [name]


@pytest.mark.parametrize(("service", "target", "body", "code"), JSON_CASES)
def test_a_malformed_json_request_gets_awss_400(
    running: EmulatorInfo, service: str, target: str, body: bytes, code: str
) -> None:
    status, error = _json(running, service, target, body)
    assert (status, error["Code"]) == (400, code)
    _still_answers(running, service)


def test_a_wrong_type_names_the_member_and_a_missing_one_reads_as_aws_words_it(
    running: EmulatorInfo,
) -> None:
    target = "CodeBuild_20161006.ListBuildsForProject"
    _, error = _json(running, "codebuild", target, b'{"projectName": 5}')
    assert "'projectName'" in error["Message"]
    _, error = _json(running, "logs", "Logs_20140328.CreateLogGroup", b'{"logGroupName": null}')
    assert error["Message"] == (
        "1 validation error detected: Value null at 'logGroupName' failed to satisfy "
        "constraint: Member must not be null"
    )


QUERY_CASES = [
    ("ec2", "2016-11-15", "ec2"),
    ("iam", "2010-05-08", "query"),
    ("sts", "2011-06-15", "query"),
    ("sns", "2010-03-31", "query"),
    ("monitoring", "2010-08-01", "query"),
]


@pytest.mark.parametrize(("service", "version", "protocol"), QUERY_CASES)
def test_an_unknown_query_action_is_invalid_action(
    running: EmulatorInfo, service: str, version: str, protocol: str
) -> None:
    body = f"Action=NoSuchAction&Version={version}".encode()
    status, headers, raw = _send(running, service, body)
    error = _error(protocol, status, headers, raw)
    assert (status, error["Code"]) == (400, "InvalidAction")
    assert "NoSuchAction" in error["Message"]
    assert client(running, "sts").get_caller_identity()["Account"] == "123456789012"


# Requests moto itself fails on (an exception inside moto, not a validation of ours).
CRASHES = [
    ("sns", b"Action=Publish&Version=2010-03-31", "query", "sns Publish failed"),
    (
        "ec2",
        b"Action=RunInstances&Version=2016-11-15&ImageId=ami-12c6146b&MinCount=a&MaxCount=1",
        "ec2",
        "ec2 RunInstances failed",
    ),
]


@pytest.mark.parametrize(("service", "body", "protocol", "logged"), CRASHES)
def test_an_exception_inside_moto_is_internal_failure_and_logged(
    running: EmulatorInfo, service: str, body: bytes, protocol: str, logged: str
) -> None:
    status, headers, raw = _send(running, service, body)
    assert b"<html" not in raw.lower()
    assert (status, _error(protocol, status, headers, raw)["Code"]) == (500, "InternalFailure")
    log = (running.state_dir / "emulator.log").read_text()
    assert logged in log and "Traceback" in log.split(logged, 1)[1]
    assert client(running, "ec2").describe_instances()["Reservations"] == []
    assert client(running, "sns").list_topics()["Topics"] == []
