"""What one invocation calls, with what payload, and what a failure leaves behind (pure).

- **Universal targets** ``arn:aws:scheduler:::aws-sdk:<service>:<apiAction>``: the API
  action of that service (camelCase, ``startBuild`` is StartBuild) with ``Input``, "a
  well-formed JSON ... with the request parameters" (managing-targets-universal.html).
- **Templated targets** the emulator serves: a CodeBuild project ARN is StartBuild of that
  project, ``Input`` (a JSON object) adding StartBuild's parameters as an EventBridge
  CodeBuild target does (``environmentVariablesOverride``, ...); an SNS topic is Publish
  with ``Input`` as the message; an SQS queue is SendMessage with ``Input`` as the body
  (``SqsParameters.MessageGroupId`` for a FIFO queue). With no ``Input`` AWS delivers "a
  default notification", whose shape it does not document: the emulator sends ``{}``.
- **Context attributes** in ``Input`` are replaced before each attempt
  (managing-schedule-context-attributes.html): ``<aws.scheduler.schedule-arn>``,
  ``<aws.scheduler.scheduled-time>`` (``2022-03-22T18:59:43Z``),
  ``<aws.scheduler.execution-id>`` and ``<aws.scheduler.attempt-number>``.
- **Retries**: "Retry attempts with exponential backoff continue until either the maximum
  number of attempts is made or until the duration of the MaximumEventAgeInSeconds is
  reached" (API_RetryPolicy); moto fills in AWS's default, 185 attempts / 86,400 s. The
  backoff's first step is not documented: the emulator waits 1 s, then 2, 4, ... (capped
  at 5 minutes).
- **Dead-letter event** (configuring-schedule-dlq.html): the payload sent to the SQS queue
  with the message attributes ERROR_CODE, ERROR_MESSAGE, EXECUTION_ID,
  EXHAUSTED_RETRY_CONDITION (MaximumRetryAttempts or MaximumEventAgeInSeconds),
  IS_PAYLOAD_TRUNCATED, RETRY_ATTEMPTS, SCHEDULED_TIME, SCHEDULE_ARN and TARGET_ARN.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from opslib.emulator.scheduler.validate import UNIVERSAL_RE

DEFAULT_INPUT = "{}"
FIRST_BACKOFF = 1.0
MAX_BACKOFF = 300.0
_CODEBUILD_RE = re.compile(r"arn:aws[a-z-]*:codebuild:([a-z0-9-]+):(\d{12}):project/(.+)")
_SNS_RE = re.compile(r"arn:aws[a-z-]*:sns:([a-z0-9-]+):(\d{12}):(.+)")
_SQS_RE = re.compile(r"arn:aws[a-z-]*:sqs:([a-z0-9-]+):(\d{12}):(.+)")


class TargetError(Exception):
    """An invocation that failed: the error code and message a dead-letter event carries."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Exhausted(Enum):
    """Which limit of the retry policy ended the retries."""

    ATTEMPTS = "MaximumRetryAttempts"  # the retries were all made
    AGE = "MaximumEventAgeInSeconds"  # the event grew too old for another one


@dataclass(frozen=True)
class Call:
    """One API call: service (boto3's name), operation, region and parameters."""

    service: str
    operation: str  # StartBuild
    region: str
    params: dict[str, Any]  # the parameters by the API's own member names
    queue_name: str = ""  # SendMessage: the queue, whose URL the caller looks up


@dataclass(frozen=True)
class Context:
    """The context of one attempt, as the attributes in Input name it."""

    schedule_arn: str
    scheduled: float
    execution_id: str
    attempt: int  # 1 for the first attempt


def scheduled_time(scheduled: float) -> str:
    """``2022-03-22T18:59:43Z``: the format of ``<aws.scheduler.scheduled-time>``."""
    return datetime.fromtimestamp(int(scheduled), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def with_context(text: str, context: Context) -> str:
    """``Input`` with its context attributes replaced."""
    values = {
        "<aws.scheduler.schedule-arn>": context.schedule_arn,
        "<aws.scheduler.scheduled-time>": scheduled_time(context.scheduled),
        "<aws.scheduler.execution-id>": context.execution_id,
        "<aws.scheduler.attempt-number>": str(context.attempt),
    }
    for name, value in values.items():
        text = text.replace(name, value)
    return text


def resolve(target: dict[str, Any], payload: str, region: str) -> Call:
    """The API call a target makes with this payload; TargetError if it can make none."""
    arn = str(target.get("Arn", ""))
    if match := UNIVERSAL_RE.fullmatch(arn):
        return Call(match.group(1), _operation(match.group(2)), region, _object(payload, arn))
    if match := _CODEBUILD_RE.fullmatch(arn):
        params = {**_object(payload, arn), "projectName": match.group(3)}
        return Call("codebuild", "StartBuild", match.group(1), params)
    if match := _SNS_RE.fullmatch(arn):
        return Call("sns", "Publish", match.group(1), {"TopicArn": arn, "Message": payload})
    if match := _SQS_RE.fullmatch(arn):
        message: dict[str, Any] = {"MessageBody": payload}
        group = (target.get("SqsParameters") or {}).get("MessageGroupId")
        if group:
            message["MessageGroupId"] = group
        return Call("sqs", "SendMessage", match.group(1), message, queue_name=match.group(3))
    raise TargetError("ValidationException", f"the emulator cannot invoke target {arn}")


def _operation(action: str) -> str:
    """``startBuild`` -> ``StartBuild`` (the SDK's action names are camelCase)."""
    return action[:1].upper() + action[1:]


def _object(payload: str, arn: str) -> dict[str, Any]:
    try:
        value = json.loads(payload)
    except ValueError as exc:
        raise TargetError("ValidationException", f"Input for {arn} is not JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise TargetError("ValidationException", f"Input for {arn} is not a JSON object")
    return value


def backoff(retry: int) -> float:
    """Seconds to wait before the ``retry``-th retry (1-based): exponential, capped."""
    return float(min(FIRST_BACKOFF * 2 ** (retry - 1), MAX_BACKOFF))


def exhausted(policy: dict[str, Any], retries: int, age: float) -> Exhausted | None:
    """Whether the retry policy allows another retry after ``retries``, ``age`` s in."""
    if retries >= int(policy.get("MaximumRetryAttempts", 185)):
        return Exhausted.ATTEMPTS
    if age + backoff(retries + 1) > int(policy.get("MaximumEventAgeInSeconds", 86400)):
        return Exhausted.AGE
    return None


@dataclass(frozen=True)
class DeadLetter:
    """What the dead-letter queue receives for an invocation that failed for good."""

    body: str
    attributes: dict[str, dict[str, str]]  # SQS MessageAttributes


def dead_letter(
    context: Context,
    target_arn: str,
    payload: str,
    error: TargetError,
    retries: int,
    why: Exhausted,
) -> DeadLetter:
    values = {
        "ERROR_CODE": error.code,
        "ERROR_MESSAGE": error.message or error.code,
        "EXECUTION_ID": context.execution_id,
        "EXHAUSTED_RETRY_CONDITION": why.value,
        "IS_PAYLOAD_TRUNCATED": "false",
        "RETRY_ATTEMPTS": str(retries),
        "SCHEDULED_TIME": scheduled_time(context.scheduled),
        "SCHEDULE_ARN": context.schedule_arn,
        "TARGET_ARN": target_arn,
    }
    attributes = {k: {"DataType": "String", "StringValue": v} for k, v in values.items()}
    return DeadLetter(payload, attributes)
