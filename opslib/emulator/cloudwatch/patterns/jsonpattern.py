"""JSON patterns ``{ $.a.b[0] = "x" && ... }`` over messages that are JSON objects."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
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


Predicate = Callable[[Doc], bool]


class JsonParser:
    """Recursive descent over the tokens of ``{ ... }``: || over && over comparisons."""

    def __init__(self, text: str, start: int, end: int) -> None:
        self.text = text
        self.tokens = json_tokens(text, start, end)
        self.index = 0
        self.selectors: dict[str, tuple[str | int, ...]] = {}

    def pattern(self) -> FilterPattern:
        predicate = self._or()
        self._expect("end")
        resolvers = {name: _resolver(steps) for name, steps in self.selectors.items()}
        match = _json_matcher(predicate)
        extract = _json_extractor(predicate, resolvers)
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

    def _or(self) -> Predicate:
        parts = [self._and()]
        while self._peek().kind == "||":
            self._take()
            parts.append(self._and())
        return parts[0] if len(parts) == 1 else lambda doc: any(p(doc) for p in parts)

    def _and(self) -> Predicate:
        parts = [self._unary()]
        while self._peek().kind == "&&":
            self._take()
            parts.append(self._unary())
        return parts[0] if len(parts) == 1 else lambda doc: all(p(doc) for p in parts)

    def _unary(self) -> Predicate:
        if self._peek().kind == "(":
            self._take()
            inner = self._or()
            self._expect(")")
            return inner
        return self._comparison()

    def _comparison(self) -> Predicate:
        selector = self._expect("selector")
        self.selectors[selector.text] = selector.steps
        resolve = _resolver(selector.steps)
        token = self._take()
        if token.kind == "op":
            value_token = self._take()
            if value_token.kind not in ("word", "string", "regex"):
                raise unexpected(value_token)
            test = _json_test(token.text, value_of(value_token))
        elif token.kind == "word":
            test = self._keyword_test(token)
        else:
            raise unexpected(token)
        return lambda doc: test(resolve(doc))

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


def _decode_object(message: str) -> dict[str, Any] | None:
    if not message.lstrip().startswith("{"):
        return None
    try:
        doc = json.loads(message)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def _json_matcher(predicate: Predicate) -> Callable[[str], bool]:
    def match(message: str) -> bool:
        doc = _decode_object(message)
        return doc is not None and predicate(doc)

    return match


def _json_extractor(
    predicate: Predicate, resolvers: Mapping[str, Callable[[Doc], Any]]
) -> Callable[[str], Fields | None]:
    def extract(message: str) -> Fields | None:
        doc = _decode_object(message)
        if doc is None or not predicate(doc):
            return None
        fields: Fields = {}
        for name, resolve in resolvers.items():
            text = scalar_text(resolve(doc))
            if text is not None:
                fields[name] = text
        return fields

    return extract
