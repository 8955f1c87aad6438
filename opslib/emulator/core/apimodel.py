"""What AWS's front end checks before an operation runs, from botocore's service models.

botocore ships the model of every AWS API, the same JSON the SDKs are generated from: its
operations, their input shapes, the wire protocol and XML namespace of each service. AWS
answers a request its model does not allow before any service code runs:

- awsJson: an ``X-Amz-Target`` that names no operation of the service is
  ``UnknownOperationException`` (400); a body that is not JSON, or a member of the wrong
  type (``"projectName": 5``), is ``SerializationException`` (400); a missing required
  member or a value under its minimum is ``ValidationException`` (400), worded as AWS
  words it ("1 validation error detected: Value null at 'name' failed to satisfy
  constraint: Member must not be null").
- query (IAM, STS, SNS, EC2, CloudWatch): an ``Action`` the service does not have is
  ``InvalidAction`` (400), one of AWS's common errors.

Unknown members are ignored, as AWS's JSON services ignore them (a newer SDK may send a
member this model does not know), and ``null`` means absent. Models are loaded on the
first request of a service and kept, so the check costs nothing at start-up.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

import botocore.exceptions
import botocore.session
from botocore.validate import ParamValidator

from opslib.emulator.core.awserrors import Protocol, WireError

# botocore's service name where it differs from the SigV4 signing name.
_MODEL_NAMES = {"monitoring": "cloudwatch", "tagging": "resourcegroupstaggingapi"}
# botocore's validation reasons that are a type mismatch; the others break a constraint.
_TYPE_REASONS = ("invalid type", "invalid type for document")
_JSON_TYPES: dict[type, str] = {
    dict: "object",
    list: "array",
    str: "string",
    bool: "boolean",
    int: "number",
    float: "number",
}


@functools.cache
def _session() -> Any:
    return botocore.session.get_session()


@functools.cache
def service_model(signing_name: str) -> Any | None:
    """botocore's model of the service a request was signed for (None if it has none)."""
    try:
        return _session().get_service_model(_MODEL_NAMES.get(signing_name, signing_name))
    except botocore.exceptions.UnknownServiceError:
        return None


def error_protocol(signing_name: str, wire: Protocol) -> Protocol:
    """The protocol an error must be shaped in: the request's own, refined by the model.

    A form with ``Action`` is the query protocol, whose EC2 flavour has its own error
    document; a REST request is REST-XML (S3) or REST-JSON as the service's model says.
    """
    model = service_model(signing_name)
    protocol = model.metadata.get("protocol") if model is not None else None
    if wire is Protocol.QUERY and protocol == "ec2":
        return Protocol.EC2
    if wire is Protocol.REST and protocol == "rest-json":
        return Protocol.REST_JSON
    if wire is Protocol.REST:
        return Protocol.REST_XML
    return wire


def xml_namespace(signing_name: str) -> str:
    """The XML namespace of a query service's documents (IAM's, SNS's, ...), or ''."""
    model = service_model(signing_name)
    return str(model.metadata.get("xmlNamespace", "")) if model is not None else ""


def rest_operation(signing_name: str, method: str, path: str) -> str | None:
    """The operation a REST-JSON request names by its method and path, from the model.

    ``POST /schedules/nightly`` is Scheduler's CreateSchedule: the model's ``requestUri``
    (``/schedules/{Name}``) matched with its labels as path segments (``{Arn+}``: the
    rest of the path). None for REST-XML (S3 keeps its ``PUT /bucket/key`` names) and
    for a path no operation of the service has.
    """
    model = service_model(signing_name)
    if model is None or model.metadata.get("protocol") != "rest-json":
        return None
    for name, pattern, verb in _rest_routes(signing_name):
        if verb == method and pattern.fullmatch(path):
            return name
    return None


@functools.cache
def _rest_routes(signing_name: str) -> list[tuple[str, re.Pattern[str], str]]:
    """(operation, path regex, method) per operation; the most literal paths first."""
    model = service_model(signing_name)
    if model is None:
        return []
    routes = []
    for name in model.operation_names:
        http = model.operation_model(name).http
        uri = http.get("requestUri", "/").split("?")[0].rstrip("/")
        parts = [_label(part) for part in uri.split("/")]
        routes.append((name, re.compile("/".join(parts) + "/?"), http.get("method", "GET")))
    return sorted(routes, key=lambda route: route[1].pattern.count("(?:"))


def _label(segment: str) -> str:
    """One path segment as a regex: ``{Name}`` one segment, ``{Arn+}`` the rest of the path."""
    if segment.startswith("{") and segment.endswith("}"):
        return "(?:.+)" if segment.endswith("+}") else "(?:[^/]+)"
    return re.escape(segment)


def check_json(signing_name: str, target: str, body: bytes) -> WireError | None:
    """The 400 AWS's JSON front end answers for this request, or None when it passes."""
    model = service_model(signing_name)
    if model is None:
        return None
    prefix, _, operation = target.rpartition(".")
    if operation not in model.operation_names or prefix != model.metadata.get("targetPrefix"):
        return WireError("UnknownOperationException", f"Unknown operation {target}", 400)
    try:
        params = json.loads(body or b"{}")
    except ValueError:
        return WireError("SerializationException", "The request body is not valid JSON", 400)
    if not isinstance(params, dict):
        return WireError("SerializationException", "The request body is not a JSON object", 400)
    return check_input(_without_nulls(params), model.operation_model(operation).input_shape)


def check_query(signing_name: str, action: str) -> WireError | None:
    """``InvalidAction`` for an Action the query service does not have, else None."""
    model = service_model(signing_name)
    if model is None or action in model.operation_names:
        return None
    message = f"The action {action} is not valid for this web service."
    return WireError("InvalidAction", message, 400)


def check_input(params: dict[str, Any], shape: Any) -> WireError | None:
    """Validate ``params`` with botocore's own validator against an input shape."""
    if shape is None:
        return None
    report = ParamValidator().validate(params, shape)
    # botocore keeps each finding as (reason, name, details); its report is only prose.
    found = [error for error in report._errors if error[0] != "unknown field"]
    wrong_types = [error for error in found if error[0] in _TYPE_REASONS]
    if wrong_types:
        return WireError("SerializationException", _type_message(*wrong_types[0]), 400)
    if found:
        problems = [_constraint_message(*error) for error in found]
        noun = "error" if len(problems) == 1 else "errors"
        message = f"{len(problems)} validation {noun} detected: " + "; ".join(problems)
        return WireError("ValidationException", message, 400)
    return None


def _without_nulls(value: Any) -> Any:
    """JSON ``null`` is an absent member to AWS; botocore's validator would call it a type."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _member(name: str) -> str:
    return name.lstrip(".") or "input"


def _type_message(reason: str, name: str, details: dict[str, Any]) -> str:
    value = details.get("param")
    kind = _JSON_TYPES.get(type(value), type(value).__name__)
    return f"Invalid type for '{_member(name)}': a JSON {kind} ({value!r}) is not allowed here"


def _constraint_message(reason: str, name: str, details: dict[str, Any]) -> str:
    if reason == "missing required field":
        path = f"{_member(name)}.{details['required_name']}".removeprefix("input.")
        return f"Value null at '{path}' failed to satisfy constraint: Member must not be null"
    minimum = details.get("min_allowed")
    if reason == "invalid length":  # botocore passes the length, not the value
        value = f"of length {details.get('param')}"
        rule = f"Member must have length greater than or equal to {minimum}"
    elif reason == "invalid range":
        value = repr(details.get("param"))
        rule = f"Member must have value greater than or equal to {minimum}"
    else:  # a tagged union with no member set, or with several
        value = "with members " + ", ".join(details.get("members", []))
        rule = "Member must have exactly one member set"
    return f"Value {value} at '{_member(name)}' failed to satisfy constraint: {rule}"
