"""CloudWatch Logs Insights for the emulator: parse a query once, run it over events.

The subset the reports need (CWL_QuerySyntax and its command pages), commands joined by
``|``; lines starting with ``#`` are comments; keywords and function names ignore case::

    fields EXPR [as NAME], ...          computed columns; @timestamp, @message,
                                        @logStream, @log (account:group), @ingestionTime,
                                        JSON-discovered fields (a.b.0.c), `odd-names`
    display FIELD, ...                  the columns shown (the last display wins)
    filter EXPR                         = != < <= > >=, and/or/not, in [..], not in,
                                        like "text" | like /re/ | =~ /re/, not like,
                                        arithmetic + - * / % ^, functions (ispresent,
                                        isempty, isblank, coalesce, abs, ceil, floor, log,
                                        sqrt, greatest, least, concat, strlen, toupper,
                                        tolower, trim/ltrim/rtrim, substr, replace,
                                        strcontains, datefloor, dateceil, fromMillis,
                                        toMillis, bin)
    parse [FIELD] "glob * text *" as a, b    or  parse [FIELD] /(?<a>re)(?<b>re)/
    stats AGG [as NAME], ... [by EXPR [as NAME], ...]
                                        count() count(*) count(f) count_distinct(f)
                                        sum avg min max stddev pct(f, 90) earliest latest;
                                        by fields and bin(5m) (ms s m h d w mo q y and their
                                        long spellings)
    sort FIELD [asc|desc], ...          AWS's natural order; absent values last
    limit N

:func:`run_query` answers with GetQueryResults' rows (lists of ``{field, value}``, values
as strings the way AWS prints them: ``2024-01-31 12:00:00.000`` in UTC for times) and
statistics. A malformed query raises :class:`MalformedQueryError`, which carries the
``queryCompileError`` of AWS's MalformedQueryException.

Deliberately left out: ``dedup``, ``unmask``, ``pattern``, ``diff``, ``anomaly``,
``filterIndex``, ``SOURCE`` and ``lookup`` (refused by name), arithmetic over aggregates
inside ``stats``, ``sortsFirst``/``sortsLast``, the IP-address functions, and the SQL and
PPL query languages. Regexes run on Python's ``re`` (AWS uses Hyperscan; the common
syntax agrees). Where AWS does not document a detail the choice is marked "verify".
"""

from __future__ import annotations

from opslib.emulator.cloudwatch.insights.errors import MalformedQueryError, QueryCompileError
from opslib.emulator.cloudwatch.insights.query import Query, parse_query
from opslib.emulator.cloudwatch.insights.records import LogEvent, discover_json
from opslib.emulator.cloudwatch.insights.run import (
    DEFAULT_ACCOUNT,
    DEFAULT_LIMIT,
    MAX_LIMIT,
    QueryResult,
    QueryStatistics,
    ResultField,
    run_query,
)

__all__ = [
    "DEFAULT_ACCOUNT",
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "LogEvent",
    "MalformedQueryError",
    "Query",
    "QueryCompileError",
    "QueryResult",
    "QueryStatistics",
    "ResultField",
    "discover_json",
    "parse_query",
    "run_query",
]
