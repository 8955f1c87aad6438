"""The walkthrough's and runbooks' logic without widgets or AWS."""

from __future__ import annotations

from pathlib import Path

import pytest

from opslib import walkthrough
from opslib.config import StackConfig
from opslib.exceptions import ConfigError
from opslib.stack.runbook import runbook_config
from opslib.walkthrough import Choices


def test_choices_become_a_config() -> None:
    config = walkthrough.make_config(Choices("aws", "prod", "eu-west-1", "shop", 4))
    assert (config.target, config.profile, config.region, config.stack) == (
        "aws",
        "prod",
        "eu-west-1",
        "shop",
    )
    assert config.fleet.size == 4


def test_zero_fleet_size_keeps_the_base_config() -> None:
    base = StackConfig()
    assert walkthrough.make_config(Choices(), base).fleet.size == base.fleet.size


@pytest.mark.parametrize(
    ("choices", "problem"),
    [
        (Choices(stack="Bad_Name"), "stack"),
        (Choices(region="mars"), "region"),
        (Choices(target="gcp"), "target"),
        (Choices(target="local", profile="prod"), "profile"),
        (Choices(fleet_size=1000), "fleet.size"),
    ],
)
def test_validate_names_the_bad_choice(choices: Choices, problem: str) -> None:
    message = walkthrough.validate(choices)
    assert message is not None and problem in message


def test_valid_choices_have_no_problem() -> None:
    assert walkthrough.validate(Choices()) is None


def test_resource_count_matches_the_registry() -> None:
    assert walkthrough.resource_count(StackConfig()) == 33  # with the FIS role


def test_ask_reports_an_unreachable_app() -> None:
    answer = walkthrough._ask("i-1", "http://127.0.0.1:9", "/health", 0.5)
    assert answer["status"] is None and answer["instance"] == "i-1"


def test_runbook_config_applies_non_empty_parameters(tmp_path: Path) -> None:
    path = tmp_path / "opslib.yml"
    path.write_text("stack: base-stack\nregion: eu-west-1\n")
    config = runbook_config(stack="", region="us-west-2", config_path=str(path))
    assert (config.stack, config.region, config.target) == ("base-stack", "us-west-2", "local")


def test_runbook_config_rejects_a_bad_parameter(tmp_path: Path) -> None:
    path = tmp_path / "opslib.yml"
    path.write_text("stack: base-stack\n")
    with pytest.raises(ConfigError, match="target"):
        runbook_config(target="gcp", config_path=str(path))
