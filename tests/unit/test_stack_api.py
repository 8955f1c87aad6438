"""Call counting, IAM propagation retries, connection waiting and display text (no AWS)."""

from __future__ import annotations

from typing import Any

import pytest

from opslib.exceptions import AwsError, ExecutionError
from opslib.stack import display
from opslib.stack.api import Api, Call, CallLog, is_iam_propagation
from opslib.stack.engine import StepStatus
from opslib.stack.model import Action, Change, FieldChange, Plan
from opslib.stack.source import wait_available
from opslib.target import Session, Target, TargetKind


def _api(**kwargs: Any) -> Api:
    target = Target(TargetKind.LOCAL, "us-east-1", endpoint_url="http://127.0.0.1:9")
    return Api(Session(target), **kwargs)


@pytest.mark.parametrize(
    ("operation", "mutating"),
    [
        ("CreateBucket", True),
        ("PutRolePolicy", True),
        ("TagResource", True),
        ("GetRole", False),
        ("ListTagsForResource", False),
        ("DescribeInstances", False),
        ("BatchGetProjects", False),
        ("HeadBucket", False),
    ],
)
def test_calls_are_classified_by_operation_name(operation: str, mutating: bool) -> None:
    assert Call("svc", operation).mutating is mutating


def test_call_log_records_botocore_before_call_events() -> None:
    log = CallLog()
    log.record("before-call.s3.CreateBucket", params={})
    log.record("before-call.s3.HeadBucket", params={})
    assert [c.operation for c in log.mutating] == ["CreateBucket"]


def test_the_hook_sees_every_call_made_through_the_api() -> None:
    api = _api()
    client = api.client("sts")
    client.meta.events.register(
        "before-send", lambda **kwargs: _fake_response()
    )  # answer without a network
    with pytest.raises(AwsError):
        api.call("sts", "get_caller_identity")
    assert api.log.calls == [Call("sts", "GetCallerIdentity")]


def _fake_response() -> Any:
    from botocore.awsrequest import AWSResponse

    class Raw:
        def stream(self, **_: Any) -> Any:
            yield b"<ErrorResponse><Error><Code>Nope</Code></Error></ErrorResponse>"

    return AWSResponse("http://x", 400, {}, Raw())


@pytest.mark.parametrize(
    ("code", "message", "expected"),
    [
        ("InvalidInputException", "CodeBuild is not authorized to perform: sts:AssumeRole", True),
        ("InvalidStructureException", "not authorized to perform AssumeRole on role", True),
        ("InvalidRoleException", "does not give you permission to assume the role", True),
        ("InvalidParameterValue", "Value for parameter iamInstanceProfile.name is invalid", True),
        ("InvalidInputException", "Project name is invalid", False),
        ("AccessDenied", "AssumeRole", False),
    ],
)
def test_iam_propagation_errors(code: str, message: str, expected: bool) -> None:
    assert is_iam_propagation(AwsError(message, code=code)) is expected


def test_call_after_iam_retries_propagation_then_succeeds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    waits: list[float] = []
    api = _api(sleep=waits.append)
    answers: list[Any] = [
        AwsError("not authorized to perform: sts:AssumeRole", code="InvalidInputException"),
        AwsError("not authorized to perform: sts:AssumeRole", code="InvalidInputException"),
        {"ok": True},
    ]

    def fake_call(service: str, method: str, **params: Any) -> Any:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    monkeypatch.setattr(api, "call", fake_call)
    assert api.call_after_iam("codebuild", "create_project") == {"ok": True}
    assert waits == [2.0, 4.0]


def test_call_after_iam_does_not_retry_real_failures(monkeypatch: pytest.MonkeyPatch) -> None:
    api = _api(sleep=lambda _: pytest.fail("no retry expected"))

    def fake_call(service: str, method: str, **params: Any) -> Any:
        raise AwsError("bad name", code="InvalidInputException")

    monkeypatch.setattr(api, "call", fake_call)
    with pytest.raises(AwsError, match="bad name"):
        api.call_after_iam("codebuild", "create_project")


def _connection_api(monkeypatch: pytest.MonkeyPatch, statuses: list[str]) -> Api:
    api = _api()

    def fake_call(service: str, method: str, **params: Any) -> Any:
        return {"Connection": {"ConnectionStatus": statuses.pop(0)}}

    monkeypatch.setattr(api, "call", fake_call)
    return api


def test_wait_available_polls_until_a_person_authorized(monkeypatch: pytest.MonkeyPatch) -> None:
    api = _connection_api(monkeypatch, ["PENDING", "PENDING", "AVAILABLE"])
    seen: list[str] = []
    status = wait_available(api, "arn", 60, interval=1, sleep=lambda _: None, on_wait=seen.append)
    assert status == "AVAILABLE" and seen == ["PENDING", "PENDING"]


def test_wait_available_gives_up_with_the_console_link(monkeypatch: pytest.MonkeyPatch) -> None:
    api = _connection_api(monkeypatch, ["PENDING"] * 5)
    with pytest.raises(ExecutionError, match="console.aws.amazon.com/codesuite/settings"):
        wait_available(api, "arn", 0, interval=1, sleep=lambda _: None)


def test_connection_notice_only_for_pending() -> None:
    assert display.connection_notice("AVAILABLE", "us-east-1") is None
    notice = display.connection_notice("PENDING", "eu-west-1")
    assert notice and "eu-west-1.console.aws.amazon.com" in notice and "--wait-connection" in notice


def test_plan_lines_show_changes_and_a_summary() -> None:
    plan = Plan(
        [
            Change("s3 bucket", "b", Action.CREATE),
            Change("iam role", "r", Action.UPDATE, (FieldChange("policy", 1, 2),)),
            Change("sns topic", "t", Action.NOOP),
        ]
    )
    assert display.plan_lines(plan) == [
        "+ create s3 bucket b",
        "~ update iam role r (policy)",
        "Plan: 1 to create, 1 to update (1 unchanged).",
    ]
    assert display.plan_lines(Plan([Change("sns topic", "t", Action.NOOP)]))[-1].startswith(
        "No changes"
    )


def test_progress_lines_mark_finished_steps_only() -> None:
    change = Change("s3 bucket", "b", Action.CREATE)
    assert display.progress_line(change, StepStatus.STARTED) is None
    assert display.progress_line(change, StepStatus.DONE) == "  ✓ create s3 bucket b"
    assert display.progress_line(change, StepStatus.FAILED) == "  ✗ create s3 bucket b"
