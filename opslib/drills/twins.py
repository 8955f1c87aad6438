"""A twin of the stack: the same config under a drill name, built, released and torn down.

stack-rebuild and region-failure stand up a second copy of the stack from the very config
the production stack is built from, as "infrastructure as code for rapid rebuild" means.
Two things differ, and only so the twin can never touch production:

- its name, ``<stack>-drill`` (or ``-dr`` in the DR region), which names and tags every
  resource (IAM roles are global: the same name would be the same role);
- its fleet tag value (``Production-Fleet-drill``): the deployment groups find their
  instances by that tag, so neither stack deploys to the other's fleet;
- its region, ``drills.dr_region``: a stack owns one resource per region whose name no
  stack can choose — the CloudWatch agent's config parameter ``AmazonCloudWatch-linux``,
  the name the agent's ``fetch-config`` reads — so two stacks never share a region.

:func:`require_twin` guards every teardown: it refuses any name that is the production
stack's, or is not a twin name of it, so ``destroy`` can never be pointed at production.
"""

from __future__ import annotations

import dataclasses
import logging

from opslib import stack
from opslib.config import StackConfig
from opslib.exceptions import DrillRefused
from opslib.ops import pipeline
from opslib.ops.release import follow_release, start_release
from opslib.stack.api import Api
from opslib.stack.engine import RunResult, tagged_leftovers
from opslib.stack.model import Action
from opslib.target import Session

logger = logging.getLogger(__name__)

NAME_MAX = 32  # config's stack names: 3-32 characters
REBUILD_SUFFIX = "-drill"
DR_SUFFIX = "-dr"
SUFFIXES = (REBUILD_SUFFIX, DR_SUFFIX)
RELEASE_TIMEOUT = 1800.0


def twin_name(production: str, suffix: str) -> str:
    """``<stack><suffix>``, the stack part cut so the name stays within 32 characters."""
    if suffix not in SUFFIXES:
        raise DrillRefused(f"twin suffix {suffix!r}: expected one of {', '.join(SUFFIXES)}")
    return production[: NAME_MAX - len(suffix)].rstrip("-") + suffix


def twin_config(production: StackConfig, suffix: str, region: str = "") -> StackConfig:
    """The production config under the twin's name (and region), its fleet tag its own."""
    fleet = dataclasses.replace(production.fleet, tag_value=f"{production.fleet.tag_value}{suffix}")
    return dataclasses.replace(
        production,
        stack=twin_name(production.stack, suffix),
        region=region or production.region,
        fleet=fleet,
    )


def require_twin(production: StackConfig, twin: StackConfig) -> None:
    """Refuse unless ``twin`` is a twin of ``production`` and not production itself (pure)."""
    names = {twin_name(production.stack, s) for s in SUFFIXES}
    if twin.stack == production.stack or twin.stack not in names:
        raise DrillRefused(
            f"stack {twin.stack}: a drill tears down only a twin of {production.stack} "
            f"({' or '.join(sorted(names))}), never the production stack"
        )
    if twin.fleet.tag_value == production.fleet.tag_value and twin.region == production.region:
        raise DrillRefused(
            f"stack {twin.stack} shares the fleet tag {production.fleet.tag_value} with "
            f"{production.stack}: its deployments would reach production's instances"
        )


def session_in(session: Session, region: str) -> Session:
    """The same target in another region (the DR region's clients)."""
    if region == session.target.region:
        return session
    return Session(dataclasses.replace(session.target, region=region))


def existing(session: Session, twin: StackConfig) -> list[str]:
    """ARNs already tagged with the twin's name (a crashed drill's leftovers, or a stack of
    that name that is not ours to build over)."""
    return tagged_leftovers(Api(session), twin.stack)


def require_free(session: Session, twin: StackConfig) -> None:
    """Refuse (reading only) when the twin's name is taken or a resource it would create
    belongs to another stack in its region (``opslib plan`` would say conflict)."""
    taken = existing(session, twin)
    if taken:
        raise DrillRefused(
            f"stack {twin.stack} already exists in {twin.region} ({len(taken)} resource(s), "
            f"e.g. {taken[0]}): kept by an earlier drill or a crash's leftover; remove it "
            f"with 'opslib down' on a config whose stack is {twin.stack} and region "
            f"{twin.region}"
        )
    conflicts = [c for c in stack.plan(session, twin).changes if c.action is Action.CONFLICT]
    if conflicts:
        names = ", ".join(f"{c.kind} {c.name}" for c in conflicts)
        raise DrillRefused(
            f"stack {twin.stack} cannot be built in {twin.region}: {names} belong(s) to "
            "another stack there"
        )


def build(session: Session, production: StackConfig, twin: StackConfig) -> RunResult:
    """``opslib up`` of the twin (every resource created from nothing)."""
    require_twin(production, twin)
    return stack.apply(session, twin)


def release(session: Session, twin: StackConfig, commit: str) -> pipeline.ExecutionReport:
    """The release runbook's steps on the twin: its pipeline runs ``commit`` to its fleet."""
    started = start_release(session, twin, commit)
    report = follow_release(session, started, timeout=RELEASE_TIMEOUT)
    pipeline.require_commit(report, commit)
    return report


def tear_down(session: Session, production: StackConfig, twin: StackConfig) -> RunResult:
    """``opslib down`` of the twin, after :func:`require_twin` said it is one."""
    require_twin(production, twin)
    logger.info("tearing down the drill twin %s in %s", twin.stack, twin.region)
    return stack.destroy(session, twin)
