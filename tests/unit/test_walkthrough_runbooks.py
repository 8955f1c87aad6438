"""The provision and teardown runbooks' steps (opslib.walkthrough) without AWS."""

from __future__ import annotations

import json
from typing import Any

import pytest

from opslib import params, walkthrough
from opslib.config import StackConfig
from opslib.exceptions import ConfigError
from opslib.runbooks.context import RunbookContext, to_plain
from opslib.stack.api import CallLog
from opslib.stack.engine import RunResult
from opslib.stack.model import Action, Change, Plan
from opslib.stack.runbook import Outcome
from tests.unit.runbook_fakes import FakeSession
from tests.unit.stack_fixtures import make_context

BUCKET = Change("s3 bucket", "demo-artifacts", Action.CREATE)
ROLE = Change("iam role", "demo-codebuild", Action.UPDATE)
TOPIC = Change("sns topic", "demo-alarms", Action.NOOP)
TAKEN = Change("codebuild project", "demo-build", Action.CONFLICT)


def context(**parameters: Any) -> RunbookContext:
    given = {"target": "local", "config": "", "profile": "", "region": "", "stack": ""}
    return RunbookContext("provision", {**given, **parameters}, StackConfig(), FakeSession())


def result(*changes: Change, leftovers: list[str] | None = None, **facts: str) -> RunResult:
    return RunResult(list(changes), CallLog(), 2.34, make_context(facts=facts), leftovers or [])


def deleting(*changes: Change) -> list[Change]:
    return [Change(c.kind, c.name, Action.DELETE) for c in changes]


# The parameters: a config setting as a params rule, and the stack parameters applied.


def test_setting_accepts_empty_and_valid_values() -> None:
    assert walkthrough.setting("stack").check("") is None
    assert walkthrough.setting("stack").check("shop-2") is None
    assert walkthrough.setting("region").check("eu-west-1") is None


def test_setting_says_what_the_config_expects() -> None:
    rules = {"stack": walkthrough.setting("stack"), "region": walkthrough.setting("region")}
    with pytest.raises(ConfigError) as raised:
        params.check({"stack": str}, {"stack": "Bad_Name"}, rules={"stack": rules["stack"]})
    message = str(raised.value)
    assert message.startswith("parameter 'stack': expected 3-32 lowercase letters")
    assert message.endswith(", got 'Bad_Name'") and message.count("got") == 1
    assert rules["region"].check("mars") == "expected an AWS region such as us-east-1"


def test_without_stack_parameters_the_context_is_unchanged() -> None:
    rb = context()
    assert walkthrough.with_stack_parameters(rb, open_session=pytest.fail) is rb


def test_another_stack_keeps_the_session() -> None:
    rb = context(stack="shop")
    changed = walkthrough.with_stack_parameters(rb, open_session=pytest.fail)
    assert changed.config.stack == "shop" and changed.session is rb.session
    assert changed.config.region == rb.config.region and changed.name == "provision"


def test_another_region_opens_a_session_there() -> None:
    opened: list[StackConfig] = []

    def open_session(config: StackConfig) -> Any:
        opened.append(config)
        return "session in " + config.region

    changed = walkthrough.with_stack_parameters(context(region="eu-west-1"), open_session)
    assert [c.region for c in opened] == ["eu-west-1"]
    assert changed.session == "session in eu-west-1" and changed.config.region == "eu-west-1"


def test_a_bad_stack_parameter_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="stack"):
        walkthrough.with_stack_parameters(context(stack="Bad_Name"))


# The steps: plan first, change only when asked.


def test_provision_plan_echoes_the_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(walkthrough, "plan", lambda session, config: Plan([BUCKET, TOPIC]))
    lines: list[str] = []
    shown = walkthrough.provision_plan(context(), echo=lines.append)
    assert shown.changes == [BUCKET, TOPIC]
    assert lines == ["+ create s3 bucket demo-artifacts", "Plan: 1 to create (1 unchanged)."]


def test_provision_dry_run_applies_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(walkthrough, "apply", pytest.fail)
    lines: list[str] = []
    assert walkthrough.provision_apply(context(), True, echo=lines.append) is None
    assert lines == ["dry run: nothing changed (set dry_run=False to apply)"]


def test_provision_applies_and_reports(monkeypatch: pytest.MonkeyPatch) -> None:
    done = result(BUCKET, TOPIC, connection_status="AVAILABLE")
    monkeypatch.setattr(walkthrough, "apply", lambda session, config, progress: done)
    lines: list[str] = []
    assert walkthrough.provision_apply(context(), False, echo=lines.append) is done
    assert lines[0].startswith("up: 1 created, 0 updated, 1 unchanged")
    assert lines[1] == "source connection ready"


def test_provision_says_when_the_connection_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    done = result(BUCKET, connection_status="PENDING")
    monkeypatch.setattr(walkthrough, "apply", lambda session, config, progress: done)
    lines: list[str] = []
    walkthrough.provision_apply(context(), False, echo=lines.append)
    assert "The GitHub connection is PENDING" in lines[1]


def test_teardown_plan_lists_what_carries_the_tag(monkeypatch: pytest.MonkeyPatch) -> None:
    listed = Plan(deleting(BUCKET))
    monkeypatch.setattr(
        walkthrough.stack_runbook, "teardown", lambda config, confirm, session: Outcome(listed)
    )
    lines: list[str] = []
    assert walkthrough.teardown_plan(context(), echo=lines.append) is listed
    assert lines == ["- delete s3 bucket demo-artifacts"]


def test_teardown_plan_of_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        walkthrough.stack_runbook, "teardown", lambda config, confirm, session: Outcome(Plan())
    )
    lines: list[str] = []
    walkthrough.teardown_plan(context(), echo=lines.append)
    assert lines == ["nothing carries this stack's tag"]


def test_teardown_without_confirm_deletes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(walkthrough, "destroy", pytest.fail)
    lines: list[str] = []
    assert walkthrough.teardown_delete(context(), False, echo=lines.append) is None
    assert lines == ["not confirmed: nothing deleted (set confirm=True to delete)"]


def test_teardown_deletes_and_names_leftovers(monkeypatch: pytest.MonkeyPatch) -> None:
    done = result(*deleting(BUCKET), leftovers=["arn:aws:sns:us-east-1:1:demo-alarms"])
    monkeypatch.setattr(walkthrough, "destroy", lambda session, config, progress: done)
    lines: list[str] = []
    assert walkthrough.teardown_delete(context(), True, echo=lines.append) is done
    assert lines[0].startswith("down: 1 deleted, 0 left")
    assert lines[1] == "still tagged (delete by hand): arn:aws:sns:us-east-1:1:demo-alarms"


# Verdicts and summaries.


@pytest.mark.parametrize(
    ("shown", "ok", "sentence"),
    [
        (
            Plan([BUCKET, ROLE, TOPIC]),
            True,
            "dry run: stack demo would get 1 created, 1 updated; rerun with dry_run=False",
        ),
        (Plan([TOPIC]), True, "dry run: stack demo is up to date, nothing to apply"),
        (
            Plan([BUCKET, TAKEN]),
            False,
            "dry run: up would stop, another stack owns codebuild project demo-build",
        ),
    ],
)
def test_provision_dry_run_verdict(shown: Plan, ok: bool, sentence: str) -> None:
    verdict = walkthrough.provision_verdict("demo", shown, None)
    assert verdict.ok is ok and verdict.sentence.startswith(sentence)


def test_provision_verdict_after_up() -> None:
    done = result(BUCKET, ROLE, TOPIC, connection_status="AVAILABLE")
    verdict = walkthrough.provision_verdict("demo", Plan([BUCKET, ROLE, TOPIC]), done)
    assert str(verdict) == "✓ stack demo is up: 1 created, 1 updated, 1 unchanged"
    pending = result(BUCKET, connection_status="PENDING")
    assert "authorize the GitHub connection" in str(
        walkthrough.provision_verdict("demo", Plan([BUCKET]), pending)
    )


def test_provision_summary_names_what_was_created() -> None:
    shown = Plan([BUCKET, ROLE, TOPIC])
    dry = walkthrough.provision_summary(shown, None)
    assert dry["dry_run"] is True and dry["result"] is None
    assert dry["plan"]["counts"]["create"] == 1
    assert dry["plan"]["changes"] == [BUCKET.summary(), ROLE.summary()]
    done = walkthrough.provision_summary(shown, result(BUCKET, ROLE, TOPIC))
    assert done["dry_run"] is False
    assert done["result"]["created"] == ["s3 bucket demo-artifacts"]
    assert done["result"]["updated"] == ["iam role demo-codebuild"]
    assert done["result"]["counts"]["no-op"] == 1 and done["result"]["seconds"] == 2.3
    assert json.loads(json.dumps(to_plain(done))) == done


def test_teardown_verdicts() -> None:
    listed = Plan(deleting(BUCKET, ROLE))
    nothing = walkthrough.teardown_verdict("demo", Plan(), None)
    assert nothing.ok and nothing.sentence == "nothing carries stack demo's tag, nothing to delete"
    dry = walkthrough.teardown_verdict("demo", listed, None)
    assert dry.ok and dry.sentence.startswith("dry run: 2 resource(s) of stack demo would be")
    done = walkthrough.teardown_verdict("demo", listed, result(*deleting(BUCKET, ROLE), TAKEN))
    assert (
        str(done) == "✓ stack demo torn down: 2 resource(s) deleted; 1 of other stacks left alone"
    )
    left = walkthrough.teardown_verdict(
        "demo", listed, result(*deleting(BUCKET), leftovers=["arn:x"])
    )
    assert not left.ok and left.sentence.endswith("1 still carry its tag (delete by hand): arn:x")


def test_teardown_summary_names_what_was_deleted() -> None:
    listed = Plan(deleting(BUCKET, ROLE))
    dry = walkthrough.teardown_summary(listed, None)
    assert dry == {
        "confirmed": False,
        "plan": {"count": 2, "to_delete": ["s3 bucket demo-artifacts", "iam role demo-codebuild"]},
        "result": None,
    }
    done = walkthrough.teardown_summary(listed, result(*deleting(BUCKET), TAKEN, leftovers=["a"]))
    assert done["confirmed"] is True
    assert done["result"]["deleted"] == ["s3 bucket demo-artifacts"]
    assert done["result"]["left_to_other_stacks"] == ["codebuild project demo-build"]
    assert done["result"]["still_tagged"] == ["a"] and done["result"]["counts"]["delete"] == 1
    assert json.loads(json.dumps(to_plain(done))) == done


def test_dry_run_verdicts_say_how_to_rerun_on_the_command_line() -> None:
    provision = walkthrough.provision_verdict("demo", Plan([BUCKET, ROLE, TOPIC]), None)
    assert "(opslib runbook run provision -p dry_run false) to apply" in provision.sentence
    teardown = walkthrough.teardown_verdict("demo", Plan(deleting(BUCKET)), None)
    assert "(opslib runbook run teardown -p confirm true) to delete" in teardown.sentence
