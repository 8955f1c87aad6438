"""GetMetricData's queries and results, and the one series a math alarm watches.

What this implements (API reference of GetMetricData, MetricDataQuery, MetricDataResult):

- Query validation: at most 500 queries, Ids that start with a lowercase letter and hold
  only letters, digits and underscores, unique; exactly one of MetricStat and Expression.
- Evaluation order: expressions may use metrics and other expressions (a cycle is an
  error); every expression is evaluated, only ``ReturnData`` queries are answered, in request
  order; timestamps newest first unless ScanBy is TimestampAscending.
- Labels: a MetricStat query without Label is labelled with its metric name; an expression
  without Label with its Id (verify: observed in real answers, not documented); an
  expression yielding a TS[] answers one result per series, all with the expression's Id,
  labelled "<Label> <series label>" (the console's documented legend form), or just the
  series label when the Label is empty or absent.
- StatusCode Complete for math results ("NextToken is not returned if you are performing a
  math expression"), :func:`partial` for the store's pagination and :func:`internal_error`
  for a query the service could not answer (StatusCode InternalError, the reason as a
  MessageData). A point dropped by division by zero adds no message: the guide documents
  only the drop, and we found no real answer's wording for a note about it.

Deliberately left out: dynamic labels (``${LABEL}``, ``${PROP(...)}``) are returned verbatim;
cutting answers at MaxDatapoints (100,800) and NextToken are the service layer's job, as is
fetching each MetricStat query's points from the store.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum

from opslib.emulator.cloudwatch.metricerrors import MetricMathError, ValidationError
from opslib.emulator.cloudwatch.metricmath import (
    ID_RE,
    Evaluation,
    Expression,
    MathContext,
    parse_expression,
)
from opslib.emulator.cloudwatch.timeseries import SeriesArray, TimeSeries, Value, describe

MAX_QUERIES = 500

# ---------------------------------------------------------------------------------------------
# Queries and results


@dataclass(frozen=True)
class MetricStat:
    """A MetricDataQuery's MetricStat: which metric, its period, statistic and unit."""

    namespace: str
    metric_name: str
    dimensions: tuple[tuple[str, str], ...] = ()
    period: int = 60
    stat: str = "Average"
    unit: str | None = None


@dataclass(frozen=True)
class MetricQuery:
    """One MetricDataQuery of GetMetricData or of a math alarm's Metrics array."""

    id: str
    metric_stat: MetricStat | None = None
    expression: str | None = None
    label: str | None = None
    return_data: bool = True
    period: int | None = None


class StatusCode(Enum):
    """MetricDataResult.StatusCode."""

    COMPLETE = "Complete"  # every datapoint of the range is in the answer
    PARTIAL_DATA = "PartialData"  # more datapoints follow (NextToken; never for math)
    INTERNAL_ERROR = "InternalError"  # the query failed on the service side
    FORBIDDEN = "Forbidden"  # cross-account access denied


@dataclass(frozen=True)
class MessageData:
    """A note attached to a result (MetricDataResult.Messages / GetMetricData Messages)."""

    code: str
    value: str

    def to_wire(self) -> dict[str, str]:
        return {"Code": self.code, "Value": self.value}


@dataclass(frozen=True)
class MetricDataResult:
    """One answered query: points ascending here; :meth:`to_wire` orders them by ScanBy."""

    id: str
    label: str
    points: Mapping[int, float]
    status_code: StatusCode = StatusCode.COMPLETE
    messages: tuple[MessageData, ...] = field(default_factory=tuple)

    def to_wire(self, descending: bool = True) -> dict[str, object]:
        times = sorted(self.points, reverse=descending)
        return {
            "Id": self.id,
            "Label": self.label,
            "Timestamps": times,
            "Values": [self.points[t] for t in times],
            "StatusCode": self.status_code.value,
            "Messages": [m.to_wire() for m in self.messages],
        }


def internal_error(query_id: str, label: str, detail: str) -> MetricDataResult:
    """A result without points whose query failed on the service side ("Retry your request")."""
    return MetricDataResult(
        query_id, label, {}, StatusCode.INTERNAL_ERROR, (MessageData("InternalError", detail),)
    )


def partial(result: MetricDataResult) -> MetricDataResult:
    """The same result marked PartialData (the store cut it at MaxDatapoints)."""
    return MetricDataResult(
        result.id, result.label, result.points, StatusCode.PARTIAL_DATA, result.messages
    )


def validate_queries(queries: Sequence[MetricQuery]) -> dict[str, Expression]:
    """GetMetricData's rules for the query list; the parsed expressions by Id.

    Wording is ours (AWS's exact text for these is not documented); the code is AWS's.
    """
    if not 1 <= len(queries) <= MAX_QUERIES:
        raise ValidationError(
            f"MetricDataQueries must hold 1 to {MAX_QUERIES} queries, not {len(queries)}."
        )
    seen: set[str] = set()
    parsed: dict[str, Expression] = {}
    for member, query in enumerate(queries, start=1):
        where = f"MetricDataQueries.member.{member}"
        if not ID_RE.fullmatch(query.id) or len(query.id) > 255:
            raise ValidationError(
                f"The value {query.id} for parameter {where}.Id is not valid: it must start with "
                "a lowercase letter and hold only letters, numbers and underscores."
            )
        if query.id in seen:
            raise ValidationError(f"The value {query.id} for parameter {where}.Id is not unique.")
        seen.add(query.id)
        if (query.metric_stat is None) == (query.expression is None):
            raise ValidationError(
                f"{where} must specify either Expression or MetricStat but not both."
            )
        if query.expression is not None:
            parsed[query.id] = _parse_for(query.id, query.expression)
    return parsed


def _parse_for(query_id: str, text: str) -> Expression:
    try:
        return parse_expression(text)
    except MetricMathError as exc:
        raise MetricMathError(
            f"Error in expression {query_id}: {exc.message}", exc.position
        ) from exc


class _Request:
    """The queries of one request with their metric data, resolving Ids on demand."""

    def __init__(
        self,
        queries: Sequence[MetricQuery],
        expressions: Mapping[str, Expression],
        metric_points: Mapping[str, Mapping[int, float]],
        ctx: MathContext,
    ) -> None:
        self.queries = {q.id: q for q in queries}
        self.order = [q.id for q in queries]
        self.expressions = expressions
        self.metric_points = metric_points
        self.ctx = ctx
        self.done: dict[str, Value] = {}
        self.metrics: dict[str, TimeSeries] = {}
        self.active: list[str] = []

    def metric(self, query: MetricQuery) -> TimeSeries:
        cached = self.metrics.get(query.id)
        if cached is not None:
            return cached
        stat = query.metric_stat
        assert stat is not None
        label = query.label if query.label is not None else stat.metric_name
        series = TimeSeries(
            label, dict(self.metric_points.get(query.id, {})), stat.period, query.id
        )
        self.metrics[query.id] = series
        return series

    def metric_series(self) -> SeriesArray:
        return tuple(
            self.metric(self.queries[i]) for i in self.order if self.queries[i].metric_stat
        )

    def resolve(self, query_id: str, pos: int, within: str) -> Value:
        query = self.queries.get(query_id)
        if query is None:
            raise MetricMathError(
                f"Error in expression {within}: unknown Id {query_id!r} at position {pos}", pos
            )
        if query.metric_stat is not None:
            return self.metric(query)
        return self.evaluate(query_id, pos, within)

    def evaluate(self, query_id: str, pos: int | None = None, within: str = "") -> Value:
        if query_id in self.done:
            return self.done[query_id]
        if query_id in self.active:
            cycle = " -> ".join([*self.active[self.active.index(query_id) :], query_id])
            raise MetricMathError(f"Error in expression {within}: circular reference {cycle}", pos)
        self.active.append(query_id)
        try:
            value = Evaluation(self, query_id).value(self.expressions[query_id].tree)
        finally:
            self.active.pop()
        self.done[query_id] = value
        return value


def _expression_results(query: MetricQuery, value: Value) -> list[MetricDataResult]:
    if isinstance(value, TimeSeries):
        label = query.label if query.label is not None else query.id
        return [MetricDataResult(query.id, label, value.points)]
    if isinstance(value, tuple):
        prefix = query.label or ""
        return [
            MetricDataResult(query.id, f"{prefix} {s.label}" if prefix else s.label, s.points)
            for s in value
        ]
    raise MetricMathError(
        f"Error in expression {query.id}: the result must be a time series or an array of time "
        f"series, not {describe(value)}"
    )


def run_queries(
    queries: Sequence[MetricQuery],
    metric_points: Mapping[str, Mapping[int, float]],
    ctx: MathContext,
) -> list[MetricDataResult]:
    """Answer GetMetricData's queries: ``metric_points`` holds each MetricStat query's series.

    Every expression is evaluated (even with ReturnData false, AWS validates them too); only
    ReturnData queries are answered, in request order.
    """
    expressions = validate_queries(queries)
    request = _Request(queries, expressions, metric_points, ctx)
    results: list[MetricDataResult] = []
    for query in queries:
        if query.expression is not None:
            value = request.evaluate(query.id, within=query.id)
            if query.return_data:
                results.extend(_expression_results(query, value))
        elif query.return_data:
            series = request.metric(query)
            results.append(MetricDataResult(query.id, series.label, series.points))
    return results


def evaluate_alarm_metrics(
    queries: Sequence[MetricQuery],
    metric_points: Mapping[str, Mapping[int, float]],
    ctx: MathContext,
) -> TimeSeries:
    """The one series a math alarm watches: its single ReturnData query must give one TS."""
    returned = [q for q in queries if q.return_data]
    if len(returned) != 1:
        raise ValidationError(
            "Exactly one element of the Metrics list must have ReturnData set to true, "
            f"not {len(returned)}."
        )
    results = run_queries(queries, metric_points, ctx)
    if len(results) != 1:
        raise ValidationError(
            f"The expression of {returned[0].id} must return a single time series, "
            f"not {len(results)}."
        )
    only = results[0]
    return TimeSeries(only.label, only.points, None, only.id)
