"""The runs a simulated window holds, with every outcome and time: pure and deterministic.

One :class:`random.Random` seeded by the spec draws the whole window, oldest run first,
so the same spec gives the same history whichever days are written first. Consistency
is decided here, once, and :mod:`.records` only spells it out in each service's words:

- a failed build fails its Build action and the execution, and no deployment is made;
- a failed deployment fails its Deploy action and the execution; under OneAtATime the
  first instance fails its ValidateService hook and the others are skipped (any other
  config: every instance fails), and when the group rolls back on failure and an
  earlier deployment succeeded, CodeDeploy's rollback redeploys that one's revision;
- each action starts after the one before ends, each run after the one before ends;
- the first deployment to a group skips ApplicationStop (no earlier revision to stop).
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from enum import StrEnum

from opslib.emulator.core.backfill import HistorySpec

DAY = 86400.0
BUILD_SHARE = 0.6  # of the failures: builds (tests) fail more often than deployments
TYPICAL_RUN = 420.0  # seconds a run takes before the pipeline's runs are packed tighter

# Seconds each CodeBuild phase takes: (low, high), drawn uniformly.
BUILD_PHASES: tuple[tuple[str, float, float], ...] = (
    ("SUBMITTED", 0.0, 0.0),
    ("QUEUED", 1.0, 4.0),
    ("PROVISIONING", 8.0, 20.0),
    ("DOWNLOAD_SOURCE", 1.0, 3.0),
    ("INSTALL", 15.0, 45.0),
    ("PRE_BUILD", 3.0, 10.0),
    ("BUILD", 20.0, 90.0),
    ("POST_BUILD", 1.0, 4.0),
    ("UPLOAD_ARTIFACTS", 1.0, 4.0),
    ("FINALIZING", 1.0, 3.0),
)
FAILING_PHASE = "BUILD"  # where a failing build fails: its tests
# Seconds each in-place lifecycle event takes on one instance.
LIFECYCLE: tuple[tuple[str, float, float], ...] = (
    ("ApplicationStop", 1.0, 3.0),
    ("DownloadBundle", 1.0, 2.0),
    ("BeforeInstall", 1.0, 5.0),
    ("Install", 1.0, 3.0),
    ("AfterInstall", 2.0, 8.0),
    ("ApplicationStart", 2.0, 6.0),
    ("ValidateService", 3.0, 15.0),
)
FAILING_EVENT = "ValidateService"


class Outcome(StrEnum):
    """How one simulated run ends."""

    SUCCEEDED = "Succeeded"  # every action succeeded
    BUILD_FAILED = "BuildFailed"  # the Build action's build failed
    DEPLOY_FAILED = "DeployFailed"  # the Deploy action's deployment failed


@dataclass(frozen=True)
class ActionShape:
    """One action of the pipeline, as its definition names it."""

    stage: str
    name: str
    category: str  # Source | Build | Approval | Deploy (others succeed as Source does)
    provider: str


@dataclass(frozen=True)
class Span:
    """Something that ran from ``start`` to ``end`` (epoch seconds) and ended ``status``."""

    name: str
    start: float
    end: float
    status: str


@dataclass(frozen=True)
class BuildPlan:
    build_id_suffix: str
    start: float
    end: float
    succeeded: bool
    phases: tuple[Span, ...]  # SUBMITTED .. FINALIZING; COMPLETED starts at ``end``


@dataclass(frozen=True)
class InstancePlan:
    instance_id: str
    status: str  # Succeeded | Failed | Skipped
    events: tuple[Span, ...]  # every in-place event, Skipped ones with start == end


@dataclass(frozen=True)
class DeploymentPlan:
    deployment_id: str
    revision_key: str  # the bundle's S3 key
    create: float
    end: float
    succeeded: bool
    instances: tuple[InstancePlan, ...]
    rollback_of: str | None = None  # the failed deployment this one rolls back
    rolled_back_by: str | None = None  # the rollback CodeDeploy made of this one
    good_id: str | None = None  # a rollback: whose revision it redeploys


@dataclass(frozen=True)
class RunPlan:
    """One pipeline execution and everything it caused."""

    index: int
    day: int
    execution_id: str
    commit: str
    commit_time: float
    message: str
    start: float
    end: float
    outcome: Outcome
    actions: tuple[tuple[ActionShape, Span, str], ...]  # (action, span, action execution id)
    build: BuildPlan | None = None
    deployment: DeploymentPlan | None = None
    rollback: DeploymentPlan | None = None


@dataclass(frozen=True)
class Fleet:
    """What the deployments go to: instance ids, the config, whether failures roll back."""

    instances: tuple[str, ...]
    one_at_a_time: bool = True
    rolls_back: bool = True


@dataclass
class _Drawer:
    """The window's one random stream and what carries from run to run."""

    rng: random.Random
    scale: float
    deployed_before: bool = False
    good: DeploymentPlan | None = None  # the last successful deployment
    runs: list[RunPlan] = field(default_factory=list)

    def uid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def hexid(self, length: int) -> str:
        return f"{self.rng.getrandbits(length * 4):0{length}x}"

    def seconds(self, low: float, high: float) -> float:
        return round(self.rng.uniform(low, high) * self.scale, 3)

    def deployment_id(self) -> str:
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
        return "d-" + "".join(self.rng.choice(alphabet) for _ in range(9))


def outcome_of(draw: float, failure_rate: float, can_build: bool, can_deploy: bool) -> Outcome:
    """A run's outcome from one uniform draw in [0, 1): failures split build/deploy."""
    if draw >= failure_rate or not (can_build or can_deploy):
        return Outcome.SUCCEEDED
    if not can_deploy or (can_build and draw < failure_rate * BUILD_SHARE):
        return Outcome.BUILD_FAILED
    return Outcome.DEPLOY_FAILED


def plan(spec: HistorySpec, actions: tuple[ActionShape, ...], fleet: Fleet) -> list[RunPlan]:
    """Every run of the window, oldest first (runs spread evenly, each a little late)."""
    total = spec.days * spec.runs_per_day
    slot = spec.days * DAY / total
    drawer = _Drawer(random.Random(spec.seed), scale=min(1.0, 0.45 * slot / TYPICAL_RUN))
    categories = {a.category for a in actions}
    not_before = spec.since
    for index in range(total):
        start = max(spec.since + index * slot + drawer.rng.uniform(0, 0.4 * slot), not_before)
        draw = drawer.rng.random()
        outcome = outcome_of(draw, spec.failure_rate, "Build" in categories, "Deploy" in categories)
        run = _run(drawer, index, int((start - spec.since) // DAY), start, outcome, actions, fleet)
        drawer.runs.append(run)
        not_before = run.end + 1.0
    return drawer.runs


def _run(
    drawer: _Drawer,
    index: int,
    day: int,
    start: float,
    outcome: Outcome,
    actions: tuple[ActionShape, ...],
    fleet: Fleet,
) -> RunPlan:
    commit = drawer.hexid(40)
    lead = drawer.rng.uniform(300, 3 * 3600)  # committed minutes to hours before the run
    spans: list[tuple[ActionShape, Span, str]] = []
    parts: dict[str, BuildPlan | DeploymentPlan | None] = {}
    at, ok = start + 1.0, True
    for action in actions:
        if not ok:
            break
        span, part = _action(drawer, action, at, outcome, commit, fleet)
        spans.append((action, span, drawer.uid()))
        parts[action.category] = part if part is not None else parts.get(action.category)
        ok = span.status == "Succeeded"
        at = span.end + 1.0
    deployment = parts.get("Deploy")
    assert deployment is None or isinstance(deployment, DeploymentPlan)
    rollback = _rollback(drawer, deployment, fleet) if deployment else None
    if deployment is not None and rollback is not None:
        deployment = _with_rollback(deployment, rollback.deployment_id)
    build = parts.get("Build")
    assert build is None or isinstance(build, BuildPlan)
    return RunPlan(
        index,
        day,
        drawer.uid(),
        commit,
        start - lead,
        f"Change {index + 1}: {commit[:7]}",
        start,
        spans[-1][1].end if spans else start,
        outcome,
        tuple(spans),
        build,
        deployment,
        rollback,
    )


def _action(
    drawer: _Drawer, action: ActionShape, at: float, outcome: Outcome, commit: str, fleet: Fleet
) -> tuple[Span, BuildPlan | DeploymentPlan | None]:
    if action.category == "Build":
        build = _build(drawer, at + 0.5, succeeded=outcome is not Outcome.BUILD_FAILED)
        return Span(action.name, at, build.end + 0.5, _status(build.succeeded)), build
    if action.category == "Deploy":
        deployment = _deployment(
            drawer, at + 0.5, commit, fleet, succeeded=outcome is not Outcome.DEPLOY_FAILED
        )
        return Span(action.name, at, deployment.end + 0.5, _status(deployment.succeeded)), (
            deployment
        )
    if action.category == "Approval":
        return Span(action.name, at, at + drawer.seconds(60, 1800), "Succeeded"), None
    return Span(action.name, at, at + drawer.seconds(2, 6), "Succeeded"), None


def _status(succeeded: bool) -> str:
    return "Succeeded" if succeeded else "Failed"


def _build(drawer: _Drawer, start: float, succeeded: bool) -> BuildPlan:
    phases, at = [], start
    for name, low, high in BUILD_PHASES:
        took = drawer.seconds(low, high)
        status = "FAILED" if name == FAILING_PHASE and not succeeded else "SUCCEEDED"
        phases.append(Span(name, at, at + took, status))
        at += took
    return BuildPlan(drawer.uid(), start, at, succeeded, tuple(phases))


def _deployment(
    drawer: _Drawer,
    create: float,
    commit: str,
    fleet: Fleet,
    succeeded: bool,
    key: str | None = None,
    rollback_of: str | None = None,
    good_id: str | None = None,
) -> DeploymentPlan:
    deployment_id = drawer.deployment_id()
    at, instances = create + 1.0, []
    failing = None if succeeded else (0 if fleet.one_at_a_time else -1)
    for position, instance in enumerate(fleet.instances):
        fails = failing == -1 or failing == position
        skipped = failing is not None and failing >= 0 and position > failing
        one = _instance(drawer, instance, at, fails, skipped, first=not drawer.deployed_before)
        instances.append(one)
        if fleet.one_at_a_time:
            at = one.events[-1].end + 0.5 if one.events else at
    end = max((i.events[-1].end for i in instances if i.status != "Skipped"), default=at) + 0.5
    drawer.deployed_before = True
    key = key or f"bundles/BuildArtif/{commit[:7]}"
    plan = DeploymentPlan(
        deployment_id,
        key,
        create,
        end,
        succeeded,
        tuple(instances),
        rollback_of,
        good_id=good_id,
    )
    if succeeded:
        drawer.good = plan
    return plan


def _instance(
    drawer: _Drawer, instance: str, at: float, fails: bool, skipped: bool, first: bool
) -> InstancePlan:
    if skipped:
        return InstancePlan(
            instance, "Skipped", tuple(Span(n, at, at, "Skipped") for n, *_ in LIFECYCLE)
        )
    events, failed = [], False
    for name, low, high in LIFECYCLE:
        if failed or (first and name == "ApplicationStop"):
            events.append(Span(name, at, at, "Skipped"))
            continue
        took = drawer.seconds(low, high)
        failed = fails and name == FAILING_EVENT
        events.append(Span(name, at, at + took, "Failed" if failed else "Succeeded"))
        at += took
    return InstancePlan(instance, "Failed" if fails else "Succeeded", tuple(events))


def _rollback(drawer: _Drawer, failed: DeploymentPlan, fleet: Fleet) -> DeploymentPlan | None:
    """CodeDeploy's automatic rollback of a failed deployment to the last good revision."""
    good = drawer.good
    if failed.succeeded or not fleet.rolls_back or good is None:
        return None
    return _deployment(
        drawer,
        failed.end,
        "",
        fleet,
        succeeded=True,
        key=good.revision_key,
        rollback_of=failed.deployment_id,
        good_id=good.deployment_id,
    )


def _with_rollback(deployment: DeploymentPlan, rollback_id: str) -> DeploymentPlan:
    from dataclasses import replace

    return replace(deployment, rolled_back_by=rollback_id)
