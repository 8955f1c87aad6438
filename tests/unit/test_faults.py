"""Injected faults, pure: what a fault matches, the error it answers, the faults refused."""

from __future__ import annotations

import pytest

from opslib.emulator.core.awserrors import Protocol
from opslib.emulator.core.faultspec import (
    Caller,
    Fault,
    FaultKind,
    FaultSpecError,
    new_fault,
    parse_duration,
)
from opslib.emulator.core.restops import rest_call

pytestmark = pytest.mark.unit

S3_PUT = Caller("s3", "us-east-1", "PutObject")
ROLE = "arn:aws:iam::123456789012:role/app"


@pytest.mark.parametrize(
    ("fault", "caller", "matches"),
    [
        (Fault("f", FaultKind.SERVICE_UNAVAILABLE, service="s3"), S3_PUT, True),
        (Fault("f", FaultKind.SERVICE_UNAVAILABLE, service="ec2"), S3_PUT, False),
        (Fault("f", FaultKind.SERVICE_UNAVAILABLE, region="us-east-1"), S3_PUT, True),
        (Fault("f", FaultKind.SERVICE_UNAVAILABLE, region="eu-west-1"), S3_PUT, False),
        (Fault("f", FaultKind.SERVICE_UNAVAILABLE, service="s3", operations=("GetObject",)),
         S3_PUT, False),
        (Fault("f", FaultKind.SERVICE_UNAVAILABLE, service="s3", operations=("PutObject",)),
         S3_PUT, True),
        (Fault("f", FaultKind.THROTTLING, service="ec2", role_arn=ROLE),
         Caller("ec2", "us-east-1", "DescribeInstances"), False),
        (Fault("f", FaultKind.THROTTLING, service="ec2", role_arn=ROLE),
         Caller("ec2", "us-east-1", "DescribeInstances", ROLE), True),
    ],
)  # fmt: skip
def test_what_a_fault_matches(fault: Fault, caller: Caller, matches: bool) -> None:
    assert fault.matches(caller) is matches


@pytest.mark.parametrize(
    ("kind", "protocol", "code", "status"),
    [
        (FaultKind.SERVICE_UNAVAILABLE, Protocol.REST_XML, "ServiceUnavailable", 503),
        (FaultKind.SERVICE_UNAVAILABLE, Protocol.JSON, "ServiceUnavailable", 503),
        (FaultKind.INTERNAL_ERROR, Protocol.REST_XML, "InternalError", 500),
        (FaultKind.INTERNAL_ERROR, Protocol.EC2, "InternalError", 500),
        (FaultKind.INTERNAL_ERROR, Protocol.QUERY, "InternalFailure", 500),
        (FaultKind.THROTTLING, Protocol.REST_XML, "SlowDown", 503),
        (FaultKind.THROTTLING, Protocol.EC2, "RequestLimitExceeded", 503),
        (FaultKind.THROTTLING, Protocol.JSON, "ThrottlingException", 400),
        (FaultKind.THROTTLING, Protocol.QUERY, "Throttling", 400),
    ],
)
def test_the_error_each_protocol_answers(
    kind: FaultKind, protocol: Protocol, code: str, status: int
) -> None:
    error = Fault("fault-1", kind, service="s3").wire_error(protocol)
    assert (error.code, error.status) == (code, status)
    assert "fault-1" in error.message  # says it was injected


def test_a_fault_expires() -> None:
    fault = new_fault({"service": "s3", "duration": "5m"}, now=1000.0)
    assert fault.expires == 1300.0
    assert not fault.expired(at=1299.0) and fault.expired(at=1300.0)
    assert new_fault({"service": "s3"}).expires is None


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ({}, "service/region"),
        ({"service": "s3", "rate": 0}, "rate"),
        ({"service": "s3", "rate": True}, "rate"),
        ({"service": "s3", "error": "Meltdown"}, "error"),
        ({"service": "S3 bucket"}, "service"),
        ({"service": "s3", "duration": "soon"}, "duration"),
        ({"service": "s3", "duration": -1}, "duration"),
        ({"service": "s3", "operations": ["Put Object"]}, "operations"),
    ],
)
def test_bad_faults_are_refused_naming_the_field(doc: dict[str, object], field: str) -> None:
    with pytest.raises(FaultSpecError, match=field):
        new_fault(doc)


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30), ("5m", 300), ("1h30m", 5400)])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("service", "method", "path", "query", "headers", "operation"),
    [
        ("s3", "PUT", "/bucket/a/b.zip", "", {}, "PutObject"),
        ("s3", "PUT", "/bucket/a", "", {"x-amz-copy-source": "/b/c"}, "CopyObject"),
        ("s3", "PUT", "/bucket/a", "acl", {}, "PutObjectAcl"),
        ("s3", "GET", "/bucket", "list-type=2", {}, "ListObjectsV2"),
        ("s3", "DELETE", "/bucket/k", "versionId=3", {}, "DeleteObject"),
        ("fis", "GET", "/experiments/EXP1", "", {}, "GetExperiment"),
        ("fis", "DELETE", "/experiments/EXP1", "", {}, "StopExperiment"),
        ("fis", "POST", "/experimentTemplates", "", {}, "CreateExperimentTemplate"),
    ],
)
def test_rest_requests_are_named_by_their_binding(
    service: str, method: str, path: str, query: str, headers: dict[str, str], operation: str
) -> None:
    call = rest_call(service, method, path, query, headers)
    assert call is not None and call.operation == operation
