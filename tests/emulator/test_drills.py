"""The drills end to end on a released stack: real faults, real recoveries, rollbacks always.

One emulator and one stack for the module (``opslib up`` with a fleet of 2 and one release
of this repository's head, as the runbooks tier builds it); each drill runs with
``confirm=True`` and must leave the stack steady: the fleet at size and healthy on the
good commit, ``opslib plan`` empty, the drill lock free.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from opslib import emulator, stack
from opslib.config import StackConfig, load_config
from opslib.drills import lock, run_drill
from opslib.drills.artifacts import artifact_prefix, newest
from opslib.ops import fleet, rollback
from opslib.target import Session, connect
from tests.runbooks.conftest import EMULATOR_ENV, clone_source, release_head, write_config


class Released:
    def __init__(self, config_path: Path, reports: Path) -> None:
        self.config_path = config_path
        self.reports = reports

    @property
    def config(self) -> StackConfig:
        return load_config(self.config_path)

    def session(self) -> Session:
        return connect(self.config)


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Released]:
    work = tmp_path_factory.mktemp("drills")
    state_dir = work / "state"
    source = clone_source(work / "source")
    config_path = write_config(work / "opslib.yml", state_dir, source)
    with pytest.MonkeyPatch.context() as patch:
        for key, value in EMULATOR_ENV.items():
            patch.setenv(key, value)
        emulator.start(state_dir, port=0)
    try:
        here = Released(config_path, work / "reports")
        config, session = here.config, here.session()
        stack.apply(session, config)
        first = release_head(session, config)
        assert first.succeeded, f"first release: {first.status} {first.failed_action}"
        yield here
    finally:
        emulator.stop(state_dir)


def _snapshot(session: Session, config: StackConfig) -> dict[str, Any]:
    """What a drill must not change: deployments, bucket objects and versions, the lock."""
    s3 = session.client("s3")
    history = rollback.history(session, config, limit=50)
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    versions = {
        name: sorted(
            (v["Key"], v["VersionId"])
            for v in s3.list_object_versions(Bucket=name).get("Versions") or []
        )
        for name in names
    }
    return {
        "current": history.current.deployment_id if history.current else None,
        "deployments": [r.deployment_id for r in history.good],
        "versions": versions,
        "lock": lock.DrillLock(session, config.stack).current(),
    }


def _steady(session: Session, config: StackConfig, commit: str) -> None:
    report = fleet.check_fleet(session, config, minutes=5)
    assert len(report.instances) == config.fleet.size
    assert not fleet.serves(report, commit=commit), fleet.verdict(report, commit=commit)
    assert not stack.plan(session, config).has_changes
    assert lock.DrillLock(session, config.stack).current() == ""


def _good_commit(session: Session, config: StackConfig) -> str:
    current = rollback.history(session, config, limit=3).current
    assert current is not None
    return current.commit


def test_a_dry_run_changes_nothing(released: Released) -> None:
    config, session = released.config, released.session()
    before = _snapshot(session, config)
    for name in ("bad-release", "artifact-loss"):
        result = run_drill(session, config, name, confirm=False)
        assert result.journal is None
        assert result.summary()["status"] == "dry-run"
        phases = {step.phase for step in result.plan.steps}
        assert phases == {"steady state", "method", "rollback"}
        assert result.plan.preparation.targets
    assert _snapshot(session, config) == before


def test_bad_release_is_rolled_back_by_codedeploy(released: Released, tmp_path: Path) -> None:
    config, session = released.config, released.session()
    good = _good_commit(session, config)
    report = tmp_path / "drill-bad-release-120000.json"
    result = run_drill(session, config, "bad-release", confirm=True, report=report)
    data = result.summary()
    assert data["status"] == "completed", data["reasons"]
    assert data["objective_met"], data["reasons"]
    assert data["steady_state"] == {"before": True, "after": True}
    marks = [m["mark"] for m in data["timeline"]]
    assert marks == ["injected", "detected", "recovery_started", "restored"]
    assert data["rto_seconds"] > 0
    journal = json.loads((tmp_path / "drill-bad-release-120000-journal.json").read_text())
    assert journal["status"] == "completed"
    assert [r["status"] for r in journal["rollbacks"]] == ["succeeded"] * 3
    failed = [r for r in journal["run"] if r["activity"]["name"].startswith("await-codedeploy")]
    assert failed[0]["output"]["rollback_deployment"]
    _steady(session, config, good)


def _artifact(session: Session, config: StackConfig) -> tuple[str, str, bytes]:
    s3 = session.client("s3")
    bucket = next(b["Name"] for b in s3.list_buckets()["Buckets"] if "-artifacts-" in b["Name"])
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=artifact_prefix(config.stack))["Contents"]
    key = str(newest(listed)["Key"])  # type: ignore[index]
    return bucket, key, s3.get_object(Bucket=bucket, Key=key)["Body"].read()


def test_artifact_loss_is_restored_byte_identical(released: Released, tmp_path: Path) -> None:
    config, session = released.config, released.session()
    good = _good_commit(session, config)
    bucket, key, before = _artifact(session, config)
    report = tmp_path / "drill-artifact-loss-120000.json"
    result = run_drill(session, config, "artifact-loss", confirm=True, report=report)
    data = result.summary()
    assert data["objective_met"], data["reasons"]
    assert data["rpo_seconds"] == 0 and data["data_lost"] == [] and data["data_at_stake"]
    marks = [m["mark"] for m in data["timeline"]]
    assert marks == ["injected", "detected", "recovery_started", "restored"]
    after = session.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    assert hashlib.sha256(after).digest() == hashlib.sha256(before).digest()
    _steady(session, config, good)


def test_an_interrupted_drill_still_plays_its_rollbacks(released: Released, tmp_path: Path) -> None:
    """Ctrl-C right after the artifact is deleted: chaoslib stops the method, the rollbacks
    (strategy always) put the artifact back, and the lock is freed."""
    config, session = released.config, released.session()
    bucket, key, before = _artifact(session, config)

    def interrupt(line: str) -> None:
        if line.startswith("injected:"):
            raise KeyboardInterrupt

    report = tmp_path / "drill-artifact-loss-130000.json"
    result = run_drill(
        session, config, "artifact-loss", confirm=True, report=report, echo=interrupt
    )
    data = result.summary()
    assert data["status"] == "interrupted"
    assert not data["objective_met"]
    assert data["rollbacks"] == [{"name": "make-sure-the-artifact-is-back", "status": "succeeded"}]
    names = [r["activity"]["name"] for r in result.journal["run"]]  # type: ignore[index]
    assert names == ["delete-the-newest-artifact"]  # the method stopped there
    after = session.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    assert after == before
    assert lock.DrillLock(session, config.stack).current() == ""


def test_the_drill_runbook_leaves_its_summary_and_journal_and_the_scorecard_reads_it(
    released: Released, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``opslib runbook run drill-artifact-loss -p confirm true``, then drill-scorecard."""
    from opslib.runbooks.catalog import find_runbook
    from opslib.runbooks.runner import run_runbook

    monkeypatch.setenv("OPSLIB_CONFIG", str(released.config_path))
    record = run_runbook(find_runbook("drill-artifact-loss"), {"confirm": "true"},
                         reports_dir=released.reports)  # fmt: skip
    assert record.ok, record.failure()
    summary = json.loads(record.paths.summary.read_text())
    data = summary["data"]
    assert {"drill", "status", "deviated", "objective_met", "rto_seconds", "rpo_seconds",
            "data_lost", "timeline", "steady_state", "journal"} <= set(data)  # fmt: skip
    assert data["objective_met"] and data["status"] == "completed"
    journal = record.paths.summary.with_name(f"{record.paths.summary.stem}-journal.json")
    assert data["journal"] == str(journal) and json.loads(journal.read_text())["rollbacks"]
    html = record.paths.html.read_text()
    assert "Traceback" not in html and "steady state restored" in html

    card = run_runbook(find_runbook("drill-scorecard"), {}, reports_dir=released.reports)
    assert card.ok, card.failure()
    scored = json.loads(card.paths.summary.read_text())
    assert scored["data"]["runs"] == 1
    assert "artifact-loss" in card.paths.html.read_text()


# -- instance-loss, pipeline-failure, stack-rebuild, region-failure ----------------------------
NEW_DRILLS = ("instance-loss", "pipeline-failure", "stack-rebuild", "region-failure")


def _stack_arns(session: Session, stack_name: str) -> list[str]:
    return stack.engine.tagged_leftovers(stack.Api(session), stack_name)


def test_the_new_drills_dry_runs_change_nothing(released: Released) -> None:
    """Their plans name the fault and the rollbacks; no template, no twin, no fault."""
    config, session = released.config, released.session()
    before = _snapshot(session, config)
    templates = session.client("fis").list_experiment_templates()["experimentTemplates"]
    for name in NEW_DRILLS:
        result = run_drill(session, config, name, confirm=False)
        assert result.summary()["status"] == "dry-run"
        assert {step.phase for step in result.plan.steps} == {"steady state", "method", "rollback"}
        assert result.plan.preparation.fault
    assert _snapshot(session, config) == before
    assert session.client("fis").list_experiment_templates()["experimentTemplates"] == templates
    dr = Session(dataclasses.replace(session.target, region=config.dr_region()))
    assert _stack_arns(dr, f"{config.stack}-drill") == []
    assert emulator.list_faults(str(session.target.endpoint_url)) == []


def test_instance_loss_fis_terminates_one_and_the_fleet_comes_back(
    released: Released, tmp_path: Path
) -> None:
    config, session = released.config, released.session()
    good = _good_commit(session, config)
    before = {i.instance_id for i in fleet.describe_instances(session, config)}
    report = tmp_path / "drill-instance-loss-120000.json"
    result = run_drill(session, config, "instance-loss", confirm=True, report=report)
    data = result.summary()
    assert data["status"] == "completed", data["reasons"]
    assert data["objective_met"], data["reasons"]
    assert [m["mark"] for m in data["timeline"]] == [
        "injected", "detected", "recovery_started", "restored"
    ]  # fmt: skip
    fault = next(r for r in result.journal["run"] if r["activity"]["name"].startswith("fis-"))  # type: ignore[index]
    experiment_id, lost = fault["output"]["experiment_id"], fault["output"]["terminated"]
    experiment = session.client("fis").get_experiment(id=experiment_id)["experiment"]
    assert experiment["state"]["status"] == "completed"
    assert experiment["tags"]["opslib:stack"] == config.stack
    assert len(lost) == 1 and lost[0] in before
    after = {i.instance_id for i in fleet.describe_instances(session, config)}
    assert lost[0] not in after and len(after - before) == 1
    _steady(session, config, good)


def test_pipeline_failure_a_stopped_build_is_retried_to_green(
    released: Released, tmp_path: Path
) -> None:
    config, session = released.config, released.session()
    good = _good_commit(session, config)
    report = tmp_path / "drill-pipeline-failure-120000.json"
    result = run_drill(session, config, "pipeline-failure", confirm=True, report=report)
    data = result.summary()
    assert data["status"] == "completed", data["reasons"]
    assert data["objective_met"], data["reasons"]
    assert [m["mark"] for m in data["timeline"]] == [
        "injected", "detected", "recovery_started", "restored"
    ]  # fmt: skip
    runs = {r["activity"]["name"]: r["output"] for r in result.journal["run"]}  # type: ignore[index]
    build_id = runs["stop-the-build-mid-flight"]["build_id"]
    stopped = session.client("codebuild").batch_get_builds(ids=[build_id])["builds"][0]
    assert stopped["buildStatus"] == "STOPPED"
    execution_id = runs["start-a-pipeline-run"]
    name = f"{config.stack}-pipeline"
    execution = session.client("codepipeline").get_pipeline_execution(
        pipelineName=name, pipelineExecutionId=execution_id
    )["pipelineExecution"]
    assert execution["status"] == "Succeeded"
    builds = [
        d for d in session.client("codepipeline").list_action_executions(
            pipelineName=name, filter={"pipelineExecutionId": execution_id}
        )["actionExecutionDetails"]
        if d["input"]["actionTypeId"]["provider"] == "CodeBuild"
    ]  # fmt: skip
    assert sorted(d["status"] for d in builds) == ["Failed", "Succeeded"]  # both attempts
    _steady(session, config, good)


def test_stack_rebuild_builds_releases_and_tears_down_a_twin(
    released: Released, tmp_path: Path
) -> None:
    config, session = released.config, released.session()
    good = _good_commit(session, config)
    production = sorted(_stack_arns(session, config.stack))
    report = tmp_path / "drill-stack-rebuild-120000.json"
    result = run_drill(session, config, "stack-rebuild", confirm=True, report=report)
    data = result.summary()
    assert data["status"] == "completed", data["reasons"]
    assert data["objective_met"], data["reasons"]
    assert [m["mark"] for m in data["timeline"]] == ["injected", "recovery_started", "restored"]
    runs = {r["activity"]["name"]: r["output"] for r in result.journal["run"]}  # type: ignore[index]
    assert runs["release-the-good-commit-to-the-twin"]["revision"] == good
    assert runs["await-the-twin-serving-the-good-commit"]["instances"] == config.fleet.size
    assert data["rollbacks"] == [{"name": "tear-down-the-twin", "status": "succeeded"}]
    dr = Session(dataclasses.replace(session.target, region=config.dr_region()))
    assert _stack_arns(dr, f"{config.stack}-drill") == []  # the twin is gone
    assert sorted(_stack_arns(session, config.stack)) == production  # production untouched
    _steady(session, config, good)


def test_region_failure_stands_up_the_dr_twin_and_restores_the_region(
    released: Released, tmp_path: Path
) -> None:
    config, session = released.config, released.session()
    good = _good_commit(session, config)
    endpoint = str(session.target.endpoint_url)
    report = tmp_path / "drill-region-failure-120000.json"
    result = run_drill(session, config, "region-failure", confirm=True, report=report)
    data = result.summary()
    assert data["status"] == "completed", data["reasons"]
    assert data["objective_met"], data["reasons"]
    assert [m["mark"] for m in data["timeline"]] == [
        "injected", "detected", "recovery_started", "restored"
    ]  # fmt: skip
    runs = {r["activity"]["name"]: r["output"] for r in result.journal["run"]}  # type: ignore[index]
    assert runs["detect-the-outage"]["error"] == "ServiceUnavailable"
    released_in_dr = runs["release-the-artifact-in-the-dr-region"]
    assert released_in_dr["bucket"].endswith(f"-{config.dr_region()}")
    assert runs["await-the-dr-fleet-serving"]["region"] == config.dr_region()
    assert emulator.list_faults(endpoint) == []  # the region is back
    dr = Session(dataclasses.replace(session.target, region=config.dr_region()))
    assert _stack_arns(dr, f"{config.stack}-dr") == []  # keep=False: the DR twin is gone
    _steady(session, config, good)


def test_the_instance_loss_runbook_leaves_a_completed_fis_experiment(
    released: Released, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``opslib runbook run drill-instance-loss -p confirm true``: the journal names the
    experiment, FIS lists it completed, the HTML shows the timeline and no traceback."""
    from opslib.runbooks.catalog import find_runbook
    from opslib.runbooks.runner import run_runbook

    monkeypatch.setenv("OPSLIB_CONFIG", str(released.config_path))
    record = run_runbook(find_runbook("drill-instance-loss"), {"confirm": "true"},
                         reports_dir=released.reports)  # fmt: skip
    assert record.ok, record.failure()
    data = json.loads(record.paths.summary.read_text())["data"]
    assert data["drill"] == "instance-loss" and data["objective_met"], data["reasons"]
    journal = json.loads(Path(data["journal"]).read_text())
    fault = next(r for r in journal["run"] if r["activity"]["name"].startswith("fis-"))
    experiments = released.session().client("fis").list_experiments()["experiments"]
    found = {e["id"]: e["state"]["status"] for e in experiments}
    assert found[fault["output"]["experiment_id"]] == "completed"
    html = record.paths.html.read_text()
    assert "Traceback" not in html and "steady state restored" in html
