"""The operational runbooks' header cards: the figures each shows and how they stand."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from opslib.ops import fleet, pipeline, release, rollback, triage
from opslib.ops.deployments import DeploymentView
from opslib.render import Status

pytestmark = pytest.mark.unit

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def report(*healths: str, cpu: float | None = 12.34) -> fleet.FleetReport:
    instances = [
        fleet.InstanceHealth(
            f"i-{n}", f"web-{n}", "running", "http://x", health, "1.0.0+abc", "abc", cpu
        )  # fmt: skip
        for n, health in enumerate(healths)
    ]
    return fleet.FleetReport("demo", NOW, instances)


def test_fleet_health_card() -> None:
    healthy, serving, cpu = fleet.headlines(report("ok", "ok"))
    assert (healthy.value, healthy.status) == ("2 of 2", Status.GOOD)
    assert serving.value == "1.0.0+abc" and cpu.value == "12.3 %"
    sick, _, no_cpu = fleet.headlines(report("ok", "HTTP 503", cpu=None))
    assert (sick.value, sick.status) == ("1 of 2", Status.BAD)
    assert no_cpu.value == "–" and "no CPUUtilization" in no_cpu.note
    assert fleet.healthy_headline(None).status is Status.UNKNOWN


def test_triage_card_marks_unresolved_failures_and_firing_alarms_bad() -> None:
    failure = triage.Failure("pipeline", "e-1", NOW, "Failed", stage="Build")
    found = triage.Failures(NOW, NOW, 3, [failure])
    alarms = triage.Alarms([triage.AlarmState("demo-build-failed", "ALARM", "x", NOW),
                            triage.AlarmState("demo-app-errors", "OK", "", NOW)])  # fmt: skip
    failures, firing, healthy = triage.headlines(found, alarms, report("ok"))
    assert (failures.value, failures.status) == ("1", Status.BAD)
    assert failures.note == "1 unresolved, of 3 execution(s)"
    assert (firing.value, firing.status, firing.note) == ("1", Status.BAD, "of 2 alarm(s)")
    assert healthy.status is Status.GOOD


def test_release_card() -> None:
    done = pipeline.ExecutionReport("demo-pipeline", "exec-123456789abc", "Succeeded", "f" * 40)
    cases = [release.CaseResult("s", "t1", "SUCCEEDED", 1.0),
             release.CaseResult("s", "t2", "FAILED", 1.0)]  # fmt: skip
    tests = release.BuildReport("b", [], cases)
    status, commit, cases, healthy = release.headlines(done, tests, report("ok"))
    assert (status.value, status.status) == ("Succeeded", Status.GOOD)
    assert commit.value == "f" * 12
    assert (cases.value, cases.status) == ("1 of 2", Status.BAD)
    assert healthy.value == "1 of 1"


def test_rollback_card_of_a_dry_run_and_of_a_redeploy() -> None:
    current = rollback.Revision("k2", {}, "d-2", "Succeeded", NOW, version="1.1.0")
    target = rollback.Revision("k1", {}, "d-1", "Succeeded", NOW, version="1.0.0")
    plan = rollback.Plan(current, target, "previous good revision")
    before, to, deployment, _ = rollback.headlines(plan, None, None)
    assert (before.value, to.value) == ("1.1.0 (d-2)", "1.0.0 (d-1)")
    assert (deployment.value, deployment.note) == ("none", "a dry run")
    view = DeploymentView("d-3", "Succeeded", {})
    _, _, done, _ = rollback.headlines(plan, view, report("ok"))
    assert (done.value, done.status) == ("Succeeded", Status.GOOD)
