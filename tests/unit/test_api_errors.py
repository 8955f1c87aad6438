"""AWS's error shapes, read back with botocore's own parsers, and the checks of apimodel."""

from __future__ import annotations

import io
import json
from typing import Any

import botocore.parsers
import pytest
from moto.moto_server.werkzeug_app import create_backend_app
from werkzeug.test import EnvironBuilder

from opslib.emulator.core import apimodel
from opslib.emulator.core.awserrors import (
    INTERNAL_FAILURE,
    Protocol,
    WireError,
    internal_error,
    render,
)
from opslib.emulator.core.gateway import Gateway
from opslib.emulator.core.store import MotoSnapshots

ERROR = WireError("InvalidAction", "The action X is not valid for this web service.", 400)


@pytest.mark.parametrize(
    ("protocol", "parser"),
    [
        (Protocol.JSON, "json"),
        (Protocol.REST_JSON, "rest-json"),
        (Protocol.QUERY, "query"),
        (Protocol.EC2, "ec2"),
        (Protocol.REST_XML, "rest-xml"),
    ],
)
def test_an_error_reads_back_with_the_protocols_own_parser(protocol: Protocol, parser: str) -> None:
    body, headers = render(ERROR, protocol, "https://iam.amazonaws.com/doc/2010-05-08/")
    response = {"status_code": 400, "headers": dict(headers), "body": body}
    parsed = botocore.parsers.create_parser(parser).parse(response, None)
    assert parsed["Error"]["Code"] == "InvalidAction"
    assert parsed["Error"]["Message"] == ERROR.message


def test_the_query_protocol_says_whose_fault_it_was() -> None:
    assert b"<Type>Sender</Type>" in render(ERROR, Protocol.QUERY)[0]
    assert b"<Type>Receiver</Type>" in render(INTERNAL_FAILURE, Protocol.QUERY)[0]


def test_s3_has_its_own_internal_error() -> None:
    assert internal_error(Protocol.REST_XML).code == "InternalError"
    assert internal_error(Protocol.REST_XML).message == (
        "We encountered an internal error. Please try again."
    )
    assert internal_error(Protocol.JSON) == INTERNAL_FAILURE


@pytest.mark.parametrize(
    ("service", "wire", "expected"),
    [
        ("s3", Protocol.REST, Protocol.REST_XML),
        ("scheduler", Protocol.REST, Protocol.REST_JSON),
        ("ec2", Protocol.QUERY, Protocol.EC2),
        ("iam", Protocol.QUERY, Protocol.QUERY),
        ("monitoring", Protocol.QUERY, Protocol.QUERY),
        ("monitoring", Protocol.JSON, Protocol.JSON),
        ("unknown", Protocol.REST, Protocol.REST_XML),
    ],
)
def test_the_error_protocol_follows_the_request_and_the_model(
    service: str, wire: Protocol, expected: Protocol
) -> None:
    assert apimodel.error_protocol(service, wire) is expected


CODEBUILD = "CodeBuild_20161006"


@pytest.mark.parametrize(
    ("target", "body", "code"),
    [
        (f"{CODEBUILD}.ListProjects", b"", None),
        (f"{CODEBUILD}.ListProjects", b'{"sortBy": null, "futureMember": 1}', None),
        (f"{CODEBUILD}.StartBuild", b'{"projectName": "p", "timeoutInMinutesOverride": 5}', None),
        (f"{CODEBUILD}.NoSuchOperation", b"{}", "UnknownOperationException"),
        ("Logs_20140328.ListProjects", b"{}", "UnknownOperationException"),
        (f"{CODEBUILD}.StartBuild", b'{"projectName": 5}', "SerializationException"),
        (f"{CODEBUILD}.StartBuild", b'{"projectName": "p", "timeoutInMinutesOverride": "5"}',
         "SerializationException"),
        (f"{CODEBUILD}.BatchGetBuilds", b'{"ids": "one"}', "SerializationException"),
        (f"{CODEBUILD}.StartBuild", b"{", "SerializationException"),
        (f"{CODEBUILD}.StartBuild", b"{}", "ValidationException"),
        (f"{CODEBUILD}.StartBuild", b'{"projectName": ""}', "ValidationException"),
    ],
)  # fmt: skip
def test_check_json_answers_as_awss_front_end(target: str, body: bytes, code: str | None) -> None:
    error = apimodel.check_json("codebuild", target, body)
    assert (error.code if error else None) == code
    assert error is None or error.status == 400


def test_validation_messages_are_worded_as_aws_words_them() -> None:
    error = apimodel.check_json("codebuild", f"{CODEBUILD}.StartBuild", b'{"projectName": ""}')
    assert error is not None and error.message == (
        "1 validation error detected: Value of length 0 at 'projectName' failed to satisfy "
        "constraint: Member must have length greater than or equal to 1"
    )
    body = json.dumps({"source": {}}).encode()
    error = apimodel.check_json("codebuild", f"{CODEBUILD}.CreateProject", body)
    assert error is not None and error.message.startswith("5 validation errors detected: ")
    assert "Value null at 'source.type' failed to satisfy constraint" in error.message


def test_check_query_knows_the_actions_of_the_service() -> None:
    assert apimodel.check_query("iam", "CreateRole") is None
    assert apimodel.check_query("monitoring", "PutMetricData") is None
    error = apimodel.check_query("ec2", "RunInstance")
    assert error is not None and (error.code, error.status) == ("InvalidAction", 400)
    assert apimodel.check_query("not-a-service", "Anything") is None


def _call(gateway: Gateway, target: str, body: bytes = b"{}") -> tuple[int, dict[str, Any]]:
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/",
        "CONTENT_TYPE": "application/x-amz-json-1.1",
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_X_AMZ_TARGET": target,
        "HTTP_AUTHORIZATION": "AWS4-HMAC-SHA256 Credential=k/20260101/us-east-1/codebuild/"
        "aws4_request, SignedHeaders=host, Signature=x",
        "wsgi.input": io.BytesIO(body),
    }
    answered: dict[str, Any] = {}
    chunks = gateway(environ, lambda status, headers: answered.update(status=status))
    return int(answered["status"].split()[0]), json.loads(b"".join(chunks))


@pytest.mark.parametrize(
    ("raised", "status", "code"),
    [(AttributeError("'int' object has no attribute 'split'"), 500, "InternalFailure"),
     (NotImplementedError("The list_projects action has not been implemented"), 501,
      "NotImplemented")],
)  # fmt: skip
def test_an_exception_escaping_moto_is_an_aws_error(
    tmp_path: Any, raised: Exception, status: int, code: str
) -> None:
    def moto_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        raise raised

    gateway = Gateway(moto_app, MotoSnapshots(tmp_path), lambda: {})
    answered, body = _call(gateway, f"{CODEBUILD}.ListProjects")
    assert (answered, body["__type"]) == (status, code)


def test_moto_apps_let_an_exception_through_to_the_gateway() -> None:
    """The gateway's InternalFailure relies on it: Flask propagates when debug is on."""
    app = create_backend_app("sts")
    app.add_url_rule("/explode", "explode", view_func=lambda: str(1 / 0))
    with pytest.raises(ZeroDivisionError):
        app(EnvironBuilder(path="/explode").get_environ(), lambda *_: None)
