"""Runbook parameters: the one check of what a runbook was given, run in its first cells.

papermill only *warns* about a parameter the notebook does not declare and turns
command-line values into whatever type they look like; a runbook that ran on with a
misspelled parameter would do its default thing while the engineer thinks otherwise. So
every runbook calls :func:`validate` right after its ``parameters`` cell, and a wrong
parameter stops the run at once with a :class:`~opslib.exceptions.ConfigError` naming it.

Where the facts come from, inside the kernel:

- declared parameters: the annotated assignments of the ``parameters`` cell
  (``hours: int = 24  # help``) — Python records them in the namespace's
  ``__annotations__``, the same annotations ``papermill --help-notebook`` reads;
- injected parameters: the names papermill's ``# Parameters`` cell assigned, read back
  from IPython's input history (``In``); under nbval or in JupyterLab there is none.

Parameters are stored in plaintext in the output notebook, so a declared or injected name
that looks like a secret is refused as well.
"""

from __future__ import annotations

import ast
import difflib
import re
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from opslib.config import TARGETS
from opslib.exceptions import ConfigError

# papermill's Python translator starts the cell it injects with this comment.
INJECTED_MARKER = "# Parameters"
SECRET_NAME = re.compile(r"secret|passw|token|credential|private_key|access_key|api_key", re.I)
_PLURALS = {bool: "booleans", int: "integers", float: "numbers", str: "strings"}
_TYPE_WORDS = {
    bool: "true or false",
    int: "an integer",
    float: "a number",
    str: "a string",
}


class Rule(Protocol):
    """A constraint on one parameter's value; ``check`` returns the problem or None."""

    def check(self, value: Any) -> str | None: ...


@dataclass(frozen=True)
class Range:
    """A number from ``low`` to ``high`` (either end may be open)."""

    low: float | None = None
    high: float | None = None

    def check(self, value: Any) -> str | None:
        if (self.low is not None and value < self.low) or (
            self.high is not None and value > self.high
        ):
            return f"expected a value {self.describe()}"
        return None

    def describe(self) -> str:
        if self.low is not None and self.high is not None:
            return f"from {self.low:g} to {self.high:g}"
        if self.low is not None:
            return f"of at least {self.low:g}"
        return f"of at most {self.high:g}"


@dataclass(frozen=True)
class OneOf:
    """One of a fixed set of values."""

    choices: tuple[Any, ...]

    def check(self, value: Any) -> str | None:
        if value in self.choices:
            return None
        return f"expected one of {', '.join(repr(c) for c in self.choices)}"


@dataclass(frozen=True)
class Matches:
    """A string matching a regular expression (``what`` says it in words)."""

    pattern: str
    what: str

    def check(self, value: Any) -> str | None:
        return None if re.fullmatch(self.pattern, str(value)) else f"expected {self.what}"


def between(low: float | None = None, high: float | None = None) -> Range:
    return Range(low, high)


def one_of(*choices: Any) -> OneOf:
    return OneOf(tuple(choices))


def matches(pattern: str, what: str) -> Matches:
    return Matches(pattern, what)


# Rules every runbook gets for the parameters they share.
COMMON_RULES: dict[str, Rule] = {"target": OneOf(TARGETS)}


def declared(namespace: Mapping[str, Any]) -> dict[str, Any]:
    """Parameter name → annotated type, from the ``parameters`` cell's annotations."""
    return dict(namespace.get("__annotations__") or {})


def injected(namespace: Mapping[str, Any]) -> list[str]:
    """The names papermill's injected cell assigned (empty when nothing was injected)."""
    history: Sequence[str] = namespace.get("In") or namespace.get("_ih") or []
    cells = [c for c in history if isinstance(c, str) and c.startswith(INJECTED_MARKER)]
    return assigned_names(cells[-1]) if cells else []


def assigned_names(source: str) -> list[str]:
    """The plain names a cell assigns at top level, in order."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    names: list[str] = []
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else []
        if isinstance(node, ast.AnnAssign):
            targets = [node.target]
        names += [t.id for t in targets if isinstance(t, ast.Name)]
    return names


def type_problem(value: Any, expected: Any) -> str | None:
    """Why ``value`` is not of the annotated type, or None (bool is not an int here)."""
    if expected is Any or expected is None:
        return None
    origin = typing.get_origin(expected)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(expected)
        if any(type_problem(value, option) is None for option in options):
            return None
        return "expected " + " or ".join(_type_word(o) for o in options)
    if origin is list:
        (item,) = typing.get_args(expected) or (Any,)
        if isinstance(value, list) and all(type_problem(v, item) is None for v in value):
            return None
        return f"expected a list of {_PLURALS.get(item, _type_word(item))}"
    if expected is type(None):
        return None if value is None else "expected None"
    if isinstance(value, bool) and expected is not bool:
        return f"expected {_type_word(expected)}"
    if expected is float and isinstance(value, int):
        return None
    if isinstance(expected, type) and isinstance(value, expected):
        return None
    return f"expected {_type_word(expected)}"


def _type_word(kind: Any) -> str:
    if kind is type(None):
        return "None"
    return _TYPE_WORDS.get(kind, getattr(kind, "__name__", str(kind)))


def unknown_parameter(name: str, known: Sequence[str]) -> ConfigError:
    """The error for a parameter the runbook does not declare (with the closest name)."""
    hint = difflib.get_close_matches(name, known, n=1)
    suggestion = f"did you mean {hint[0]!r}?" if hint else f"known: {', '.join(known)}"
    return ConfigError(f"parameter {name!r}: unknown parameter ({suggestion})")


def check(
    types_by_name: Mapping[str, Any],
    values: Mapping[str, Any],
    given: Sequence[str] = (),
    rules: Mapping[str, Rule] | None = None,
) -> dict[str, Any]:
    """The declared parameters' values, or ConfigError naming the first bad parameter.

    ``types_by_name`` are the declared parameters and their types, ``values`` their
    current values, ``given`` the names that were passed in from outside.
    """
    known = list(types_by_name)
    for name in given:
        if name not in types_by_name:
            raise unknown_parameter(name, known)
    every_rule = {**COMMON_RULES, **(rules or {})}
    for name in every_rule:
        if name not in types_by_name and name not in COMMON_RULES:
            raise ConfigError(f"parameter {name!r}: has a rule but is not declared")
    result: dict[str, Any] = {}
    for name, expected in types_by_name.items():
        if SECRET_NAME.search(name):
            raise ConfigError(
                f"parameter {name!r}: looks like a secret; parameters are stored in plaintext "
                "in the output notebook, read secrets from the environment instead"
            )
        if name not in values:
            raise ConfigError(f"parameter {name!r}: declared but has no value")
        value = values[name]
        problem = type_problem(value, expected)
        rule = every_rule.get(name)
        if problem is None and rule is not None:
            problem = rule.check(value)
        if problem:
            raise ConfigError(f"parameter {name!r}: {problem}, got {value!r}")
        result[name] = value
    return result


class Parameters(dict[str, Any]):
    """A runbook's checked parameters: a dict, shown in a record as one readable line.

    The validate cell ends with ``p`` so the record says what the run was given; a raw
    ``{'target': 'local', 'config': '', ...}`` is not for people, this line is.
    """

    def describe(self) -> str:
        shown = [f"{name} {_shown(value)}" for name, value in self.items()]
        return "parameters: " + (", ".join(shown) or "none")

    def _repr_markdown_(self) -> str:
        shown = [f"{name} `{_shown(value)}`" for name, value in self.items()]
        return "**Parameters:** " + (" · ".join(shown) or "none")

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.describe())


def _shown(value: Any) -> str:
    if value == "" or value is None:
        return "(default)"
    return str(value)


def validate(namespace: Mapping[str, Any], **rules: Rule) -> Parameters:
    """Check a runbook's parameters in its namespace (``globals()``); return their values.

    Unknown injected names, wrong types and values breaking a rule (``hours=between(1,
    720)``) raise ConfigError naming the parameter; ``target`` must be a known target.
    """
    types_by_name = declared(namespace)
    if not types_by_name:
        raise ConfigError(
            "runbook declares no parameters: annotate each one in the cell tagged "
            "'parameters' (name: type = default  # help)"
        )
    return Parameters(check(types_by_name, namespace, injected(namespace), rules))


# What a bool parameter accepts on the command line is what every message and runbook says:
# true or false (any case, so Python's True/False too). yes/no/1/0 are refused: a runbook
# that redeploys or deletes must not read a typo or a guess as consent.
_BOOLS = {"true": True, "false": False}


def parse_value(name: str, text: str, type_name: str) -> Any:
    """A command-line string as the declared type (``int``, ``float``, ``bool``, ``str``).

    A ``bool`` is ``true`` or ``false`` (any case), nothing else.
    """
    kind = type_name.replace(" ", "")
    try:
        if kind == "int":
            return int(text)
        if kind == "float":
            return float(text)
    except ValueError:
        raise ConfigError(
            f"parameter {name!r}: expected {'an integer' if kind == 'int' else 'a number'}, "
            f"got {text!r}"
        ) from None
    if kind == "bool":
        if text.lower() in _BOOLS:
            return _BOOLS[text.lower()]
        raise ConfigError(f"parameter {name!r}: expected true or false, got {text!r}")
    return text


# The type names papermill's inspection reports, as types.
TYPE_NAMES: dict[str, Any] = {"int": int, "float": float, "bool": bool, "str": str}
