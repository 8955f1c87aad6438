"""CloudWatch statistics over one period's datapoints, and the period rules of the read APIs.

What this implements (AWS facts: CloudWatch User Guide, Statistics-definitions; API reference
of GetMetricStatistics / GetMetricData, as shipped in botocore's service model):

- The five standard statistics (SampleCount, Sum, Average, Minimum, Maximum) from raw values
  (PutMetricData ``Value`` or ``Values``/``Counts``) and from statistic sets
  (``StatisticValues``), mixed freely in one period.
- Every extended statistic AWS accepts, parsed strictly: ``pNN(.NN)``, ``tmNN``/``TM(a:b)``,
  ``wmNN``/``WM(a:b)``, ``tcNN``/``TC(a:b)``, ``tsNN``/``TS(a:b)``, ``PR(a:b)`` and ``IQM``;
  numbers with up to 10 decimals, ``%`` bounds are percentiles, bare bounds absolute values
  (lower exclusive, upper inclusive), lowercase only for the one-number form, uppercase only
  for ranges. A bad name raises :class:`InvalidStatistic` with AWS's message.
- Percentiles are nearest-rank on the raw values: ``p95`` is the smallest value with at least
  95 % of the samples at or below it ("p99 is the maximum value of the remaining 99 %").
  Percent-trimmed statistics keep the samples whose rank r satisfies ``a%·n < r <= b%·n``
  (``tm90`` of 15 samples keeps the lowest 13); ``WM`` replaces the samples outside by the
  edge values. Counts (``Values``/``Counts``) weight the samples.
- Statistic sets feed extended statistics only where AWS says they can: SampleCount 1 with
  Min = Max = Sum, or Min = Max and Sum = Min × SampleCount (then they stand for SampleCount
  copies of Min). Any other set in the period, or any negative value, makes every extended
  statistic of that period unavailable: :func:`compute` returns ``None`` and the period has
  no datapoint for it (AWS cannot compute percentiles from such data either).
- Datapoints bucketed by period with the period's start as timestamp, periods counted from
  the (rounded) StartTime; StartTime rounding by age; the Period rules for old data (a period
  that does not fit the age of StartTime returns no datapoints, it is not an error); the
  1,440-datapoint limit of GetMetricStatistics.

Deliberately left out: CloudWatch's storage approximations (real CloudWatch keeps percentiles
in a compressed histogram with a small relative error; we compute them exactly), units and
unit filtering (the store's concern), and rollup of old data into coarser resolutions (the
store keeps raw samples; :func:`available_resolution` says what AWS would still have).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from fractions import Fraction

from opslib.emulator.cloudwatch.metricerrors import (
    InvalidParameterCombination,
    InvalidParameterValue,
    ValidationError,
)

# Ages that change what CloudWatch keeps (GetMetricData/GetMetricStatistics StartTime docs).
HIGH_RES_AGE = 3 * 3600
MINUTE_AGE = 15 * 86400
FIVE_MINUTE_AGE = 63 * 86400
RETENTION_AGE = 455 * 86400
HIGH_RES_PERIODS = (1, 5, 10, 20, 30)
MAX_STATISTICS_DATAPOINTS = 1440


class StandardStatistic(Enum):
    """The five statistics of GetMetricStatistics' ``Statistics`` enum."""

    SAMPLE_COUNT = "SampleCount"  # number of samples in the period
    SUM = "Sum"  # sum of the sample values
    AVERAGE = "Average"  # Sum / SampleCount
    MINIMUM = "Minimum"  # lowest sample
    MAXIMUM = "Maximum"  # highest sample


class RangeKind(Enum):
    """The families of range statistics; the value is the uppercase prefix AWS uses."""

    TRIMMED_MEAN = "TM"  # mean of the samples inside the bounds
    WINSORIZED_MEAN = "WM"  # mean after clamping the samples outside to the bounds' edges
    TRIMMED_COUNT = "TC"  # how many samples are inside
    TRIMMED_SUM = "TS"  # sum of the samples inside (= TM x TC)
    PERCENTILE_RANK = "PR"  # percentage of samples inside absolute bounds


@dataclass(frozen=True)
class Percentile:
    """``pNN``: the nearest-rank percentile ``percent`` (0..100)."""

    name: str
    percent: float


@dataclass(frozen=True)
class RangeStatistic:
    """TM/WM/TC/TS/PR with optional bounds; ``percent`` says percentile bounds, else absolute."""

    name: str
    kind: RangeKind
    lower: float | None
    upper: float | None
    percent: bool


Statistic = StandardStatistic | Percentile | RangeStatistic
ExtendedStatistic = Percentile | RangeStatistic


class InvalidStatistic(InvalidParameterValue):
    """A statistic name CloudWatch does not accept; the message is AWS's wording."""

    def __init__(self, value: str, parameter: str = "ExtendedStatistic") -> None:
        super().__init__(f"The value {value} for parameter {parameter} is not supported.")
        self.value = value
        self.parameter = parameter


def metric_stat_error(value: str, member: int) -> ValidationError:
    """GetMetricData's answer to a bad ``MetricStat.Stat`` (1-based query ``member``).

    Code and wording as real GetMetricData answers show up in SDK logs.
    """
    return ValidationError(
        f"The value {value} for parameter MetricDataQueries.member.{member}.MetricStat.Stat "
        "is not a valid statistic."
    )


# ---------------------------------------------------------------------------------------------
# Parsing statistic names

_NUMBER = r"\d+(?:\.\d{1,10})?"
_PERCENTILE_RE = re.compile(rf"p({_NUMBER})")
_SHORT_RE = re.compile(rf"(tm|wm|tc|ts)({_NUMBER})")
_RANGE_RE = re.compile(rf"(TM|WM|TC|TS|PR)\(({_NUMBER}%?)?:({_NUMBER}%?)?\)")
_STANDARD = {s.value: s for s in StandardStatistic}


def parse_statistic(name: str, parameter: str = "ExtendedStatistic") -> Statistic:
    """The statistic named ``name``; raises :class:`InvalidStatistic` naming ``parameter``."""
    if name in _STANDARD:
        return _STANDARD[name]
    return parse_extended_statistic(name, parameter)


def parse_extended_statistic(name: str, parameter: str = "ExtendedStatistic") -> ExtendedStatistic:
    """An extended statistic (percentile or range), strictly as AWS spells them."""
    parsed = _parse_extended(name)
    if parsed is None:
        raise InvalidStatistic(name, parameter)
    return parsed


def _parse_extended(name: str) -> ExtendedStatistic | None:
    if name == "IQM":
        return RangeStatistic(name, RangeKind.TRIMMED_MEAN, 25.0, 75.0, percent=True)
    if match := _PERCENTILE_RE.fullmatch(name):
        percent = float(match.group(1))
        return Percentile(name, percent) if percent <= 100 else None
    if match := _SHORT_RE.fullmatch(name):
        upper = float(match.group(2))
        kind = RangeKind(match.group(1).upper())
        return RangeStatistic(name, kind, None, upper, percent=True) if upper <= 100 else None
    if match := _RANGE_RE.fullmatch(name):
        return _parse_range(name, RangeKind(match.group(1)), match.group(2), match.group(3))
    return None


def _parse_range(
    name: str, kind: RangeKind, low: str | None, high: str | None
) -> RangeStatistic | None:
    if low is None and high is None:
        return None
    marks = {bound.endswith("%") for bound in (low, high) if bound is not None}
    if len(marks) != 1:
        return None  # one bound a percentile, the other an absolute value
    percent = marks.pop()
    if percent and kind is RangeKind.PERCENTILE_RANK:
        return None  # PR takes fixed thresholds only
    lower, upper = _bound(low), _bound(high)
    if percent and any(b is not None and b > 100 for b in (lower, upper)):
        return None
    if lower is not None and upper is not None and lower >= upper:
        return None
    return RangeStatistic(name, kind, lower, upper, percent)


def _bound(text: str | None) -> float | None:
    return None if text is None else float(text.rstrip("%"))


def parse_alarm_statistic(name: str) -> ExtendedStatistic:
    """An alarm's ``ExtendedStatistic``: as above, percentile ranges only within 10..90 %.

    PutMetricAlarm documents ``TC/TM/TS/WM(X%:X%)`` "where X is between 10 and 90 inclusive".
    """
    parsed = parse_extended_statistic(name)
    if isinstance(parsed, RangeStatistic) and parsed.percent and "(" in name:
        bounds = [b for b in (parsed.lower, parsed.upper) if b is not None]
        if any(not 10 <= b <= 90 for b in bounds):
            raise InvalidStatistic(name)
    return parsed


# ---------------------------------------------------------------------------------------------
# One period's data


@dataclass(frozen=True, slots=True)
class StatisticSet:
    """PutMetricData's ``StatisticValues``: a pre-aggregated set of samples."""

    sample_count: float
    sum: float
    minimum: float
    maximum: float

    def as_samples(self) -> tuple[float, float] | None:
        """(value, count) when the set stands for identical samples, else ``None``."""
        if self.minimum != self.maximum:
            return None
        if math.isclose(self.sum, self.minimum * self.sample_count, rel_tol=1e-9, abs_tol=1e-12):
            return (self.minimum, self.sample_count)
        return None


@dataclass
class PeriodData:
    """Everything stored for one metric in one period: weighted raw values and statistic sets."""

    values: list[tuple[float, float]] = field(default_factory=list)  # (value, count)
    sets: list[StatisticSet] = field(default_factory=list)

    def add_value(self, value: float, count: float = 1.0) -> None:
        self.values.append((value, count))

    def add_set(self, statistic_set: StatisticSet) -> None:
        self.sets.append(statistic_set)

    @property
    def empty(self) -> bool:
        return not self.values and not self.sets


@dataclass(frozen=True)
class Summary:
    """The standard statistics of one period."""

    sample_count: float
    sum: float
    minimum: float
    maximum: float

    @property
    def average(self) -> float:
        return self.sum / self.sample_count if self.sample_count else math.nan


def summarize(data: PeriodData) -> Summary | None:
    """SampleCount, Sum, Minimum, Maximum over raw values and sets; ``None`` if empty."""
    if data.empty:
        return None
    count = sum(c for _, c in data.values) + sum(s.sample_count for s in data.sets)
    total = sum(v * c for v, c in data.values) + sum(s.sum for s in data.sets)
    lows = [v for v, _ in data.values] + [s.minimum for s in data.sets]
    highs = [v for v, _ in data.values] + [s.maximum for s in data.sets]
    return Summary(count, total, min(lows), max(highs))


def standard_value(statistic: StandardStatistic, summary: Summary) -> float:
    """One standard statistic of a summarized period."""
    if statistic is StandardStatistic.SAMPLE_COUNT:
        return summary.sample_count
    if statistic is StandardStatistic.SUM:
        return summary.sum
    if statistic is StandardStatistic.AVERAGE:
        return summary.average
    if statistic is StandardStatistic.MINIMUM:
        return summary.minimum
    return summary.maximum


def raw_samples(data: PeriodData) -> list[tuple[float, float]] | None:
    """Sorted (value, weight) samples for extended statistics, or ``None`` if AWS has none.

    ``None`` when a statistic set does not stand for identical samples, or any value is
    negative ("not available for metrics when any of the metric values are negative").
    """
    samples = [(v, c) for v, c in data.values if c > 0]
    for statistic_set in data.sets:
        expanded = statistic_set.as_samples()
        if expanded is None:
            return None
        samples.append(expanded)
    if any(v < 0 for v, _ in samples):
        return None
    return sorted(samples)


def compute(statistic: Statistic, data: PeriodData) -> float | None:
    """The value of ``statistic`` for one period, or ``None`` when it has no value."""
    if isinstance(statistic, StandardStatistic):
        summary = summarize(data)
        return None if summary is None else standard_value(statistic, summary)
    samples = raw_samples(data)
    if not samples:
        return None
    if isinstance(statistic, Percentile):
        return percentile(samples, statistic.percent)
    return range_value(statistic, samples)


def percentile(samples: Sequence[tuple[float, float]], percent: float) -> float:
    """Nearest-rank percentile of sorted weighted samples.

    The rank is computed exactly (the percent as written, e.g. 6.6666666667, times the
    sample count), so floating point cannot move it by one sample.
    """
    target = _threshold(_rank(percent, sum(w for _, w in samples)), samples)
    cumulative = 0.0
    for value, weight in samples:
        cumulative += weight
        if cumulative >= target:
            return value
    return samples[-1][0]


def _rank(percent: float, total: float) -> Fraction:
    return Fraction(repr(percent)) * Fraction(total) / 100


def _threshold(rank: Fraction, samples: Sequence[tuple[float, float]]) -> float | Fraction:
    """What a running sum of the weights must reach: an int when every weight is whole.

    Whole weights sum exactly in floating point, and "sum >= rank" is then "sum >= ceil(rank)":
    the fast path of every raw-value period. Other weights compare with the exact fraction.
    """
    if all(float(w).is_integer() for _, w in samples):
        return float(math.ceil(rank))
    return rank


@dataclass(frozen=True)
class _Kept:
    """The part of the samples a range statistic keeps, and what it clamps (for WM)."""

    count: float
    total: float
    below: float  # weight clamped to low_edge
    above: float  # weight clamped to high_edge
    low_edge: float
    high_edge: float


def range_value(statistic: RangeStatistic, samples: Sequence[tuple[float, float]]) -> float | None:
    """TM/WM/TC/TS/PR of sorted weighted samples."""
    if statistic.percent:
        kept = _kept_by_rank(samples, statistic.lower or 0.0, statistic.upper)
    else:
        kept = _kept_by_value(samples, statistic.lower, statistic.upper)
    kind = statistic.kind
    if kind is RangeKind.TRIMMED_COUNT:
        return kept.count
    if kind is RangeKind.TRIMMED_SUM:
        return kept.total
    if kind is RangeKind.PERCENTILE_RANK:
        return 100.0 * kept.count / sum(w for _, w in samples)
    if kept.count <= 0:
        return None
    if kind is RangeKind.TRIMMED_MEAN:
        return kept.total / kept.count
    clamped = (kept.below * kept.low_edge if kept.below else 0.0) + (
        kept.above * kept.high_edge if kept.above else 0.0
    )
    return (kept.total + clamped) / (kept.count + kept.below + kept.above)


def _kept_by_rank(
    samples: Sequence[tuple[float, float]], lower: float, upper: float | None
) -> _Kept:
    total_weight = sum(w for _, w in samples)
    low_rank = float(math.floor(_rank(lower, total_weight)))
    high_rank = float(math.floor(_rank(100.0 if upper is None else upper, total_weight)))
    count = total = 0.0
    low_edge = high_edge = math.nan
    start = 0.0
    for value, weight in samples:
        end = start + weight
        inside = (end if end < high_rank else high_rank) - (start if start > low_rank else low_rank)
        if inside > 0:
            if count == 0:
                low_edge = value
            high_edge = value
            count += inside
            total += inside * value
        start = end
    below = min(low_rank, total_weight)
    return _Kept(count, total, below, max(0.0, total_weight - count - below), low_edge, high_edge)


def _kept_by_value(
    samples: Sequence[tuple[float, float]], lower: float | None, upper: float | None
) -> _Kept:
    count = total = below = above = 0.0
    for value, weight in samples:
        if lower is not None and value <= lower:
            below += weight
        elif upper is not None and value > upper:
            above += weight
        else:
            count += weight
            total += weight * value
    low = math.nan if lower is None else lower
    high = math.nan if upper is None else upper
    return _Kept(count, total, below, above, low, high)


# ---------------------------------------------------------------------------------------------
# Bucketing by period


@dataclass(frozen=True, slots=True)
class Sample:
    """One stored PutMetricData sample: a value with its count, or a statistic set."""

    timestamp: float  # epoch seconds
    value: float = 0.0
    count: float = 1.0
    statistic_set: StatisticSet | None = None


def period_start(timestamp: float, start: int, period: int) -> int:
    """The start of the period (counted from ``start``) that holds ``timestamp``."""
    return start + int((timestamp - start) // period) * period


def bucketize(
    samples: Iterable[Sample], start: int, end: int, period: int
) -> dict[int, PeriodData]:
    """Group samples with ``start <= timestamp < end`` into periods keyed by period start."""
    buckets: dict[int, PeriodData] = {}
    for sample in samples:  # the hot loop of every read: kept free of calls per sample
        timestamp = sample.timestamp
        if timestamp < start or timestamp >= end:
            continue
        key = start + int((timestamp - start) // period) * period
        data = buckets.get(key)
        if data is None:
            data = buckets[key] = PeriodData()
        if sample.statistic_set is None:
            data.values.append((sample.value, sample.count))
        else:
            data.sets.append(sample.statistic_set)
    return buckets


def series(buckets: dict[int, PeriodData], statistic: Statistic) -> dict[int, float]:
    """timestamp -> value of ``statistic``, ascending; periods without a value are left out."""
    out: dict[int, float] = {}
    for timestamp in sorted(buckets):
        value = compute(statistic, buckets[timestamp])
        if value is not None:
            out[timestamp] = value
    return out


# ---------------------------------------------------------------------------------------------
# Period and StartTime rules of GetMetricStatistics / GetMetricData


def validate_period(period: int, parameter: str = "Period") -> None:
    """Raise InvalidParameterValue unless ``period`` is 1, 5, 10, 20, 30 or a multiple of 60.

    Wording as AWS-compatible implementations answer it (Eucalyptus' CloudWatch); verify.
    """
    if period <= 0:
        raise InvalidParameterValue(f"The parameter {parameter} must be greater than 0.")
    if period not in HIGH_RES_PERIODS and period % 60 != 0:
        raise InvalidParameterValue(f"The parameter {parameter} must be a multiple of 60.")


def available_resolution(age: float) -> int | None:
    """The finest period (s) CloudWatch still holds for data ``age`` seconds old, or None."""
    if age <= HIGH_RES_AGE:
        return 1
    if age <= MINUTE_AGE:
        return 60
    if age <= FIVE_MINUTE_AGE:
        return 300
    if age <= RETENTION_AGE:
        return 3600
    return None


@dataclass(frozen=True)
class PeriodRule:
    """Whether a period fits the age of the StartTime; if not, why (AWS's documented rule)."""

    valid: bool
    multiple: int  # the period must be a multiple of this (1 = any valid period)
    message: str


# (age limit, required multiple, the API reference's own sentence for that age)
_AGE_RULES = (
    (
        MINUTE_AGE,
        60,
        "Start time between 3 hours and 15 days ago - Use a multiple of 60 seconds (1 minute).",
    ),
    (
        FIVE_MINUTE_AGE,
        300,
        "Start time between 15 and 63 days ago - Use a multiple of 300 seconds (5 minutes).",
    ),
    (
        math.inf,
        3600,
        "Start time greater than 63 days ago - Use a multiple of 3600 seconds (1 hour).",
    ),
)


def check_period(period: int, start: float, now: float) -> PeriodRule:
    """AWS's rule for old data: a period that does not fit returns no datapoints (no error).

    "If the StartTime parameter specifies a time stamp that is greater than 3 hours ago, you
    must specify the period as follows or no data points in that time range is returned."
    """
    age = now - start
    if age <= HIGH_RES_AGE:
        return PeriodRule(True, 1, "")
    _, multiple, message = next(rule for rule in _AGE_RULES if age <= rule[0])
    fits = period % multiple == 0
    return PeriodRule(fits, multiple, "" if fits else message)


def round_start_time(start: float, now: float, period: int) -> int:
    """StartTime as CloudWatch rounds it: by age, and to the second-division of short periods."""
    age = now - start
    if period in (5, 10, 20, 30) and age <= HIGH_RES_AGE:
        step = period
    elif period == 1 and age <= HIGH_RES_AGE:
        step = 1
    elif age < MINUTE_AGE:
        step = 60
    elif age <= FIVE_MINUTE_AGE:
        step = 300
    else:
        step = 3600
    return int(start // step) * step


def check_datapoint_limit(
    start: float, end: float, period: int, limit: int = MAX_STATISTICS_DATAPOINTS
) -> None:
    """GetMetricStatistics answers InvalidParameterCombination above 1,440 datapoints."""
    requested = math.ceil((end - start) / period)
    if requested > limit:
        raise InvalidParameterCombination(
            f"You have requested up to {requested:,} datapoints, which exceeds the limit of "
            f"{limit:,}. You may reduce the datapoints requested by increasing Period, or "
            "decreasing the time range."
        )
