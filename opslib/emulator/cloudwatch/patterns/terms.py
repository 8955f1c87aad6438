"""Unstructured patterns: plain, quoted, ?-, --, and %regex% terms over the raw message."""

from __future__ import annotations

import re
from collections.abc import Callable

from opslib.emulator.cloudwatch.patterns.base import (
    Fields,
    FilterPattern,
    FilterPatternError,
    PatternKind,
)
from opslib.emulator.cloudwatch.patterns.lexicon import (
    TERM_CHARS,
    compile_regex,
    scan_percent,
    scan_quoted,
    skip_blanks,
)

Term = str | re.Pattern[str]  # a substring ("" matches everything) or a %regex%


def parse_terms(text: str) -> FilterPattern:
    terms: dict[str, list[Term]] = {"": [], "?": [], "-": []}
    position = skip_blanks(text, 0)
    while position < len(text):
        prefix, term, position = _scan_term(text, position)
        terms[prefix].append(term)
        position = skip_blanks(text, position)
    match = _terms_matcher(terms)
    return FilterPattern(text, PatternKind.TERMS, frozenset(), extract_if(match), match)


def _split(terms: list[Term]) -> tuple[list[str], list[re.Pattern[str]]]:
    words = [term for term in terms if isinstance(term, str)]
    regexes = [term for term in terms if not isinstance(term, str)]
    return words, regexes


def _terms_matcher(terms: dict[str, list[Term]]) -> Callable[[str], bool]:
    """All plain terms, none of the -terms, one of the ?-terms (if any): plain loops, since
    this runs for every event of a FilterLogEvents call."""
    need_words, need_regexes = _split(terms[""])
    bar_words, bar_regexes = _split(terms["-"])
    any_words, any_regexes = _split(terms["?"])
    optional = bool(terms["?"])

    def match(message: str) -> bool:
        for word in need_words:
            if word not in message:
                return False
        for regex in need_regexes:
            if regex.search(message) is None:
                return False
        for word in bar_words:
            if word in message:
                return False
        for regex in bar_regexes:
            if regex.search(message) is not None:
                return False
        if not optional:
            return True
        return any(w in message for w in any_words) or any(
            r.search(message) is not None for r in any_regexes
        )

    return match


def extract_if(match: Callable[[str], bool]) -> Callable[[str], Fields | None]:
    return lambda message: {} if match(message) else None


def _scan_term(text: str, position: int) -> tuple[str, Term, int]:
    """One term with its prefix: (prefix, term, position after it)."""
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
        # The guide: " " matches everything; "" is in every message.
        return prefix, "" if phrase.strip() == "" else phrase, _expect_term_end(text, end)
    if char == "%":
        body, end = scan_percent(text, position)
        return prefix, compile_regex(body, position + 1), _expect_term_end(text, end)
    end = position
    while end < len(text) and not text[end].isspace():
        if text[end] not in TERM_CHARS:
            raise FilterPatternError(f"Invalid character(s) in term '{text[end]}'", end)
        end += 1
    return prefix, text[position:end], end


def _expect_term_end(text: str, position: int) -> int:
    if position < len(text) and not text[position].isspace():
        raise FilterPatternError(f"Invalid character(s) in term '{text[position]}'", position)
    return position
