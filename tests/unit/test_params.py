"""opslib.params: the one check of a runbook's parameters (unknown, type, range, secrets)."""

from __future__ import annotations

from typing import Any

import pytest

from opslib import params
from opslib.exceptions import ConfigError


def namespace(injected: str = "", **values: Any) -> dict[str, Any]:
    """A kernel namespace after the parameters cell (annotated) and papermill's cell."""
    annotations = {
        "target": str,
        "config": str,
        "hours": int,
        "ratio": float,
        "confirm": bool,
        "commit": str,
    }
    defaults = {
        "target": "local",
        "config": "",
        "hours": 24,
        "ratio": 0.5,
        "confirm": False,
        "commit": "",
    }
    history = ["", "target: str = 'local'  # ...", injected] if injected else [""]
    return {"__annotations__": annotations, **defaults, **values, "In": history}


def test_defaults_pass_and_come_back_as_a_dict() -> None:
    assert params.validate(namespace()) == {
        "target": "local",
        "config": "",
        "hours": 24,
        "ratio": 0.5,
        "confirm": False,
        "commit": "",
    }


def test_an_injected_parameter_the_notebook_does_not_declare_is_refused() -> None:
    ns = namespace("# Parameters\nhours = 5\nhuors = 6\n", hours=5, huors=6)
    with pytest.raises(
        ConfigError, match=r"parameter 'huors': unknown parameter \(did you mean 'hours'\?\)"
    ):
        params.validate(ns)


def test_only_the_last_injected_cell_counts() -> None:
    ns = namespace("# Parameters\nhours = 5\n")
    ns["In"] = ["", "# Parameters\nbogus = 1\n", "# Parameters\nhours = 5\n"]
    assert params.validate(ns)["hours"] == 24  # namespace value, injected names all known


def test_an_unknown_name_far_from_any_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="known: target, config, hours"):
        params.validate(namespace("# Parameters\nzzz = 1\n", zzz=1))


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("hours", "24", "expected an integer"),
        ("hours", True, "expected an integer"),  # bool is not an int for a runbook
        ("hours", 2.5, "expected an integer"),
        ("ratio", "0.5", "expected a number"),
        ("confirm", "yes", "expected true or false"),
        ("confirm", 1, "expected true or false"),
        ("target", 3, "expected a string"),
    ],
)
def test_wrong_types_name_the_parameter(name: str, value: Any, problem: str) -> None:
    with pytest.raises(ConfigError, match=rf"parameter '{name}': {problem}, got {value!r}"):
        params.validate(namespace(**{name: value}))


def test_an_int_is_a_fine_float() -> None:
    assert params.validate(namespace(ratio=1))["ratio"] == 1


@pytest.mark.parametrize(
    ("rule", "value", "ok"),
    [
        (params.between(1, 720), 1, True),
        (params.between(1, 720), 720, True),
        (params.between(1, 720), 0, False),
        (params.between(1, 720), 721, False),
        (params.between(low=1), 10_000, True),
        (params.between(high=5), 6, False),
    ],
)
def test_ranges(rule: params.Range, value: int, ok: bool) -> None:
    ns = namespace(hours=value)
    if ok:
        assert params.validate(ns, hours=rule)["hours"] == value
    else:
        with pytest.raises(
            ConfigError, match=rf"parameter 'hours': expected a value .*, got {value}"
        ):
            params.validate(ns, hours=rule)


def test_target_must_be_a_known_target_by_default() -> None:
    with pytest.raises(ConfigError, match="parameter 'target': expected one of 'local', 'aws'"):
        params.validate(namespace(target="prod"))


def test_a_runbook_may_widen_the_target_rule() -> None:
    checked = params.validate(namespace(target=""), target=params.one_of("", "local", "aws"))
    assert checked["target"] == ""


def test_patterns() -> None:
    rule = params.matches(r"[0-9a-f]{7,40}", "a commit SHA")
    assert params.validate(namespace(commit="abc1234"), commit=rule)["commit"] == "abc1234"
    with pytest.raises(ConfigError, match="parameter 'commit': expected a commit SHA"):
        params.validate(namespace(commit="main; rm -rf /"), commit=rule)


def test_a_rule_for_an_undeclared_parameter_is_a_mistake_in_the_runbook() -> None:
    with pytest.raises(ConfigError, match="parameter 'minutes': has a rule but is not declared"):
        params.validate(namespace(), minutes=params.between(1, 5))


@pytest.mark.parametrize("name", ["api_token", "db_password", "aws_secret", "access_key_id"])
def test_secret_looking_parameters_are_refused(name: str) -> None:
    ns = namespace(**{name: "x"})
    ns["__annotations__"] = {**ns["__annotations__"], name: str}
    with pytest.raises(ConfigError, match=rf"parameter '{name}': looks like a secret"):
        params.validate(ns)


def test_a_notebook_without_annotated_parameters_is_refused() -> None:
    with pytest.raises(ConfigError, match="declares no parameters"):
        params.validate({"hours": 1})


def test_optional_and_list_annotations() -> None:
    assert params.type_problem(None, str | None) is None
    assert params.type_problem("x", str | None) is None
    assert params.type_problem(3, str | None) == "expected a string or None"
    assert params.type_problem(["a", "b"], list[str]) is None
    assert params.type_problem(["a", 1], list[str]) == "expected a list of strings"


def test_assigned_names_reads_plain_and_annotated_assignments() -> None:
    source = "# Parameters\na = 1\nb: int = 2\nc.d = 3\ne, f = 4, 5\nprint(a)\n"
    assert params.assigned_names(source) == ["a", "b"]
    assert params.assigned_names("this is not python") == []


@pytest.mark.parametrize(
    ("text", "type_name", "value"),
    [
        ("24", "int", 24),
        ("0.25", "float", 0.25),
        ("true", "bool", True),
        ("False", "bool", False),  # Python's spelling, as the runbooks' help writes it
        ("TRUE", "bool", True),
        ("abc1234", "str", "abc1234"),
        ("24", "None", "24"),  # an unannotated parameter stays text
    ],
)
def test_parse_value_converts_command_line_text(text: str, type_name: str, value: Any) -> None:
    assert params.parse_value("p", text, type_name) == value


@pytest.mark.parametrize(
    ("text", "type_name", "problem"),
    [("24h", "int", "an integer"), ("x", "float", "a number"), ("maybe", "bool", "true or false")],
)
def test_parse_value_names_the_parameter(text: str, type_name: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=rf"parameter 'p': expected {problem}, got '{text}'"):
        params.parse_value("p", text, type_name)


@pytest.mark.parametrize("text", ["yes", "No", "1", "0", "on", "off", "y", "t", ""])
def test_a_bool_is_only_true_or_false_as_the_messages_say(text: str) -> None:
    # '-p confirm yes' used to be read as consent: it must be spelled as the docs spell it
    expected = rf"parameter 'confirm': expected true or false, got '{text}'"
    with pytest.raises(ConfigError, match=expected):
        params.parse_value("confirm", text, "bool")


def test_checked_parameters_are_a_dict_shown_as_one_line_not_a_raw_dict() -> None:
    checked = params.validate(namespace(hours=6))
    assert isinstance(checked, dict) and checked["hours"] == 6
    assert checked._repr_markdown_() == (
        "**Parameters:** target `local` · config `(default)` · hours `6` · ratio `0.5` · "
        "confirm `False` · commit `(default)`"
    )
    assert checked.describe().startswith("parameters: target local, config (default), hours 6")
