"""simulate-history's pure parts: the drawn window and the documents it becomes."""

from __future__ import annotations

import pytest

from opslib.emulator.core.backfill import HistorySpec
from opslib.emulator.core.gateway import ApiException
from opslib.emulator.core.paging import Page, page_of
from opslib.emulator.history import records
from opslib.emulator.history.plan import ActionShape, Fleet, Outcome, RunPlan, outcome_of, plan

pytestmark = pytest.mark.unit

ACTIONS = (
    ActionShape("Source", "Source", "Source", "CodeStarSourceConnection"),
    ActionShape("Build", "Build", "Build", "CodeBuild"),
    ActionShape("Deploy", "Deploy", "Deploy", "CodeDeploy"),
)
FLEET = Fleet(("i-1", "i-2", "i-3"))
UNTIL = 1_800_000_000.0


def _spec(days: int = 5, runs: int = 8, rate: float = 0.3, seed: int = 1) -> HistorySpec:
    return HistorySpec("p", "/aws/events/s", days, runs, UNTIL, rate, seed)


def _runs(**kw: object) -> list[RunPlan]:
    return plan(_spec(**kw), ACTIONS, FLEET)  # type: ignore[arg-type]


def test_the_same_spec_draws_the_same_window_and_another_seed_another() -> None:
    assert _runs() == _runs()
    assert [r.execution_id for r in _runs(seed=2)] != [r.execution_id for r in _runs()]


@pytest.mark.parametrize(
    ("draw", "rate", "build", "deploy", "expected"),
    [
        (0.5, 0.3, True, True, Outcome.SUCCEEDED),
        (0.1, 0.3, True, True, Outcome.BUILD_FAILED),  # below rate x 0.6
        (0.25, 0.3, True, True, Outcome.DEPLOY_FAILED),
        (0.25, 0.3, True, False, Outcome.BUILD_FAILED),  # no Deploy stage to fail
        (0.1, 0.3, False, True, Outcome.DEPLOY_FAILED),  # no Build stage to fail
        (0.1, 0.3, False, False, Outcome.SUCCEEDED),  # nothing can fail
        (0.99, 1.0, True, True, Outcome.DEPLOY_FAILED),
        (0.0, 0.0, True, True, Outcome.SUCCEEDED),
    ],
)
def test_outcome_of(draw: float, rate: float, build: bool, deploy: bool, expected: Outcome) -> None:
    assert outcome_of(draw, rate, build, deploy) is expected


def test_the_window_holds_days_times_runs_in_order_inside_it() -> None:
    runs = _runs(days=5, runs=8)
    spec = _spec(days=5, runs=8)
    assert len(runs) == 40
    assert [r.day for r in runs] == sorted(r.day for r in runs)
    assert all(spec.since <= r.start < r.end < spec.until for r in runs)
    assert all(a.end < b.start for a, b in zip(runs, runs[1:], strict=False))
    for run in runs:
        spans = [span for _, span, _ in run.actions]
        assert all(a.end < b.start for a, b in zip(spans, spans[1:], strict=False))
        assert run.commit_time < run.start


def test_failure_rate_zero_never_fails_and_one_always_does() -> None:
    assert {r.outcome for r in _runs(rate=0.0, days=10)} == {Outcome.SUCCEEDED}
    assert Outcome.SUCCEEDED not in {r.outcome for r in _runs(rate=1.0, days=10)}


def test_a_failed_build_fails_its_action_and_nothing_deploys() -> None:
    failed = [r for r in _runs(rate=0.5, days=10) if r.outcome is Outcome.BUILD_FAILED]
    assert failed
    for run in failed:
        assert run.build is not None and not run.build.succeeded
        assert [a.category for a, _, _ in run.actions] == ["Source", "Build"]
        assert run.actions[-1][1].status == "Failed"
        assert run.deployment is None and run.rollback is None
        assert [p.name for p in run.build.phases if p.status == "FAILED"] == ["BUILD"]


def test_a_failed_deployment_fails_on_the_first_instance_and_rolls_back_to_the_last_good() -> None:
    runs = _runs(rate=0.5, days=10)
    good = None
    for run in runs:
        deployment = run.deployment
        if deployment is None:
            continue
        if run.outcome is Outcome.DEPLOY_FAILED:
            assert not deployment.succeeded and run.actions[-1][1].status == "Failed"
            assert [i.status for i in deployment.instances] == ["Failed", "Skipped", "Skipped"]
            failed_events = [e.name for e in deployment.instances[0].events if e.status == "Failed"]
            assert failed_events == ["ValidateService"]
            if good is None:
                assert run.rollback is None  # nothing succeeded before: nothing to roll back to
            else:
                assert run.rollback is not None and run.rollback.succeeded
                assert run.rollback.revision_key == good.revision_key
                assert run.rollback.rollback_of == deployment.deployment_id
                assert deployment.rolled_back_by == run.rollback.deployment_id
                good = run.rollback
        else:
            assert deployment.succeeded and run.rollback is None
            good = deployment


def test_only_the_first_deployment_skips_application_stop() -> None:
    deployments = [r.deployment for r in _runs(rate=0.0) if r.deployment is not None]
    stops = [d.instances[0].events[0].status for d in deployments]
    assert stops[0] == "Skipped" and set(stops[1:]) == {"Succeeded"}


def test_any_config_but_one_at_a_time_fails_every_instance() -> None:
    runs = plan(_spec(rate=1.0), ACTIONS, Fleet(("i-1", "i-2"), one_at_a_time=False))
    failed = [r.deployment for r in runs if r.outcome is Outcome.DEPLOY_FAILED]
    assert failed and all([i.status for i in d.instances] == ["Failed"] * 2 for d in failed if d)


SETTING = records.Setting(
    "us-east-1", "123456789012", {"name": "p", "stages": []}, "bucket",
    {"name": "proj", "environment": {"computeType": "BUILD_GENERAL1_SMALL"}},
    application="app", group="grp", group_id="gid",
)  # fmt: skip


def test_the_documents_agree_with_the_plan_and_carry_the_mark() -> None:
    runs = _runs(rate=0.5, days=10)
    docs = records.written(SETTING, runs, first_number=5)
    assert len(docs.executions) == len(runs)
    for run, execution in zip(runs, docs.executions, strict=True):
        assert execution["trigger"]["triggerDetail"] == records.MARK
        failed = run.outcome is not Outcome.SUCCEEDED
        assert execution["status"] == ("Failed" if failed else "Succeeded")
        assert ("statusSummary" in execution) is failed
    assert [b["buildNumber"] for b in docs.builds] == list(range(5, 5 + len(docs.builds)))
    assert {b["initiator"] for b in docs.builds} == {records.MARK}
    assert {d["description"] for d in docs.deployments} == {records.MARK}
    by_id = {d["deploymentId"]: d for d in docs.deployments}
    for doc in docs.deployments:
        back = doc.get("rollbackInfo", {}).get("rollbackTriggeringDeploymentId")
        if back:
            assert doc["creator"] == "codeDeployRollback"
            assert by_id[back]["rollbackInfo"]["rollbackDeploymentId"] == doc["deploymentId"]
    builds = {b["id"]: b for b in docs.builds}
    for action in docs.actions:
        external = action["output"]["executionResult"]["externalExecutionId"]
        if action["stageName"] == "Build":
            assert builds[external]["buildStatus"] == (
                "SUCCEEDED" if action["status"] == "Succeeded" else "FAILED"
            )
        if action["stageName"] == "Deploy":
            assert by_id[external]["status"] == action["status"]


def test_build_metrics_count_each_build_once_per_dimension_set() -> None:
    docs = records.written(SETTING, _runs(rate=0.5), first_number=1)
    builds = [m for m in docs.metrics if m[0] == "Builds"]
    assert len(builds) == 2 * len(docs.builds)
    failed = sum(m[1] for m in docs.metrics if m[0] == "FailedBuilds" and m[3])
    assert failed == sum(b["buildStatus"] == "FAILED" for b in docs.builds)


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [("--days", {"days": 0}), ("--days", {"days": 400}), ("--runs-per-day", {"runs": 0}),
     ("--failure-rate", {"rate": 1.5})],
)  # fmt: skip
def test_a_bad_spec_names_its_option(field: str, kwargs: dict[str, int]) -> None:
    from opslib.exceptions import ConfigError

    with pytest.raises(ConfigError, match=field):
        _spec(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("params", "expected"),
    [({}, Page(0, 100)), ({"maxResults": 7}, Page(0, 7)), ({"nextToken": "200"}, Page(200, 100))],
)
def test_page_of(params: dict[str, object], expected: Page) -> None:
    assert page_of(params, default=100, maximum=100) == expected


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"nextToken": "x1"}, "InvalidNextTokenException"),
        ({"maxResults": 101}, "ValidationException"),
        ({"maxResults": 0}, "ValidationException"),
    ],
)
def test_page_of_refuses_what_aws_refuses(params: dict[str, object], code: str) -> None:
    with pytest.raises(ApiException) as caught:
        page_of(params, default=100, maximum=100)
    assert caught.value.code == code


def test_a_page_says_whether_more_follow() -> None:
    assert Page(0, 2).split([1, 2, 3]) == ([1, 2], "2")
    assert Page(4, 2).split([5, 6]) == ([5, 6], None)
