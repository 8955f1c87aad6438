"""CodeDeploy's in-place scheduling math: minimum healthy hosts -> parallelism and verdict."""

from __future__ import annotations

import pytest

from opslib.emulator.codedeploy.configs import (
    BUILTINS,
    DeploymentConfig,
    Fleet,
    HealthyHostsType,
    health_plan,
    validate_minimum_healthy_hosts,
)

pytestmark = pytest.mark.unit

ONE = BUILTINS["CodeDeployDefault.OneAtATime"]
HALF = BUILTINS["CodeDeployDefault.HalfAtATime"]
ALL = BUILTINS["CodeDeployDefault.AllAtOnce"]


def custom(kind: str, value: int) -> DeploymentConfig:
    return DeploymentConfig("Custom", HealthyHostsType(kind), value)


def simulate(config: DeploymentConfig, total: int, failing: set[int]) -> tuple[int, str, bool]:
    """Run a fleet where instances finish in start order; (max parallel, statuses, verdict).

    Statuses are one letter per instance: S succeeded, F failed, K skipped.
    """
    ids = [f"i-{n}" for n in range(total)]
    fleet = Fleet(health_plan(config, total), ids)
    widest = 0
    running: list[str] = []
    while not fleet.done:
        running += fleet.startable()
        widest = max(widest, len(running))
        if running:
            first = running.pop(0)
            fleet.finished(first, int(first[2:]) not in failing)
    letter = {**dict.fromkeys(fleet.succeeded, "S"), **dict.fromkeys(fleet.failed, "F"),
              **dict.fromkeys(fleet.skipped, "K")}  # fmt: skip
    return widest, "".join(letter[i] for i in ids), fleet.succeeded_overall


@pytest.mark.parametrize(
    ("config", "total", "failing", "widest", "statuses", "verdict"),
    [
        # OneAtATime: one at a time; any failure but the last fails the deployment.
        (ONE, 3, set(), 1, "SSS", True),
        (ONE, 3, {0}, 1, "FKK", False),
        (ONE, 3, {1}, 1, "SFK", False),
        (ONE, 3, {2}, 1, "SSF", True),  # the last instance may fail
        (ONE, 1, set(), 1, "S", True),
        (ONE, 1, {0}, 1, "F", False),  # a single instance must succeed
        # HalfAtATime: up to half at once (rounded down); at least half (rounded up) succeed.
        (HALF, 9, set(), 4, "SSSSSSSSS", True),
        (HALF, 4, {3}, 2, "SSSF", True),
        (HALF, 4, {0, 1}, 2, "FFKK", False),
        (HALF, 3, {1}, 1, "SFK", False),
        (HALF, 2, {1}, 1, "SF", True),
        # AllAtOnce: everything at once; one success is enough.
        (ALL, 3, {0, 1}, 3, "FFS", True),
        (ALL, 3, {0, 1, 2}, 3, "FFF", False),
        # Custom HOST_COUNT: total - count at once.
        (custom("HOST_COUNT", 6), 9, set(), 3, "SSSSSSSSS", True),
        (custom("HOST_COUNT", 8), 10, {0, 1}, 2, "FFKKKKKKKK", False),
        (custom("HOST_COUNT", 8), 10, {0, 9}, 2, "FSSSSSSSSF", True),  # the 2nd failure last
        (custom("HOST_COUNT", 1), 3, {1}, 2, "SFS", True),
        # Custom FLEET_PERCENT: rounded up to a count.
        (custom("FLEET_PERCENT", 40), 9, set(), 5, "SSSSSSSSS", True),  # 4 healthy -> 5 at once
        (custom("FLEET_PERCENT", 75), 4, set(), 1, "SSSS", True),  # 3 healthy -> 1 at once
    ],
)
def test_schedule_and_verdict(
    config: DeploymentConfig,
    total: int,
    failing: set[int],
    widest: int,
    statuses: str,
    verdict: bool,
) -> None:
    assert simulate(config, total, failing) == (widest, statuses, verdict)


@pytest.mark.parametrize(
    ("config", "total", "min_healthy", "infeasible"),
    [
        (ONE, 10, 9, False),
        (HALF, 9, 5, False),
        (HALF, 1, 1, True),  # HalfAtATime on one instance fails at once (AWS does too)
        (ALL, 5, 0, False),
        (custom("FLEET_PERCENT", 95), 10, 10, True),  # 9.5 rounds up to the whole fleet
        (custom("HOST_COUNT", 3), 3, 3, True),
        (custom("HOST_COUNT", 3), 0, 3, False),  # no instances: NO_INSTANCES decides instead
    ],
)
def test_minimum_healthy_hosts_as_a_count(
    config: DeploymentConfig, total: int, min_healthy: int, infeasible: bool
) -> None:
    plan = health_plan(config, total)
    assert (plan.min_healthy, plan.infeasible) == (min_healthy, infeasible)


def test_a_stop_skips_what_has_not_started() -> None:
    fleet = Fleet(health_plan(ONE, 3), ["a", "b", "c"])
    assert fleet.startable() == ["a"]
    assert fleet.skip_pending() == ["b", "c"]
    fleet.finished("a", True)
    assert fleet.done
    assert not fleet.succeeded_overall  # skipped instances never count as deployed


def test_builtins_report_what_get_deployment_config_shows() -> None:
    wire = {name: c.to_wire()["minimumHealthyHosts"] for name, c in BUILTINS.items()}
    assert wire == {
        "CodeDeployDefault.OneAtATime": {"type": "MOST_CONCURRENCY", "value": 1},
        "CodeDeployDefault.HalfAtATime": {"type": "FLEET_PERCENT", "value": 50},
        "CodeDeployDefault.AllAtOnce": {"type": "HOST_COUNT", "value": 0},
    }
    assert DeploymentConfig.from_wire(HALF.to_wire()) == HALF


@pytest.mark.parametrize(
    "spec",
    [
        None,
        {"type": "MOST_CONCURRENCY", "value": 1},
        {"type": "HOST_COUNT", "value": -1},
        {"type": "HOST_COUNT", "value": "2"},
        {"type": "FLEET_PERCENT", "value": 101},
    ],
)
def test_invalid_minimum_healthy_hosts_are_refused(spec: dict[str, object] | None) -> None:
    with pytest.raises(ValueError, match="minimumHealthyHosts|FLEET_PERCENT"):
        validate_minimum_healthy_hosts(spec)
