"""The drills' pure parts: timeline and RTO from a journal, RPO, objectives, the lock's
lease, the stack-tag refusal, the bad bundle, the artifact comparison."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from opslib.config import parse_config
from opslib.drills import catalog, measures
from opslib.drills.artifacts import compare, recovery_point
from opslib.drills.badrelease import BAD_SERVER, BAD_SERVER_JS, broken_bundle, failure_time
from opslib.drills.lock import DrillLock, Lease, stale_reason
from opslib.drills.model import Mark, Objective
from opslib.drills.safety import Target, require_stack_tag
from opslib.exceptions import AwsError, ConfigError, DrillRefused

T0 = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)


def at(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat()


def run(name: str, start: float, end: float, output: Any = None, mark: str = "",
        status: str = "succeeded") -> dict[str, Any]:  # fmt: skip
    activity: dict[str, Any] = {"name": name, "type": "action"}
    if mark:
        activity[measures.MARK_KEY] = mark
    return {"activity": activity, "start": at(start), "end": at(end), "status": status,
            "output": output}  # fmt: skip


def journal(runs: list[dict[str, Any]], status: str = "completed", **extra: Any) -> dict[str, Any]:
    return {
        "status": status,
        "deviated": False,
        "steady_states": {
            "before": {"steady_state_met": True, "probes": []},
            "after": {"steady_state_met": True, "probes": []},
        },  # fmt: skip
        "run": runs,
        "rollbacks": [run("undo", 200, 201)],
        **extra,
    }


BAD_RELEASE_RUNS = [
    run("fault", 0, 1, {"marks": {"injected": at(0.5)}}),
    run("watch", 1, 90, {"marks": {"detected": at(40), "recovery_started": at(41)}}),
    run("await", 90, 120, mark="restored"),
]


def test_timeline_takes_output_marks_and_tagged_ends_in_time_order() -> None:
    line = measures.timeline(journal(BAD_RELEASE_RUNS))
    assert [m.mark for m in line.moments] == list(Mark)
    assert line.at(Mark.INJECTED) == T0 + timedelta(seconds=0.5)
    assert line.at(Mark.RESTORED) == T0 + timedelta(seconds=120)
    assert [m.source for m in line.moments] == ["fault", "watch", "watch", "await"]


def test_rto_is_impact_to_steady_state() -> None:
    assert measures.rto_seconds(measures.timeline(journal(BAD_RELEASE_RUNS))) == 119.5


def test_no_restore_means_no_rto_and_the_objective_is_missed() -> None:
    runs = [*BAD_RELEASE_RUNS[:2], run("await", 90, 700, mark="restored", status="failed")]
    data = measures.summary("bad-release", journal(runs), Objective(30, 60))
    assert data["rto_seconds"] is None
    assert not data["objective_met"]
    assert any("no time to recovery" in r for r in data["reasons"])


@pytest.mark.parametrize(
    ("rto_minutes", "status", "met"),
    [(30, "completed", True), (1, "completed", False), (30, "interrupted", False)],
)
def test_objective_met_needs_completion_and_rto_within(
    rto_minutes: int, status: str, met: bool
) -> None:
    data = measures.summary("x", journal(BAD_RELEASE_RUNS, status), Objective(rto_minutes, 60))
    assert data["objective_met"] is met
    assert data["status"] == status


def test_a_failed_rollback_misses_the_objective() -> None:
    data = journal(BAD_RELEASE_RUNS)
    data["rollbacks"] = [run("undo", 200, 201, status="failed")]
    assert not measures.summary("x", data, Objective(30, 60))["objective_met"]


def test_rpo_comes_from_the_method_output_and_is_judged() -> None:
    runs = [*BAD_RELEASE_RUNS[:2],
            run("prove", 90, 120, {"rpo": {"rpo_seconds": 7200, "data_lost": ["a/b"]}},
                mark="restored")]  # fmt: skip
    data = measures.summary("artifact-loss", journal(runs), Objective(30, 60))
    assert data["rpo_seconds"] == 7200 and data["data_lost"] == ["a/b"]
    assert not data["objective_met"]
    assert any("RPO 7200 s exceeds" in r for r in data["reasons"])


def test_a_drill_without_data_at_stake_lost_none() -> None:
    data = measures.summary("bad-release", journal(BAD_RELEASE_RUNS), Objective(30, 60))
    assert (data["rpo_seconds"], data["data_lost"], data["data_at_stake"]) == (0.0, [], False)
    assert data["steady_state"] == {"before": True, "after": True}


def test_objectives_parameters_then_experiment_then_config() -> None:
    config = parse_config({"objectives": {"rto_minutes": 20, "rpo_minutes": 5}})
    own = {"extensions": [{"name": "opslib", "objectives": {"rto_minutes": 10}}]}
    assert catalog.objective(config, {}) == Objective(20, 5)
    assert catalog.objective(config, own) == Objective(10, 5)
    assert catalog.objective(config, own, rto_minutes=3, rpo_minutes=1) == Objective(3, 1)


def test_rpo_minutes_is_checked_in_the_config() -> None:
    with pytest.raises(ConfigError, match="objectives.rpo_minutes: expected an integer"):
        parse_config({"objectives": {"rpo_minutes": -1}})


def test_every_experiment_is_valid_for_chaoslib() -> None:
    for name in catalog.names():
        experiment = catalog.get(name).experiment()
        assert experiment["rollbacks"], name


def test_an_unknown_drill_names_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="did you mean 'bad-release'"):
        catalog.get("bad-releas")


# -- safety ---------------------------------------------------------------------------------
def test_a_target_of_another_stack_is_refused_by_name() -> None:
    target = Target("s3 bucket", "prod-artifacts")
    with pytest.raises(DrillRefused, match="s3 bucket prod-artifacts is tagged opslib:stack=prod"):
        require_stack_tag(target, {"opslib:stack": "prod"}, "demo")
    with pytest.raises(DrillRefused, match="has no opslib:stack tag"):
        require_stack_tag(target, {}, "demo")
    require_stack_tag(target, {"opslib:stack": "demo"}, "demo")


# -- the lock -------------------------------------------------------------------------------
def lease(expires_in: float, host: str = "here", pid: int = 42) -> Lease:
    return Lease("bad-release", host, pid, "t", T0, T0 + timedelta(seconds=expires_in))


@pytest.mark.parametrize(
    ("held", "alive", "stale"),
    [
        (lease(60), True, False),  # live holder on this host
        (lease(-1), True, True),  # expired
        (lease(60), False, True),  # its process is gone
        (lease(60, host="elsewhere"), False, False),  # another host's: trust the lease
        (None, True, True),  # not a lease at all
    ],
)
def test_stale_leases(held: Lease | None, alive: bool, stale: bool) -> None:
    assert bool(stale_reason(held, T0, "here", lambda _: alive)) is stale


def test_a_lease_round_trips_and_a_broken_value_is_none() -> None:
    assert Lease.from_json(lease(60).to_json()) == lease(60)
    assert Lease.from_json("{not json") is None


class FakeSsm:
    """PutParameter with Overwrite=False as SSM answers it: ParameterAlreadyExists."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def put_parameter(self, Name: str, Value: str, Overwrite: bool, **_: Any) -> None:  # noqa: N803
        if Name in self.values and not Overwrite:
            raise AwsError("exists", service="ssm", code="ParameterAlreadyExists")
        self.values[Name] = Value

    def get_parameter(self, Name: str) -> dict[str, Any]:  # noqa: N803
        from opslib.exceptions import NotFoundError

        if Name not in self.values:
            raise NotFoundError("missing", service="ssm", code="ParameterNotFound")
        return {"Parameter": {"Value": self.values[Name]}}

    def delete_parameter(self, Name: str) -> None:  # noqa: N803
        self.values.pop(Name)


class FakeSession:
    def __init__(self) -> None:
        self.ssm = FakeSsm()

    def client(self, service: str) -> FakeSsm:
        return self.ssm


def test_one_drill_per_stack_and_release_frees_it() -> None:
    session: Any = FakeSession()
    first, second = DrillLock(session, "demo"), DrillLock(session, "demo")
    with first.hold("bad-release"):
        with pytest.raises(DrillRefused, match="drill bad-release .* holds the drill lock"):
            second.acquire("artifact-loss")
    assert session.ssm.values == {}
    second.acquire("artifact-loss")
    assert "artifact-loss" in session.ssm.values["/opslib/demo/drill-lock"]


def test_a_crashed_drills_expired_lock_is_taken_over() -> None:
    session: Any = FakeSession()
    past = DrillLock(session, "demo", clock=lambda: T0 - timedelta(hours=3))
    past.acquire("instance-loss")  # never released: the process "crashed"
    now = DrillLock(session, "demo", clock=lambda: T0)
    taken = now.acquire("bad-release")
    assert taken.drill == "bad-release"
    past.release()  # the old holder's release must not free the new holder's lock
    assert "bad-release" in session.ssm.values["/opslib/demo/drill-lock"]


# -- bad-release and artifact-loss, pure parts --------------------------------------------
def bundle(files: dict[str, str]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return out.getvalue()


def test_the_bad_bundle_keeps_everything_but_the_server_and_the_label() -> None:
    release = json.dumps({"version": "1.0", "commit": "abc"})
    good = bundle(
        {"appspec.yml": "version: 0.0\n", BAD_SERVER: "ok()", "app/release.json": release}
    )
    with zipfile.ZipFile(io.BytesIO(broken_bundle(good, "drill-bad"))) as bad:
        assert bad.read("appspec.yml") == b"version: 0.0\n"
        assert bad.read(BAD_SERVER).decode() == BAD_SERVER_JS
        assert json.loads(bad.read("app/release.json")) == {"version": "drill-bad",
                                                             "commit": "abc"}  # fmt: skip


def test_a_foreign_bundle_is_refused() -> None:
    from opslib.exceptions import ExecutionError

    with pytest.raises(ExecutionError, match="not a sample-app bundle"):
        broken_bundle(bundle({"appspec.yml": ""}), "x")


def test_detection_is_the_first_failed_lifecycle_event() -> None:
    def target(*events: tuple[str, float]) -> dict[str, Any]:
        return {"instanceTarget": {"lifecycleEvents": [
            {"status": s, "endTime": T0 + timedelta(seconds=t)} for s, t in events]}}  # fmt: skip

    targets = [target(("Succeeded", 1), ("Failed", 30)), target(("Failed", 20))]
    assert failure_time(targets) == T0 + timedelta(seconds=20)
    assert failure_time([target(("Succeeded", 1))]) is None


def test_restored_artifact_comparison_and_rpo() -> None:
    before = {"version_id": "v1", "etag": '"e"', "sha256": "s", "bytes": 3,
              "last_modified": T0, "key": "k"}  # fmt: skip
    assert compare(before, dict(before)) == []
    assert recovery_point(before, [], None) == {"rpo_seconds": 0.0, "data_lost": []}
    changed = compare(before, {**before, "sha256": "other"})
    assert changed == ["sha256: s before, other after"]
    lost = recovery_point(before, changed, T0 - timedelta(minutes=90))
    assert lost == {"rpo_seconds": 5400.0, "data_lost": ["k"]}
    assert compare(before, None) == ["the artifact is still missing"]


# -- instance-loss, pipeline-failure, stack-rebuild, region-failure, pure parts ------------
def test_the_fis_template_targets_one_running_fleet_instance_of_the_stack() -> None:
    from opslib.drills.instances import ACTION, TARGET, template_document

    alarm = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:demo-app-errors"
    doc = template_document("demo", "DeploymentGroup", "Production-Fleet", "arn:role", [alarm])
    target = doc["targets"][TARGET]
    assert target["resourceTags"] == {"opslib:stack": "demo", "DeploymentGroup": "Production-Fleet"}
    assert target["selectionMode"] == "COUNT(1)"
    assert target["filters"] == [{"path": "State.Name", "values": ["running"]}]
    assert doc["actions"][ACTION]["actionId"] == "aws:ec2:terminate-instances"
    assert doc["actions"][ACTION]["targets"] == {"Instances": TARGET}
    assert doc["stopConditions"] == [{"source": "aws:cloudwatch:alarm", "value": alarm}]
    assert doc["tags"]["opslib:stack"] == "demo" and doc["roleArn"] == "arn:role"
    assert template_document("demo", "k", "v", "r", [])["stopConditions"] == [{"source": "none"}]


def test_the_stacks_fis_role_may_terminate_only_its_own_instances() -> None:
    from opslib.stack import policies
    from tests.unit.stack_fixtures import make_context

    ctx = make_context()
    statements = {s["Sid"]: s for s in policies.fis_policy(ctx)["Statement"]}
    terminate = statements["TerminateFleet"]
    assert terminate["Action"] == ["ec2:TerminateInstances"]
    assert terminate["Condition"] == {"StringEquals": {"aws:ResourceTag/opslib:stack": ctx.stack}}
    assert policies.trust("fis")["Statement"][0]["Principal"] == {"Service": "fis.amazonaws.com"}


def test_the_build_stage_is_the_codebuild_action_and_a_pipeline_without_one_is_refused() -> None:
    from opslib.drills.pipelinefailure import build_stage

    def action(name: str, category: str, provider: str) -> dict[str, Any]:
        return {"name": name, "actionTypeId": {"category": category, "provider": provider}}

    definition = {"name": "p", "stages": [
        {"name": "Source", "actions": [action("Src", "Source", "CodeStarSourceConnection")]},
        {"name": "Build", "actions": [action("Build", "Build", "CodeBuild")]},
        {"name": "Deploy", "actions": [action("Deploy", "Deploy", "CodeDeploy")]},
    ]}  # fmt: skip
    assert build_stage(definition) == ("Build", "Build")
    with pytest.raises(DrillRefused, match="pipeline p has no CodeBuild action"):
        build_stage({"name": "p", "stages": definition["stages"][:1]})


@pytest.mark.parametrize(
    ("stack", "suffix", "twin"),
    [
        ("demo", "-drill", "demo-drill"),
        ("demo", "-dr", "demo-dr"),
        ("a" * 32, "-drill", "a" * 26 + "-drill"),
        ("abc-" + "d" * 22 + "-xyz", "-drill", "abc-" + "d" * 22 + "-drill"),  # no '--'
    ],
)
def test_twin_names_stay_valid_stack_names(stack: str, suffix: str, twin: str) -> None:
    from opslib.drills.twins import twin_name

    assert twin_name(stack, suffix) == twin
    parse_config({"stack": twin})  # a name the config accepts


def test_a_twin_has_its_own_name_fleet_tag_and_region() -> None:
    from opslib.drills.twins import twin_config

    production = parse_config({"stack": "demo", "fleet": {"size": 2}})
    twin = twin_config(production, "-dr", region="us-west-2")
    assert (twin.stack, twin.region, twin.fleet.size) == ("demo-dr", "us-west-2", 2)
    assert twin.fleet.tag_value == "Production-Fleet-dr"
    assert twin.source == production.source and twin.deploy == production.deploy


@pytest.mark.parametrize("name", ["demo", "other-drill", "demo-drill2"])
def test_a_teardown_refuses_anything_but_a_twin(name: str) -> None:
    import dataclasses

    from opslib.drills.twins import require_twin, twin_config

    production = parse_config({"stack": "demo"})
    require_twin(production, twin_config(production, "-drill"))
    with pytest.raises(DrillRefused, match="never the production stack"):
        require_twin(production, dataclasses.replace(production, stack=name))


def test_a_twin_sharing_productions_fleet_tag_in_its_region_is_refused() -> None:
    import dataclasses

    from opslib.drills.twins import require_twin

    production = parse_config({"stack": "demo"})
    same_tag = dataclasses.replace(production, stack="demo-drill")
    with pytest.raises(DrillRefused, match="shares the fleet tag"):
        require_twin(production, same_tag)


@pytest.mark.parametrize(("value", "kept"), [(True, True), ("true", True), ("False", False),
                                             ("", False), (False, False)])  # fmt: skip
def test_keep_reads_a_bool_or_its_text(value: Any, kept: bool) -> None:
    from opslib.drills.region import flag

    assert flag(value) is kept


def test_keep_refuses_anything_else() -> None:
    from opslib.drills.region import flag

    with pytest.raises(DrillRefused, match="keep: expected true or false"):
        flag("yes")


def test_the_dr_region_is_configured_checked_and_never_the_primary() -> None:
    assert parse_config({}).dr_region() == "us-west-2"
    assert parse_config({"drills": {"dr_region": "eu-west-1"}}).dr_region() == "eu-west-1"
    assert parse_config({"region": "us-west-2"}).dr_region() == "us-east-1"  # default taken
    with pytest.raises(ConfigError, match="drills.dr_region: expected a region other than"):
        parse_config({"region": "eu-west-1", "drills": {"dr_region": "eu-west-1"}})
    with pytest.raises(ConfigError, match="drills.dr_region: expected an AWS region"):
        parse_config({"drills": {"dr_region": "mars-1"}})
    with pytest.raises(ConfigError, match="drills.dr_regoin: unknown key"):
        parse_config({"drills": {"dr_regoin": "eu-west-1"}})


def test_the_six_drills_are_registered() -> None:
    assert catalog.names() == sorted(
        ["bad-release", "artifact-loss", "instance-loss", "pipeline-failure", "stack-rebuild",
         "region-failure"]
    )  # fmt: skip
