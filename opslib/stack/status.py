"""``opslib status``: what exists, what drifted, and the stack's outputs."""

from __future__ import annotations

from dataclasses import dataclass, field

from opslib.config import StackConfig
from opslib.stack.api import Api
from opslib.stack.context import Context
from opslib.stack.engine import Surveyed, discover, survey
from opslib.stack.model import Action
from opslib.stack.network import Fleet
from opslib.stack.source import console_url
from opslib.target import Session


@dataclass(frozen=True)
class ResourceStatus:
    """One resource: does it exist, and which fields differ from the config."""

    kind: str
    name: str
    exists: bool
    action: str
    drift: tuple[str, ...] = ()


@dataclass
class StackStatus:
    """Everything ``status`` shows."""

    stack: str
    target: str
    resources: list[ResourceStatus]
    outputs: dict[str, str]
    endpoints: dict[str, str] = field(default_factory=dict)
    console: dict[str, str] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return all(r.exists for r in self.resources)

    @property
    def drifted(self) -> list[ResourceStatus]:
        return [r for r in self.resources if r.exists and r.drift]


def _resource_status(found: Surveyed) -> ResourceStatus:
    change = found.change
    drift = tuple(change.paths) if change.action is Action.UPDATE else ()
    return ResourceStatus(
        change.kind, change.name, found.current is not None, change.action.value, drift
    )


def outputs(ctx: Context) -> dict[str, str]:
    """The names and ids a user needs next (bucket, pipeline, logs, connection)."""
    names = ctx.names
    return {
        "bucket": names.bucket,
        "pipeline": names.pipeline,
        "build project": names.project,
        "deployment group": f"{names.application}/{names.deployment_group}",
        "events log group": names.events_log_group,
        "app log group": names.app_log_group,
        "dashboard": names.dashboard,
        "topic": ctx.topic_arn,
        "connection": ctx.fact("connection_arn"),
        "connection status": ctx.fact("connection_status"),
    }


def console_links(ctx: Context) -> dict[str, str]:
    """AWS console pages of the stack (only meaningful on the aws target)."""
    region, names = ctx.region, ctx.names
    base = f"https://{region}.console.aws.amazon.com"
    query = f"?region={region}"
    return {
        "pipeline": f"{base}/codesuite/codepipeline/pipelines/{names.pipeline}/view{query}",
        "dashboard": f"{base}/cloudwatch/home{query}#dashboards/dashboard/{names.dashboard}",
        "connections": console_url(region),
    }


def status(session: Session, config: StackConfig, api: Api | None = None) -> StackStatus:
    """Survey the stack: existence and drift per resource, outputs, endpoints."""
    api = api or Api(session)
    found = survey(session, config, api)
    ctx = discover(api, config) if not found else None
    fleet = next((f for f in found if isinstance(f.resource, Fleet)), None)
    endpoints = dict(fleet.current["_endpoints"]) if fleet and fleet.current else {}
    context = ctx or _context_of(found, api, config)
    return StackStatus(
        config.stack,
        session.target.describe(),
        [_resource_status(f) for f in found],
        outputs(context),
        endpoints,
        {} if session.target.is_local else console_links(context),
    )


def _context_of(found: list[Surveyed], api: Api, config: StackConfig) -> Context:
    """A context carrying the facts the survey learned (connection ARN and status)."""
    ctx = discover(api, config)
    for item in found:
        if item.current is not None:
            ctx.facts.update(item.resource.facts(item.current))
    return ctx
