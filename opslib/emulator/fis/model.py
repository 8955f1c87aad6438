"""FIS's vocabulary, pure: statuses, the action catalog, durations and template checks.

The checks are the ones FIS makes at CreateExperimentTemplate/UpdateExperimentTemplate,
answered as ``ValidationException`` (400) naming the member: an unknown action id, an
action whose target is missing or of the wrong resource type, a ``startAfter`` naming no
action (or a circle of them), a target with both or neither of resourceArns and
resourceTags, a bad selectionMode, a stop condition without its alarm, a parameter the
action does not take or a duration out of range. Sources: the FIS actions reference
(https://docs.aws.amazon.com/fis/latest/userguide/fis-actions-reference.html) and the
API reference's shapes (botocore's ``fis`` model).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class ExperimentStatus(StrEnum):
    """An experiment's state (ExperimentState.status)."""

    PENDING = "pending"  # accepted, not yet started
    INITIATING = "initiating"  # resolving targets, checking stop conditions
    RUNNING = "running"  # actions run
    COMPLETED = "completed"  # every action ended
    STOPPING = "stopping"  # StopExperiment or a stop condition: actions are being stopped
    STOPPED = "stopped"  # stopped before its actions ended
    FAILED = "failed"  # an action or the target resolution failed (state.error says why)


class ActionStatus(StrEnum):
    """One action's state within an experiment (ExperimentActionState.status)."""

    PENDING = "pending"  # waiting for the experiment or for its startAfter actions
    INITIATING = "initiating"  # being started
    RUNNING = "running"  # under way (a wait, an injected fault, instances stopped)
    COMPLETED = "completed"  # done
    CANCELLED = "cancelled"  # never started: the experiment ended first
    SKIPPED = "skipped"  # its target resolved to nothing (emptyTargetResolutionMode=skip)
    STOPPING = "stopping"  # being stopped with the experiment
    STOPPED = "stopped"  # was running when the experiment stopped
    FAILED = "failed"  # it failed; the experiment fails with it


ENDED = frozenset({ExperimentStatus.COMPLETED, ExperimentStatus.STOPPED, ExperimentStatus.FAILED})
ACTION_ENDED = frozenset(
    {
        ActionStatus.COMPLETED,
        ActionStatus.CANCELLED,
        ActionStatus.SKIPPED,
        ActionStatus.STOPPED,
        ActionStatus.FAILED,
    }
)
INSTANCE = "aws:ec2:instance"
ROLE = "aws:iam:role"
ALARM_SOURCE = "aws:cloudwatch:alarm"
MINUTE, TWELVE_HOURS = 60.0, 12 * 3600.0
API_FAULT_SERVICES = ("ec2", "kinesis")  # what FIS's API fault injection supports


class FisValidationError(ValueError):
    """A template or request FIS refuses with ValidationException; the message says why."""


@dataclass(frozen=True)
class Parameter:
    """One parameter an action takes."""

    required: bool = False
    kind: str = "string"  # string | duration | boolean | percentage | operations | service


@dataclass(frozen=True)
class ActionType:
    """One FIS action the emulator carries out."""

    id: str
    description: str
    target_key: str = ""  # the key of its ``targets`` map ("Instances", "Roles"); "" none
    resource_type: str = ""
    parameters: Mapping[str, Parameter] = field(default_factory=dict)


_DURATION = Parameter(required=True, kind="duration")
_API_FAULT = {
    "duration": _DURATION,
    "service": Parameter(required=True, kind="service"),
    "operations": Parameter(required=True, kind="operations"),
    "percentage": Parameter(required=True, kind="percentage"),
}
ACTIONS: dict[str, ActionType] = {
    a.id: a
    for a in (
        ActionType(
            "aws:ec2:terminate-instances",
            "Terminate the specified EC2 instances.",
            "Instances",
            INSTANCE,
        ),
        ActionType(
            "aws:ec2:stop-instances",
            "Stop the specified EC2 instances.",
            "Instances",
            INSTANCE,
            {
                "startInstancesAfterDuration": Parameter(kind="duration"),
                "completeIfInstancesTerminated": Parameter(kind="boolean"),
            },
        ),
        ActionType(
            "aws:ec2:reboot-instances", "Reboot the specified EC2 instances.", "Instances", INSTANCE
        ),
        ActionType(
            "aws:fis:wait", "Wait for the specified duration.", parameters={"duration": _DURATION}
        ),
        ActionType(
            "aws:fis:inject-api-internal-error",
            "Cause an AWS service to return internal error responses for specific callers "
            "and operations.",
            "Roles",
            ROLE,
            _API_FAULT,
        ),
        ActionType(
            "aws:fis:inject-api-throttle-error",
            "Cause an AWS service to return throttled responses for specific callers and "
            "operations.",
            "Roles",
            ROLE,
            _API_FAULT,
        ),
        ActionType(
            "aws:fis:inject-api-unavailable-error",
            "Cause an AWS service to return unavailable error responses for specific callers "
            "and operations.",
            "Roles",
            ROLE,
            _API_FAULT,
        ),
    )
}
RESOURCE_TYPES = {INSTANCE: "Amazon EC2 instances", ROLE: "IAM roles"}

_DURATION_RE = re.compile(r"^PT(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?$")
_SELECTION_RE = re.compile(r"^(ALL|COUNT\((\d+)\)|PERCENT\((\d+)\))$")
_NAME_RE = re.compile(r"^[\S]{1,64}$")
_OPERATION_RE = re.compile(r"^[A-Za-z0-9]+$")


def duration_seconds(text: str, where: str = "duration") -> float:
    """Seconds in an ISO 8601 duration as FIS takes them (PT1M, PT90S, PT1H30M)."""
    match = _DURATION_RE.match(str(text).strip())
    if not match or not any(match.groups()):
        raise FisValidationError(f"{where}: {text!r} is not an ISO 8601 duration like PT5M")
    hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def selection(mode: str, where: str = "selectionMode") -> tuple[str, int]:
    """('ALL', 0), ('COUNT', n) or ('PERCENT', n) from a selectionMode."""
    match = _SELECTION_RE.match(mode)
    if not match:
        raise FisValidationError(f"{where}: {mode!r} is not one of ALL, COUNT(n), PERCENT(n)")
    if match.group(2) is not None:
        count = int(match.group(2))
        if count < 1:
            raise FisValidationError(f"{where}: COUNT(n) takes n >= 1, got {mode!r}")
        return "COUNT", count
    if match.group(3) is not None:
        percent = int(match.group(3))
        if not 1 <= percent <= 100:
            raise FisValidationError(f"{where}: PERCENT(n) takes n in 1..100, got {mode!r}")
        return "PERCENT", percent
    return "ALL", 0


def alarm_name(arn: str) -> str:
    """The alarm name in ``arn:aws:cloudwatch:region:account:alarm:NAME``."""
    parts = arn.split(":", 6)
    if len(parts) != 7 or parts[2] != "cloudwatch" or parts[5] != "alarm" or not parts[6]:
        raise FisValidationError(f"stopConditions.value: {arn!r} is not a CloudWatch alarm ARN")
    return parts[6]


# -- the template --------------------------------------------------------------------------
def check_template(doc: Mapping[str, Any]) -> None:
    """Raise FisValidationError for what FIS refuses in a template (targets, actions, stops)."""
    targets: Mapping[str, Any] = doc.get("targets") or {}
    actions: Mapping[str, Any] = doc.get("actions") or {}
    if not actions:
        raise FisValidationError("actions: an experiment template needs at least one action")
    for name, target in targets.items():
        _check_target(name, target)
    for name, action in actions.items():
        _check_action(name, action, targets, actions)
    _check_order(actions)
    _check_stop_conditions(doc.get("stopConditions") or [])
    options = doc.get("experimentOptions") or {}
    mode = options.get("emptyTargetResolutionMode", "fail")
    if mode not in ("fail", "skip"):
        raise FisValidationError(
            f"experimentOptions.emptyTargetResolutionMode: {mode!r} is not fail or skip"
        )


def _check_target(name: str, target: Mapping[str, Any]) -> None:
    where = f"targets.{name}"
    if not _NAME_RE.match(name):
        raise FisValidationError(f"{where}: a target name is 1 to 64 characters, no spaces")
    kind = target.get("resourceType", "")
    if kind not in RESOURCE_TYPES:
        known = ", ".join(RESOURCE_TYPES)
        raise FisValidationError(f"{where}.resourceType: {kind!r} is not one of {known}")
    arns, tags = target.get("resourceArns"), target.get("resourceTags")
    if bool(arns) == bool(tags):
        raise FisValidationError(f"{where}: give resourceArns or resourceTags, not both or neither")
    if arns and len(arns) > 5:
        raise FisValidationError(f"{where}.resourceArns: at most 5 ARNs, got {len(arns)}")
    if tags and len(tags) > 50:
        raise FisValidationError(f"{where}.resourceTags: at most 50 tags, got {len(tags)}")
    if kind == ROLE and not arns:
        raise FisValidationError(f"{where}: an {ROLE} target names its roles by resourceArns")
    for position, entry in enumerate(target.get("filters") or []):
        if not entry.get("path") or not entry.get("values"):
            raise FisValidationError(f"{where}.filters[{position}]: needs a path and values")
    selection(str(target.get("selectionMode", "")), f"{where}.selectionMode")


def _check_action(
    name: str, action: Mapping[str, Any], targets: Mapping[str, Any], actions: Mapping[str, Any]
) -> None:
    where = f"actions.{name}"
    if not _NAME_RE.match(name):
        raise FisValidationError(f"{where}: an action name is 1 to 64 characters, no spaces")
    kind = ACTIONS.get(str(action.get("actionId", "")))
    if kind is None:
        raise FisValidationError(
            f"{where}.actionId: {action.get('actionId')!r} is not a supported action id "
            f"(the emulator carries out {', '.join(ACTIONS)})"
        )
    _check_action_targets(where, kind, action.get("targets") or {}, targets)
    _check_parameters(where, kind, action.get("parameters") or {})
    for before in action.get("startAfter") or []:
        if before not in actions or before == name:
            raise FisValidationError(f"{where}.startAfter: {before!r} is not another action")


def _check_action_targets(
    where: str, kind: ActionType, given: Mapping[str, str], targets: Mapping[str, Any]
) -> None:
    expected = {kind.target_key} if kind.target_key else set()
    if set(given) != expected:
        wanted = f"a target under {kind.target_key!r}" if kind.target_key else "no targets"
        raise FisValidationError(f"{where}.targets: {kind.id} takes {wanted}")
    for target_name in given.values():
        target = targets.get(target_name)
        if target is None:
            raise FisValidationError(f"{where}.targets: no target named {target_name!r}")
        if target.get("resourceType") != kind.resource_type:
            raise FisValidationError(
                f"{where}.targets: {kind.id} acts on {kind.resource_type}, target "
                f"{target_name!r} is {target.get('resourceType')!r}"
            )


def _check_parameters(where: str, kind: ActionType, params: Mapping[str, Any]) -> None:
    for key in params:
        if key not in kind.parameters:
            raise FisValidationError(f"{where}.parameters: {kind.id} takes no parameter {key!r}")
    for key, spec in kind.parameters.items():
        if key not in params:
            if spec.required:
                raise FisValidationError(f"{where}.parameters.{key}: required by {kind.id}")
            continue
        _check_value(f"{where}.parameters.{key}", spec.kind, str(params[key]))
    if "completeIfInstancesTerminated" in params and "startInstancesAfterDuration" not in params:
        raise FisValidationError(
            f"{where}.parameters.completeIfInstancesTerminated: only with "
            "startInstancesAfterDuration"
        )


def _check_value(where: str, kind: str, value: str) -> None:
    if kind == "duration":
        seconds = duration_seconds(value, where)
        if not MINUTE <= seconds <= TWELVE_HOURS:
            raise FisValidationError(f"{where}: {value!r} is outside PT1M..PT12H")
    elif kind == "boolean" and value.lower() not in ("true", "false"):
        raise FisValidationError(f"{where}: {value!r} is not true or false")
    elif kind == "percentage" and (not value.isdigit() or not 1 <= int(value) <= 100):
        raise FisValidationError(f"{where}: {value!r} is not a whole number in 1..100")
    elif kind == "service" and value not in API_FAULT_SERVICES:
        services = ", ".join(API_FAULT_SERVICES)
        raise FisValidationError(f"{where}: {value!r} is not one of {services}")
    elif kind == "operations":
        names = [v.strip() for v in value.split(",")]
        if not all(_OPERATION_RE.match(n) for n in names):
            raise FisValidationError(f"{where}: {value!r} is not a comma list of API operations")


def _check_order(actions: Mapping[str, Any]) -> None:
    """No circle of startAfter: every action must be able to start."""
    done: set[str] = set()
    remaining = dict(actions)
    while remaining:
        ready = [n for n, a in remaining.items() if set(a.get("startAfter") or []) <= done]
        if not ready:
            raise FisValidationError(
                f"actions: startAfter forms a circle among {', '.join(sorted(remaining))}"
            )
        for name in ready:
            done.add(name)
            del remaining[name]


def _check_stop_conditions(conditions: list[Mapping[str, Any]]) -> None:
    if not conditions:
        raise FisValidationError("stopConditions: give at least one (source 'none' for none)")
    if len(conditions) > 5:
        raise FisValidationError(f"stopConditions: at most 5, got {len(conditions)}")
    for position, condition in enumerate(conditions):
        where = f"stopConditions[{position}]"
        source = condition.get("source")
        if source == "none":
            if condition.get("value"):
                raise FisValidationError(f"{where}.value: source 'none' takes no value")
            continue
        if source != ALARM_SOURCE:
            raise FisValidationError(f"{where}.source: {source!r} is not {ALARM_SOURCE} or none")
        alarm_name(str(condition.get("value") or ""))
