"""CloudWatch statistics of one period, statistic names, bucketing and the period rules."""

from __future__ import annotations

import math

import pytest

from opslib.emulator.cloudwatch.metricerrors import (
    InvalidParameterCombination,
    InvalidParameterValue,
    ValidationError,
)
from opslib.emulator.cloudwatch.statistics import (
    InvalidStatistic,
    Percentile,
    PeriodData,
    RangeKind,
    RangeStatistic,
    Sample,
    StandardStatistic,
    StatisticSet,
    available_resolution,
    bucketize,
    check_datapoint_limit,
    check_period,
    compute,
    metric_stat_error,
    parse_alarm_statistic,
    parse_statistic,
    round_start_time,
    series,
    summarize,
    validate_period,
)

pytestmark = pytest.mark.unit

DAY = 86400


def values(*numbers: float) -> PeriodData:
    data = PeriodData()
    for number in numbers:
        data.add_value(float(number))
    return data


ONE_TO_FIFTEEN = values(*range(1, 16))


# --- names ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("p99", Percentile("p99", 99.0)),
        ("p99.9", Percentile("p99.9", 99.9)),
        ("p95.0123456789", Percentile("p95.0123456789", 95.0123456789)),
        ("p0", Percentile("p0", 0.0)),
        ("p100", Percentile("p100", 100.0)),
        ("tm90", RangeStatistic("tm90", RangeKind.TRIMMED_MEAN, None, 90.0, True)),
        ("wm98", RangeStatistic("wm98", RangeKind.WINSORIZED_MEAN, None, 98.0, True)),
        ("tc90", RangeStatistic("tc90", RangeKind.TRIMMED_COUNT, None, 90.0, True)),
        ("ts90", RangeStatistic("ts90", RangeKind.TRIMMED_SUM, None, 90.0, True)),
        ("TM(2%:98%)", RangeStatistic("TM(2%:98%)", RangeKind.TRIMMED_MEAN, 2.0, 98.0, True)),
        ("TM(:95%)", RangeStatistic("TM(:95%)", RangeKind.TRIMMED_MEAN, None, 95.0, True)),
        ("TS(80%:)", RangeStatistic("TS(80%:)", RangeKind.TRIMMED_SUM, 80.0, None, True)),
        ("TM(150:1000)", RangeStatistic("TM(150:1000)", RangeKind.TRIMMED_MEAN, 150, 1000, False)),
        ("TC(0.005:0.030)", RangeStatistic("TC(0.005:0.030)", RangeKind.TRIMMED_COUNT, 0.005, 0.03,
                                           False)),
        ("PR(:300)", RangeStatistic("PR(:300)", RangeKind.PERCENTILE_RANK, None, 300.0, False)),
        ("PR(100:2000)", RangeStatistic("PR(100:2000)", RangeKind.PERCENTILE_RANK, 100, 2000,
                                        False)),
        ("WM(10%:90%)", RangeStatistic("WM(10%:90%)", RangeKind.WINSORIZED_MEAN, 10.0, 90.0, True)),
        ("IQM", RangeStatistic("IQM", RangeKind.TRIMMED_MEAN, 25.0, 75.0, True)),
        ("Average", StandardStatistic.AVERAGE),
        ("SampleCount", StandardStatistic.SAMPLE_COUNT),
    ],
)  # fmt: skip
def test_statistic_names_parse_as_aws_spells_them(name: str, expected: object) -> None:
    assert parse_statistic(name) == expected


@pytest.mark.parametrize(
    "name",
    [
        "p100.1", "p101", "p", "p-1", "P99", "p99.12345678901", "p 99", " p99", "p99%",
        "TM99", "tm(10%:90%)", "TM(10%:90)", "TM(:)", "TM()", "TM(90%:10%)", "TM(200:100)",
        "TM(10%:101%)", "PR(10%:90%)", "pr99", "tm101", "IQR", "iqm", "average", "Avg",
        "TM(1.12345678901:5)", "", "TM(10%:90%) ", "Sum ",
    ],
)  # fmt: skip
def test_bad_statistic_names_raise_aws_invalid_parameter_value(name: str) -> None:
    with pytest.raises(InvalidStatistic) as caught:
        parse_statistic(name, "ExtendedStatistics")
    assert caught.value.code == "InvalidParameterValue"
    assert (
        caught.value.message
        == f"The value {name} for parameter ExtendedStatistics is not supported."
    )
    assert isinstance(caught.value, InvalidParameterValue)


def test_get_metric_data_names_a_bad_stat_by_its_query_member() -> None:
    error = metric_stat_error("Avg", 3)
    assert isinstance(error, ValidationError)
    assert error.code == "ValidationError"
    assert error.message == (
        "The value Avg for parameter MetricDataQueries.member.3.MetricStat.Stat "
        "is not a valid statistic."
    )


@pytest.mark.parametrize("name", ["p90", "tm90", "IQM", "TM(10%:90%)", "WM(25%:75%)", "PR(1:5)"])
def test_alarm_statistics_within_the_documented_set_are_accepted(name: str) -> None:
    assert parse_alarm_statistic(name).name == name


@pytest.mark.parametrize("name", ["TM(5%:95%)", "TC(:95%)", "TS(2%:)", "Average"])
def test_alarm_percent_ranges_outside_10_to_90_are_rejected(name: str) -> None:
    with pytest.raises(InvalidStatistic, match="for parameter ExtendedStatistic is not supported"):
        parse_alarm_statistic(name)


# --- standard statistics ---------------------------------------------------------------------


def test_standard_statistics_of_raw_values() -> None:
    data = values(3, 1, 2)
    assert [compute(s, data) for s in StandardStatistic] == [3.0, 6.0, 2.0, 1.0, 3.0]


def test_values_with_counts_weight_every_statistic() -> None:
    data = PeriodData()
    data.add_value(10.0, count=3)
    data.add_value(40.0)
    assert compute(StandardStatistic.SAMPLE_COUNT, data) == 4.0
    assert compute(StandardStatistic.SUM, data) == 70.0
    assert compute(StandardStatistic.AVERAGE, data) == 17.5
    assert compute(parse_statistic("p50"), data) == 10.0


def test_statistic_sets_and_raw_values_mix_in_one_period() -> None:
    data = values(5)
    data.add_set(StatisticSet(sample_count=4, sum=20, minimum=1, maximum=9))
    summary = summarize(data)
    assert summary is not None
    assert (summary.sample_count, summary.sum, summary.minimum, summary.maximum) == (5, 25, 1, 9)
    assert summary.average == 5.0


def test_an_empty_period_has_no_value() -> None:
    assert compute(StandardStatistic.SUM, PeriodData()) is None
    assert compute(parse_statistic("p90"), PeriodData()) is None


# --- extended statistics ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("p50", 8.0),  # nearest rank: ceil(7.5) = 8th value
        ("p90", 14.0),  # ceil(13.5) = 14th
        ("p100", 15.0),
        ("p0", 1.0),
        ("p6.6666666667", 2.0),  # just above rank 1
        ("tm90", 7.0),  # keeps ranks 1..13 (13.5 -> the top 2 are trimmed)
        ("tc90", 13.0),
        ("ts90", 91.0),  # 1 + ... + 13
        ("IQM", 7.5),  # ranks 4..11
        ("TM(25%:75%)", 7.5),
        ("wm90", 7.8),  # 14 and 15 count as 13: (91 + 26) / 15
        ("WM(10%:90%)", 118 / 15),  # 1 counts as 2, 14 and 15 as 13
        ("TM(2:10)", 6.5),  # 2 < v <= 10: 3..10
        ("TC(2:10)", 8.0),
        ("TS(80%:)", 42.0),  # ranks 13..15
        ("PR(:5)", 100 * 5 / 15),
        ("PR(5:)", 100 * 10 / 15),
        ("TC(5:)", 10.0),
        ("TM(:1)", 1.0),  # upper bound inclusive
        ("TM(15:)", None),  # lower bound exclusive: nothing left
        ("TC(15:)", 0.0),
        ("WM(2:10)", (2 + 2 + sum(range(3, 11)) + 10 * 5) / 15),
    ],
)  # fmt: skip
def test_extended_statistics_of_one_to_fifteen(name: str, expected: float | None) -> None:
    got = compute(parse_statistic(name), ONE_TO_FIFTEEN)
    if expected is None:
        assert got is None
    else:
        assert got == pytest.approx(expected)


def test_p99_is_the_maximum_of_the_remaining_99_percent() -> None:
    data = values(*range(1, 101))
    assert compute(parse_statistic("p99"), data) == 99.0
    assert compute(parse_statistic("tm99"), data) == pytest.approx(50.0)  # mean of 1..99


def test_percentile_does_not_overshoot_on_floating_point_ranks() -> None:
    # 0.9 * 10 is 9.000000000000002 in floating point; the 9th value is still p90.
    assert compute(parse_statistic("p90"), values(*range(1, 11))) == 9.0


def test_statistic_sets_of_identical_samples_feed_percentiles() -> None:
    data = PeriodData()
    data.add_set(StatisticSet(sample_count=1, sum=7, minimum=7, maximum=7))
    data.add_set(StatisticSet(sample_count=3, sum=6, minimum=2, maximum=2))
    assert compute(parse_statistic("p50"), data) == 2.0
    assert compute(parse_statistic("p100"), data) == 7.0
    assert compute(parse_statistic("tc90"), data) == 3.0


def test_statistic_sets_of_differing_samples_have_no_percentile() -> None:
    data = values(1, 2, 3)
    data.add_set(StatisticSet(sample_count=2, sum=10, minimum=4, maximum=6))
    assert compute(parse_statistic("p50"), data) is None
    assert compute(parse_statistic("IQM"), data) is None
    assert compute(StandardStatistic.AVERAGE, data) == 16 / 5  # standard ones still answer


def test_negative_values_make_extended_statistics_unavailable() -> None:
    data = values(-1, 2, 3)
    assert compute(parse_statistic("p50"), data) is None
    assert compute(StandardStatistic.MINIMUM, data) == -1.0


# --- bucketing -------------------------------------------------------------------------------


def test_bucketize_stamps_each_period_at_its_start_from_start_time() -> None:
    samples = [Sample(100, 1.0), Sample(159.9, 2.0), Sample(160, 4.0), Sample(280, 8.0)]
    buckets = bucketize(samples, start=100, end=280, period=60)
    assert sorted(buckets) == [100, 160]  # 280 is EndTime: exclusive
    assert series(buckets, StandardStatistic.SUM) == {100: 3.0, 160: 4.0}


def test_bucketize_keeps_statistic_sets_apart_from_raw_values() -> None:
    stat_set = StatisticSet(sample_count=2, sum=10, minimum=5, maximum=5)
    buckets = bucketize([Sample(0, statistic_set=stat_set), Sample(1, 1.0)], 0, 60, 60)
    assert buckets[0].sets == [stat_set]
    assert series(buckets, parse_statistic("p50")) == {0: 5.0}


def test_series_leaves_out_periods_without_a_value() -> None:
    buckets = bucketize([Sample(0, -1.0), Sample(60, 2.0)], 0, 120, 60)
    assert series(buckets, parse_statistic("p90")) == {60: 2.0}


# --- period rules ------------------------------------------------------------------------------


@pytest.mark.parametrize("period", [1, 5, 10, 20, 30, 60, 120, 300, 3600, 86400])
def test_valid_periods(period: int) -> None:
    validate_period(period)


@pytest.mark.parametrize(
    ("period", "message"),
    [
        (0, "The parameter Period must be greater than 0."),
        (-60, "The parameter Period must be greater than 0."),
        (45, "The parameter Period must be a multiple of 60."),
        (90, "The parameter Period must be a multiple of 60."),
        (2, "The parameter Period must be a multiple of 60."),
    ],
)
def test_invalid_periods_are_invalid_parameter_values(period: int, message: str) -> None:
    with pytest.raises(InvalidParameterValue) as caught:
        validate_period(period)
    assert caught.value.message == message


NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("age", "period", "valid", "multiple"),
    [
        (3600, 1, True, 1),  # high resolution only within 3 hours
        (3 * 3600 + 1, 10, False, 60),
        (3 * 3600 + 1, 60, True, 60),
        (14 * DAY, 120, True, 60),
        (16 * DAY, 60, False, 300),
        (16 * DAY, 600, True, 300),
        (62 * DAY, 300, True, 300),
        (64 * DAY, 300, False, 3600),
        (90 * DAY, 3600, True, 3600),
        (90 * DAY, 7200, True, 3600),
    ],
)
def test_periods_for_old_data_follow_the_age_of_start_time(
    age: float, period: int, valid: bool, multiple: int
) -> None:
    rule = check_period(period, NOW - age, NOW)
    assert (rule.valid, rule.multiple) == (valid, multiple)
    assert (rule.message == "") == valid


def test_an_unfitting_period_says_which_multiple_the_age_needs() -> None:
    rule = check_period(60, NOW - 20 * DAY, NOW)
    assert rule.message == (
        "Start time between 15 and 63 days ago - Use a multiple of 300 seconds (5 minutes)."
    )


@pytest.mark.parametrize(
    ("age", "resolution"),
    [(60, 1), (4 * 3600, 60), (20 * DAY, 300), (100 * DAY, 3600), (456 * DAY, None)],
)
def test_available_resolution_by_age(age: float, resolution: int | None) -> None:
    assert available_resolution(age) == resolution


@pytest.mark.parametrize(
    ("age", "period", "start", "rounded"),
    [
        (3600, 60, 45_154, 45_120),  # 12:32:34 -> 12:32:00 style: whole minute
        (20 * DAY, 300, 45_154, 45_000),  # 5-minute clock interval
        (100 * DAY, 3600, 45_154, 43_200),  # hour
        (600, 10, 3_923, 3_920),  # 01:05:23 with 10 s -> 01:05:20
        (600, 5, 54_437, 54_435),  # 15:07:17 with 5 s -> 15:07:15
    ],
)
def test_start_time_is_rounded_as_documented(
    age: float, period: int, start: int, rounded: int
) -> None:
    now = start + age
    assert round_start_time(start, now, period) == rounded


def test_get_metric_statistics_refuses_more_than_1440_datapoints() -> None:
    check_datapoint_limit(0, 1440 * 60, 60)
    with pytest.raises(InvalidParameterCombination) as caught:
        check_datapoint_limit(0, 16_666 * 60, 60)
    assert caught.value.code == "InvalidParameterCombination"
    assert caught.value.message == (
        "You have requested up to 16,666 datapoints, which exceeds the limit of 1,440. You may "
        "reduce the datapoints requested by increasing Period, or decreasing the time range."
    )


def test_summary_average_of_nothing_is_nan() -> None:
    from opslib.emulator.cloudwatch.statistics import Summary

    assert math.isnan(Summary(0, 0, 0, 0).average)
