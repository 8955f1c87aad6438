"""The aggregation functions of ``stats``: a registry of accumulators, one per group.

``count()``/``count(*)`` count records, ``count(f)`` records where f has a value;
``sum``/``avg``/``stddev`` take the values that read as numbers; ``min``/``max`` compare
numbers, or text in AWS's sort order when no value is a number; ``pct(f, p)`` is the
nearest-rank percentile (a value of the data, as the guide describes it; AWS's own
estimator is approximate); ``stddev`` is the sample standard deviation (verify);
``earliest``/``latest`` take f from the record with the smallest/largest @timestamp;
``count_distinct`` is exact. An aggregate over no values has no value, so the row leaves
that field out. Counting, sums and extremes stream; only pct and stddev keep values.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from opslib.emulator.cloudwatch.insights.values import format_value, natural_key, to_number


class Accumulator:
    """One group's state for one aggregate."""

    def add(self, value: Any, timestamp: Any) -> None:
        raise NotImplementedError

    def result(self) -> Any:
        raise NotImplementedError


class _Count(Accumulator):
    def __init__(self) -> None:
        self.count = 0

    def add(self, value: Any, timestamp: Any) -> None:
        if value is not None:
            self.count += 1

    def result(self) -> Any:
        return self.count


class _Distinct(Accumulator):
    def __init__(self) -> None:
        self.seen: set[str] = set()

    def add(self, value: Any, timestamp: Any) -> None:
        if value is not None:
            self.seen.add(format_value(value))

    def result(self) -> Any:
        return len(self.seen)


class _Sum(Accumulator):
    def __init__(self, mean: bool) -> None:
        self.total = 0.0
        self.count = 0
        self.mean = mean

    def add(self, value: Any, timestamp: Any) -> None:
        number = to_number(value)
        if number is not None:
            self.total += number
            self.count += 1

    def result(self) -> Any:
        if not self.count:
            return None
        return self.total / self.count if self.mean else self.total


class _Extreme(Accumulator):
    """min or max: the best number seen, else the best text by AWS's sort order."""

    def __init__(self, sign: int) -> None:
        self.sign = sign  # -1 for min, 1 for max
        self.number: float | int | None = None
        self.text: Any = None

    def add(self, value: Any, timestamp: Any) -> None:
        if value is None:
            return
        number = to_number(value)
        if number is not None:
            if self.number is None or (number - self.number) * self.sign > 0:
                self.number = number
        elif self.text is None or _better(value, self.text, self.sign):
            self.text = value

    def result(self) -> Any:
        return self.number if self.number is not None else self.text


def _better(value: Any, current: Any, sign: int) -> bool:
    a, b = natural_key(value), natural_key(current)
    return a > b if sign > 0 else a < b


class _Numbers(Accumulator):
    """Keeps the numbers for statistics that need them all (pct, stddev)."""

    def __init__(self, finish: Callable[[list[float]], Any]) -> None:
        self.numbers: list[float] = []
        self.finish = finish

    def add(self, value: Any, timestamp: Any) -> None:
        number = to_number(value)
        if number is not None:
            self.numbers.append(number)

    def result(self) -> Any:
        return self.finish(self.numbers) if self.numbers else None


class _Timed(Accumulator):
    """earliest / latest: the value of the record at the extreme @timestamp."""

    def __init__(self, sign: int) -> None:
        self.sign = sign
        self.at: Any = None
        self.value: Any = None

    def add(self, value: Any, timestamp: Any) -> None:
        if value is None or timestamp is None:
            return
        if self.at is None or (timestamp - self.at) * self.sign > 0:
            self.at, self.value = timestamp, value

    def result(self) -> Any:
        return self.value


def nearest_rank(numbers: list[float], percent: float) -> float:
    ordered = sorted(numbers)
    rank = max(1, math.ceil(percent / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def _stddev(numbers: list[float]) -> float:
    return statistics.stdev(numbers) if len(numbers) > 1 else 0.0


@dataclass(frozen=True)
class Aggregate:
    """An aggregation function: its arguments and a factory of accumulators.

    ``arity`` counts field arguments (count takes 0 or 1); ``percent`` marks pct, whose
    second argument is a number literal; ``star`` allows ``count(*)``.
    """

    arity: tuple[int, int]
    make: Callable[[float], Accumulator]
    star: bool = False
    percent: bool = False
    timed: bool = False  # needs each record's @timestamp


AGGREGATES: dict[str, Aggregate] = {
    "count": Aggregate((0, 1), lambda _: _Count(), star=True),
    "count_distinct": Aggregate((1, 1), lambda _: _Distinct()),
    "sum": Aggregate((1, 1), lambda _: _Sum(mean=False)),
    "avg": Aggregate((1, 1), lambda _: _Sum(mean=True)),
    "stddev": Aggregate((1, 1), lambda _: _Numbers(_stddev)),
    "min": Aggregate((1, 1), lambda _: _Extreme(-1)),
    "max": Aggregate((1, 1), lambda _: _Extreme(1)),
    "pct": Aggregate((1, 1), lambda p: _Numbers(lambda n: nearest_rank(n, p)), percent=True),
    "earliest": Aggregate((1, 1), lambda _: _Timed(-1), timed=True),
    "latest": Aggregate((1, 1), lambda _: _Timed(1), timed=True),
}
