"""Which instances a deployment group selects (CodeDeploy's EC2 tag filters)."""

from __future__ import annotations

import pytest

from opslib.emulator.codedeploy.targets import filter_matches, selected

pytestmark = pytest.mark.unit

TAGS = {"DeploymentGroup": "Production-Fleet", "Name": "web-1"}


@pytest.mark.parametrize(
    ("tag_filter", "matches"),
    [
        ({"Key": "DeploymentGroup", "Value": "Production-Fleet", "Type": "KEY_AND_VALUE"}, True),
        ({"Key": "DeploymentGroup", "Value": "Staging", "Type": "KEY_AND_VALUE"}, False),
        ({"Key": "DeploymentGroup", "Value": "Production-Fleet"}, True),  # type defaults
        ({"Key": "Name", "Type": "KEY_ONLY"}, True),
        ({"Key": "Owner", "Type": "KEY_ONLY"}, False),
        ({"Value": "web-1", "Type": "VALUE_ONLY"}, True),
        ({"Value": "web-2", "Type": "VALUE_ONLY"}, False),
    ],
)
def test_tag_filter_types(tag_filter: dict[str, str], matches: bool) -> None:
    assert filter_matches(TAGS, tag_filter) is matches


def test_filters_are_ored_and_a_tag_set_is_an_and_of_ors() -> None:
    prod = {"Key": "DeploymentGroup", "Value": "Production-Fleet"}
    other = {"Key": "Name", "Value": "db-1"}
    web = {"Key": "Name", "Value": "web-1"}
    assert selected(TAGS, [other, prod], [])
    assert not selected(TAGS, [other], [])
    assert selected(TAGS, [], [[prod], [web, other]])
    assert not selected(TAGS, [], [[prod], [other]])
    assert not selected(TAGS, [], [])  # a group with no filters selects nothing
