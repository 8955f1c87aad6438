"""The words of filter patterns: tokens, quoted strings, %regex%, numbers, value tests.

JSON and space-delimited conditions share these; unstructured terms use the scanners.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

from opslib.emulator.cloudwatch.patterns.base import FilterPatternError, match_all

TERM_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
NAME_CHARS = TERM_CHARS | frozenset("-")
BARE_VALUE_CHARS = TERM_CHARS | frozenset(".*+-")
# The guide's regex alphabet: letters, digits, its symbols and its operators; no ( ).
REGEX_CHARS = TERM_CHARS | frozenset(":#=@/;,-^$?[]{}|\\*+.")
NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")

# --- values shared by JSON and space-delimited conditions -------------------------------


@dataclass(frozen=True)
class Value:
    """The right-hand side of a condition: its text and how it was written."""

    text: str
    kind: str  # "number" (bare numeric literal), "string" (bare or quoted), "regex"
    position: int


def glob(pattern: str) -> Callable[[str], bool]:
    """``*`` at the start and/or end is a wildcard; elsewhere it is a literal (the guide)."""
    if pattern == "*":
        return match_all
    lead = pattern.startswith("*")
    trail = len(pattern) > 1 and pattern.endswith("*")
    core = pattern[1 if lead else 0 : len(pattern) - 1 if trail else len(pattern)]
    if lead and trail:
        return lambda s: core in s
    if lead:
        return lambda s: s.endswith(core)
    if trail:
        return lambda s: s.startswith(core)
    return lambda s: s == core


def compile_regex(body: str, position: int) -> re.Pattern[str]:
    """A %regex% body, held to the guide's alphabet (no parentheses, no multi-byte)."""
    for offset, char in enumerate(body):
        if char not in REGEX_CHARS:
            raise FilterPatternError(f"Invalid character(s) in term '{char}'", position + offset)
    try:
        return re.compile(body)
    except re.error as exc:
        raise FilterPatternError(f"invalid regular expression: {exc}", position) from exc


def text_test(op: str, value: Value) -> Callable[[str], bool]:
    """An = / != test on a string: wildcard glob, regex, or the literal of a number."""
    if value.kind == "regex":
        regex = compile_regex(value.text, value.position)
        test: Callable[[str], bool] = lambda s: regex.search(s) is not None  # noqa: E731
    elif value.kind == "number":
        literal = value.text
        test = lambda s: s == literal  # noqa: E731
    else:
        test = glob(value.text)
    if op == "!=":
        return lambda s: not test(s)
    return test


ORDER: dict[str, Callable[[float, float], bool]] = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def number_of(value: Value, op: str) -> float | None:
    """The numeric literal of a condition; ordering operators demand one."""
    if value.kind == "number":
        return float(value.text)
    if op in ("=", "!="):
        return None
    raise FilterPatternError(f"'{op}' needs a number, not '{value.text}'", value.position)


def as_number(text: str) -> float | None:
    """A string that is wholly a decimal number, as a float; None otherwise."""
    if NUMBER.fullmatch(text) is None:
        return None
    number = float(text)
    return number if math.isfinite(number) else None


def skip_blanks(text: str, position: int) -> int:
    while position < len(text) and text[position].isspace():
        position += 1
    return position


def scan_quoted(text: str, position: int) -> tuple[str, int]:
    """A "..." string starting at ``position``: (its content, position after the quote)."""
    chars: list[str] = []
    index = position + 1
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text):
            chars.append(text[index + 1])
            index += 2
            continue
        if char == '"':
            return "".join(chars), index + 1
        chars.append(char)
        index += 1
    raise FilterPatternError("unterminated quoted string", position)


def scan_percent(text: str, position: int) -> tuple[str, int]:
    """A %regex% starting at ``position``: (its body, position after the closing %)."""
    end = text.find("%", position + 1)
    if end < 0:
        raise FilterPatternError("unterminated regular expression (missing '%')", position)
    if end == position + 1:
        raise FilterPatternError("empty regular expression", position)
    return text[position + 1 : end], end + 1


OPERATORS = ("!=", "<=", ">=", "=", "<", ">")


@dataclass(frozen=True)
class Token:
    kind: str  # "(", ")", "&&", "||", "op", "selector", "word", "string", "regex", "end"
    text: str
    position: int
    steps: tuple[str | int, ...] = ()  # a selector's path


def scan_selector(text: str, position: int, end: int) -> tuple[str, tuple[str | int, ...], int]:
    """``$.a.b[0]`` at ``position``: (canonical text, path steps, position after it)."""
    if text.startswith('$."', position):
        raise FilterPatternError("Invalid character(s) in term '$.\"'", position)
    if not text.startswith("$.", position):
        raise FilterPatternError("a selector starts with '$.'", position)
    steps: list[str | int] = []
    index = position + 1
    while index < end and text[index] in ".[":
        if text[index] == ".":
            name_end = index + 1
            while name_end < end and text[name_end] in NAME_CHARS:
                name_end += 1
            if name_end == index + 1:
                raise FilterPatternError("a property name must follow '.'", index)
            steps.append(text[index + 1 : name_end])
            index = name_end
        else:
            close = text.find("]", index, end)
            digits = text[index + 1 : close] if close > 0 else ""
            if not digits.isdigit():
                raise FilterPatternError("an array index is [NUMBER]", index)
            steps.append(int(digits))
            index = close + 1
    if index < end and not ends_token(text[index]):
        raise FilterPatternError(f"Invalid character(s) in term '{text[index]}'", index)
    return canonical(steps), tuple(steps), index


def canonical(steps: list[str | int]) -> str:
    return "$" + "".join(f"[{s}]" if isinstance(s, int) else f".{s}" for s in steps)


def ends_token(char: str) -> bool:
    return char.isspace() or char in "()&|=!<>"


def json_tokens(text: str, start: int, end: int) -> list[Token]:
    tokens: list[Token] = []
    index = skip_blanks(text, start)
    while index < end:
        token, index = json_token(text, index, end)
        tokens.append(token)
        index = skip_blanks(text, index)
    tokens.append(Token("end", "}", end))
    return tokens


def json_token(text: str, index: int, end: int) -> tuple[Token, int]:
    char = text[index]
    if char in "()":
        return Token(char, char, index), index + 1
    for symbol in ("&&", "||") + OPERATORS:
        if text.startswith(symbol, index):
            kind = symbol if symbol in ("&&", "||") else "op"
            return Token(kind, symbol, index), index + len(symbol)
    if char == "$":
        canonical, steps, after = scan_selector(text, index, end)
        return Token("selector", canonical, index, steps), after
    if char == '"':
        content, after = scan_quoted(text, index)
        return Token("string", content, index), after
    if char == "%":
        body, after = scan_percent(text, index)
        return Token("regex", body, index + 1), after
    after = index
    while after < end and not ends_token(text[after]) and text[after] != '"':
        if text[after] not in BARE_VALUE_CHARS:
            raise FilterPatternError(f"Invalid character(s) in term '{text[after]}'", after)
        after += 1
    if after == index:
        raise FilterPatternError(f"Invalid character(s) in term '{char}'", index)
    return Token("word", text[index:after], index), after


def unexpected(token: Token) -> FilterPatternError:
    if token.kind == "end":
        return FilterPatternError("unexpected end of pattern", token.position)
    return FilterPatternError(f"unexpected '{token.text}'", token.position)


def value_of(token: Token) -> Value:
    if token.kind == "word" and NUMBER.fullmatch(token.text):
        return Value(token.text, "number", token.position)
    return Value(token.text, "regex" if token.kind == "regex" else "string", token.position)
