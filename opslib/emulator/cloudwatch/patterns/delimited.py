"""Space-delimited patterns ``[ip, user, ..., status = 4*, bytes > 1000]``."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from opslib.emulator.cloudwatch.patterns.base import (
    Fields,
    FilterPattern,
    FilterPatternError,
    PatternKind,
    match_all,
)
from opslib.emulator.cloudwatch.patterns.lexicon import (
    ORDER,
    TERM_CHARS,
    Token,
    Value,
    as_number,
    json_tokens,
    number_of,
    scan_percent,
    scan_quoted,
    text_test,
    unexpected,
    value_of,
)

FieldTest = Callable[[str], bool]


@dataclass(frozen=True)
class _Slot:
    """One position of a space-delimited pattern."""

    name: str  # "" for an unnamed field
    test: FieldTest
    ellipsis: bool = False


def _split_fields(text: str, start: int, end: int) -> list[tuple[str, int]]:
    """The comma-separated parts of ``[...]`` with their offsets; quotes and %re% kept whole."""
    parts: list[tuple[str, int]] = []
    part_start = index = start
    while index < end:
        char = text[index]
        if char == '"':
            index = scan_quoted(text, index)[1]
            continue
        if char == "%":
            index = scan_percent(text, index)[1]
            continue
        if char == ",":
            parts.append((text[part_start:index], part_start))
            part_start = index + 1
        index += 1
    parts.append((text[part_start:end], part_start))
    return parts


def parse_delimited(text: str, start: int, end: int) -> FilterPattern:
    slots = [_parse_slot(text, part, offset) for part, offset in _split_fields(text, start, end)]
    if len(slots) == 1 and slots[0].name == "" and not slots[0].ellipsis:
        raise FilterPatternError("a space-delimited pattern names at least one field", start)
    names = frozenset(f"${slot.name}" for slot in slots if slot.name)
    extract = _delimited_extractor(slots)
    return FilterPattern(
        text, PatternKind.DELIMITED, names, extract, lambda m: extract(m) is not None
    )


def _parse_slot(text: str, part: str, offset: int) -> _Slot:
    stripped = part.strip()
    if stripped == "...":
        return _Slot("", match_all, ellipsis=True)
    if stripped == "":
        return _Slot("", match_all)
    tokens = json_tokens(text, offset, offset + len(part))
    name = tokens[0]
    if name.kind != "word":
        raise unexpected(name)
    if not set(name.text) <= TERM_CHARS:
        raise _bad_name(name)
    if tokens[1].kind == "end":
        return _Slot(name.text, match_all)
    return _Slot(name.text, _SlotConditions(name.text, tokens).parse())


def _bad_name(token: Token) -> FilterPatternError:
    offset, bad = next((i, c) for i, c in enumerate(token.text) if c not in TERM_CHARS)
    return FilterPatternError(f"Invalid character(s) in term '{bad}'", token.position + offset)


class _SlotConditions:
    """``name op value`` conditions of one field joined by && (tighter) and ||."""

    def __init__(self, name: str, tokens: list[Token]) -> None:
        self.name = name
        self.tokens = tokens
        self.index = 0

    def parse(self) -> FieldTest:
        groups = [self._group()]
        while self._peek().kind == "||":
            self._take()
            groups.append(self._group())
        if self._peek().kind != "end":
            raise unexpected(self._peek())
        return groups[0] if len(groups) == 1 else lambda s: any(g(s) for g in groups)

    def _peek(self) -> Token:
        return self.tokens[self.index]

    def _take(self) -> Token:
        token = self.tokens[self.index]
        self.index = min(self.index + 1, len(self.tokens) - 1)  # "end" repeats
        return token

    def _group(self) -> FieldTest:
        tests = [self._condition()]
        while self._peek().kind == "&&":
            self._take()
            tests.append(self._condition())
        return tests[0] if len(tests) == 1 else lambda s: all(t(s) for t in tests)

    def _condition(self) -> FieldTest:
        name, op, value = self._take(), self._take(), self._take()
        if name.kind != "word":
            raise unexpected(name)
        if name.text.lower() != self.name.lower():
            raise FilterPatternError(
                f"a condition in field '{self.name}' can only test that field, not '{name.text}'",
                name.position,
            )
        if op.kind != "op":
            raise unexpected(op)
        if value.kind not in ("word", "string", "regex"):
            raise unexpected(value)
        return _field_test(op.text, value_of(value))


def _field_test(op: str, value: Value) -> FieldTest:
    number = number_of(value, op)
    string_test = text_test(op, value) if op in ("=", "!=") else None
    compare = ORDER[op]

    def test(field: str) -> bool:
        if number is not None:
            parsed = as_number(field)
            if parsed is not None:
                return compare(parsed, number)
        return string_test is not None and string_test(field)

    return test


# One field: "quoted" (backslash escapes), [bracketed], or a run of non-blanks; an
# unterminated quote or bracket runs to the end of the message.
_FIELD = re.compile(r'"((?:[^"\\]|\\.)*)(?:"|\\?$)|\[([^\]]*)(?:\]|$)|(\S+)', re.DOTALL)


def split_delimited(message: str) -> list[str]:
    """A message's space-delimited fields; ``"..."`` and ``[...]`` are one field each."""
    return [quoted or bracketed or plain for quoted, bracketed, plain in _FIELD.findall(message)]


def _delimited_extractor(slots: list[_Slot]) -> Callable[[str], Fields | None]:
    has_ellipsis = any(slot.ellipsis for slot in slots)

    def extract(message: str) -> Fields | None:
        values = split_delimited(message)
        if has_ellipsis:
            placed = _place(slots, values, 0, 0, {})
        else:
            placed = _place_exact(slots, values)
        return None if placed is None else _delimited_fields(slots, values, placed)

    return extract


def _place_exact(slots: list[_Slot], values: list[str]) -> list[int] | None:
    if len(values) != len(slots):
        return None
    if all(slot.test(value) for slot, value in zip(slots, values, strict=True)):
        return list(range(len(slots)))
    return None


def _place(
    slots: list[_Slot],
    values: list[str],
    slot: int,
    value: int,
    failed: dict[tuple[int, int], bool],
) -> list[int] | None:
    """Value index for each slot (-1 for ``...``), backtracking over the ellipses."""
    if slot == len(slots):
        return [] if value == len(values) else None
    if (slot, value) in failed:
        return None
    current = slots[slot]
    if current.ellipsis:
        for skip_to in range(value, len(values) + 1):
            rest = _place(slots, values, slot + 1, skip_to, failed)
            if rest is not None:
                return [-1, *rest]
    elif value < len(values) and current.test(values[value]):
        rest = _place(slots, values, slot + 1, value + 1, failed)
        if rest is not None:
            return [value, *rest]
    failed[(slot, value)] = True
    return None


def _delimited_fields(slots: list[_Slot], values: list[str], placed: list[int]) -> Fields:
    """Named fields as ``$name``; unnamed and ellipsis-covered ones as ``$<position>``."""
    fields: Fields = {}
    named = {index: slots[s].name for s, index in enumerate(placed) if index >= 0}
    for index, value in enumerate(values):
        name = named.get(index, "")
        fields[f"${name}" if name else f"${index + 1}"] = value
    return fields
