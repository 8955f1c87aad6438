"""Unstructured patterns: plain, quoted, ?-, --, and %regex% terms over the raw message."""

from __future__ import annotations

from collections.abc import Callable

from opslib.emulator.cloudwatch.patterns.base import (
    Fields,
    FilterPattern,
    FilterPatternError,
    PatternKind,
    match_all,
)
from opslib.emulator.cloudwatch.patterns.lexicon import (
    TERM_CHARS,
    compile_regex,
    scan_percent,
    scan_quoted,
    skip_blanks,
)


def parse_terms(text: str) -> FilterPattern:
    required: list[Callable[[str], bool]] = []
    optional: list[Callable[[str], bool]] = []
    excluded: list[Callable[[str], bool]] = []
    lists = {"": required, "?": optional, "-": excluded}
    position = skip_blanks(text, 0)
    while position < len(text):
        prefix, test, position = _scan_term(text, position)
        lists[prefix].append(test)
        position = skip_blanks(text, position)
    match = _terms_matcher(required, optional, excluded)
    return FilterPattern(text, PatternKind.TERMS, frozenset(), extract_if(match), match)


def _terms_matcher(
    required: list[Callable[[str], bool]],
    optional: list[Callable[[str], bool]],
    excluded: list[Callable[[str], bool]],
) -> Callable[[str], bool]:
    def match(message: str) -> bool:
        return (
            all(test(message) for test in required)
            and not any(test(message) for test in excluded)
            and (not optional or any(test(message) for test in optional))
        )

    return match


def extract_if(match: Callable[[str], bool]) -> Callable[[str], Fields | None]:
    return lambda message: {} if match(message) else None


def _scan_term(text: str, position: int) -> tuple[str, Callable[[str], bool], int]:
    """One term with its prefix: (prefix, test, position after it)."""
    prefix = ""
    if text[position] in "?-":
        prefix = text[position]
        position = skip_blanks(text, position + 1)
        if position >= len(text):
            raise FilterPatternError(f"Invalid character(s) in term '{prefix}'", position - 1)
    char = text[position]
    if char == '"':
        phrase, end = scan_quoted(text, position)
        if phrase == "":
            raise FilterPatternError("Invalid character(s) in term '\"\"'", position)
        return prefix, _phrase_test(phrase), _expect_term_end(text, end)
    if char == "%":
        body, end = scan_percent(text, position)
        regex = compile_regex(body, position + 1)
        return prefix, lambda m: regex.search(m) is not None, _expect_term_end(text, end)
    end = position
    while end < len(text) and not text[end].isspace():
        if text[end] not in TERM_CHARS:
            raise FilterPatternError(f"Invalid character(s) in term '{text[end]}'", end)
        end += 1
    word = text[position:end]
    return prefix, lambda m: word in m, end


def _phrase_test(phrase: str) -> Callable[[str], bool]:
    if phrase.strip() == "":
        return match_all  # the guide: " " matches everything
    return lambda message: phrase in message


def _expect_term_end(text: str, position: int) -> int:
    if position < len(text) and not text[position].isspace():
        raise FilterPatternError(f"Invalid character(s) in term '{text[position]}'", position)
    return position
