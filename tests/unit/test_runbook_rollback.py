"""opslib.ops.rollback and deployments: history, the plan table, the redeploy, the verdict."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest

from opslib.config import parse_config
from opslib.exceptions import ExecutionError
from opslib.ops import deployments, fleet, rollback
from opslib.target import Session
from tests.unit.runbook_fakes import FakeSession

T0 = datetime(2026, 1, 2, tzinfo=UTC)
CONFIG = parse_config({"stack": "demo"})


def s3(key: str) -> dict[str, Any]:
    return {"revisionType": "S3", "s3Location": {"bucket": "b", "key": key, "bundleType": "zip"}}


def info(deployment_id: str, key: str, minutes: int, status: str = "Succeeded") -> dict[str, Any]:
    return {
        "deploymentId": deployment_id,
        "status": status,
        "revision": s3(key),
        "createTime": T0 + timedelta(minutes=minutes),
        "description": f"deploy {key}",
    }


def bundle(version: str, commit: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("appspec.yml", "version: 0.0\n")
        archive.writestr("app/release.json", json.dumps({"version": version, "commit": commit}))
    return buffer.getvalue()


class Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def read(self, limit: int = -1) -> bytes:
        return self.data


def history_session(infos: list[dict[str, Any]], bundles: dict[str, bytes]) -> FakeSession:
    by_id = {i["deploymentId"]: i for i in infos}

    def list_deployments(**kwargs: Any) -> dict[str, Any]:
        wanted = set(kwargs.get("includeOnlyStatuses") or [])
        return {
            "deployments": [i["deploymentId"] for i in infos if not wanted or i["status"] in wanted]
        }

    def get_object(**kwargs: Any) -> dict[str, Any]:
        if kwargs["Key"] not in bundles:
            from botocore.exceptions import ClientError

            raise ClientError({"Error": {"Code": "NoSuchKey", "Message": "gone"}}, "GetObject")
        return {"Body": Body(bundles[kwargs["Key"]])}

    return FakeSession(
        codedeploy={
            "list_deployments": list_deployments,
            "batch_get_deployments": lambda **kw: {
                "deploymentsInfo": [by_id[i] for i in kw["deploymentIds"]]
            },
            "create_deployment": {"deploymentId": "d-NEW000001"},
            "get_deployment_group": {
                "deploymentGroupInfo": {"lastAttemptedDeployment": {"deploymentId": "d-4"}}
            },
        },
        s3={"get_object": get_object},
    )


INFOS = [
    info("d-3", "k2", 30),  # the same revision again: listed once, at its newest deployment
    info("d-2", "k2", 20),
    info("d-4", "k3", 40, "Failed"),
    info("d-1", "k1", 10),
]
BUNDLES = {"k1": bundle("1.0.0+aaaaaaa", "a" * 40), "k2": bundle("1.0.0+bbbbbbb", "b" * 40)}


def test_history_lists_distinct_good_revisions_newest_first_labelled_from_bundles() -> None:
    found = rollback.history(cast(Session, history_session(INFOS, BUNDLES)), CONFIG)
    assert [(r.deployment_id, r.version) for r in found.good] == [
        ("d-3", "1.0.0+bbbbbbb"),
        ("d-1", "1.0.0+aaaaaaa"),
    ]
    assert found.current is not None and found.current.deployment_id == "d-4"  # the failed one
    assert found.current.version == ""  # its bundle is gone: listed, unlabelled
    frame = found.frame()
    assert list(frame["revision"]) == ["1.0.0+bbbbbbb", "1.0.0+aaaaaaa"]
    assert list(frame["current"]) == [False, False]


def revision(deployment_id: str, key: str, version: str, commit: str = "") -> rollback.Revision:
    return rollback.Revision(
        f"s3://b/{key}", s3(key), deployment_id, "Succeeded", T0, "", version, commit
    )


R3 = revision("d-3", "k3", "1.0.0+ccccccc", "c" * 40)
R2 = revision("d-2", "k2", "1.0.0+bbbbbbb", "b" * 40)
R1 = revision("d-1", "k1", "1.0.0+aaaaaaa", "a" * 40)


@pytest.mark.parametrize(
    ("current", "good", "choose", "target", "reason"),
    [
        (R3, [R3, R2, R1], "", R2, "the previous good revision"),
        (R3, [R3], "", None, "no earlier successful revision to roll back to"),
        (None, [R2, R1], "", R2, "the previous good revision"),
        # the last deployment failed: the newest good one is the way back
        (revision("d-9", "k9", ""), [R3, R2], "", R3, "the previous good revision"),
        (R3, [R3, R2, R1], "d-1", R1, "chosen: d-1"),
        (R3, [R3, R2, R1], "1.0.0+bbbbbbb", R2, "chosen: 1.0.0+bbbbbbb"),
        (R3, [R3, R2, R1], "aaaaaaa", R1, "chosen: aaaaaaa"),
        (R3, [R3, R2, R1], "s3://b/k2", R2, "chosen: s3://b/k2"),
        (R3, [R3, R2, R1], "aaa", None, "'aaa' is not a recent successful revision"),
        (R3, [R3, R2, R1], "d-3", None, "is already the current revision"),
    ],
)
def test_plan_rollback(
    current: rollback.Revision | None,
    good: list[rollback.Revision],
    choose: str,
    target: rollback.Revision | None,
    reason: str,
) -> None:
    plan = rollback.plan_rollback(rollback.History(current, good), choose)
    assert plan.target == target
    assert reason in plan.reason
    assert plan.possible is (target is not None)


def rebuilt(of: rollback.Revision, deployment_id: str, key: str, status: str = "Succeeded"
            ) -> rollback.Revision:  # fmt: skip
    """The same commit built again: a new bundle (S3 key), the same version and commit."""
    return rollback.Revision(
        f"s3://b/{key}", s3(key), deployment_id, status, T0, "", of.version, of.commit
    )


def test_after_a_re_release_of_the_same_commit_the_default_is_the_previous_other_release() -> None:
    again = rebuilt(R3, "d-4", "k3-again")
    plan = rollback.plan_rollback(rollback.History(again, [again, R3, R2, R1]))
    assert plan.target == R2
    assert "replacing 1.0.0+ccccccc" in plan.describe()
    assert "redeploy 1.0.0+ccccccc" not in plan.describe()


def test_the_only_release_so_far_means_nothing_to_roll_back_which_is_a_fine_verdict() -> None:
    again = rebuilt(R3, "d-4", "k3-again")
    for found in (rollback.History(R3, [R3]), rollback.History(again, [again, R3])):
        plan = rollback.plan_rollback(found)
        assert plan.target is None and plan.nothing_to_roll_back
        assert plan.describe().startswith("nothing to roll back: no earlier successful revision")
        assert "1.0.0+ccccccc, the current one" in plan.reason
        for confirm in (False, True):
            verdict = rollback.verdict(plan, confirm)
            assert verdict.ok, verdict
            assert str(verdict).startswith("✓ nothing to roll back")
        assert plan.summary()["nothing_to_roll_back"] is True
    empty = rollback.plan_rollback(rollback.History(None, []))
    assert empty.nothing_to_roll_back and rollback.verdict(empty, False).ok
    assert "nothing deployed yet" in empty.reason


def test_after_a_failed_deployment_the_last_good_bundle_is_the_way_back_even_of_its_commit() -> (
    None
):
    failed = rebuilt(R3, "d-4", "k3-again", status="Failed")
    assert rollback.plan_rollback(rollback.History(failed, [R3, R2])).target == R3


def test_a_failed_deployment_with_nothing_good_before_it_is_no_fine_verdict() -> None:
    failed = rebuilt(R3, "d-4", "k3-again", status="Failed")
    plan = rollback.plan_rollback(rollback.History(failed, []))
    assert plan.target is None and not plan.nothing_to_roll_back
    assert "the last deployment 1.0.0+ccccccc (d-4) is Failed" in plan.reason
    assert not rollback.verdict(plan, False).ok


def test_the_dry_run_verdict_says_how_to_confirm_on_the_command_line() -> None:
    plan = rollback.Plan(R3, R2, "the previous good revision")
    sentence = rollback.verdict(plan, confirm=False).sentence
    assert "rerun with confirm=True (opslib runbook run rollback -p confirm true)" in sentence


def test_a_dry_run_deploys_nothing_and_a_confirmed_one_creates_a_deployment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    session = history_session(INFOS, BUNDLES)
    plan = rollback.Plan(R3, R2, "the previous good revision")
    lines: list[str] = []
    assert (
        rollback.execute(cast(Session, session), CONFIG, plan, confirm=False, echo=lines.append)
        is None
    )
    assert lines == [f"dry run: would {plan.describe()}"]
    assert not [c for c in session.clients["codedeploy"].calls if c[0] == "create_deployment"]

    done = deployments.DeploymentView("d-NEW000001", "Succeeded", s3("k2"))
    monkeypatch.setattr(rollback, "wait_deployment", lambda *a, **k: done)
    assert rollback.execute(cast(Session, session), CONFIG, plan, confirm=True) is done
    name, call = session.clients["codedeploy"].calls[-1]
    assert name == "create_deployment"
    assert (call["applicationName"], call["deploymentGroupName"]) == ("demo-app", "demo-fleet")
    assert call["revision"] == s3("k2")


def test_create_deployment_without_a_target_is_refused() -> None:
    with pytest.raises(ExecutionError, match="nothing to deploy: no earlier"):
        rollback.create_deployment(
            cast(Session, None), CONFIG, rollback.Plan(R3, None, "no earlier successful revision")
        )


def served(version: str, health: str = "ok") -> fleet.FleetReport:
    commit = version[-7:] * 6  # what the sample app answers on /version, for these fixtures
    row = fleet.InstanceHealth("i-1", "demo-fleet-1", "running", "", health, version, commit, None)
    return fleet.FleetReport("demo", T0, [row])


def test_verdicts() -> None:
    plan = rollback.Plan(R3, R2, "the previous good revision")
    ok = deployments.DeploymentView("d-5", "Succeeded", s3("k2"))
    failed = deployments.DeploymentView("d-5", "Failed", s3("k2"), error="SCRIPT_FAILED: boom")
    assert rollback.verdict(plan, confirm=False).ok
    assert "dry run: would redeploy 1.0.0+bbbbbbb (d-2)" in str(rollback.verdict(plan, False))
    assert not rollback.verdict(rollback.Plan(R3, None, "nothing"), confirm=False).ok
    assert (
        str(rollback.verdict(plan, True, failed))
        == "✗ rollback deployment Failed: SCRIPT_FAILED: boom"
    )
    assert rollback.verdict(plan, True, ok, served("1.0.0+bbbbbbb")).ok
    wrong = rollback.verdict(plan, True, ok, served("1.0.0+ccccccc"))
    assert not wrong.ok and "not served by demo-fleet-1" in wrong.sentence


def test_bundle_release_reads_release_json_and_tolerates_foreign_bundles() -> None:
    session = cast(Session, history_session([], {"good": BUNDLES["k1"], "junk": b"not a zip"}))
    assert rollback.bundle_release(session, s3("good")) == ("1.0.0+aaaaaaa", "a" * 40)
    assert rollback.bundle_release(session, s3("junk")) == ("", "")
    assert rollback.bundle_release(session, s3("missing")) == ("", "")
    assert rollback.bundle_release(session, {"revisionType": "GitHub"}) == ("", "")


# -- deployments: the per-host view ----------------------------------------------------------


TARGET = {
    "instanceTarget": {
        "targetId": "i-1",
        "status": "Failed",
        "lifecycleEvents": [
            {"lifecycleEventName": "ApplicationStop", "status": "Succeeded",
             "startTime": T0, "endTime": T0 + timedelta(seconds=1)},
            {"lifecycleEventName": "ValidateService", "status": "Failed",
             "startTime": T0, "endTime": T0 + timedelta(seconds=2.5),
             "diagnostics": {"errorCode": "ScriptFailed", "message": "exit 1", "logTail": "a\nb"}},
            {"lifecycleEventName": "AfterAllowTraffic", "status": "Skipped"},
        ],
    }
}  # fmt: skip


def test_host_from_target_and_its_row() -> None:
    host = deployments.host_from_target(TARGET)
    assert (host.instance_id, host.status, host.seconds) == ("i-1", "Failed", 3.5)
    assert host.failed_event is not None and host.failed_event.log_tail == "a\nb"
    view = deployments.DeploymentView("d-1", "Failed", s3("k"), hosts=[host])
    assert view.frame().to_dict("records") == [
        {
            "instance": "i-1",
            "status": "Failed",
            "seconds": 3.5,
            "events": "✓ApplicationStop ✗ValidateService –AfterAllowTraffic",
            "failed": "ValidateService: ScriptFailed exit 1",
        }
    ]
    assert list(deployments.hosts_frame(None).columns) == [
        "instance",
        "status",
        "seconds",
        "events",
        "failed",
    ]


def test_view_from_info_keeps_error_and_rollback_links() -> None:
    raw = {
        **info("d-1", "k", 0, "Failed"),
        "errorInformation": {"code": "SCRIPT_FAILED", "message": "boom"},
        "rollbackInfo": {"rollbackDeploymentId": "d-2", "rollbackMessage": "rolled back"},
    }
    view = deployments.view_from_info(raw, [])
    assert view.error == "SCRIPT_FAILED: boom" and view.rollback["rollbackDeploymentId"] == "d-2"
    assert view.summary()["revision"] == "s3://b/k"


@pytest.mark.parametrize(
    ("location", "key"),
    [
        (s3("k"), "s3://b/k"),
        (
            {"s3Location": {"bucket": "b", "key": "k", "version": "v1", "eTag": "e"}},
            "s3://b/k?versionId=v1#e",
        ),
        ({"gitHubLocation": {"repository": "o/r", "commitId": "abc"}}, "github:o/r@abc"),
    ],
)
def test_revision_key(location: dict[str, Any], key: str) -> None:
    assert deployments.revision_key(location) == key
