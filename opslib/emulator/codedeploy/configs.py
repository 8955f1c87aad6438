"""CodeDeploy deployment configs and the in-place scheduling math they imply — pure.

A config's *minimum healthy hosts* decides two things (AWS "CodeDeploy instance health"):
how many instances may be taken offline at once, and whether the deployment succeeded.
The rules mirrored here:

- FLEET_PERCENT becomes a count at the start, rounded up; when that count reaches the
  number of instances the deployment fails at once (HEALTH_CONSTRAINTS_INVALID).
- A new instance is started only while ``total - failed - in_flight - 1 >= min_healthy``:
  a deployment never takes the fleet below its minimum. Once nothing can start and
  nothing runs, the instances left are Skipped and the deployment fails.
- The deployment succeeds when every instance was attempted and at least
  ``max(min_healthy, 1)`` succeeded ("at least one instance must succeed, even with 0").
- CodeDeployDefault.OneAtATime reports MOST_CONCURRENCY 1: one instance at a time, and a
  failure fails the deployment unless it is the last instance — the same as
  ``min_healthy = total - 1``.

Every instance counts as healthy at the start (AWS counts never-deployed instances as
unhealthy, which only matters for fleets that start below their minimum).
"""

from __future__ import annotations

import math
import uuid
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

BUILTIN_CREATE_TIME = 1415836800.0  # 2014-11-13, when CodeDeploy launched with these three
DEFAULT_CONFIG = "CodeDeployDefault.OneAtATime"


class HealthyHostsType(StrEnum):
    """How ``minimumHealthyHosts.value`` is read."""

    HOST_COUNT = "HOST_COUNT"  # an absolute number of instances
    FLEET_PERCENT = "FLEET_PERCENT"  # a percentage of the deployment's instances, rounded up
    MOST_CONCURRENCY = "MOST_CONCURRENCY"  # only OneAtATime reports it: value 1 = one at a time


@dataclass(frozen=True)
class DeploymentConfig:
    """One Server (EC2/on-premises) deployment config, as GetDeploymentConfig shows it."""

    name: str
    kind: HealthyHostsType
    value: int
    config_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    create_time: float = BUILTIN_CREATE_TIME

    def to_wire(self) -> dict[str, Any]:
        return {
            "deploymentConfigId": self.config_id,
            "deploymentConfigName": self.name,
            "minimumHealthyHosts": {"type": str(self.kind), "value": self.value},
            "createTime": self.create_time,
            "computePlatform": "Server",
        }

    @classmethod
    def from_wire(cls, doc: dict[str, Any]) -> DeploymentConfig:
        healthy = doc["minimumHealthyHosts"]
        return cls(
            name=doc["deploymentConfigName"],
            kind=HealthyHostsType(healthy["type"]),
            value=int(healthy["value"]),
            config_id=doc["deploymentConfigId"],
            create_time=float(doc["createTime"]),
        )


BUILTINS = {
    config.name: config
    for config in (
        DeploymentConfig(
            "CodeDeployDefault.OneAtATime",
            HealthyHostsType.MOST_CONCURRENCY,
            1,
            "f1a7e8c2-0001-4c6e-9d1e-00000000a001",
        ),
        DeploymentConfig(
            "CodeDeployDefault.HalfAtATime",
            HealthyHostsType.FLEET_PERCENT,
            50,
            "f1a7e8c2-0002-4c6e-9d1e-00000000a002",
        ),
        DeploymentConfig(
            "CodeDeployDefault.AllAtOnce",
            HealthyHostsType.HOST_COUNT,
            0,
            "f1a7e8c2-0003-4c6e-9d1e-00000000a003",
        ),
    )
}


def validate_minimum_healthy_hosts(spec: dict[str, Any] | None) -> tuple[HealthyHostsType, int]:
    """(type, value) of a CreateDeploymentConfig request; ValueError names what is wrong."""
    if not spec:
        raise ValueError("minimumHealthyHosts is required for the Server compute platform")
    kind = spec.get("type")
    if kind not in (HealthyHostsType.HOST_COUNT, HealthyHostsType.FLEET_PERCENT):
        raise ValueError(f"minimumHealthyHosts.type must be HOST_COUNT or FLEET_PERCENT: {kind!r}")
    value = spec.get("value")
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"minimumHealthyHosts.value must be an integer >= 0: {value!r}")
    if kind == HealthyHostsType.FLEET_PERCENT and value > 100:
        raise ValueError(f"a FLEET_PERCENT value is at most 100: {value}")
    return HealthyHostsType(kind), value


@dataclass(frozen=True)
class HealthPlan:
    """A config applied to a fleet of ``total`` instances."""

    total: int
    min_healthy: int

    @property
    def infeasible(self) -> bool:
        """True when the minimum is the whole fleet (or more): AWS fails at once."""
        return self.total > 0 and self.min_healthy >= self.total

    @property
    def max_parallel(self) -> int:
        """How many instances may be deployed to at once with no failure so far."""
        return max(self.total - self.min_healthy, 0)

    @property
    def required_successes(self) -> int:
        """Successes needed: the minimum, and never fewer than one."""
        return max(self.min_healthy, 1)

    def may_start(self, in_flight: int, failed: int) -> bool:
        """True if taking one more instance offline keeps the fleet at its minimum."""
        return self.total - failed - in_flight - 1 >= self.min_healthy


def health_plan(config: DeploymentConfig, total: int) -> HealthPlan:
    """The minimum healthy hosts of ``config`` as a count for ``total`` instances."""
    if config.kind is HealthyHostsType.MOST_CONCURRENCY:
        return HealthPlan(total, max(total - config.value, 0))
    if config.kind is HealthyHostsType.FLEET_PERCENT:
        return HealthPlan(total, math.ceil(total * config.value / 100))
    return HealthPlan(total, config.value)


class Fleet:
    """Which instance to deploy next, fed with outcomes; the deployment's scheduler.

    ``startable()`` hands out the instances that may start now (possibly none while
    others run); ``finished()`` records an outcome. When nothing may start and nothing
    runs, or success is out of reach, the pending instances are skipped.
    """

    def __init__(self, plan: HealthPlan, instance_ids: Iterable[str]) -> None:
        self.plan = plan
        self.pending: deque[str] = deque(instance_ids)
        self.in_flight: set[str] = set()
        self.succeeded: list[str] = []
        self.failed: list[str] = []
        self.skipped: list[str] = []

    @property
    def done(self) -> bool:
        return not self.pending and not self.in_flight

    def startable(self) -> list[str]:
        """Instances to start now; skips the rest once the deployment cannot go on."""
        started = []
        while self.pending and self._may_start():
            instance_id = self.pending.popleft()
            self.in_flight.add(instance_id)
            started.append(instance_id)
        if self.pending and not self.in_flight and not started:
            self.skip_pending()
        return started

    def _may_start(self) -> bool:
        reachable = len(self.succeeded) + len(self.in_flight) + len(self.pending)
        if reachable < self.plan.required_successes:
            return False  # success is out of reach: schedule nothing more
        return self.plan.may_start(len(self.in_flight), len(self.failed))

    def finished(self, instance_id: str, ok: bool) -> None:
        self.in_flight.discard(instance_id)
        (self.succeeded if ok else self.failed).append(instance_id)

    def skip_pending(self) -> list[str]:
        """Skip every instance not started yet (also what a stop does); returns them."""
        skipped = list(self.pending)
        self.skipped.extend(skipped)
        self.pending.clear()
        return skipped

    @property
    def succeeded_overall(self) -> bool:
        """AWS's verdict once done: all attempted and enough succeeded."""
        return (
            self.done and not self.skipped and len(self.succeeded) >= self.plan.required_successes
        )
