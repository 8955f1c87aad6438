"""Alarm evaluation: the guide's missing-data tables, real StateReasons, composites, messages."""

from __future__ import annotations

import calendar
import json

import pytest

from opslib.emulator.cloudwatch.alarms import (
    AlarmConfig,
    AlarmState,
    ComparisonOperator,
    Datapoint,
    LowSampleCount,
    TreatMissingData,
    aws_time,
    evaluate_alarm,
    evaluation_interval,
    evaluation_window,
    java_double,
    low_sample_threshold,
    reason_time,
    validate_config,
)
from opslib.emulator.cloudwatch.composite import (
    AlarmRule,
    ChildAlarm,
    RuleError,
    evaluate_composite,
    find_cycle,
    long_time,
    parse_alarm_rule,
)
from opslib.emulator.cloudwatch.metricdata import MetricQuery, MetricStat
from opslib.emulator.cloudwatch.metricerrors import ValidationError
from opslib.emulator.cloudwatch.notifications import (
    AlarmInfo,
    AlarmType,
    CompositeInfo,
    HistoryItemType,
    StateRecord,
    action_item,
    composite_state_change_event,
    configuration_update_item,
    sns_message,
    sns_subject,
    state_change_event,
    state_update_item,
)
from opslib.emulator.cloudwatch.statistics import InvalidStatistic

pytestmark = pytest.mark.unit

OK, ALARM, INSUFFICIENT = AlarmState.OK, AlarmState.ALARM, AlarmState.INSUFFICIENT_DATA
POLICIES = (
    TreatMissingData.MISSING,
    TreatMissingData.IGNORE,
    TreatMissingData.BREACHING,
    TreatMissingData.NOT_BREACHING,
)
ACCOUNT = "123456789012"


def utc(*fields: int, ms: int = 0) -> float:
    """Epoch seconds of a UTC date (year, month, day, hour, minute[, second])."""
    return calendar.timegm((*fields, *(0,) * (6 - len(fields)), 0, 0, 0)) + ms / 1000


def config(**overrides: object) -> AlarmConfig:
    fields: dict[str, object] = {
        "period": 300,
        "evaluation_periods": 3,
        "threshold": 5.0,
        "comparison_operator": ComparisonOperator.GREATER_THAN,
        "statistic": "Average",
    }
    fields.update(overrides)
    return AlarmConfig(**fields)  # type: ignore[arg-type]


NOW = utc(2024, 5, 1, 12, 0, 30)


def table_points(pattern: str, cfg: AlarmConfig) -> list[Datapoint]:
    """The guide's notation, oldest first: 0 within the threshold, X breaching, - missing."""
    window = evaluation_window(cfg, NOW)
    symbols = pattern.split()
    assert len(symbols) == len(window) == 5
    value = {"0": 0.0, "X": 10.0, "-": None}
    return [
        Datapoint(t, value[s], 1.0 if value[s] is not None else None)
        for t, s in zip(window, symbols, strict=True)
    ]


# --- the guide's tables -----------------------------------------------------------------------

RETAIN = "retain"
Row = tuple[str, tuple[AlarmState | str, ...]]

# N = M = 3, evaluation range 5: MISSING, IGNORE, BREACHING, NOT BREACHING.
THREE_OF_THREE: list[Row] = [
    ("0 - X - X", (OK, OK, OK, OK)),
    ("0 - - - -", (OK, OK, OK, OK)),
    ("- - - - -", (INSUFFICIENT, RETAIN, ALARM, OK)),
    ("0 X X - X", (ALARM, ALARM, ALARM, ALARM)),
    ("- - X - -", (ALARM, RETAIN, ALARM, OK)),  # the premature-alarm rule
]
# M = 2 of N = 3, evaluation range 5.
TWO_OF_THREE: list[Row] = [
    ("0 - X - X", (ALARM, ALARM, ALARM, ALARM)),
    ("0 0 X 0 X", (ALARM, ALARM, ALARM, ALARM)),
    ("0 - X - -", (OK, OK, ALARM, OK)),
    ("- - - - 0", (OK, OK, ALARM, OK)),
    ("- - - X -", (ALARM, RETAIN, ALARM, OK)),
]
# Rows of the 2019 edition of the same page, still consistent with the current rules.
EARLIER_EDITION = [
    (3, "- - - - X", (INSUFFICIENT, RETAIN, ALARM, OK)),  # next point might be OK
    (3, "X - - - -", (ALARM, RETAIN, ALARM, OK)),  # oldest evaluated point breaches
    (2, "- - - - X", (INSUFFICIENT, RETAIN, ALARM, OK)),
]


def _cases(m: int, rows: list[Row]) -> list[tuple[object, ...]]:
    return [
        (m, pattern, policy, want)
        for pattern, wants in rows
        for policy, want in zip(POLICIES, wants, strict=True)
    ]


TABLE_CASES = (
    _cases(3, THREE_OF_THREE)
    + _cases(2, TWO_OF_THREE)
    + [case for m, pattern, wants in EARLIER_EDITION for case in _cases(m, [(pattern, wants)])]
)


@pytest.mark.parametrize(
    ("m", "pattern", "policy", "expected"),
    TABLE_CASES,
    ids=[
        f"M{c[0]}-{str(c[1]).replace(' ', '')}-{getattr(c[2], 'value', c[2])}" for c in TABLE_CASES
    ],
)
@pytest.mark.parametrize("current", [OK, ALARM, INSUFFICIENT])
def test_missing_data_tables_of_the_user_guide(
    m: int, pattern: str, policy: TreatMissingData, expected: AlarmState | str, current: AlarmState
) -> None:
    cfg = config(datapoints_to_alarm=m, treat_missing_data=policy)
    result = evaluate_alarm(cfg, table_points(pattern, cfg), current, NOW)
    if expected == RETAIN:
        assert (result.state, result.reason) == (current, None)
    else:
        assert result.state is expected
        assert result.reason is not None


def test_breaching_fill_alarms_one_evaluation_later_when_data_stays_missing() -> None:
    # "0 - - - -" stays OK with breaching; once the 0 slides out of the range it is ALARM.
    cfg = config(treat_missing_data=TreatMissingData.BREACHING)
    window = evaluation_window(cfg, NOW)
    first = [Datapoint(window[0], 0.0)] + [Datapoint(t, None) for t in window[1:]]
    assert evaluate_alarm(cfg, first, OK, NOW).state is OK
    later = NOW + cfg.period
    second = [Datapoint(t, None) for t in evaluation_window(cfg, later)]
    assert evaluate_alarm(cfg, first + second, OK, later).state is ALARM


def test_only_the_newest_range_counts_when_more_periods_are_given() -> None:
    cfg = config(datapoints_to_alarm=3)
    old_breaches = [Datapoint(int(NOW) - 3600 - i * 300, 10.0) for i in range(5)]
    recent = table_points("- - - - -", cfg)
    assert evaluate_alarm(cfg, old_breaches + recent, OK, NOW).state is INSUFFICIENT


def test_dynamodb_alarms_always_ignore_missing_data() -> None:
    cfg = config(namespace="AWS/DynamoDB", treat_missing_data=TreatMissingData.BREACHING)
    result = evaluate_alarm(cfg, table_points("- - - - -", cfg), OK, NOW)
    assert (result.state, result.reason) == (OK, None)


# --- percentiles with low samples ---------------------------------------------------------


@pytest.mark.parametrize(
    ("percent", "threshold"),
    [(99, 1000), (90, 100), (50, 20), (25, 40), (10, 100), (99.9, 10000), (100, 0), (0, 0)],
)
def test_low_sample_threshold(percent: float, threshold: float) -> None:
    assert low_sample_threshold(percent) == pytest.approx(threshold)


@pytest.mark.parametrize(
    ("mode", "samples", "expected"),
    [
        (LowSampleCount.IGNORE, 999, (OK, None)),  # p99 needs 1000 samples: state kept
        (LowSampleCount.IGNORE, 1000, (ALARM, "evaluated")),
        (LowSampleCount.EVALUATE, 5, (ALARM, "evaluated")),
        (None, 5, (ALARM, "evaluated")),
    ],
)
def test_percentile_alarms_keep_their_state_on_too_few_samples(
    mode: LowSampleCount | None, samples: float, expected: tuple[AlarmState, str | None]
) -> None:
    cfg = config(
        statistic=None,
        extended_statistic="p99",
        evaluation_periods=1,
        evaluate_low_sample_count_percentile=mode,
    )
    window = evaluation_window(cfg, NOW)
    points = [Datapoint(window[-1], 10.0, samples)]
    result = evaluate_alarm(cfg, points, OK, NOW)
    assert (result.state, None if result.reason is None else "evaluated") == expected


# --- StateReason and StateReasonData as real alarms write them -----------------------------


def test_reason_and_data_of_a_three_of_three_alarm_going_ok() -> None:
    # A real EventBridge capture (2022-01-26): average mem_used_percent, period 300.
    cfg = config(threshold=80.0, comparison_operator=ComparisonOperator.GREATER_THAN_OR_EQUAL,
                 datapoints_to_alarm=3)  # fmt: skip
    points = [
        Datapoint(int(utc(2022, 1, 26, 13, 14)), 38.364239895660816, 5.0),
        Datapoint(int(utc(2022, 1, 26, 13, 19)), 38.391752618786896, 5.0),
        Datapoint(int(utc(2022, 1, 26, 13, 24)), 38.395433048854194, 4.0),
    ]
    result = evaluate_alarm(cfg, points, INSUFFICIENT, utc(2022, 1, 26, 13, 29, 29, ms=292))
    assert result.state is OK
    assert result.reason == (
        "Threshold Crossed: 3 out of the last 3 datapoints [38.395433048854194 (26/01/22 "
        "13:24:00), "
        "38.391752618786896 (26/01/22 13:19:00), 38.364239895660816 (26/01/22 13:14:00)] were not "
        "greater than or equal to the threshold (80.0) (minimum 1 datapoint for ALARM -> OK "
        "transition)."
    )
    assert result.reason_data_json == (
        '{"version":"1.0","queryDate":"2022-01-26T13:29:29.292+0000","startDate":"2022-01-26T13:14:'
        '00.000+0000","statistic":"Average","period":300,"recentDatapoints":[38.364239895660816,38.'
        '391752618786896,38.395433048854194],"threshold":80.0,"evaluatedDatapoints":[{"timestamp":"'
        '2022-01-26T13:24:00.000+0000","sampleCount":4.0,"value":38.395433048854194}]}'
    )


def test_reason_of_a_three_of_three_alarm_going_to_alarm() -> None:
    # A real SNS capture (2020-10-09): "minimum 3 datapoints for OK -> ALARM transition".
    cfg = config(threshold=30.0, comparison_operator=ComparisonOperator.GREATER_THAN_OR_EQUAL,
                 datapoints_to_alarm=3)  # fmt: skip
    points = [
        Datapoint(int(utc(2020, 10, 9, 21, 14)), 1390.0),
        Datapoint(int(utc(2020, 10, 9, 21, 19)), 1226.0),
        Datapoint(int(utc(2020, 10, 9, 21, 24)), 1141.0),
    ]
    # The capture's StateChangeTime is 21:32:10; AWS laid its periods three minutes earlier
    # than the minute of evaluation there. We evaluate where our range ends at 21:29.
    result = evaluate_alarm(cfg, points, OK, utc(2020, 10, 9, 21, 29, 10))
    assert result.reason == (
        "Threshold Crossed: 3 out of the last 3 datapoints [1141.0 (09/10/20 21:24:00), 1226.0 "
        "(09/10/20 21:19:00), 1390.0 (09/10/20 21:14:00)] were greater than or equal to the "
        "threshold (30.0) (minimum 3 datapoints for OK -> ALARM transition)."
    )


def test_reason_and_data_of_a_one_of_three_math_alarm() -> None:
    # The guide's partial-data sample (2022-11-08): a math alarm has no "statistic".
    cfg = config(period=60, statistic=None, threshold=0.0, datapoints_to_alarm=1)
    points = [Datapoint(int(utc(2022, 11, 8, 11, minute)), 20000.0) for minute in (23, 24, 25)]
    result = evaluate_alarm(cfg, points, INSUFFICIENT, utc(2022, 11, 8, 11, 26, 5, ms=399))
    assert result.reason == (
        "Threshold Crossed: 3 out of the last 3 datapoints [20000.0 (08/11/22 11:25:00), 20000.0 "
        "(08/11/22 11:24:00), 20000.0 (08/11/22 11:23:00)] were greater than the threshold (0.0) "
        "(minimum 1 datapoint for OK -> ALARM transition)."
    )
    assert result.reason_data_json == (
        '{"version":"1.0","queryDate":"2022-11-08T11:26:05.399+0000","startDate":"2022-11-08T11:23:'
        '00.000+0000","period":60,"recentDatapoints":[20000.0,20000.0,20000.0],"threshold":0.0,'
        '"evaluatedDatapoints":[{"timestamp":"2022-11-08T11:25:00.000+0000","value":20000.0}]}'
    )


def test_reason_without_datapoints_to_alarm_uses_the_short_form() -> None:
    # A real DynamoDB alarm (2023-01-09), created without DatapointsToAlarm. Its range reached
    # six minutes back, hence evaluation_range=6 here.
    cfg = config(period=60, evaluation_periods=2, threshold=42.0, statistic="Sum",
                 namespace="AWS/DynamoDB", evaluation_range=6)  # fmt: skip
    points = [
        Datapoint(int(utc(2023, 1, 9, 14, 1)), 1.0, 1.0),
        Datapoint(int(utc(2023, 1, 9, 14, 2)), 0.0, 1.0),
    ]
    result = evaluate_alarm(cfg, points, INSUFFICIENT, utc(2023, 1, 9, 14, 7, 25, ms=504))
    assert result.reason == (
        "Threshold Crossed: 2 datapoints [0.0 (09/01/23 14:02:00), 1.0 (09/01/23 14:01:00)] were "
        "not "
        "greater than the threshold (42.0)."
    )
    assert result.reason_data_json == (
        '{"version":"1.0","queryDate":"2023-01-09T14:07:25.504+0000","startDate":"2023-01-09T14:01:'
        '00.000+0000","statistic":"Sum","period":60,"recentDatapoints":[1.0,0.0],"threshold":42.0,'
        '"evaluatedDatapoints":[{"timestamp":"2023-01-09T14:02:00.000+0000","sampleCount":1.0,'
        '"value":0.0}]}'
    )


def test_reason_when_one_real_point_of_three_is_ok() -> None:
    # A real alarm (2021-10-04): "1 out of the last 3 datapoints [...] ... ALARM -> OK".
    cfg = config(period=60, threshold=0.1, datapoints_to_alarm=3)
    now = utc(2021, 10, 4, 21, 44, 30)
    points = [Datapoint(int(utc(2021, 10, 4, 21, 42)), 0.0)]
    result = evaluate_alarm(cfg, points, ALARM, now)
    assert result.reason == (
        "Threshold Crossed: 1 out of the last 3 datapoints [0.0 (04/10/21 21:42:00)] was not "
        "greater "
        "than the threshold (0.1) (minimum 1 datapoint for ALARM -> OK transition)."
    )


def test_reason_of_the_premature_rule_names_the_one_breaching_point() -> None:
    # As a real 3-of-3 alarm wrote it: one real point, "minimum 3 datapoints".
    cfg = config(period=60, threshold=1.0, comparison_operator=ComparisonOperator.LESS_THAN,
                 datapoints_to_alarm=3)  # fmt: skip
    window = evaluation_window(cfg, NOW)
    result = evaluate_alarm(cfg, [Datapoint(window[2], 0.0)], OK, NOW)
    assert result.state is ALARM
    assert result.reason == (
        f"Threshold Crossed: 1 out of the last 3 datapoints [0.0 ({reason_time(window[2])})] was "
        "less than the threshold (1.0) (minimum 3 datapoints for OK -> ALARM transition)."
    )


def test_reason_when_every_point_is_filled_as_not_breaching() -> None:
    # A real alarm (2026-01-13), N = 1, notBreaching, no data.
    cfg = config(evaluation_periods=1, threshold=10.0, statistic="Sum",
                 comparison_operator=ComparisonOperator.GREATER_THAN_OR_EQUAL,
                 treat_missing_data=TreatMissingData.NOT_BREACHING)  # fmt: skip
    result = evaluate_alarm(cfg, [], ALARM, NOW)
    newest = evaluation_window(cfg, NOW)[-1]
    assert result.state is OK
    assert result.reason == (
        "Threshold Crossed: no datapoints were received for 1 period and 1 missing datapoint was "
        "treated as [NonBreaching]."
    )
    assert result.reason_data == {
        "version": "1.0",
        "queryDate": aws_time(NOW),
        "statistic": "Sum",
        "period": 300,
        "recentDatapoints": [],
        "threshold": 10.0,
        "evaluatedDatapoints": [{"timestamp": aws_time(newest)}],
    }


def test_reason_when_missing_points_are_plural_and_breaching() -> None:
    cfg = config(evaluation_periods=2, treat_missing_data=TreatMissingData.BREACHING)
    result = evaluate_alarm(cfg, [], OK, NOW)
    assert result.reason == (
        "Threshold Crossed: no datapoints were received for 2 periods and 2 missing datapoints "
        "were "
        "treated as [Breaching]."
    )


def test_reason_mixing_a_real_point_and_a_breaching_fill() -> None:
    # A real capture: "1 datapoint [1.0 (...)] was not less than the threshold (1.0) and
    # 1 missing datapoint was treated as [Breaching]."
    cfg = config(period=60, evaluation_periods=2, datapoints_to_alarm=1, threshold=1.0,
                 comparison_operator=ComparisonOperator.LESS_THAN,
                 treat_missing_data=TreatMissingData.BREACHING)  # fmt: skip
    now = utc(2026, 9, 25, 21, 53, 10)
    result = evaluate_alarm(cfg, [Datapoint(int(utc(2026, 9, 25, 21, 51)), 1.0)], OK, now)
    assert result.state is ALARM
    assert result.reason == (
        "Threshold Crossed: 1 datapoint [1.0 (25/09/26 21:51:00)] was not less than the threshold "
        "(1.0) and 1 missing datapoint was treated as [Breaching]."
    )
    assert result.reason_data is not None
    assert result.reason_data["evaluatedDatapoints"] == [
        {"timestamp": "2026-09-25T21:52:00.000+0000"},
        {"timestamp": "2026-09-25T21:51:00.000+0000", "value": 1.0},
    ]


def test_insufficient_data_lists_every_unknown_point_newest_first() -> None:
    cfg = config(evaluation_periods=1, statistic="Maximum", threshold=10.0)
    result = evaluate_alarm(cfg, [], OK, NOW)
    window = evaluation_window(cfg, NOW)
    assert result.state is INSUFFICIENT
    assert result.reason == "Insufficient Data: 5 datapoints were unknown."
    assert result.reason_data == {
        "version": "1.0",
        "queryDate": aws_time(NOW),
        "statistic": "Maximum",
        "period": 300,
        "recentDatapoints": [],
        "threshold": 10.0,
        "evaluatedDatapoints": [{"timestamp": aws_time(t)} for t in reversed(window)],
    }


def test_insufficient_data_for_a_lone_recent_breach_counts_the_missing_ones() -> None:
    cfg = config(datapoints_to_alarm=3)
    result = evaluate_alarm(cfg, table_points("- - - - X", cfg), OK, NOW)
    assert result.reason == "Insufficient Data: 2 datapoints were unknown."


def test_percentile_alarm_data_names_the_extended_statistic_and_unit() -> None:
    cfg = config(
        statistic=None, extended_statistic="p99", unit="Milliseconds", evaluation_periods=1
    )
    window = evaluation_window(cfg, NOW)
    result = evaluate_alarm(cfg, [Datapoint(window[-1], 12.5, 2000.0)], OK, NOW)
    assert result.reason_data is not None
    assert list(result.reason_data) == [
        "version", "queryDate", "startDate", "extendedStatistic", "unit", "period",
        "recentDatapoints", "threshold", "evaluatedDatapoints",
    ]  # fmt: skip
    assert result.reason_data["extendedStatistic"] == "p99"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (50.0, "50.0"),
        (0.0666851903306472, "0.0666851903306472"),
        (99.50160229693434, "99.50160229693434"),
        (1e7, "1.0E7"),
        (12345678.0, "1.2345678E7"),
        (1234567.0, "1234567.0"),
        (0.001, "0.001"),
        (1e-4, "1.0E-4"),
        (-2.5e-7, "-2.5E-7"),
        (0.0, "0.0"),
        (-3.0, "-3.0"),
        (float("nan"), "NaN"),
        (float("inf"), "Infinity"),
    ],
)
def test_values_are_printed_as_java_doubles(value: float, text: str) -> None:
    assert java_double(value) == text


# --- schedule and configuration -----------------------------------------------------------


def test_the_evaluation_range_ends_at_the_minute_of_the_evaluation() -> None:
    cfg = config()
    assert evaluation_window(cfg, utc(2022, 1, 26, 13, 29, 29)) == [
        int(utc(2022, 1, 26, 13, minute)) for minute in (4, 9, 14, 19, 24)
    ]


def test_high_resolution_alarms_evaluate_every_10_seconds() -> None:
    cfg = config(period=10, evaluation_periods=1)
    assert (evaluation_interval(10), evaluation_interval(30), evaluation_interval(60)) == (
        10,
        10,
        60,
    )
    window = evaluation_window(cfg, utc(2024, 1, 1, 0, 0, 37))
    assert window[-1] == utc(2024, 1, 1, 0, 0, 20) and window[-1] - window[-2] == 10


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"period": 45}, "Period 45 is not valid"),
        ({"period": 0}, "Period 0 is not valid"),
        ({"evaluation_periods": 0}, "EvaluationPeriods must be at least 1"),
        (
            {"datapoints_to_alarm": 4},
            "DatapointsToAlarm (4) must be between 1 and EvaluationPeriods (3)",
        ),
        ({"datapoints_to_alarm": 0}, "DatapointsToAlarm (0) must be between 1"),
        ({"period": 60, "evaluation_periods": 1441}, "must not exceed 86400 seconds"),
        ({"period": 3600, "evaluation_periods": 169}, "must not exceed 604800 seconds"),
    ],
)
def test_alarm_configuration_limits(overrides: dict[str, object], fragment: str) -> None:
    with pytest.raises(ValidationError) as caught:
        validate_config(config(**overrides))
    assert fragment in caught.value.message


@pytest.mark.parametrize(
    "overrides", [{"period": 10}, {"period": 20}, {"period": 3600, "evaluation_periods": 168}]
)
def test_valid_alarm_configurations(overrides: dict[str, object]) -> None:
    validate_config(config(**overrides))


def test_an_unsupported_extended_statistic_is_refused_with_aws_wording() -> None:
    with pytest.raises(InvalidStatistic) as caught:
        validate_config(config(statistic=None, extended_statistic="TM(5%:95%)"))
    assert (
        caught.value.message
        == "The value TM(5%:95%) for parameter ExtendedStatistic is not supported."
    )


# --- composite alarms ------------------------------------------------------------------------

ARN = f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:"


def child(name: str, state: AlarmState, when: float = NOW) -> ChildAlarm:
    return ChildAlarm(name, ARN + name, state, when)


@pytest.mark.parametrize(
    ("rule", "children"),
    [
        ("ALARM(CPUUtilizationTooHigh) AND ALARM(DiskReadOpsTooHigh)",
         ("CPUUtilizationTooHigh", "DiskReadOpsTooHigh")),
        ('(ALARM("CPUUtilizationTooHigh") OR \nALARM("DiskReadOpsTooHigh")) AND \n'
         'OK("NetworkOutTooHigh")',
         ("CPUUtilizationTooHigh", "DiskReadOpsTooHigh", "NetworkOutTooHigh")),
        ("ALARM(a) AND NOT ALARM(DeploymentInProgress)", ("a", "DeploymentInProgress")),
        (f"INSUFFICIENT_DATA({ARN}web-errors)", (f"{ARN}web-errors",)),
        ('ALARM("name with spaces (and parens)")', ("name with spaces (and parens)",)),
        ("ALARM( padded name )", ("padded name",)),
        ("TRUE", ()),
        ("False", ()),
        ("ALARM(a) or alarm(a)", ("a",)),
    ],
)  # fmt: skip
def test_alarm_rules_parse_and_name_their_children(rule: str, children: tuple[str, ...]) -> None:
    assert parse_alarm_rule(rule).children == children


@pytest.mark.parametrize(
    ("rule", "position", "fragment"),
    [
        ("ALARM(a) AND", 12, "Unexpected end of the rule"),
        ("ALARM(a) XOR ALARM(b)", 9, "Unexpected 'XOR'"),
        ("ALARM(a", 7, "Expected ')' after the alarm name"),
        ('ALARM("a)', 6, "Unterminated quoted alarm name"),
        ("ALARM()", 6, "Missing alarm name"),
        ("(ALARM(a)", 9, "Expected ')' but found the end of the rule"),
        ("ALARM(a) ALARM(b)", 9, "Unexpected 'ALARM'"),
        (
            "BROKEN(a)",
            0,
            "Unexpected 'BROKEN'; expected ALARM(), OK(), INSUFFICIENT_DATA(), TRUE or FALSE",
        ),
        ("ALARM(a) & ALARM(b)", 9, "Unexpected character '&'"),
        ("  ", 2, "The alarm rule is empty"),
    ],
)
def test_bad_alarm_rules_say_where(rule: str, position: int, fragment: str) -> None:
    with pytest.raises(RuleError) as caught:
        parse_alarm_rule(rule)
    assert caught.value.code == "ValidationError"
    assert caught.value.position == position
    assert caught.value.message == f"{fragment} at position {position}"


def test_alarm_rule_limits() -> None:
    with pytest.raises(RuleError, match="1 to 10240 characters"):
        parse_alarm_rule("")
    many = " OR ".join(f"ALARM(a{i})" for i in range(101))
    with pytest.raises(RuleError, match="names 101 alarms; the maximum is 100"):
        parse_alarm_rule(many)
    elements = " OR ".join(["(TRUE)"] * 251)
    with pytest.raises(RuleError, match="has 502 elements; the maximum is 500"):
        parse_alarm_rule(elements)


STATES = {"a": ALARM, "b": OK, "c": INSUFFICIENT}


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("ALARM(a)", ALARM),
        ("OK(a)", OK),
        ("ALARM(a) AND OK(b)", ALARM),
        ("ALARM(a) AND ALARM(b)", OK),
        ("ALARM(b) OR INSUFFICIENT_DATA(c)", ALARM),
        ("NOT ALARM(a)", OK),
        ("NOT NOT ALARM(a)", ALARM),
        ("ALARM(b) OR ALARM(a) AND OK(c)", OK),  # AND binds tighter than OR
        ("(ALARM(b) OR ALARM(a)) AND INSUFFICIENT_DATA(c)", ALARM),
        ("NOT ALARM(b) AND ALARM(a)", ALARM),  # NOT binds tightest
        ("TRUE", ALARM),
        ("FALSE", OK),
        (f"ALARM({ARN}a)", ALARM),  # children by ARN
    ],
)
def test_composite_rules_evaluate_over_child_states(rule: str, expected: AlarmState) -> None:
    children = [child(name, state) for name, state in STATES.items()]
    assert evaluate_composite(ARN + "main", parse_alarm_rule(rule), children).state is expected


def test_composite_reason_names_the_child_that_transitioned() -> None:
    # The guide's sample event (2022-07-22).
    when = utc(2022, 7, 22, 15, 57, 45, ms=394)
    cpu = child("ServerCpuTooHigh", ALARM, when)
    result = evaluate_composite(
        ARN + "Main", parse_alarm_rule("ALARM(ServerCpuTooHigh) OR ALARM(Disk)"),
        [cpu, child("Disk", OK)], trigger="ServerCpuTooHigh",
    )  # fmt: skip
    assert result.state is ALARM
    assert result.reason == (
        "arn:aws:cloudwatch:us-east-1:123456789012:alarm:ServerCpuTooHigh transitioned to ALARM at "
        "Friday 22 July, 2022 15:57:45 UTC"
    )
    assert result.reason_data == {
        "triggeringAlarms": [
            {
                "arn": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:ServerCpuTooHigh",
                "state": {"value": "ALARM", "timestamp": "2022-07-22T15:57:45.394+0000"},
            }
        ]
    }


@pytest.mark.parametrize(
    ("cause", "reason"),
    [
        ("created", f"{ARN}Main was created and its alarm rule evaluates to OK"),
        ("updated", f"{ARN}Main was updated and its new alarm rule evaluates to OK"),
    ],
)
def test_composite_reason_on_creation_and_update(cause: str, reason: str) -> None:
    result = evaluate_composite(
        ARN + "Main", parse_alarm_rule("ALARM(b)"), [child("b", OK)], cause=cause
    )
    assert (result.state, result.reason) == (OK, reason)


def test_an_unknown_child_is_a_validation_error() -> None:
    with pytest.raises(ValidationError, match="names ghost, which is not an alarm"):
        evaluate_composite(ARN + "Main", parse_alarm_rule("ALARM(ghost)"), [])


def test_cycles_between_composites_are_found() -> None:
    rules: dict[str, AlarmRule] = {
        "A": parse_alarm_rule("ALARM(B) OR ALARM(cpu)"),
        "B": parse_alarm_rule("ALARM(C)"),
        "C": parse_alarm_rule("OK(A)"),
    }
    assert find_cycle(rules) == ["A", "B", "C", "A"]
    rules["C"] = parse_alarm_rule("FALSE")
    assert find_cycle(rules) is None


def test_long_time_format() -> None:
    assert long_time(utc(2023, 6, 2, 12, 30, 35)) == "Friday 02 June, 2023 12:30:35 UTC"


# --- notifications -----------------------------------------------------------------------------


def ecs_alarm() -> AlarmInfo:
    """The alarm of a real SNS capture (2025-05-16, eu-west-1)."""
    cfg = config(period=60, threshold=1.0, comparison_operator=ComparisonOperator.LESS_THAN,
                 datapoints_to_alarm=3, unit=None)  # fmt: skip
    return AlarmInfo(
        name="art1-expert-hub-cpu-low-utilization-tmp",
        arn="arn:aws:cloudwatch:eu-west-1:783764586577:alarm:art1-expert-hub-cpu-low-utilization-tmp",
        account="783764586577",
        region="eu-west-1",
        config=cfg,
        configuration_updated=utc(2025, 5, 16, 6, 5, 27, ms=622),
        description="Alarm when ECS service CPU utilization is below 1% for 3 minutes",
        metric=MetricStat(
            "AWS/ECS", "CPUUtilization",
            (("ServiceName", "art1-expert-hub-service"), ("ClusterName", "art1-cluster")),
        ),
        alarm_actions=("arn:aws:sns:eu-west-1:783764586577:art1-expert-hub-cloudwatch-metric-alerts",),
    )  # fmt: skip


def test_sns_message_matches_a_real_notification() -> None:
    reason = (
        "Threshold Crossed: 3 out of the last 3 datapoints [0.35220499833424884 (16/05/25 "
        "06:45:00), "
        "0.2411688854917884 (16/05/25 06:44:00), 0.2608475057252993 (16/05/25 06:43:00)] were less "
        "than the threshold (1.0) (minimum 3 datapoints for OK -> ALARM transition)."
    )
    old = StateRecord(OK, "earlier", None, utc(2025, 5, 16, 6, 10))
    new = StateRecord(ALARM, reason, "{}", utc(2025, 5, 16, 6, 48, 22, ms=295))
    message = sns_message(ecs_alarm(), old, new)
    assert message == {
        "AlarmName": "art1-expert-hub-cpu-low-utilization-tmp",
        "AlarmDescription": "Alarm when ECS service CPU utilization is below 1% for 3 minutes",
        "AWSAccountId": "783764586577",
        "AlarmConfigurationUpdatedTimestamp": "2025-05-16T06:05:27.622+0000",
        "NewStateValue": "ALARM",
        "NewStateReason": reason,
        "StateChangeTime": "2025-05-16T06:48:22.295+0000",
        "Region": "EU (Ireland)",
        "AlarmArn": ecs_alarm().arn,
        "OldStateValue": "OK",
        "OKActions": [],
        "AlarmActions": [
            "arn:aws:sns:eu-west-1:783764586577:art1-expert-hub-cloudwatch-metric-alerts"
        ],
        "InsufficientDataActions": [],
        "Trigger": {
            "MetricName": "CPUUtilization",
            "Namespace": "AWS/ECS",
            "StatisticType": "Statistic",
            "Statistic": "AVERAGE",
            "Unit": None,
            "Dimensions": [
                {"value": "art1-expert-hub-service", "name": "ServiceName"},
                {"value": "art1-cluster", "name": "ClusterName"},
            ],
            "Period": 60,
            "EvaluationPeriods": 3,
            "DatapointsToAlarm": 3,
            "ComparisonOperator": "LessThanThreshold",
            "Threshold": 1.0,
            "TreatMissingData": "missing",
            "EvaluateLowSampleCountPercentile": "",
        },
    }
    assert list(message) == [
        "AlarmName", "AlarmDescription", "AWSAccountId", "AlarmConfigurationUpdatedTimestamp",
        "NewStateValue", "NewStateReason", "StateChangeTime", "Region", "AlarmArn", "OldStateValue",
        "OKActions", "AlarmActions", "InsufficientDataActions", "Trigger",
    ]  # fmt: skip
    json.dumps(message)  # the body is JSON-serializable as it stands


def test_sns_trigger_of_a_math_alarm_lists_its_metrics() -> None:
    queries = (
        MetricQuery("m1", metric_stat=MetricStat("ContainerInsights", "pod_cpu_utilization",
                                                 (("ClusterName", "dev"),), 60, "Average")),
        MetricQuery("e1", expression="m1 * 2", label="double", return_data=True),
    )  # fmt: skip
    info = AlarmInfo("math", ARN + "math", ACCOUNT, "ap-northeast-2", config(period=60,
                     statistic=None), 0.0, metrics=queries)  # fmt: skip
    trigger = sns_message(info, StateRecord(OK, "", None, 0), StateRecord(ALARM, "", None, 0))[
        "Trigger"
    ]
    assert trigger == {
        "Period": 60,
        "EvaluationPeriods": 3,
        "ComparisonOperator": "GreaterThanThreshold",
        "Threshold": 5.0,
        "TreatMissingData": "missing",
        "EvaluateLowSampleCountPercentile": "",
        "Metrics": [
            {
                "Id": "m1",
                "MetricStat": {
                    "Metric": {
                        "Dimensions": [{"value": "dev", "name": "ClusterName"}],
                        "MetricName": "pod_cpu_utilization",
                        "Namespace": "ContainerInsights",
                    },
                    "Period": 60,
                    "Stat": "Average",
                },
                "ReturnData": True,
            },
            {"Expression": "m1 * 2", "Id": "e1", "Label": "double", "ReturnData": True},
        ],
    }


def test_sns_trigger_of_a_percentile_alarm() -> None:
    info = ecs_alarm()
    info = AlarmInfo(
        **{**info.__dict__, "config": config(statistic=None, extended_statistic="p99")}
    )
    trigger = sns_message(info, StateRecord(OK, "", None, 0), StateRecord(ALARM, "", None, 0))[
        "Trigger"
    ]
    assert isinstance(trigger, dict)
    assert (trigger["StatisticType"], trigger["Statistic"]) == ("ExtendedStatistic", "p99")
    assert "DatapointsToAlarm" not in trigger


@pytest.mark.parametrize(
    ("name", "state", "region", "subject"),
    [
        ("my-alarm", ALARM, "us-east-1", 'ALARM: "my-alarm" in US East (N. Virginia)'),
        ("ContainerInsight-pod_cpu_utilization", OK, "ap-northeast-2",
         'OK: "ContainerInsight-pod_cpu_utilization" in Asia Pacific (Seoul)'),
        ("x" * 200, INSUFFICIENT, "us-east-1", 'INSUFFICIENT_DATA: "' + "x" * 80),
        ("local", ALARM, "xx-test-1", 'ALARM: "local" in xx-test-1'),
    ],
)  # fmt: skip
def test_sns_subject(name: str, state: AlarmState, region: str, subject: str) -> None:
    assert sns_subject(name, state, region) == subject


SAMPLE_OLD = StateRecord(
    OK,
    "Threshold Crossed: 1 out of the last 1 datapoints [0.0666851903306472 (01/10/19 13:46:00)] "
    "was "
    "not greater than the threshold (50.0) (minimum 1 datapoint for ALARM -> OK transition).",
    ""
    '{"version":"1.0","queryDate":"2019-10-01T13:56:40.985+0000","startDate":"2019-10-01T13:46:00.000'
    ""
    '+0000","statistic":"Average","period":300,"recentDatapoints":[0.0666851903306472],"threshold":50.0}',
    utc(2019, 10, 1, 13, 56, 40, ms=987),
)
SAMPLE_NEW = StateRecord(
    ALARM,
    "Threshold Crossed: 1 out of the last 1 datapoints [99.50160229693434 (02/10/19 16:59:00)] was "
    "greater than the threshold (50.0) (minimum 1 datapoint for OK -> ALARM transition).",
    ""
    '{"version":"1.0","queryDate":"2019-10-02T17:04:40.985+0000","startDate":"2019-10-02T16:59:00.000'
    ""
    '+0000","statistic":"Average","period":300,"recentDatapoints":[99.50160229693434],"threshold":50.0}',
    utc(2019, 10, 2, 17, 4, 40, ms=989),
)


def test_eventbridge_event_matches_the_guides_single_metric_sample() -> None:
    info = AlarmInfo(
        name="ServerCpuTooHigh",
        arn=ARN + "ServerCpuTooHigh",
        account=ACCOUNT,
        region="us-east-1",
        config=config(period=300, evaluation_periods=1, datapoints_to_alarm=1, threshold=50.0),
        configuration_updated=0.0,
        description="Goes into alarm when server CPU utilization is too high!",
        metric=MetricStat("AWS/EC2", "CPUUtilization", (("InstanceId", "i-12345678901234567"),)),
        metric_id="30b6c6b2-a864-43a2-4877-c09a1afc3b87",
    )
    event = state_change_event(info, SAMPLE_OLD, SAMPLE_NEW, "c4c1c1c9-6542-e61b-6ef0-8c4d36933a92")
    assert event == {
        "version": "0",
        "id": "c4c1c1c9-6542-e61b-6ef0-8c4d36933a92",
        "detail-type": "CloudWatch Alarm State Change",
        "source": "aws.cloudwatch",
        "account": "123456789012",
        "time": "2019-10-02T17:04:40Z",
        "region": "us-east-1",
        "resources": ["arn:aws:cloudwatch:us-east-1:123456789012:alarm:ServerCpuTooHigh"],
        "detail": {
            "alarmName": "ServerCpuTooHigh",
            "configuration": {
                "description": "Goes into alarm when server CPU utilization is too high!",
                "metrics": [
                    {
                        "id": "30b6c6b2-a864-43a2-4877-c09a1afc3b87",
                        "metricStat": {
                            "metric": {
                                "dimensions": {"InstanceId": "i-12345678901234567"},
                                "name": "CPUUtilization",
                                "namespace": "AWS/EC2",
                            },
                            "period": 300,
                            "stat": "Average",
                        },
                        "returnData": True,
                    }
                ],
            },
            "previousState": {
                "reason": SAMPLE_OLD.reason,
                "reasonData": SAMPLE_OLD.reason_data,
                "timestamp": "2019-10-01T13:56:40.987+0000",
                "value": "OK",
            },
            "state": {
                "reason": SAMPLE_NEW.reason,
                "reasonData": SAMPLE_NEW.reason_data,
                "timestamp": "2019-10-02T17:04:40.989+0000",
                "value": "ALARM",
            },
        },
    }


def test_eventbridge_event_of_a_math_alarm_lists_its_queries() -> None:
    queries = (
        MetricQuery("e1", expression="SUM(METRICS())", label="Total Network Traffic"),
        MetricQuery("m1", metric_stat=MetricStat("AWS/EC2", "NetworkIn", (("InstanceId", "i-1"),),
                                                 300, "Maximum"), return_data=False),
    )  # fmt: skip
    info = AlarmInfo("TotalNetworkTrafficTooHigh", ARN + "TotalNetworkTrafficTooHigh", ACCOUNT,
                     "us-east-1", config(statistic=None), 0.0, metrics=queries)  # fmt: skip
    initial = StateRecord(
        INSUFFICIENT, "Unchecked: Initial alarm creation", None, utc(2019, 10, 2, 17, 20, 3)
    )
    event = state_change_event(info, initial, SAMPLE_NEW, "id")
    detail = event["detail"]
    assert isinstance(detail, dict)
    assert detail["configuration"] == {
        "metrics": [
            {
                "id": "e1",
                "expression": "SUM(METRICS())",
                "label": "Total Network Traffic",
                "returnData": True,
            },
            {
                "id": "m1",
                "metricStat": {
                    "metric": {
                        "namespace": "AWS/EC2",
                        "name": "NetworkIn",
                        "dimensions": {"InstanceId": "i-1"},
                    },
                    "period": 300,
                    "stat": "Maximum",
                },
                "returnData": False,
            },
        ]
    }
    assert detail["previousState"] == {
        "value": "INSUFFICIENT_DATA",
        "reason": "Unchecked: Initial alarm creation",
        "timestamp": "2019-10-02T17:20:03.000+0000",
    }


def test_composite_event_carries_the_alarm_rule() -> None:
    info = CompositeInfo("Main", ARN + "Main", ACCOUNT, "us-east-1", "ALARM(a) OR ALARM(b)",
                         actions_suppressor="maintenance", actions_suppressor_wait_period=120,
                         actions_suppressor_extension_period=60)  # fmt: skip
    event = composite_state_change_event(info, SAMPLE_OLD, SAMPLE_NEW, "id")
    detail = event["detail"]
    assert isinstance(detail, dict)
    assert detail["configuration"] == {
        "alarmRule": "ALARM(a) OR ALARM(b)",
        "actionsSuppressor": "maintenance",
        "actionsSuppressorWaitPeriod": 120,
        "actionsSuppressorExtensionPeriod": 60,
    }
    assert event["resources"] == [ARN + "Main"]


def test_state_update_history_item_matches_the_cli_example() -> None:
    old = StateRecord(ALARM, "testing purposes", None, utc(2014, 4, 9, 18, 59, 5))
    reason_data = (
        '{"version":"1.0","queryDate":"2014-04-09T18:59:06.419+0000","startDate":"2014-04-09T18:44:'
        '00.000+0000","statistic":"Average","period":300,"recentDatapoints":[38.958,40.292],'
        '"threshold":70.0}'
    )
    reason = (
        "Threshold Crossed: 2 datapoints were not greater than the threshold (70.0). The most "
        "recent "
        "datapoints: [38.958, 40.292]."
    )
    new = StateRecord(OK, reason, reason_data, utc(2014, 4, 9, 18, 59, 6, ms=442))
    item = state_update_item("myalarm", AlarmType.METRIC, old, new)
    wire = item.to_wire()
    assert wire["HistorySummary"] == "Alarm updated from ALARM to OK"
    assert wire["HistoryItemType"] == "StateUpdate"
    assert wire["AlarmType"] == "MetricAlarm"
    assert wire["Timestamp"] == new.timestamp
    expected = (
        '{"version":"1.0","oldState":{"stateValue":"ALARM","stateReason":"testing purposes"},'
        '"newState":{"stateValue":"OK","stateReason":"Threshold Crossed: 2 datapoints were not '
        "greater "
        "than the threshold (70.0). The most recent datapoints: [38.958, "
        '40.292].","stateReasonData":'
        ""
        '{"version":"1.0","queryDate":"2014-04-09T18:59:06.419+0000","startDate":"2014-04-09T18:44:00'
        ""
        '.000+0000","statistic":"Average","period":300,"recentDatapoints":[38.958,40.292],"threshold":'
        "70.0}}}"
    )
    assert item.data == expected


def test_configuration_and_action_history_items() -> None:
    created = configuration_update_item(
        "web", AlarmType.METRIC, NOW, {"alarmName": "web"}, created=True
    )
    assert (created.item_type, created.summary) == (
        HistoryItemType.CONFIGURATION_UPDATE,
        'Alarm "web" created',
    )
    assert json.loads(created.data) == {
        "version": "1.0",
        "type": "Create",
        "createdAlarm": {"alarmName": "web"},
    }
    updated = configuration_update_item("web", AlarmType.COMPOSITE, NOW, {}, created=False)
    assert updated.summary == 'Alarm "web" updated' and updated.alarm_type is AlarmType.COMPOSITE
    topic = "arn:aws:sns:us-east-1:123456789012:alerts"
    done = action_item("web", AlarmType.METRIC, NOW, topic, published="{}")
    assert done.summary == f"Successfully executed action {topic}"
    assert json.loads(done.data)["actionState"] == "Succeeded"
    failed = action_item("web", AlarmType.METRIC, NOW, topic, error="topic does not exist")
    assert failed.summary == f"Failed to execute action {topic}"
    assert json.loads(failed.data)["error"] == "topic does not exist"
