"""FIS, pure: which instances a target resolves to, and the templates FIS refuses."""

from __future__ import annotations

import random
from typing import Any

import pytest

from opslib.emulator.fis.model import FisValidationError, check_template, duration_seconds
from opslib.emulator.fis.targets import Resource, TargetNotResolved, resolve, select

pytestmark = pytest.mark.unit


def _instance(n: int, state: str = "running", zone: str = "us-east-1a", **tags: str) -> Resource:
    arn = f"arn:aws:ec2:us-east-1:123456789012:instance/i-{n:04d}"
    attributes = {"InstanceId": f"i-{n:04d}", "State": {"Name": state},
                  "Placement": {"AvailabilityZone": zone}}  # fmt: skip
    return Resource(arn, tags, attributes)


FLEET = [
    _instance(1, app="web"),
    _instance(2, app="web", zone="us-east-1b"),
    _instance(3, "stopped", app="web"),
    _instance(4, "terminated", app="web"),
    _instance(5, app="db"),
]


def _ids(arns: list[str]) -> list[int]:
    return [int(a.rsplit("-", 1)[-1]) for a in arns]


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ({"resourceTags": {"app": "web"}}, [1, 2, 3]),  # terminated ones are not found by tags
        ({"resourceTags": {"app": "web"},
          "filters": [{"path": "State.Name", "values": ["running"]}]}, [1, 2]),
        ({"resourceTags": {"app": "web"},
          "filters": [{"path": "Placement.AvailabilityZone", "values": ["us-east-1b"]}]}, [2]),
        ({"resourceTags": {"app": "web"}, "filters": [
            {"path": "State.Name", "values": ["running", "stopped"]},
            {"path": "Placement.AvailabilityZone", "values": ["us-east-1a"]}]}, [1, 3]),
        ({"resourceTags": {"app": "cache"}}, []),
        ({"resourceArns": [FLEET[4].arn, FLEET[0].arn]}, [5, 1]),
        ({"resourceArns": [FLEET[3].arn]}, [4]),  # by ARN: as named, whatever its state
    ],
)  # fmt: skip
def test_targets_resolve_by_tags_arns_and_filters(
    target: dict[str, Any], expected: list[int]
) -> None:
    assert _ids(resolve({**target, "selectionMode": "ALL"}, FLEET)) == expected


def test_an_arn_that_does_not_exist_does_not_resolve() -> None:
    with pytest.raises(TargetNotResolved, match="i-9999"):
        resolve({"resourceArns": [_instance(9999).arn], "selectionMode": "ALL"}, FLEET)


@pytest.mark.parametrize(
    ("mode", "of", "picked"),
    [("ALL", 4, 4), ("COUNT(1)", 4, 1), ("COUNT(3)", 4, 3), ("COUNT(9)", 4, 4),
     ("PERCENT(50)", 4, 2), ("PERCENT(25)", 3, 0), ("PERCENT(100)", 3, 3), ("COUNT(2)", 0, 0)],
)  # fmt: skip
def test_selection_modes_pick_how_many(mode: str, of: int, picked: int) -> None:
    arns = [f"arn-{n}" for n in range(of)]
    chosen = select(arns, mode, random.Random(7))
    assert len(chosen) == picked
    assert set(chosen) <= set(arns) and chosen == [a for a in arns if a in chosen]


def test_count_picks_at_random() -> None:
    arns = [f"arn-{n}" for n in range(10)]
    assert len({tuple(select(arns, "COUNT(1)", random.Random(seed))) for seed in range(20)}) > 1


@pytest.mark.parametrize("mode", ["SOME", "COUNT(0)", "PERCENT(0)", "PERCENT(101)", "count(1)"])
def test_bad_selection_modes_are_refused(mode: str) -> None:
    with pytest.raises(FisValidationError, match="selectionMode"):
        select(["a"], mode)


@pytest.mark.parametrize(
    ("text", "seconds"), [("PT1M", 60), ("PT90S", 90), ("PT1H30M", 5400), ("PT12H", 43200)]
)
def test_iso_durations(text: str, seconds: float) -> None:
    assert duration_seconds(text) == seconds


WAIT = {"w": {"actionId": "aws:fis:wait", "parameters": {"duration": "PT1M"}}}
TERMINATE = {"actionId": "aws:ec2:terminate-instances", "targets": {"Instances": "T"}}
TAGGED = {"resourceType": "aws:ec2:instance", "resourceTags": {"a": "b"}, "selectionMode": "ALL"}


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ({"actions": {}}, "at least one action"),
        ({"actions": {"a": {"actionId": "aws:ec2:melt-instances"}}}, "actions.a.actionId"),
        ({"actions": {"a": TERMINATE}}, "no target named 'T'"),
        ({"targets": {"T": {**TAGGED, "resourceArns": ["arn:x"]}}, "actions": {"a": TERMINATE}},
         "not both or neither"),
        ({"targets": {"T": {**TAGGED, "resourceType": "aws:iam:role"}},
          "actions": {"a": TERMINATE}}, "resourceArns"),
        ({"targets": {"T": {**TAGGED, "resourceType": "aws:s3:bucket"}},
          "actions": {"a": TERMINATE}}, "targets.T.resourceType"),
        ({"targets": {"T": TAGGED}, "actions": {"a": {**TERMINATE, "targets": {"Roles": "T"}}}},
         "a target under 'Instances'"),
        ({"actions": {"w": {"actionId": "aws:fis:wait"}}}, "parameters.duration: required"),
        ({"actions": {"w": {"actionId": "aws:fis:wait", "parameters": {"duration": "PT13H"}}}},
         "outside PT1M..PT12H"),
        ({"actions": {"w": {"actionId": "aws:fis:wait",
                            "parameters": {"duration": "PT1M", "speed": "1"}}}}, "'speed'"),
        ({"actions": {"a": {**WAIT["w"], "startAfter": ["b"]},
                      "b": {**WAIT["w"], "startAfter": ["a"]}}}, "circle"),
        ({"actions": {"a": {**WAIT["w"], "startAfter": ["ghost"]}}}, "'ghost' is not another"),
        ({"stopConditions": []}, "stopConditions: give at least one"),
        ({"stopConditions": [{"source": "aws:cloudwatch:alarm"}]}, "not a CloudWatch alarm ARN"),
        ({"stopConditions": [{"source": "aws:sns:topic", "value": "x"}]},
         "stopConditions[0].source"),
        ({"actions": {"f": {"actionId": "aws:fis:inject-api-throttle-error",
                            "targets": {"Roles": "R"}, "parameters": {"duration": "PT1M",
                            "service": "s3", "operations": "GetObject", "percentage": "50"}}},
          "targets": {"R": {"resourceType": "aws:iam:role", "resourceArns": ["arn:r"],
                            "selectionMode": "ALL"}}}, "'s3' is not one of ec2, kinesis"),
    ],
)  # fmt: skip
def test_templates_fis_refuses(template: dict[str, Any], message: str) -> None:
    doc = {"actions": WAIT, "stopConditions": [{"source": "none"}], **template}
    with pytest.raises(FisValidationError) as raised:
        check_template(doc)
    assert message in str(raised.value)


def test_a_good_template_passes() -> None:
    alarm = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:app-errors"
    check_template({
        "targets": {"T": {**TAGGED, "filters": [{"path": "State.Name", "values": ["running"]}]}},
        "actions": {"a": TERMINATE, "w": {**WAIT["w"], "startAfter": ["a"]}},
        "stopConditions": [{"source": "aws:cloudwatch:alarm", "value": alarm}],
    })  # fmt: skip
