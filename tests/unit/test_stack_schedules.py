"""The scheduled reports' resources: wanted only with schedules, their shapes, least privilege."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from parliament import analyze_policy_string

from opslib.specs import load_buildspec
from opslib.stack import policies
from opslib.stack.api import Api
from opslib.stack.context import Context
from opslib.stack.engine import _survey_one
from opslib.stack.model import Action, Resource, State
from opslib.stack.registry import reports_resources, resources
from opslib.stack.reportsource import REPORTS_BUILDSPEC, SOURCE_ROOT, source_archive, source_files
from opslib.stack.schedules import START_BUILD_TARGET, Schedules, schedule_state
from opslib.stack.tags import STACK_TAG
from tests.unit.stack_fixtures import ACCOUNT, make_context

pytestmark = pytest.mark.unit

SCHEDULES = [
    {"name": "fleet-hourly", "runbook": "fleet-health", "expression": "rate(1 hour)",
     "parameters": {"minutes": 60}},
    {"name": "triage-daily", "runbook": "triage", "expression": "cron(0 6 * * ? *)",
     "timezone": "Europe/Paris", "enabled": False},
]  # fmt: skip


def _ctx(**settings: Any) -> Context:
    return make_context(schedules=SCHEDULES, **settings)


def _desired(ctx: Context) -> dict[str, State]:
    return {r.name: r.desired(ctx) for r in reports_resources(ctx.names)}


def test_reports_resources_are_wanted_only_with_schedules() -> None:
    without, with_schedules = make_context(), _ctx()
    reports = reports_resources(without.names)
    assert not any(r.wanted(without) for r in reports)
    assert all(r.wanted(with_schedules) for r in reports)
    base = [r for r in resources(without.names) if r.wanted(without)]
    assert {r.name for r in reports}.isdisjoint(r.name for r in base)


def test_reports_come_after_the_topic_and_schedules_after_their_project_and_role() -> None:
    names = [r.name for r in resources(_ctx().names)]
    assert names.index("demo-notifications") < names.index("demo-reports-failures")
    assert names.index("demo-reports") < names.index("demo-schedules")
    assert names.index("demo-scheduler") < names.index("demo-schedules")
    assert names.index("demo") < names.index("demo-schedules")  # the schedule group


def test_every_reports_resource_carries_the_stack_tag() -> None:
    for name, desired in _desired(_ctx()).items():
        assert desired["tags"][STACK_TAG] == "demo", name


def test_the_reports_project_builds_the_uploaded_source_with_the_reports_buildspec() -> None:
    ctx = _ctx()
    project = _desired(ctx)["demo-reports"]
    bucket = f"demo-reports-{ACCOUNT}-us-east-1"
    assert project["source"] == {
        "type": "S3",
        "location": f"{bucket}/source/opslib.zip",
        "buildspec": REPORTS_BUILDSPEC,
    }
    assert project["serviceRole"] == f"arn:aws:iam::{ACCOUNT}:role/demo-reports"
    variables = {v["name"]: v["value"] for v in project["environment"]["environmentVariables"]}
    assert variables["OPSLIB_REPORTS_BUCKET"] == bucket
    assert variables["OPSLIB_REPORTS_PREFIX"] == "reports/"
    assert variables["OPSLIB_TOPIC_ARN"] == ctx.topic_arn
    assert project["logsConfig"]["cloudWatchLogs"]["groupName"] == "/aws/codebuild/demo-reports"


def test_the_reports_bucket_is_hardened_and_expires_reports() -> None:
    ctx = _ctx()
    bucket = _desired(ctx)[ctx.names.reports_bucket]
    assert bucket["versioning"] == "Enabled" and bucket["encryption"] == "AES256"
    assert all(bucket["public_access_block"].values())
    assert bucket["policy"] == policies.tls_only_policy(ctx.reports_bucket_arn)
    expire = bucket["lifecycle"][0]
    assert expire["Filter"] == {"Prefix": "reports/"} and expire["Expiration"] == {"Days": 90}


def test_each_schedule_starts_the_reports_build_with_its_runbook_and_parameters() -> None:
    ctx = _ctx()
    wanted = _desired(ctx)["demo-schedules"]["schedules"]
    assert sorted(wanted) == ["fleet-hourly", "triage-daily"]
    hourly = wanted["fleet-hourly"]
    assert hourly["ScheduleExpression"] == "rate(1 hour)" and hourly["State"] == "ENABLED"
    assert hourly["Target"]["Arn"] == START_BUILD_TARGET
    assert hourly["Target"]["RoleArn"] == f"arn:aws:iam::{ACCOUNT}:role/demo-scheduler"
    request = json.loads(hourly["Target"]["Input"])
    assert request["projectName"] == "demo-reports"
    overrides = {v["name"]: v["value"] for v in request["environmentVariablesOverride"]}
    assert overrides["OPSLIB_RUNBOOK"] == "fleet-health"
    assert json.loads(overrides["OPSLIB_PARAMETERS"]) == {"minutes": 60}
    assert overrides["OPSLIB_SCHEDULE"] == "fleet-hourly"
    daily = wanted["triage-daily"]
    assert daily["State"] == "DISABLED"
    assert daily["ScheduleExpressionTimezone"] == "Europe/Paris"


def test_the_failed_builds_alarm_watches_the_reports_project_and_notifies_the_topic() -> None:
    ctx = _ctx()
    alarm = _desired(ctx)["demo-reports-failures"]
    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/CodeBuild", "FailedBuilds")
    assert alarm["Dimensions"] == [{"Name": "ProjectName", "Value": "demo-reports"}]
    assert alarm["AlarmActions"] == [ctx.topic_arn]


# --- least privilege ----------------------------------------------------------------------


def _findings(document: dict[str, Any]) -> list[str]:
    policy = analyze_policy_string(json.dumps(document), include_community_auditors=True)
    return [f"{f.issue}: {f.detail}" for f in policy.findings]


def _statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    return list(document["Statement"])


def _list(value: Any) -> list[str]:
    return value if isinstance(value, list) else [value]


@pytest.mark.parametrize("build", [policies.reports_policy, policies.scheduler_policy])
def test_reports_policies_pass_parliament(build: Any) -> None:
    assert _findings(build(_ctx())) == []


def test_the_reports_role_writes_only_under_the_reports_prefix_and_cache() -> None:
    ctx = _ctx()
    for statement in _statements(policies.reports_policy(ctx)):
        writes = [a for a in _list(statement["Action"]) if a in ("s3:PutObject", "s3:DeleteObject")]
        if writes:
            for resource in _list(statement["Resource"]):
                assert resource.startswith(
                    f"{ctx.reports_bucket_arn}/reports/"
                ) or resource.startswith(f"{ctx.reports_bucket_arn}/cache/"), resource
        assert not any(
            a.startswith(("iam:", "ec2:Run", "ec2:Terminate")) for a in _list(statement["Action"])
        )


def test_the_reports_role_only_reads_the_stack_beyond_its_own_writes() -> None:
    writes = {"logs:CreateLogStream", "logs:PutLogEvents", "s3:PutObject", "sns:Publish"}
    reads = ("Get", "List", "Describe", "BatchGet", "Filter")
    for statement in _statements(policies.reports_policy(_ctx())):
        for action in _list(statement["Action"]):
            assert action in writes or action.split(":")[1].startswith(reads), action
        if "*" in _list(statement["Resource"]):
            assert set(_list(statement["Action"])) <= set(policies.WILDCARD_ACTIONS)
        else:
            assert all("demo" in r for r in _list(statement["Resource"])), statement


def test_the_scheduler_role_may_only_start_the_reports_project() -> None:
    ctx = _ctx()
    (statement,) = _statements(policies.scheduler_policy(ctx))
    assert statement["Action"] == ["codebuild:StartBuild"]
    assert statement["Resource"] == [f"arn:aws:codebuild:us-east-1:{ACCOUNT}:project/demo-reports"]
    (trust,) = _statements(policies.scheduler_trust(ctx))
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}


# --- the engine: a resource the config no longer wants is deleted --------------------------


class _Fake(Resource):
    kind = "fake"

    def __init__(self, current: State | None, wanted: bool) -> None:
        super().__init__("fake")
        self.current, self._wanted = current, wanted

    def wanted(self, ctx: Context) -> bool:
        return self._wanted

    def desired(self, ctx: Context) -> State:
        return {"tags": ctx.tags()}

    def read(self, api: Api, ctx: Context) -> State | None:
        return self.current

    def create(self, api: Api, ctx: Context, desired: State) -> None: ...
    def update(self, api: Api, ctx: Context, desired: State, changed: list[str]) -> None: ...
    def delete(self, api: Api, ctx: Context, current: State) -> None: ...


@pytest.mark.parametrize(
    ("current", "wanted", "action"),
    [
        (None, False, None),  # not asked for, not there: not even listed
        ({"tags": {STACK_TAG: "other"}}, False, None),  # another stack's: never touched
        ({"tags": {STACK_TAG: "demo"}}, False, Action.DELETE),  # the config dropped it
        (None, True, Action.CREATE),
        ({"tags": {STACK_TAG: "demo"}}, True, Action.NOOP),
    ],
)
def test_survey_deletes_what_is_no_longer_wanted(
    current: State | None, wanted: bool, action: Action | None
) -> None:
    found = _survey_one(_Fake(current, wanted), Api.__new__(Api), make_context())
    assert (found.change.action if found else None) is action


def test_schedules_set_compares_only_what_the_config_sets() -> None:
    ctx = _ctx()
    resource = Schedules("demo-schedules", "demo")
    wanted = resource.desired(ctx)
    assert set(wanted["schedules"]["fleet-hourly"]) == set(
        schedule_state(ctx, ctx.config.schedules[0])
    )


# --- the source and the buildspec the build runs --------------------------------------------


def test_the_source_holds_the_package_the_runbooks_and_the_buildspec() -> None:
    files = source_files()
    assert "pyproject.toml" in files and REPORTS_BUILDSPEC in files
    assert "runbooks/fleet-health.ipynb" in files and "opslib/cli/main.py" in files
    assert not any("__pycache__" in f or f.endswith(".pyc") for f in files)


def test_the_source_zip_is_reproducible_and_changes_with_a_file(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project]\nname='x'\n")
    (tmp_path / "opslib").mkdir()
    module = tmp_path / "opslib" / "a.py"
    module.write_text("A = 1\n")
    first = source_archive(tmp_path)
    assert source_archive(tmp_path).digest == first.digest
    module.write_text("A = 2\n")
    assert source_archive(tmp_path).digest != first.digest


def test_the_reports_buildspec_is_valid_and_uploads_in_post_build() -> None:
    spec = load_buildspec(SOURCE_ROOT / REPORTS_BUILDSPEC)
    text = (SOURCE_ROOT / REPORTS_BUILDSPEC).read_text()
    assert "opslib --target aws runbook run" in text and "opslib reports upload" in text
    assert "127.0.0.1" not in text and "emulator" not in text.split("version:")[1]
    assert spec.version == "0.2" and spec.env.shell == "bash"
