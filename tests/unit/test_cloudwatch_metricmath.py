"""Metric math: the guide's worked examples, functions, labels, errors with positions."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from opslib.emulator.cloudwatch.metricdata import (
    MetricDataResult,
    MetricQuery,
    MetricStat,
    StatusCode,
    evaluate_alarm_metrics,
    internal_error,
    partial,
    run_queries,
    validate_queries,
)
from opslib.emulator.cloudwatch.metricerrors import MetricMathError, ValidationError
from opslib.emulator.cloudwatch.metricmath import MathContext, parse_expression

pytestmark = pytest.mark.unit

P = 60
Column = Sequence[float | None]


def points(column: Column) -> dict[int, float]:
    """A column of the guide's tables: one value per period, None for '-'."""
    return {i * P: float(v) for i, v in enumerate(column) if v is not None}


def column(result: MetricDataResult, length: int) -> list[float | None]:
    return [result.points.get(i * P) for i in range(length)]


def metric(query_id: str, name: str | None = None, **kwargs: object) -> MetricQuery:
    stat = MetricStat("App", name or query_id.upper(), period=P, stat="Sum")
    return MetricQuery(query_id, metric_stat=stat, return_data=False, **kwargs)  # type: ignore[arg-type]


def evaluate(expression: str, length: int = 5, **columns: Column) -> list[float | None]:
    """The one-series result of ``expression`` over metrics given as columns."""
    queries = [metric(name) for name in columns] + [MetricQuery("e1", expression=expression)]
    data = {name: points(values) for name, values in columns.items()}
    results = run_queries(queries, data, MathContext(0, length * P, P))
    assert len(results) == 1
    return column(results[0], length)


# --- the guide's tables ------------------------------------------------------------------


M1 = [30, 20, 0, 0]
M2 = [20, None, 20, None]


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("(m1 < m2)", [0, 0, 1, 0]),
        ("(m1 >= 30)", [1, 0, 0, 0]),
        ("(m1 > 15 AND m2 > 15)", [1, 0, 0, 0]),
        ("m1 > 15 && m2 > 15", [1, 0, 0, 0]),
        ("m1 > 25 OR m2 > 15", [1, 0, 1, 0]),
        ("m1 == 0 || m2 != 20", [0, 0, 1, 1]),  # m2 != 20 has no point where m2 has none
        ("m1 <= 20", [0, 1, 1, 1]),
    ],
)
def test_comparison_and_logical_operators_as_in_the_guide(
    expression: str, expected: list[float]
) -> None:
    assert evaluate(expression, 4, m1=M1, m2=M2) == expected


IF_M1 = [1, 1, 0, 0, None]
IF_M2 = [30, None, 0, 0, 30]
IF_M3 = [0, 0, 20, None, 20]


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("IF(m1, m2, m3)", [30, 0, 20, None, None]),
        ("IF(m1, 5, m3)", [5, 5, 20, None, None]),
        ("IF(m1, m2, 5)", [30, 0, 5, 5, None]),
        ("IF(m1, m2)", [30, 0, None, None, None]),
        ("IF(1, m2, m3)", [30, None, 0, 0, 30]),
        ("IF(0, m2, m3)", [0, 0, 20, None, 20]),
        ("IF(0, m2)", [None] * 5),
        ("IF(m3 > 10, 1, 0)", [0, 0, 1, None, 1]),
        ("IF(m3 < 10, m3)", [0, 0, None, None, None]),
    ],
)
def test_if_follows_the_guide_tables(expression: str, expected: list[float | None]) -> None:
    assert evaluate(expression, m1=IF_M1, m2=IF_M2, m3=IF_M3) == expected


# --- arithmetic ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("m1 + m2", [3, 2, None, 4]),  # a point missing on one side counts as 0
        ("m1 - m2", [-1, 2, None, -4]),
        ("m1 * 10", [10, 20, None, None]),
        ("10 / m1", [10, 5, None, None]),
        ("m1 / m2", [0.5, None, None, 0.0]),  # 2/0 is dropped, 0/4 is 0
        ("m1 ^ 2", [1, 4, None, None]),
        ("-m1", [-1, -2, None, None]),
        ("-5 * m1", [-5, -10, None, None]),
        ("2 * m1 + 1", [3, 5, None, None]),
        ("2 * (m1 + 1)", [4, 6, None, None]),
        ("m1 - 2 ^ 2", [-3, -2, None, None]),
        ("m1 * -2 ^ 2", [-4, -8, None, None]),  # unary minus binds looser than ^
        ("m1 + 2 ^ 3 ^ 2", [513, 514, None, None]),  # ^ is right-associative
        ("(0 - 8) ^ (1 / 3) + m1", [None, None, None, None]),  # complex root: dropped
        ("m1 + 1 / 0", [None, None, None, None]),
        ("ABS(m1 - m2)", [1, 2, None, 4]),
        ("CEIL(m1 / m2)", [1, None, None, 0]),
        ("FLOOR(m1 / 4 + 0.5)", [0, 1, None, None]),
        ("m1 + 1.5e1", [16, 17, None, None]),
    ],
)
def test_arithmetic_broadcasts_and_drops_failed_points(
    expression: str, expected: list[float | None]
) -> None:
    assert evaluate(expression, 4, m1=[1, 2, None, None], m2=[2, 0, None, 4]) == expected


def test_division_by_zero_drops_only_that_point() -> None:
    assert evaluate("100 * m1 / m2", 3, m1=[1, 2, 3], m2=[4, 0, 6]) == [25, None, 50]


# --- aggregates --------------------------------------------------------------------------------


A = [1, None, 3, 4]
B = [3, 5, None, 8]


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("SUM([m1, m2])", [4, 5, 3, 12]),
        ("AVG([m1, m2])", [2, 2.5, 1.5, 6]),  # AVG of TS[] treats missing as 0
        ("MIN([m1, m2])", [1, 5, 3, 4]),
        ("MAX([m1, m2])", [3, 5, 3, 8]),
        ("SUM(METRICS())", [4, 5, 3, 12]),
        ("m1 - AVG(m1)", [-1.6666666666666667, None, 0.33333333333333304, 1.333333333333333]),
        ("m1 / MAX(m2)", [0.125, None, 0.375, 0.5]),
        ("m2 - MIN(m2) + SUM(m1)", [8, 10, None, 13]),
        ("SUM(100 / [m1, m2])", [133.33333333333334, 20, 33.333333333333336, 37.5]),
        ("AVG([m1, m2] / m1)", [2, None, 0.5, 1.5]),
        ("SUM(-[m1, m2])", [-4, -5, -3, -12]),
        ("DATAPOINT_COUNT(METRICS())", [2, 1, 1, 2]),
        ("m1 * 0 + DATAPOINT_COUNT(m2)", [3, None, 3, 3]),
        ("m1 * 0 + METRIC_COUNT(METRICS())", [2, None, 2, 2]),
    ],
)
def test_aggregates_of_series_and_of_arrays(expression: str, expected: list[float | None]) -> None:
    got = evaluate(expression, 4, m1=A, m2=B)
    assert got == [pytest.approx(v) if v is not None else None for v in expected]


# --- FILL ------------------------------------------------------------------------------------


GAPPY = [None, 2, None, None, 8, None]


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("FILL(m1, 0)", [0, 2, 0, 0, 8, 0]),
        ("FILL(m1, -1)", [-1, 2, -1, -1, 8, -1]),
        ("FILL(m1, REPEAT)", [None, 2, 2, 2, 8, 8]),
        ("FILL(m1, LINEAR)", [None, 2, 4, 6, 8, None]),
        ("FILL(m1, m2)", [10, 2, 30, None, 8, 60]),
        ("FILL(m1, MIN(m1))", [2, 2, 2, 2, 8, 2]),
        ("SUM(FILL(METRICS(), 0))", [10, 22, 30, 0, 58, 60]),
    ],
)
def test_fill_fills_the_periods_of_the_range(expression: str, expected: list[float | None]) -> None:
    assert evaluate(expression, 6, m1=GAPPY, m2=[10, 20, 30, None, 50, 60]) == expected


def test_fill_of_an_array_keeps_one_result_per_metric_with_prefixed_labels() -> None:
    queries = [
        metric("errors", "Errors"),
        metric("faults", "Faults"),
        MetricQuery("e1", expression="FILL(METRICS(), 0)", label="Filled With 0:"),
    ]
    data = {"errors": {0: 1.0}, "faults": {60: 2.0}}
    results = run_queries(queries, data, MathContext(0, 120, P))
    assert [(r.id, r.label, dict(r.points)) for r in results] == [
        ("e1", "Filled With 0: Errors", {0: 1.0, 60: 0.0}),
        ("e1", "Filled With 0: Faults", {0: 0.0, 60: 2.0}),
    ]


# --- time functions --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("RATE(m1)", [None, 0.5, None, 0.5, None]),  # (60-30)/60, then (120-60)/120
        ("DIFF(m1)", [None, 30, None, 60, None]),
        ("DIFF_TIME(m1)", [None, 60, None, 120, None]),
        ("RUNNING_SUM(m1)", [30, 90, None, 210, None]),
        ("m1 / PERIOD(m1)", [0.5, 1, None, 2, None]),
        ("PERIOD(m1) / 60 + m1 * 0", [1, 1, None, 1, None]),
        ("TIME_SERIES(7)", [7, 7, 7, 7, 7]),
    ],
)
def test_time_functions_work_between_consecutive_points(
    expression: str, expected: list[float | None]
) -> None:
    assert evaluate(expression, m1=[30, 60, None, 120, None]) == expected


def test_metrics_filter_selects_by_id_substring_in_request_order() -> None:
    queries = [
        metric("errors_4xx"),
        metric("requests"),
        metric("errors_5xx"),
        MetricQuery("e1", expression='SUM(METRICS("errors"))'),
        MetricQuery("e2", expression='METRIC_COUNT(METRICS("errors")) * TIME_SERIES(1)'),
    ]
    data = {"errors_4xx": {0: 1.0}, "requests": {0: 100.0}, "errors_5xx": {0: 2.0}}
    e1, e2 = run_queries(queries, data, MathContext(0, 60, P))
    assert dict(e1.points) == {0: 3.0}
    assert dict(e2.points) == {0: 2.0}


def test_expressions_may_use_other_expressions() -> None:
    queries = [
        metric("m1"),
        MetricQuery("rate", expression="m1 * 2", return_data=False),
        MetricQuery("e2", expression="rate + 1"),
    ]
    (result,) = run_queries(queries, {"m1": {0: 1.0, 60: 2.0}}, MathContext(0, 120, P))
    assert dict(result.points) == {0: 3.0, 60: 5.0}


# --- labels and result shape -----------------------------------------------------------------


def test_labels_default_to_metric_name_for_metrics_and_id_for_expressions() -> None:
    queries = [
        MetricQuery("m1", metric_stat=MetricStat("AWS/EC2", "CPUUtilization")),
        MetricQuery("m2", metric_stat=MetricStat("AWS/EC2", "NetworkIn"), label="In"),
        MetricQuery("e1", expression="m1 * 2"),
        MetricQuery("e2", expression="m1 * 3", label="Triple"),
    ]
    results = run_queries(queries, {}, MathContext(0, 60, P))
    assert [(r.id, r.label) for r in results] == [
        ("m1", "CPUUtilization"),
        ("m2", "In"),
        ("e1", "e1"),
        ("e2", "Triple"),
    ]
    assert all(r.status_code is StatusCode.COMPLETE for r in results)


def test_an_array_result_with_an_empty_label_keeps_the_metric_labels() -> None:
    queries = [metric("m1", "Errors"), MetricQuery("e1", expression="METRICS() * 2", label="")]
    (result,) = run_queries(queries, {"m1": {0: 1.0}}, MathContext(0, 60, P))
    assert (result.label, dict(result.points)) == ("Errors", {0: 2.0})


def test_only_return_data_queries_are_answered_in_request_order() -> None:
    queries = [
        MetricQuery("e1", expression="m1 + 1"),
        metric("m1"),
        MetricQuery("e2", expression="m1 + 2", return_data=False),
        MetricQuery("m2", metric_stat=MetricStat("App", "M2")),
    ]
    results = run_queries(queries, {"m1": {0: 1.0}, "m2": {0: 5.0}}, MathContext(0, 60, P))
    assert [r.id for r in results] == ["e1", "m2"]


def test_wire_shape_orders_points_by_scan_by() -> None:
    result = MetricDataResult("e1", "Rate", {0: 1.0, 60: 2.0, 120: 3.0})
    assert result.to_wire() == {
        "Id": "e1",
        "Label": "Rate",
        "Timestamps": [120, 60, 0],
        "Values": [3.0, 2.0, 1.0],
        "StatusCode": "Complete",
        "Messages": [],
    }
    assert result.to_wire(descending=False)["Values"] == [1.0, 2.0, 3.0]
    assert partial(result).to_wire()["StatusCode"] == "PartialData"


def test_a_failed_query_answers_internal_error_with_a_message() -> None:
    assert internal_error("m1", "Errors", "store unavailable").to_wire() == {
        "Id": "m1",
        "Label": "Errors",
        "Timestamps": [],
        "Values": [],
        "StatusCode": "InternalError",
        "Messages": [{"Code": "InternalError", "Value": "store unavailable"}],
    }


# --- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "position", "fragment"),
    [
        ("m1 +", 4, "Unexpected end of expression at position 4"),
        ("m1 ** 2", 4, "Unexpected '*' at position 4"),
        ("SUM(m1", 6, "Expected ')' but found end of expression at position 6"),
        ("m1 + FOO(m1)", 5, "Unknown function FOO at position 5"),
        ("m1 + M1", 5, "Unknown name 'M1' (Ids start with a lowercase letter) at position 5"),
        ("FILL(m1)", 0, "FILL takes 2 arguments, got 1 at position 0"),
        ("IF(m1)", 0, "IF takes 2 to 3 arguments, got 1 at position 0"),
        ("m1 $ 2", 3, "Unexpected character '$' at position 3"),
        ("", 0, "Empty expression at position 0"),
        ("m1 m2", 3, "Unexpected 'm2' at position 3"),
        ("[]", 0, "An array needs at least one element at position 0"),
        ("SUM m1", 4, "Function SUM must be followed by '(' at position 4"),
        ("(m1 + 1", 7, "Expected ')' but found end of expression at position 7"),
    ],
)
def test_syntax_errors_name_the_expression_and_the_position(
    expression: str, position: int, fragment: str
) -> None:
    with pytest.raises(MetricMathError) as caught:
        run_queries(
            [metric("m1"), MetricQuery("e1", expression=expression)], {}, MathContext(0, 60, P)
        )
    assert caught.value.code == "ValidationError"
    assert caught.value.position == position
    assert caught.value.message == f"Error in expression e1: {fragment}"


@pytest.mark.parametrize(
    ("expression", "fragment"),
    [
        ("m9 * 2", "unknown Id 'm9' at position 0"),
        ("AVG(m1)", "the result must be a time series or an array of time series, not a scalar"),
        (
            "PERIOD(m1 * 2) * m1",
            "PERIOD takes a metric, not a time series computed by an expression",
        ),
        ('FILL(m1, "x")', "FILL cannot fill with a string"),
        ("m1 + REPEAT", "'+' cannot combine a time series and the keyword REPEAT at position 3"),
        ("METRICS(m1)", "METRICS takes a string"),
        ("SUM(5)", "SUM expects an array of time series, not a scalar"),
        ("[m1, 5]", "an array holds time series, not a scalar"),
        ("TIME_SERIES(m1)", "TIME_SERIES takes a scalar"),
    ],
)
def test_evaluation_errors_name_what_was_wrong(expression: str, fragment: str) -> None:
    with pytest.raises(MetricMathError, match="^Error in expression e1: ") as caught:
        run_queries(
            [metric("m1"), MetricQuery("e1", expression=expression)], {}, MathContext(0, 60, P)
        )
    assert fragment in caught.value.message


def test_array_arithmetic_needs_arrays_of_the_same_length() -> None:
    queries = [metric("m1"), metric("m2"), MetricQuery("e1", expression="METRICS() + [m1]")]
    with pytest.raises(MetricMathError, match="cannot combine an array of time series"):
        run_queries(queries, {}, MathContext(0, 60, P))


def test_circular_expressions_are_refused() -> None:
    queries = [
        MetricQuery("e1", expression="e2 + 1"),
        MetricQuery("e2", expression="e1 * 2"),
    ]
    with pytest.raises(MetricMathError, match="circular reference e1 -> e2 -> e1"):
        run_queries(queries, {}, MathContext(0, 60, P))


@pytest.mark.parametrize(
    ("queries", "fragment"),
    [
        ([MetricQuery("M1", expression="1")], "MetricDataQueries.member.1.Id is not valid"),
        ([MetricQuery("1m", expression="1")], "MetricDataQueries.member.1.Id is not valid"),
        ([MetricQuery("e-1", expression="1")], "MetricDataQueries.member.1.Id is not valid"),
        ([metric("m1"), metric("m1")], "MetricDataQueries.member.2.Id is not unique"),
        ([MetricQuery("e1")], "member.1 must specify either Expression or MetricStat but not both"),
        (
            [MetricQuery("e1", expression="1", metric_stat=MetricStat("A", "B"))],
            "member.1 must specify either Expression or MetricStat but not both",
        ),
        ([], "MetricDataQueries must hold 1 to 500 queries, not 0"),
        (
            [metric(f"m{i}") for i in range(501)],
            "MetricDataQueries must hold 1 to 500 queries, not 501",
        ),
    ],
)
def test_query_lists_are_validated(queries: list[MetricQuery], fragment: str) -> None:
    with pytest.raises(ValidationError) as caught:
        validate_queries(queries)
    assert fragment in caught.value.message


def test_expressions_longer_than_2048_characters_are_refused() -> None:
    with pytest.raises(MetricMathError, match="maximum is 2048"):
        parse_expression("m1" + " + m1" * 410)


def test_parse_collects_the_ids_an_expression_uses() -> None:
    expression = parse_expression("SUM([m1, e2]) / IF(m3 > 1, m1) + m4 * 0")
    assert expression.refs == {"m1", "e2", "m3", "m4"}


# --- math alarms -----------------------------------------------------------------------------


def test_a_math_alarm_watches_its_single_return_data_series() -> None:
    queries = [
        metric("errors"),
        metric("requests"),
        MetricQuery("rate", expression="100 * errors / requests", label="Error %"),
    ]
    data = {"errors": {0: 5.0}, "requests": {0: 50.0}}
    series = evaluate_alarm_metrics(queries, data, MathContext(0, 60, P))
    assert (series.label, dict(series.points)) == ("Error %", {0: 10.0})


def test_a_math_alarm_needs_exactly_one_return_data_query_and_one_series() -> None:
    both = [MetricQuery("m1", metric_stat=MetricStat("A", "B")), MetricQuery("e1", expression="m1")]
    with pytest.raises(ValidationError, match="Exactly one element"):
        evaluate_alarm_metrics(both, {}, MathContext(0, 60, P))
    array = [metric("m1"), metric("m2"), MetricQuery("e1", expression="METRICS()")]
    with pytest.raises(ValidationError, match="must return a single time series, not 2"):
        evaluate_alarm_metrics(array, {}, MathContext(0, 60, P))
