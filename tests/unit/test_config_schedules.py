"""``schedules:`` in opslib.yml: shape checked by the config, runbooks and parameters by
opslib.runbooks.schedules; each mistake is one line naming the entry and key."""

from __future__ import annotations

from typing import Any

import pytest

from opslib.config import ScheduleSettings, parse_config
from opslib.exceptions import ConfigError
from opslib.runbooks.schedules import check_schedules

pytestmark = pytest.mark.unit

GOOD = {"name": "fleet-hourly", "runbook": "fleet-health", "expression": "rate(1 hour)"}


def _schedules(*entries: Any) -> dict[str, Any]:
    return {"schedules": list(entries)}


def test_a_schedule_gets_defaults_for_what_it_leaves_out() -> None:
    (schedule,) = parse_config(_schedules(GOOD)).schedules
    assert schedule == ScheduleSettings("fleet-hourly", "fleet-health", "rate(1 hour)")
    assert (schedule.timezone, schedule.parameters, schedule.enabled) == ("UTC", {}, True)


def test_no_schedules_by_default_and_an_empty_list_is_none() -> None:
    assert parse_config({}).schedules == ()
    assert parse_config({"schedules": []}).schedules == ()


def test_a_full_schedule_round_trips_through_to_dict() -> None:
    entry = {**GOOD, "timezone": "Europe/Paris", "parameters": {"minutes": 60}, "enabled": False}
    config = parse_config(_schedules(entry))
    assert config.to_dict()["schedules"] == [entry]
    assert parse_config({"schedules": config.to_dict()["schedules"]}) == config


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"schedules": {"a": 1}}, "opslib.yml: schedules: expected a list of schedules"),
        (_schedules("x"), "schedules[0]: expected a mapping"),
        (_schedules({**GOOD, "cron": "x"}), "schedules[0].cron: unknown key"),
        (_schedules({"name": "a", "runbook": "fleet-health"}), "schedules[0].expression: required"),
        (_schedules({**GOOD, "name": "has space"}), "schedules[0].name: expected 1-64 letters"),
        (_schedules({**GOOD, "name": "x" * 65}), "schedules[0].name: expected 1-64"),
        (
            _schedules({**GOOD, "expression": "every hour"}),
            "schedules[0].expression: expected rate",
        ),
        (
            _schedules({**GOOD, "expression": "cron(0 6 * * * *)"}),
            "schedules[0].expression: cron(...): exactly one of day-of-month and day-of-week",
        ),
        (
            _schedules({**GOOD, "timezone": "Mars/Olympus"}),
            "schedules[0].timezone: expected an IANA",
        ),
        (
            _schedules({**GOOD, "parameters": ["minutes"]}),
            "schedules[0].parameters: expected a mapping",
        ),
        (
            _schedules({**GOOD, "parameters": {"m": [1]}}),
            "schedules[0].parameters: expected a mapping",
        ),
        (_schedules({**GOOD, "enabled": "yes"}), "schedules[0].enabled: expected true or false"),
        (
            _schedules(GOOD, {**GOOD, "expression": "rate(2 hours)"}),
            "schedules[1].name: 'fleet-hourly' is already the name of schedules[0]",
        ),
    ],
)
def test_bad_schedules_are_one_line_errors_naming_the_key(data: Any, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(data)
    assert expected in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ({**GOOD, "runbook": "fleet-helth"}, "schedules[0].runbook: runbook 'fleet-helth': no "),
        ({**GOOD, "runbook": "fleet-helth"}, "did you mean 'fleet-health'?"),
        ({**GOOD, "runbook": "release"}, "schedules[0].runbook: 'release' changes the stack"),
        (
            {**GOOD, "parameters": {"minuts": 5}},
            "schedules[0].parameters.minuts: unknown parameter",
        ),
        (
            {**GOOD, "parameters": {"minutes": "many"}},
            "schedules[0].parameters.minutes: expected an integer, got 'many'",
        ),
        ({**GOOD, "parameters": {"minutes": True}}, "schedules[0].parameters.minutes: expected an"),
        ({**GOOD, "parameters": {"target": "local"}}, "schedules[0].parameters.target: set by the"),
    ],
)
def test_runbook_and_parameters_are_checked_as_runbook_run_checks_them(
    entry: dict[str, Any], expected: str
) -> None:
    config = parse_config(_schedules(entry))
    with pytest.raises(ConfigError) as caught:
        check_schedules(config)
    assert expected in str(caught.value)
    assert str(caught.value).startswith("opslib.yml: ")


@pytest.mark.parametrize("runbook", ["fleet-health", "triage"])
def test_read_only_runbooks_with_good_parameters_pass(runbook: str) -> None:
    parameters = {"minutes": "60"} if runbook == "fleet-health" else {"hours": 6}
    check_schedules(
        parse_config(_schedules({**GOOD, "runbook": runbook, "parameters": parameters}))
    )


def test_the_walkthrough_adds_a_checked_schedule_and_shows_the_yaml() -> None:
    from opslib import walkthrough

    added = walkthrough.add_schedule(
        parse_config({}), "fleet-hourly", "fleet-health", "rate(1 hour)"
    )
    assert [s.name for s in added.schedules] == ["fleet-hourly"]
    assert "expression: rate(1 hour)" in walkthrough.schedules_yaml(added)
    with pytest.raises(ConfigError, match=r"schedules\[1\]\.runbook: .release. changes the stack"):
        walkthrough.add_schedule(added, "again", "release", "rate(1 hour)")
