"""Scheduler expressions: the syntax check (per the Scheduler's docs) and next fire times."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from opslib import schedexpr

pytestmark = pytest.mark.unit

AFTER = datetime(2030, 1, 30, 12, 0, tzinfo=UTC)  # a Wednesday


@pytest.mark.parametrize(
    "expression",
    [
        "rate(1 minute)",
        "rate(5 minutes)",
        "rate(1 hour)",
        "rate(12 hours)",
        "rate(7 days)",
        "cron(0 6 * * ? *)",
        "cron(0/15 * * * ? *)",
        "cron(0 18 ? * MON-FRI *)",
        "cron(0 8 1 * ? *)",
        "cron(0 10 ? * 6L 2030-2035)",
        "cron(0 9 ? * 2#1 *)",
        "cron(15 12 L * ? *)",
        "cron(0 9 15W * ? *)",
        "cron(0 9 LW * ? *)",
        "cron(5,35 14 * JAN,JUL ? *)",
        "cron(0 22-2 ? * FRI-MON *)",
        "at(2030-01-31T06:00:00)",
    ],
)
def test_valid_expressions_pass(expression: str) -> None:
    assert schedexpr.problem(expression) is None


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("", "expected a schedule expression"),
        ("every 5 minutes", "expected rate(...), cron(...) or at(...)"),
        ("rate(0 minutes)", "at least 1"),
        ("rate(5 weeks)", "minute(s), hour(s) or day(s)"),
        ("rate(five minutes)", "positive integer"),
        ("rate(5minutes)", "rate(value unit)"),
        ("cron(0 6 * * *)", "six fields"),
        ("cron(0 6 * * * *)", "exactly one of day-of-month and day-of-week"),
        ("cron(0 6 ? * ? *)", "exactly one of day-of-month and day-of-week"),
        ("cron(60 6 * * ? *)", "minutes '60': out of range 0-59"),
        ("cron(0 24 * * ? *)", "hours '24': out of range 0-23"),
        ("cron(0 6 32 * ? *)", "day-of-month '32'"),
        ("cron(0 6 * 13 ? *)", "month '13'"),
        ("cron(0 6 ? * 8 *)", "day-of-week '8'"),
        ("cron(0 6 ? * FUN *)", "day-of-week 'FUN'"),
        ("cron(0 6 * * ? 2300)", "year '2300'"),
        ("cron(0 ? * * ? *)", "'?' is allowed only in day-of-month or day-of-week"),
        ("cron(0 6 ? * 2#6 *)", "n from 1 to 5"),
        ("cron(0/0 6 * * ? *)", "positive step"),
        ("cron(0 6 * * ? 2031-2030)", "backwards"),
        ("at(2030-02-30T06:00:00)", "not a real date"),
        ("at(2030-01-31 06:00)", "at(yyyy-mm-ddThh:mm:ss)"),
        ("rate(1 minute)" + " " * 250, "at most 256 characters"),
    ],
)
def test_bad_expressions_say_what_is_wrong(expression: str, expected: str) -> None:
    problem = schedexpr.problem(expression)
    assert problem is not None and expected in problem


@pytest.mark.parametrize("name", ["UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata"])
def test_iana_timezones_pass(name: str) -> None:
    assert schedexpr.timezone_problem(name) is None


@pytest.mark.parametrize("name", ["", "CEST", "Europe/Pariss", "x" * 51, 3])
def test_other_timezones_are_refused(name: object) -> None:
    assert schedexpr.timezone_problem(name) is not None


def test_rate_fires_on_its_steps_from_the_start() -> None:
    start = datetime(2030, 1, 30, 11, 58, 30, tzinfo=UTC)
    fires = schedexpr.next_fires("rate(5 minutes)", "UTC", AFTER, 3, start=start)
    assert [f.strftime("%H:%M:%S") for f in fires] == ["12:03:30", "12:08:30", "12:13:30"]


def test_cron_weekdays_at_six_in_paris_are_five_utc_in_winter() -> None:
    fires = schedexpr.next_fires("cron(0 6 ? * MON-FRI *)", "Europe/Paris", AFTER, 3)
    assert [f.isoformat() for f in fires] == [
        "2030-01-31T05:00:00+00:00",  # Thursday
        "2030-02-01T05:00:00+00:00",  # Friday
        "2030-02-04T05:00:00+00:00",  # Monday, the weekend skipped
    ]


def test_cron_last_friday_and_nth_weekday() -> None:
    (last,) = schedexpr.next_fires("cron(0 9 ? * 6L *)", "UTC", AFTER, 1)
    assert last.date() == date(2030, 2, 22)  # the last Friday of February 2030
    (second_tuesday,) = schedexpr.next_fires("cron(0 9 ? * 3#2 *)", "UTC", AFTER, 1)
    assert second_tuesday.date() == date(2030, 2, 12)


def test_cron_nearest_weekday_and_last_day() -> None:
    # 2030-06-15 is a Saturday: 15W fires on Friday the 14th.
    after = datetime(2030, 6, 1, tzinfo=UTC)
    (near,) = schedexpr.next_fires("cron(0 9 15W * ? *)", "UTC", after, 1)
    assert near.date() == date(2030, 6, 14)
    (last,) = schedexpr.next_fires("cron(0 9 L * ? *)", "UTC", after, 1)
    assert last.date() == date(2030, 6, 30)


def test_cron_in_the_skipped_dst_hour_is_skipped() -> None:
    # Europe/Paris skips 02:00-03:00 on 2030-03-31: a 02:30 daily cron does not fire that day.
    after = datetime(2030, 3, 29, tzinfo=UTC)
    fires = schedexpr.next_fires("cron(30 2 * * ? *)", "Europe/Paris", after, 3)
    assert [f.date() for f in fires] == [date(2030, 3, 29), date(2030, 3, 30), date(2030, 4, 1)]


def test_cron_in_the_repeated_dst_hour_fires_once() -> None:
    after = datetime(2030, 10, 26, 12, tzinfo=UTC)  # Paris repeats 02:00-03:00 on the 27th
    fires = schedexpr.next_fires("cron(30 2 * * ? *)", "Europe/Paris", after, 2)
    assert fires[0].isoformat() == "2030-10-27T00:30:00+00:00"
    assert fires[1].date() == date(2030, 10, 28)


def test_at_fires_once_in_its_timezone_and_never_in_the_past() -> None:
    (once,) = schedexpr.next_fires("at(2030-02-01T06:00:00)", "America/New_York", AFTER, 3)
    assert once.isoformat() == "2030-02-01T11:00:00+00:00"
    assert schedexpr.next_fires("at(2029-02-01T06:00:00)", "UTC", AFTER, 3) == []


def test_a_cron_whose_years_are_over_never_fires_again() -> None:
    assert schedexpr.next_fires("cron(0 9 * * ? 2029)", "UTC", AFTER, 3) == []
