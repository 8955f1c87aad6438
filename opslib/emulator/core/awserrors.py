"""AWS's error answers, each in the shape of the wire protocol the request spoke.

An SDK finds an error's code where its protocol puts it: awsJson in the body's
``__type``, the query protocol in ``<ErrorResponse><Error><Code>``, EC2 in
``<Response><Errors><Error><Code>``, REST-XML (S3) in ``<Error><Code>``, REST-JSON in the
``x-amzn-ErrorType`` header. An HTML page (werkzeug's "500 Internal Server Error") leaves
it with no code at all, so every error the gateway makes goes through :func:`render`.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from enum import StrEnum
from xml.sax.saxutils import escape, quoteattr

Headers = list[tuple[str, str]]


class Protocol(StrEnum):
    """The wire protocols of the APIs the emulator answers."""

    JSON = "json"  # awsJson 1.0/1.1: POST /, X-Amz-Target names the operation
    QUERY = "query"  # Action=... form: IAM, STS, SNS, CloudWatch
    EC2 = "ec2"  # the query protocol with EC2's own error document
    REST = "rest"  # a REST request before the service's model says which of the two below
    REST_XML = "rest-xml"  # S3
    REST_JSON = "rest-json"  # Scheduler, FIS, Resilience Hub


@dataclass(frozen=True)
class WireError:
    """One error answer: AWS's code, a message and the HTTP status."""

    code: str
    message: str
    status: int = 400

    @property
    def fault(self) -> str:
        """The query protocol's <Type>: the caller's fault (4xx) or the service's (5xx)."""
        return "Receiver" if self.status >= 500 else "Sender"


# AWS's common error for "the request processing has failed because of an unknown error,
# exception or failure" (HTTP 500); SDKs retry it. S3 has its own code and words for it.
INTERNAL_FAILURE = WireError(
    "InternalFailure",
    "The request processing has failed because of an unknown error, exception or failure.",
    500,
)
S3_INTERNAL_ERROR = WireError(
    "InternalError", "We encountered an internal error. Please try again.", 500
)


def internal_error(protocol: Protocol) -> WireError:
    """The 500 a service answers when it failed (a write it could not store, a bug)."""
    return S3_INTERNAL_ERROR if protocol is Protocol.REST_XML else INTERNAL_FAILURE


def not_implemented(operation: str, detail: str) -> WireError:
    """What the emulator answers for an operation AWS has and moto does not (not retried)."""
    message = f"the opslib emulator does not implement {operation}: {detail}"
    return WireError("NotImplemented", message, 501)


def render(error: WireError, protocol: Protocol, namespace: str = "") -> tuple[bytes, Headers]:
    """The body and headers of ``error`` as ``protocol`` carries it."""
    request_id = str(uuid.uuid4())
    headers: Headers = [("x-amzn-RequestId", request_id)]
    if protocol in (Protocol.JSON, Protocol.REST_JSON):
        body = json.dumps({"__type": error.code, "message": error.message}).encode()
        headers.append(("Content-Type", "application/x-amz-json-1.1"))
        headers.append(("x-amzn-ErrorType", error.code))
        return body, headers
    content_type = "text/xml" if protocol is Protocol.QUERY else "application/xml"
    headers.append(("Content-Type", content_type))
    return _XML[protocol](error, request_id, namespace).encode(), headers


def _code_and_message(error: WireError) -> str:
    return f"<Code>{escape(error.code)}</Code><Message>{escape(error.message)}</Message>"


def _query(error: WireError, request_id: str, namespace: str) -> str:
    xmlns = f" xmlns={quoteattr(namespace)}" if namespace else ""
    return (
        f"<ErrorResponse{xmlns}><Error><Type>{error.fault}</Type>{_code_and_message(error)}"
        f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>"
    )


def _ec2(error: WireError, request_id: str, namespace: str) -> str:
    return (
        f"<Response><Errors><Error>{_code_and_message(error)}</Error></Errors>"
        f"<RequestID>{request_id}</RequestID></Response>"
    )


def _s3(error: WireError, request_id: str, namespace: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error>{_code_and_message(error)}<RequestId>{request_id}</RequestId></Error>"
    )


_XML = {Protocol.QUERY: _query, Protocol.EC2: _ec2, Protocol.REST_XML: _s3, Protocol.REST: _s3}
