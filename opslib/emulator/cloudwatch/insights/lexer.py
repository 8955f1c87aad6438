"""Tokens of a Logs Insights query, scanned on demand so the parser decides what ``/`` is.

``/`` starts a regular expression only where the parser expects one (after ``like``,
``=~``, in ``parse``); elsewhere it divides. That is also how ``|`` inside ``/ERROR|WARN/``
stays part of the regex instead of splitting the query. Lines whose first non-blank
character is ``#`` are comments.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from opslib.emulator.cloudwatch.insights.errors import MalformedQueryError

_IDENT = re.compile(r"[A-Za-z_@][A-Za-z0-9_@.]*")
_NUMBER = re.compile(r"\d++(?:\.\d++)?+(?:[eE][+-]?\d++)?+(?![A-Za-z])")
_PERIOD = re.compile(r"\d+[A-Za-z]+")
_SYMBOLS: tuple[str, ...] = ("=~", "!=", "<=", ">=", "=", "<", ">", "+", "-", "*", "/", "%")
_SYMBOLS += ("^", "(", ")", "[", "]", ",", "|")


@dataclass(frozen=True)
class Token:
    """One token: ``kind`` is ident, number, period, string, regex, a symbol, or end."""

    kind: str
    text: str  # the source text, quotes and slashes included
    start: int
    value: str = ""  # a string's content, a regex's body, an identifier's name

    @property
    def end(self) -> int:
        """Offset of the token's last character (inclusive)."""
        return self.start + max(len(self.text), 1) - 1

    def is_word(self, *words: str) -> bool:
        return self.kind == "ident" and self.value.lower() in words


class Lexer:
    """Scans ``query`` from a position; the parser peeks and takes tokens one by one."""

    def __init__(self, query: str) -> None:
        self.query = query
        self.position = 0

    def peek(self, regex: bool = False) -> Token:
        return self._scan(self._skip(self.position), regex)

    def take(self, regex: bool = False) -> Token:
        token = self.peek(regex)
        self.position = token.start + len(token.text)
        return token

    def _skip(self, index: int) -> int:
        """Skip blanks and ``#`` comment lines."""
        query = self.query
        while index < len(query):
            if query[index].isspace():
                index += 1
            elif query[index] == "#" and _starts_line(query, index):
                newline = query.find("\n", index)
                index = len(query) if newline < 0 else newline
            else:
                break
        return index

    def _scan(self, index: int, regex: bool) -> Token:
        query = self.query
        if index >= len(query):
            return Token("end", "", len(query))
        char = query[index]
        if regex and char == "/":
            return self._delimited(index, "/", "regex")
        if char in "'\"":
            return self._delimited(index, char, "string")
        if char == "`":
            token = self._delimited(index, "`", "string")
            return Token("ident", token.text, index, token.value)
        for pattern, kind in ((_NUMBER, "number"), (_PERIOD, "period"), (_IDENT, "ident")):
            match = pattern.match(query, index)
            if match:
                return Token(kind, match.group(), index, match.group())
        for symbol in _SYMBOLS:
            if query.startswith(symbol, index):
                return Token(symbol, symbol, index)
        raise MalformedQueryError(f"unexpected symbol found {char}", query, index)

    def _delimited(self, index: int, closer: str, kind: str) -> Token:
        """A quoted string, backticked name or /regex/; backslash escapes the closer."""
        query = self.query
        chars: list[str] = []
        cursor = index + 1
        while cursor < len(query):
            char = query[cursor]
            if char == "\\" and cursor + 1 < len(query):
                following = query[cursor + 1]
                keep_escape = kind == "regex" and following != "/"
                chars.append(char + following if keep_escape else following)
                cursor += 2
                continue
            if char == closer:
                return Token(kind, query[index : cursor + 1], index, "".join(chars))
            chars.append(char)
            cursor += 1
        raise MalformedQueryError(f"unterminated {kind} {query[index:]}", query, index)


def _starts_line(query: str, index: int) -> bool:
    """Whether only blanks stand between the start of the line and ``index``."""
    return query[query.rfind("\n", 0, index) + 1 : index].strip() == ""
