"""The pure heart of planning: flatten, field diffs, and the per-resource decision."""

from __future__ import annotations

from typing import Any

import pytest

from opslib.stack.model import (
    Action,
    Change,
    FieldChange,
    Plan,
    changed_under,
    decide,
    diff_fields,
    flatten,
)
from opslib.stack.tags import STACK_TAG


def test_flatten_joins_nested_keys_and_keeps_lists_whole() -> None:
    data = {"a": {"b": 1, "c": {"d": [1, 2]}}, "e": "x", "f": {}}
    assert flatten(data) == {"a.b": 1, "a.c.d": [1, 2], "e": "x", "f": {}}


@pytest.mark.parametrize(
    ("desired", "current", "paths"),
    [
        ({"a": 1}, {"a": 1}, []),
        ({"a": 1}, {"a": 2}, ["a"]),
        ({"a": 1}, {"a": 1, "extra": 3}, []),  # extra current keys are not drift
        ({"t": {"k": "v"}}, {"t": {"k": "v", "other": "x"}}, []),
        ({"t": {"k": "v"}}, {"t": {}}, ["t.k"]),
        ({"l": [1, 2]}, {"l": [2, 1]}, ["l"]),  # lists compare as a whole, in order
        ({"i": {"1": {"x": 1}, "2": {"x": 1}}}, {"i": {"1": {"x": 1}}}, ["i.2"]),
    ],
)
def test_diff_fields(desired: dict[str, Any], current: dict[str, Any], paths: list[str]) -> None:
    assert [f.path for f in diff_fields(desired, current)] == paths


def test_diff_fields_carries_old_and_new_values() -> None:
    assert diff_fields({"a": 2}, {"a": 1}) == (FieldChange("a", 1, 2),)


def test_a_missing_nested_entry_is_one_change() -> None:
    (change,) = diff_fields({"i": {"3": {"x": 1, "y": 2}}}, {"i": {}})
    assert change == FieldChange("i.3", None, {"x": 1, "y": 2})


def _tags(stack: str | None) -> dict[str, Any]:
    return {"tags": {STACK_TAG: stack}} if stack else {"tags": {}}


@pytest.mark.parametrize(
    ("current", "action"),
    [
        (None, Action.CREATE),
        ({"v": 1, **_tags("demo")}, Action.NOOP),
        ({"v": 2, **_tags("demo")}, Action.UPDATE),
        ({"v": 1, **_tags(None)}, Action.UPDATE),  # untagged: adopted, tags added
        ({"v": 1, **_tags("other")}, Action.CONFLICT),
    ],
)
def test_decide(current: dict[str, Any] | None, action: Action) -> None:
    desired = {"v": 1, **_tags("demo")}
    assert decide("k", "n", "demo", desired, current).action is action


def test_plan_counts_rows_and_pending() -> None:
    plan = Plan(
        [
            Change("s3 bucket", "b", Action.CREATE),
            Change("iam role", "r", Action.UPDATE, (FieldChange("policy", None, {}),)),
            Change("sns topic", "t", Action.NOOP),
        ]
    )
    assert plan.counts()["create"] == 1 and plan.counts()["no-op"] == 1
    assert [c.name for c in plan.pending()] == ["b", "r"]
    assert plan.rows()[1] == {
        "kind": "iam role",
        "name": "r",
        "action": "update",
        "fields": "policy",
    }
    assert plan.has_changes
    assert not Plan([Change("sns topic", "t", Action.NOOP)]).has_changes


def test_summary_names_changed_fields_of_updates_only() -> None:
    update = Change("iam role", "r", Action.UPDATE, (FieldChange("trust", 1, 2),))
    assert update.summary() == "update iam role r (trust)"
    assert Change("s3 bucket", "b", Action.CREATE).summary() == "create s3 bucket b"


@pytest.mark.parametrize(
    ("changed", "prefix", "expected"),
    [
        (["tags.Name"], "tags", True),
        (["tags"], "tags", True),
        (["tagsx"], "tags", False),
        (["policy.Statement"], "tags", False),
    ],
)
def test_changed_under(changed: list[str], prefix: str, expected: bool) -> None:
    assert changed_under(changed, prefix) is expected
