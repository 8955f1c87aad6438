"""JSON patterns ``{ $.a.b[0] = "x" && ... }`` over messages that are JSON objects.

Decoding dominates the cost, so a message is decoded only if it contains, as raw text,
every string the pattern needs for an ``=`` to hold on its way to a match (``&&`` needs
each side's, ``||`` what both sides need). Only strings of letters, digits, blanks and
``_ . : @ -`` count: JSON writers never escape those, so the check cannot turn a match
away.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from opslib.emulator.cloudwatch.patterns.base import (
    Doc,
    Fields,
    FilterPattern,
    FilterPatternError,
    PatternKind,
)
from opslib.emulator.cloudwatch.patterns.lexicon import (
    ORDER,
    Token,
    Value,
    json_tokens,
    number_of,
    text_test,
    unexpected,
    value_of,
)

_MISSING = object()
_VERBATIM = re.compile(r"[A-Za-z0-9_.:@ -]+")

Predicate = Callable[[Doc], bool]


@dataclass(frozen=True)
class _Node:
    """A parsed condition and the raw strings any message it matches must contain."""

    predicate: Predicate
    needs: frozenset[str] = frozenset()


class JsonParser:
    """Recursive descent over the tokens of ``{ ... }``: || over && over comparisons."""

    def __init__(self, text: str, start: int, end: int) -> None:
        self.text = text
        self.tokens = json_tokens(text, start, end)
        self.index = 0
        self.selectors: dict[str, tuple[str | int, ...]] = {}

    def pattern(self) -> FilterPattern:
        node = self._or()
        self._expect("end")
        resolvers = {name: _resolver(steps) for name, steps in self.selectors.items()}
        decode = _decoder(node.needs)
        match = _json_matcher(node.predicate, decode)
        extract = _json_extractor(node.predicate, resolvers, decode)
        return FilterPattern(self.text, PatternKind.JSON, frozenset(resolvers), extract, match)

    def _peek(self) -> Token:
        return self.tokens[self.index]

    def _take(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def _expect(self, kind: str) -> Token:
        token = self._take()
        if token.kind != kind:
            raise unexpected(token)
        return token

    def _or(self) -> _Node:
        parts = [self._and()]
        while self._peek().kind == "||":
            self._take()
            parts.append(self._and())
        if len(parts) == 1:
            return parts[0]
        tests = [part.predicate for part in parts]
        needs = frozenset.intersection(*(part.needs for part in parts))
        return _Node(lambda doc: any(test(doc) for test in tests), needs)

    def _and(self) -> _Node:
        parts = [self._unary()]
        while self._peek().kind == "&&":
            self._take()
            parts.append(self._unary())
        if len(parts) == 1:
            return parts[0]
        tests = [part.predicate for part in parts]
        needs = frozenset.union(*(part.needs for part in parts))
        return _Node(lambda doc: all(test(doc) for test in tests), needs)

    def _unary(self) -> _Node:
        if self._peek().kind == "(":
            self._take()
            inner = self._or()
            self._expect(")")
            return inner
        return self._comparison()

    def _comparison(self) -> _Node:
        selector = self._expect("selector")
        self.selectors[selector.text] = selector.steps
        resolve = _resolver(selector.steps)
        token = self._take()
        needs: frozenset[str] = frozenset()
        if token.kind == "op":
            value_token = self._take()
            if value_token.kind not in ("word", "string", "regex"):
                raise unexpected(value_token)
            value = value_of(value_token)
            test = _json_test(token.text, value)
            needs = _needed_text(token.text, value)
        elif token.kind == "word":
            test = self._keyword_test(token)
        else:
            raise unexpected(token)
        return _Node(lambda doc: test(resolve(doc)), needs)

    def _keyword_test(self, token: Token) -> Callable[[Any], bool]:
        keyword = token.text.upper()
        if keyword == "IS":
            operand = self._expect("word")
            tests = {"NULL": _is_null, "TRUE": _is_true, "FALSE": _is_false}
            if operand.text.upper() not in tests:
                raise FilterPatternError(
                    f"IS {operand.text} is not supported (IS NULL, IS TRUE, IS FALSE)",
                    operand.position,
                )
            return tests[operand.text.upper()]
        if keyword == "NOT":
            operand = self._expect("word")
            if operand.text.upper() != "EXISTS":
                raise unexpected(operand)
            return lambda value: value is _MISSING
        if keyword == "EXISTS":
            raise FilterPatternError(
                "EXISTS is not supported; use NOT EXISTS or '= *'", token.position
            )
        raise unexpected(token)


def _is_null(value: Any) -> bool:
    return value is None


def _is_true(value: Any) -> bool:
    return value is True


def _is_false(value: Any) -> bool:
    return value is False


def scalar_text(value: Any) -> str | None:
    """The text a condition sees for a JSON value node; None for non-values."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    return None


def _json_test(op: str, value: Value) -> Callable[[Any], bool]:
    number = number_of(value, op)
    string_test = text_test(op, value) if op in ("=", "!=") else None
    compare = ORDER[op]

    def test(node: Any) -> bool:
        if number is not None and isinstance(node, int | float) and not isinstance(node, bool):
            return compare(float(node), number)
        if string_test is None:
            return False
        text = scalar_text(node)
        return text is not None and string_test(text)

    return test


def _resolver(steps: tuple[str | int, ...]) -> Callable[[Doc], Any]:
    """Walk ``steps`` into a decoded document; ``_MISSING`` where the path does not exist."""

    def resolve(doc: Doc) -> Any:
        node = doc
        for step in steps:
            if isinstance(step, int):
                if not isinstance(node, list) or step >= len(node):
                    return _MISSING
            elif not isinstance(node, dict) or step not in node:
                return _MISSING
            node = node[step]
        return node

    return resolve


def _needed_text(op: str, value: Value) -> frozenset[str]:
    """The text an ``= "string"`` (wildcards aside) puts in every message it matches."""
    if op != "=" or value.kind != "string":
        return frozenset()
    core = value.text.strip("*")
    if "*" in core or not _VERBATIM.fullmatch(core):
        return frozenset()
    return frozenset({core})


Decoder = Callable[[str], dict[str, Any] | None]


def _decoder(needs: frozenset[str]) -> Decoder:
    """Decode a message that is a JSON object and holds every needed text; else None."""
    needed = sorted(needs, key=len, reverse=True)

    def decode(message: str) -> dict[str, Any] | None:
        for text in needed:
            if text not in message:
                return None
        if not message.lstrip().startswith("{"):
            return None
        try:
            doc = json.loads(message)
        except ValueError:
            return None
        return doc if isinstance(doc, dict) else None

    return decode


def _json_matcher(predicate: Predicate, decode: Decoder) -> Callable[[str], bool]:
    def match(message: str) -> bool:
        doc = decode(message)
        return doc is not None and predicate(doc)

    return match


def _json_extractor(
    predicate: Predicate, resolvers: Mapping[str, Callable[[Doc], Any]], decode: Decoder
) -> Callable[[str], Fields | None]:
    def extract(message: str) -> Fields | None:
        doc = decode(message)
        if doc is None or not predicate(doc):
            return None
        fields: Fields = {}
        for name, resolve in resolvers.items():
            text = scalar_text(resolve(doc))
            if text is not None:
                fields[name] = text
        return fields

    return extract
