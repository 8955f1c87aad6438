"""Plan, apply, destroy and survey a stack: the loop over the registry.

``plan`` only reads. ``apply`` decides each resource's change just before applying it
(facts such as the security group id become known on the way), so a second ``up`` reads
everything, finds nothing to change and issues no mutating call, and an ``up`` after a
partial failure picks up exactly what is missing. ``destroy`` walks the registry
backwards and deletes only what carries the stack's tag.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from opslib.config import StackConfig
from opslib.exceptions import ExecutionError, OpslibError
from opslib.stack.api import Api, CallLog
from opslib.stack.context import Context
from opslib.stack.model import Action, Change, Plan, Resource, State, decide
from opslib.stack.registry import resources
from opslib.stack.tags import STACK_TAG
from opslib.target import Session

logger = logging.getLogger(__name__)


class StepStatus(StrEnum):
    """Where one resource's step is, for progress displays."""

    STARTED = "started"  # about to change it
    DONE = "done"  # changed (or nothing to change)
    FAILED = "failed"  # the change failed; the run stops here
    SKIPPED = "skipped"  # exists but belongs to no-one/another stack (down leaves it)


Progress = Callable[[Change, StepStatus], None]


def _quiet(change: Change, status: StepStatus) -> None:
    """The default progress callback: log only."""
    logger.info("%s: %s", change.summary(), status.value)


@dataclass
class Surveyed:
    """One resource as found: its planned change and its current state."""

    resource: Resource
    change: Change
    current: State | None


@dataclass
class RunResult:
    """What an apply or destroy did: the changes, the calls, how long."""

    changes: list[Change]
    calls: CallLog
    seconds: float
    context: Context
    leftovers: list[str] = field(default_factory=list)

    @property
    def mutating_calls(self) -> int:
        return len(self.calls.mutating)

    def counts(self) -> dict[str, int]:
        return Plan(self.changes).counts()


def discover(api: Api, config: StackConfig) -> Context:
    """The context of a run: the account (STS, on both targets) and its partition."""
    identity = api.call("sts", "get_caller_identity")
    partition = str(identity["Arn"]).split(":")[1]
    return Context(config, str(identity["Account"]), partition)


def _survey_one(resource: Resource, api: Api, ctx: Context) -> Surveyed | None:
    """The resource's planned change; None for an unwanted one that is absent (or not ours)."""
    current = resource.read(api, ctx)
    if not resource.wanted(ctx):
        if current is None or not resource.owned(current, ctx):
            return None
        return Surveyed(resource, Change(resource.kind, resource.name, Action.DELETE), current)
    change = decide(resource.kind, resource.name, ctx.stack, resource.desired(ctx), current)
    if current is not None:
        ctx.facts.update(resource.facts(current))
    return Surveyed(resource, change, current)


def survey(session: Session, config: StackConfig, api: Api | None = None) -> list[Surveyed]:
    """Read every resource and decide its change, without changing anything."""
    api = api or Api(session)
    ctx = discover(api, config)
    return [s for r in resources(ctx.names) if (s := _survey_one(r, api, ctx)) is not None]


def plan(session: Session, config: StackConfig, api: Api | None = None) -> Plan:
    """What ``up`` would do, per resource, with the fields that differ (reads only)."""
    return Plan([s.change for s in survey(session, config, api)])


def _apply_one(resource: Resource, api: Api, ctx: Context, progress: Progress) -> Change | None:
    found = _survey_one(resource, api, ctx)
    if found is None:
        return None
    change = found.change
    if change.action is Action.DELETE:  # no longer wanted: the config dropped it
        _delete(resource, api, ctx, change, found.current or {}, progress)
        return change
    if change.action is Action.NOOP:
        progress(change, StepStatus.DONE)
        return change
    if change.action is Action.CONFLICT:
        progress(change, StepStatus.FAILED)
        raise ExecutionError(
            f"{change.kind} {change.name} exists but belongs to another stack; "
            "rename this stack or remove that resource"
        )
    progress(change, StepStatus.STARTED)
    desired = resource.desired(ctx)
    try:
        if change.action is Action.CREATE:
            resource.create(api, ctx, desired)
        else:
            resource.update(api, ctx, desired, change.paths)
    except OpslibError as exc:
        progress(change, StepStatus.FAILED)
        raise ExecutionError(
            f"{change.summary()} failed: {exc} — fix the cause and run 'opslib up' again: "
            "it resumes with what is missing"
        ) from exc
    current = resource.read(api, ctx)
    if current is not None:
        ctx.facts.update(resource.facts(current))
    progress(change, StepStatus.DONE)
    return change


def apply(
    session: Session, config: StackConfig, progress: Progress = _quiet, api: Api | None = None
) -> RunResult:
    """Bring every resource to its desired state, in dependency order (``opslib up``)."""
    api = api or Api(session)
    started = time.monotonic()
    ctx = discover(api, config)
    changes = [
        c for r in resources(ctx.names) if (c := _apply_one(r, api, ctx, progress)) is not None
    ]
    return RunResult(changes, api.log, time.monotonic() - started, ctx)


def _destroy_one(resource: Resource, api: Api, ctx: Context, progress: Progress) -> Change | None:
    current = resource.read(api, ctx)
    if current is None:
        return None
    if not resource.owned(current, ctx):
        change = Change(resource.kind, resource.name, Action.CONFLICT)
        progress(change, StepStatus.SKIPPED)
        return change
    ctx.facts.update(resource.facts(current))
    change = Change(resource.kind, resource.name, Action.DELETE)
    _delete(resource, api, ctx, change, current, progress)
    return change


def _delete(
    resource: Resource, api: Api, ctx: Context, change: Change, current: State, progress: Progress
) -> None:
    progress(change, StepStatus.STARTED)
    try:
        resource.delete(api, ctx, current)
    except OpslibError as exc:
        progress(change, StepStatus.FAILED)
        raise ExecutionError(f"{change.summary()} failed: {exc}; run 'opslib down' again") from exc
    progress(change, StepStatus.DONE)


def destroy(
    session: Session, config: StackConfig, progress: Progress = _quiet, api: Api | None = None
) -> RunResult:
    """Delete what carries the stack's tag, in reverse dependency order (``opslib down``)."""
    api = api or Api(session)
    started = time.monotonic()
    ctx = discover(api, config)
    changes = [
        c for r in reversed(resources(ctx.names)) if (c := _destroy_one(r, api, ctx, progress))
    ]
    leftovers = tagged_leftovers(api, ctx.stack)
    return RunResult(changes, api.log, time.monotonic() - started, ctx, leftovers)


def tagged_leftovers(api: Api, stack: str) -> list[str]:
    """ARNs still tagged with the stack (the Resource Groups Tagging API), live ones only."""
    filters = [{"Key": STACK_TAG, "Values": [stack]}]
    found = api.pages(
        "resourcegroupstaggingapi", "get_resources", "ResourceTagMappingList", TagFilters=filters
    )
    arns = [str(r["ResourceARN"]) for r in found]
    instances = [a.rsplit("/", 1)[1] for a in arns if ":instance/" in a]
    gone = _terminated(api, instances)
    return [a for a in arns if not (":instance/" in a and a.rsplit("/", 1)[1] in gone)]


def _terminated(api: Api, ids: list[str]) -> set[str]:
    """Instances that are terminated (AWS still lists and tags them for a while)."""
    if not ids:
        return set()
    filters = [{"Name": "instance-state-name", "Values": ["terminated", "shutting-down"]}]
    reservations = api.pages(
        "ec2", "describe_instances", "Reservations", InstanceIds=ids, Filters=filters
    )
    return {i["InstanceId"] for r in reservations for i in r["Instances"]}
