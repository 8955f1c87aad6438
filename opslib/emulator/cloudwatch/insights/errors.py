"""The one error a Logs Insights query string can raise: AWS's MalformedQueryException."""

from __future__ import annotations

from typing import TypedDict


class QueryCompileErrorLocation(TypedDict):
    startCharOffset: int
    endCharOffset: int


class QueryCompileError(TypedDict):
    location: QueryCompileErrorLocation
    message: str


class MalformedQueryError(ValueError):
    """A query AWS would refuse with MalformedQueryException.

    ``start``/``end`` are 0-based offsets of the offending text in the query string, ``end``
    inclusive as in ANTLR-built parsers (AWS documents the fields as "Reserved"; verify). The
    message follows AWS's "unexpected symbol found X at line L and position P", with line
    1-based and position the 0-based column.
    """

    def __init__(self, reason: str, query: str, start: int, end: int | None = None) -> None:
        self.reason = reason
        self.start = start
        self.end = max(start, end if end is not None else start)
        line, column = line_and_column(query, start)
        self.message = f"{reason} at line {line} and position {column}"
        super().__init__(self.message)

    def query_compile_error(self) -> QueryCompileError:
        """The ``queryCompileError`` member of MalformedQueryException."""
        location = QueryCompileErrorLocation(startCharOffset=self.start, endCharOffset=self.end)
        return QueryCompileError(location=location, message=self.message)


def line_and_column(text: str, offset: int) -> tuple[int, int]:
    """1-based line and 0-based column of ``offset`` in ``text``."""
    before = text[:offset]
    return before.count("\n") + 1, offset - (before.rfind("\n") + 1)
