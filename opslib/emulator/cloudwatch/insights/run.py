"""Run a parsed query over events and answer as GetQueryResults does.

Records stream through the commands; ``stats`` and a final ``sort`` are the only points
that hold more than one record at a time (a final sort keeps just the rows it returns).
The query's trailing ``limit`` commands and the StartQuery ``limit`` cap the rows;
without either, :data:`DEFAULT_LIMIT` applies (the current API reference says 10,000;
the 2022 query-syntax guide and older SDKs said 1000, which is the console's page).

Statistics: ``recordsScanned``/``bytesScanned`` count every event given (UTF-8 bytes of
the messages); ``recordsMatched`` counts the events that reached the first ``stats``, or
for a query without stats the rows before the final limit, as in real captures where a
stats query showing 8 rows reported 167 matched events.

Row order without ``sort``: events in the order given (the store gives them by time);
stats groups ascending by their by-values in AWS's sort order, so ``bin()`` rows run
forward in time. Rows of non-stats queries end with ``@ptr``.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any, TypedDict

from opslib.emulator.cloudwatch.insights.aggregates import Accumulator
from opslib.emulator.cloudwatch.insights.query import (
    Command,
    DisplayCommand,
    FieldsCommand,
    FilterCommand,
    LimitCommand,
    ParseCommand,
    Query,
    SortCommand,
    StatsCommand,
    parse_query,
)
from opslib.emulator.cloudwatch.insights.records import LogEvent, Record
from opslib.emulator.cloudwatch.insights.values import format_value, natural_key, to_text, truthy

DEFAULT_LIMIT = 10_000
MAX_LIMIT = 100_000
DEFAULT_ACCOUNT = "123456789012"


class ResultField(TypedDict):
    field: str
    value: str


class QueryStatistics(TypedDict):
    recordsMatched: float
    recordsScanned: float
    bytesScanned: float


@dataclass(frozen=True)
class QueryResult:
    """GetQueryResults' ``results`` and ``statistics``; ``fields`` the columns in order."""

    fields: tuple[str, ...]
    results: list[list[ResultField]]
    statistics: QueryStatistics


def run_query(
    query: Query | str,
    events: Iterable[LogEvent],
    *,
    limit: int | None = None,
    account_id: str = DEFAULT_ACCOUNT,
) -> QueryResult:
    """Run ``query`` over ``events`` (already narrowed to the query's groups and times)."""
    parsed = parse_query(query) if isinstance(query, str) else query
    if limit is not None and not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be from 1 to {MAX_LIMIT}, not {limit}")
    body, cap = _split_limits(parsed.commands, limit)
    scan = _Scan(events, account_id)
    matched = _Counter()
    stream: Iterable[Record] = scan
    sort = body[-1] if body and isinstance(body[-1], SortCommand) else None
    for command in body[:-1] if sort else body:
        if isinstance(command, StatsCommand) and not matched.armed:
            stream = matched.arm(stream)
        stream = _STEPS[type(command)](command, stream)
    counted = stream if matched.armed else matched.arm(stream)
    records = _top(counted, sort, cap) if sort else list(islice(counted, cap))
    for _ in counted:  # rows past the cap still count as matched
        pass
    scan.drain()
    rows = [_row(r, parsed.output_fields, not parsed.has_stats) for r in records]
    return QueryResult(parsed.output_fields, rows, scan.statistics(matched.count))


def _split_limits(commands: tuple[Command, ...], limit: int | None) -> tuple[list[Command], int]:
    """The commands before the trailing limits, and the row cap they and the API set."""
    body = list(commands)
    caps = [] if limit is None else [limit]
    while body and isinstance(last := body[-1], LimitCommand):
        caps.append(last.count)
        body.pop()
    return body, min(caps) if caps else DEFAULT_LIMIT


class _Scan:
    """Every event as a record, counting events and message bytes."""

    def __init__(self, events: Iterable[LogEvent], account: str) -> None:
        self._events = iter(events)
        self._account = account
        self._index = 0
        self.bytes = 0

    def __iter__(self) -> Iterator[Record]:
        return self

    def __next__(self) -> Record:
        event = next(self._events)
        message = event["message"]
        self.bytes += len(message) if message.isascii() else len(message.encode())
        record = Record(event, self._account, {}, self._index)
        self._index += 1
        return record

    def drain(self) -> None:
        for _ in self:
            pass

    def statistics(self, matched: int) -> QueryStatistics:
        return QueryStatistics(
            recordsMatched=float(matched),
            recordsScanned=float(self._index),
            bytesScanned=float(self.bytes),
        )


class _Counter:
    """Counts the records that pass one point of the pipeline."""

    def __init__(self) -> None:
        self.count = 0
        self.armed = False

    def arm(self, stream: Iterable[Record]) -> Iterator[Record]:
        self.armed = True
        return self._count(iter(stream))

    def _count(self, stream: Iterator[Record]) -> Iterator[Record]:
        for record in stream:
            self.count += 1
            yield record


def _fields(command: Command, stream: Iterable[Record]) -> Iterator[Record]:
    assert isinstance(command, FieldsCommand)
    items = [(item.name, item.expr.evaluate) for item in command.items]
    for record in stream:
        for name, evaluate in items:
            record.set(name, evaluate(record))
        yield record


def _filter(command: Command, stream: Iterable[Record]) -> Iterator[Record]:
    assert isinstance(command, FilterCommand)
    condition = command.condition.evaluate
    return (record for record in stream if truthy(condition(record)))


def _parse(command: Command, stream: Iterable[Record]) -> Iterator[Record]:
    """Sets the captured fields where the pattern matches; a record never drops out."""
    assert isinstance(command, ParseCommand)
    source, search, names = command.source.evaluate, command.regex.search, command.names
    for record in stream:
        text = to_text(source(record))
        found = search(text) if text is not None else None
        if found is not None:
            for name, value in zip(names, found.groups(), strict=False):
                if value is not None:
                    record.set(name, value)
        yield record


def _stats(command: Command, stream: Iterable[Record]) -> Iterator[Record]:
    assert isinstance(command, StatsCommand)
    groups = [item.expr.evaluate for item in command.groups]
    values = [_argument(call.argument) for call in command.calls]
    calls = command.calls
    timed = any(call.aggregate.timed for call in calls)
    table: dict[tuple[Any, ...], list[Accumulator]] = {}
    for record in stream:
        key = tuple(group(record) for group in groups)
        accumulators = table.get(key)
        if accumulators is None:
            accumulators = table[key] = [call.aggregate.make(call.percent) for call in calls]
        timestamp = record.get("@timestamp") if timed else None
        for accumulator, value in zip(accumulators, values, strict=True):
            accumulator.add(value(record), timestamp)
    for key in sorted(table, key=_group_order):
        yield _stats_row(command, key, table[key])


def _argument(argument: Any) -> Callable[[Record], Any]:
    if argument is None:
        return lambda record: 1  # count(*): every record counts
    evaluate: Callable[[Record], Any] = argument.evaluate
    return evaluate


def _group_order(key: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple((value is None, natural_key(value) if value is not None else 0) for value in key)


def _stats_row(
    command: StatsCommand, key: tuple[Any, ...], accumulators: list[Accumulator]
) -> Record:
    values = {item.name: value for item, value in zip(command.groups, key, strict=True)}
    for call, accumulator in zip(command.calls, accumulators, strict=True):
        values[call.name] = accumulator.result()
    return Record.row(values)


def _sort(command: Command, stream: Iterable[Record]) -> Iterator[Record]:
    assert isinstance(command, SortCommand)
    return iter(sorted(stream, key=lambda record: _SortKey(record, command.keys)))


def _top(stream: Iterable[Record], sort: Command, cap: int) -> list[Record]:
    """The first ``cap`` records in sort order, keeping no more than that many."""
    assert isinstance(sort, SortCommand)
    return heapq.nsmallest(cap, stream, key=lambda record: _SortKey(record, sort.keys))


class _SortKey:
    """Orders records by several fields, each ascending or descending; absent values last."""

    __slots__ = ("keys", "descending")

    def __init__(self, record: Record, keys: tuple[tuple[str, bool], ...]) -> None:
        values = [record.get(name) for name, _ in keys]
        self.keys = [None if v is None else natural_key(v) for v in values]
        self.descending = [descending for _, descending in keys]

    def __lt__(self, other: _SortKey) -> bool:
        for mine, theirs, descending in zip(self.keys, other.keys, self.descending, strict=True):
            if mine == theirs:
                continue
            if mine is None or theirs is None:
                return theirs is None
            return mine > theirs if descending else mine < theirs
        return False


def _limit(command: Command, stream: Iterable[Record]) -> Iterator[Record]:
    assert isinstance(command, LimitCommand)
    return islice(stream, command.count)


def _display(command: Command, stream: Iterable[Record]) -> Iterator[Record]:
    return iter(stream)


_STEPS: dict[type, Callable[[Command, Iterable[Record]], Iterator[Record]]] = {
    FieldsCommand: _fields,
    DisplayCommand: _display,
    FilterCommand: _filter,
    ParseCommand: _parse,
    StatsCommand: _stats,
    SortCommand: _sort,
    LimitCommand: _limit,
}


def _row(record: Record, fields: tuple[str, ...], with_pointer: bool) -> list[ResultField]:
    row = [
        ResultField(field=name, value=format_value(value))
        for name in fields
        if (value := record.get(name)) is not None
    ]
    pointer = record.pointer() if with_pointer else None
    if pointer is not None:
        row.append(ResultField(field="@ptr", value=pointer))
    return row
