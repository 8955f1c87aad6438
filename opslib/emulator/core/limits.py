"""AWS's documented request limits on the operations the project uses, checked before moto.

moto stores a 5 MB CodeBuild project description and a 5 MB log event; AWS refuses both.
Two kinds of limits are enforced, each answered with the error code the service declares:

* The API model's constraints, which botocore ships with every service (``max`` length of a
  string, ``max`` items of a list or map, ``max`` of a number, ``pattern``, ``enum``). The
  SDK checks only required members, types and minimums before sending, so a server has to
  check the rest; AWS answers ``1 validation error detected: Value 'x' at 'name' failed to
  satisfy constraint: Member must satisfy regular expression pattern: ...``.
* PutLogEvents' batch rules from its API reference: at most 1,048,576 bytes per batch,
  counted as each message in UTF-8 plus 26 bytes per event; no event larger than 1 MB
  (botocore 1.44's text; it was 256 KB until 2025); a batch spanning at most 24 hours.
  (Order and the 10,000-event maximum are the model's or moto's.) PutRetentionPolicy takes
  only CloudWatch Logs' fixed set of days, which the model does not list.

:func:`log_batches` splits events so that they keep those rules: the emulator's own log
shippers use it, as the CodeBuild and CloudWatch agents batch on AWS.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Iterator
from typing import Any

from opslib.emulator.core.gateway import ApiRequest, ApiResponse, Gateway

logger = logging.getLogger(__name__)

# (signing name, operation) -> the service's validation error code.
VALIDATED: dict[tuple[str, str], str] = {
    ("codebuild", "CreateProject"): "InvalidInputException",
    ("codebuild", "UpdateProject"): "InvalidInputException",
    ("logs", "CreateLogGroup"): "InvalidParameterException",
    ("logs", "CreateLogStream"): "InvalidParameterException",
    ("logs", "PutLogEvents"): "InvalidParameterException",
    ("logs", "PutRetentionPolicy"): "InvalidParameterException",
}
MAX_BATCH_BYTES = 1_048_576
MAX_EVENT_BYTES = 1_048_576
EVENT_OVERHEAD = 26  # bytes counted per event on top of its message
MAX_BATCH_EVENTS = 10_000
MAX_BATCH_SPAN_MS = 24 * 3600 * 1000
SPAN_RULE = "cannot span more than 24 hours"
_SHOWN_VALUE = 100  # longer values are left out of a validation message
_MODEL_SERVICE = {
    "logs": "logs",
    "codebuild": "codebuild",
    "scheduler": "scheduler",
}  # signing name -> botocore name


def register(gateway: Gateway) -> None:
    """Check every operation of :data:`VALIDATED` before it reaches its handler or moto."""
    for (service, operation), code in VALIDATED.items():
        gateway.check(service, operation, functools.partial(_refusal, code=code))


def _refusal(request: ApiRequest, code: str) -> ApiResponse | None:
    """AWS's error answer when the request breaks a limit, else None (let it through)."""
    try:
        params = request.params()
    except ValueError:
        return None  # not JSON: moto answers with its own error
    problems = model_violations(request.service, request.operation, params)
    if problems:
        plural = "s" if len(problems) > 1 else ""
        message = f"{len(problems)} validation error{plural} detected: " + "; ".join(problems)
        return ApiResponse.error(code, message)
    extra = _RULES.get((request.service, request.operation))
    broken = extra(params) if extra else None
    return ApiResponse.error(code, broken) if broken else None


# --- the API model's constraints -----------------------------------------------------------


@functools.cache
def _input_shape(service: str, operation: str) -> Any:
    import botocore.session

    model = botocore.session.get_session().get_service_model(_MODEL_SERVICE[service])
    return model.operation_model(operation).input_shape


def model_violations(service: str, operation: str, params: dict[str, Any]) -> list[str]:
    """Each constraint of the operation's input shape that ``params`` break, AWS-worded."""
    return list(_violations(_input_shape(service, operation), params, ""))


def _violations(shape: Any, value: Any, path: str) -> Iterator[str]:
    """Walk a value along its shape (structures, lists, maps, scalars)."""
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        for name, member in shape.members.items():
            if name in value:
                yield from _violations(member, value[name], f"{path}.{name}" if path else name)
        return
    limit = shape.metadata.get("max")
    if kind in ("list", "map") and isinstance(value, list | dict):
        if limit is not None and len(value) > limit:
            yield _problem(None, path, f"Member must have length less than or equal to {limit}")
        items = value.items() if isinstance(value, dict) else enumerate(value, start=1)
        inner = shape.value if kind == "map" else shape.member
        for key, item in items:
            yield from _violations(
                inner, item, f"{path}.{key}" + ("" if kind == "map" else ".member")
            )
        return
    yield from _scalar_violations(shape, value, path)


def _scalar_violations(shape: Any, value: Any, path: str) -> Iterator[str]:
    meta = shape.metadata
    if shape.type_name == "string" and isinstance(value, str):
        if "max" in meta and len(value) > meta["max"]:
            yield _problem(
                value, path, f"Member must have length less than or equal to {meta['max']}"
            )
        pattern = _pattern(meta.get("pattern"))
        if pattern is not None and not pattern.fullmatch(value):
            rule = f"Member must satisfy regular expression pattern: {meta['pattern']}"
            yield _problem(value, path, rule)
        if shape.enum and value not in shape.enum:
            yield _problem(
                value, path, f"Member must satisfy enum value set: [{', '.join(shape.enum)}]"
            )
    elif shape.type_name in ("integer", "long") and isinstance(value, int):
        if "max" in meta and value > meta["max"]:
            yield _problem(
                value, path, f"Member must have value less than or equal to {meta['max']}"
            )


@functools.cache
def _pattern(text: str | None) -> re.Pattern[str] | None:
    """The model's pattern as a Python regex; Java-only syntax (``\\p{L}``) is skipped."""
    if text is None:
        return None
    try:
        return re.compile(text)
    except re.error:
        logger.debug("pattern not checked (not Python syntax): %s", text)
        return None


def _problem(value: Any, path: str, rule: str) -> str:
    """``Value 'x' at 'path' failed to satisfy constraint: rule`` (long values left out)."""
    shown = "" if value is None or len(str(value)) > _SHOWN_VALUE else f" '{value}'"
    return f"Value{shown} at '{path}' failed to satisfy constraint: {rule}"


# --- PutLogEvents -----------------------------------------------------------------------------


def event_size(event: dict[str, Any]) -> int:
    """An event's size as PutLogEvents counts it: message bytes in UTF-8 plus 26."""
    return len(str(event.get("message", "")).encode("utf-8")) + EVENT_OVERHEAD


def _put_log_events(params: dict[str, Any]) -> str | None:
    events = params.get("logEvents")
    if not isinstance(events, list) or not events:
        return None
    sizes = [event_size(e) if isinstance(e, dict) else 0 for e in events]
    too_large = next((size for size in sizes if size > MAX_EVENT_BYTES), None)
    if too_large is not None:
        return f"Log event too large: {too_large} bytes exceeds limit of {MAX_EVENT_BYTES}"
    if sum(sizes) > MAX_BATCH_BYTES:
        return f"Upload too large: {sum(sizes)} bytes exceeds limit of {MAX_BATCH_BYTES}"
    stamps = [e["timestamp"] for e in events if isinstance(e, dict) and "timestamp" in e]
    if stamps and max(stamps) - min(stamps) > MAX_BATCH_SPAN_MS:
        return f"The batch of log events in a single PutLogEvents request {SPAN_RULE}."
    return None


def _put_retention_policy(params: dict[str, Any]) -> str | None:
    """Retention is one of a fixed set of days; the API model does not list them."""
    from opslib.config import LOG_RETENTION_DAYS  # here: the server needs no config to start

    days = params.get("retentionInDays")
    if days in LOG_RETENTION_DAYS:
        return None
    allowed = ", ".join(map(str, LOG_RETENTION_DAYS))
    rule = f"Member must satisfy enum value set: [{allowed}]"
    return f"1 validation error detected: {_problem(days, 'retentionInDays', rule)}"


_RULES: dict[tuple[str, str], Callable[[dict[str, Any]], str | None]] = {
    ("logs", "PutLogEvents"): _put_log_events,
    ("logs", "PutRetentionPolicy"): _put_retention_policy,
}


def log_batches(events: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Events (sorted by timestamp) as PutLogEvents batches that keep every rule above.

    A message too large for one event is cut to fit (the agents on AWS cut long lines
    too); a batch ends before it would pass the size, the count or the 24-hour span.
    """
    batches: list[list[dict[str, Any]]] = []
    batch: list[dict[str, Any]] = []
    size = 0
    for event in (_fitted(e) for e in events):
        grown = size + event_size(event)
        if batch and (
            grown > MAX_BATCH_BYTES
            or len(batch) >= MAX_BATCH_EVENTS
            or event["timestamp"] - batch[0]["timestamp"] > MAX_BATCH_SPAN_MS
        ):
            batches.append(batch)
            batch, grown = [], event_size(event)
        batch.append(event)
        size = grown
    return [*batches, batch] if batch else batches


def _fitted(event: dict[str, Any]) -> dict[str, Any]:
    """The event, its message cut (at a UTF-8 boundary) when it passes MAX_EVENT_BYTES."""
    if event_size(event) <= MAX_EVENT_BYTES:
        return event
    data = str(event["message"]).encode("utf-8")[: MAX_EVENT_BYTES - EVENT_OVERHEAD]
    return {**event, "message": data.decode("utf-8", "ignore")}
