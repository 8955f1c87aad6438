"""What every CloudWatch Logs handler shares: parameters, AWS's errors, names and ARNs."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

from opslib.emulator.cloudwatch.logstore import Group, LogStore, Stream
from opslib.emulator.core.gateway import ApiException, ApiRequest

GROUP_MISSING = "The specified log group does not exist."
STREAM_MISSING = "The specified log stream does not exist."
DAY_MS = 24 * 3600 * 1000


def now_ms() -> int:
    return int(time.time() * 1000)


def invalid(message: str) -> ApiException:
    return ApiException("InvalidParameterException", message)


def not_found(message: str = GROUP_MISSING) -> ApiException:
    return ApiException("ResourceNotFoundException", message)


def already_exists(message: str) -> ApiException:
    return ApiException("ResourceAlreadyExistsException", message)


def params(request: ApiRequest) -> dict[str, Any]:
    try:
        return request.params()
    except ValueError as exc:
        raise ApiException("SerializationException", f"request body is not JSON: {exc}") from exc


def required(values: dict[str, Any], name: str, kind: type = str) -> Any:
    """A required member, of the given type (AWS names the member it misses)."""
    value = values.get(name)
    if value is None or (kind is str and value == ""):
        raise invalid(f"1 validation error detected: Value null at '{name}' failed to satisfy"
                      " constraint: Member must not be null")  # fmt: skip
    if kind is int and isinstance(value, bool) or not isinstance(value, kind):
        raise invalid(f"{name} must be a {kind.__name__}, not {type(value).__name__}")
    return value


def optional_int(values: dict[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = values.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise invalid(
            f"1 validation error detected: Value '{value}' at '{name}' failed to satisfy"
            f" constraint: Member must have value between {low} and {high}"
        )
    return value


def group_arn(group: Group) -> str:
    """The group's ARN without the trailing ``:*`` (logGroupArn, tagging)."""
    return f"arn:aws:logs:{group.region}:{group.account}:log-group:{group.name}"


def group_name_from_arn(arn: str) -> str | None:
    """``arn:aws:logs:r:a:log-group:NAME[:*]`` -> NAME; None for other ARNs."""
    parts = arn.split(":", 6)
    if len(parts) < 7 or parts[2] != "logs" or not parts[5] == "log-group":
        return None
    name = parts[6]
    return name[:-2] if name.endswith(":*") else name


def find_group(store: LogStore, request: ApiRequest, values: dict[str, Any]) -> Group:
    """The group a request names by ``logGroupName`` or ``logGroupIdentifier``."""
    name, identifier = values.get("logGroupName"), values.get("logGroupIdentifier")
    if name and identifier:
        raise invalid("LogGroup name and LogGroup ARN are mutually exclusive parameters.")
    if identifier:
        name = group_name_from_arn(identifier) if identifier.startswith("arn:") else identifier
    if not name:
        raise invalid("Either logGroupName or logGroupIdentifier must be specified.")
    group = store.group(request.account_id, request.region, str(name))
    if group is None:
        raise not_found()
    return group


def find_stream(store: LogStore, group: Group, name: str) -> Stream:
    stream = store.stream(group.gid, name)
    if stream is None:
        raise not_found(STREAM_MISSING)
    return stream


def encode_token(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode()


def decode_token(token: str) -> dict[str, Any]:
    """A nextToken this service handed out; anything else is AWS's InvalidParameter."""
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, UnicodeDecodeError) as exc:
        raise invalid("The specified nextToken is invalid.") from exc
    if not isinstance(data, dict):
        raise invalid("The specified nextToken is invalid.")
    return data
