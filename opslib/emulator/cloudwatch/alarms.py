"""Metric alarm evaluation as a pure function: datapoints in, new state and AWS's reason out.

What this implements (CloudWatch User Guide, AlarmThatSendsEmail: "Evaluating an alarm",
"How alarm state is evaluated when data is missing", "Percentile-based alarms and low data
samples"; API reference of PutMetricAlarm; StateReason texts as real alarms write them):

- The evaluation range: each evaluation looks at more periods than EvaluationPeriods (N).
  AWS does not document the size ("depends on the length of the alarm period"); the guide's
  tables use 5 for N = 3 and a real alarm's INSUFFICIENT_DATA reason lists 5 unknown points,
  so we use ``max(5, N + 2)``; a real 1-minute DynamoDB alarm reached 6 periods back, hence
  ``AlarmConfig.evaluation_range`` to set it. Periods end at the evaluation time floored to
  the minute (10 s for 10/20/30 s periods), which is how most real StateReasonData
  timestamps line up (some real alarms lay their periods a few minutes earlier still; we do
  not model that lag). Alarms are evaluated every minute (every 10 s for high resolution).
- The three rules: no missing point -> the N most recent points; some missing but at least
  N real -> the N most recent real points (TreatMissingData unused); fewer than N real ->
  every real point plus as few missing points as possible, the most recent ones, treated
  per TreatMissingData. M of N (DatapointsToAlarm) decides ALARM vs OK.
- ``missing``/``ignore`` with fewer than N real points: all missing -> INSUFFICIENT_DATA
  (``missing``) or no change (``ignore``); a non-breaching real point -> the real points
  decide; only breaching real points -> ALARM when at least M, or when the oldest breaching
  point is at least M deep in the N evaluated points (the guide's premature-alarm rule,
  ``missing`` only); otherwise INSUFFICIENT_DATA / no change (the next point might be OK).
  Every row of the guide's two tables is a unit test.
- AWS/DynamoDB alarms always ignore missing data; percentile alarms with
  EvaluateLowSampleCountPercentile ``ignore`` keep their state while the newest datapoint
  has fewer samples than ``10/(1-p)`` (p >= 0.5) or ``10/p`` (p < 0.5).
- StateReason in AWS's wording ("Threshold Crossed: 3 out of the last 3 datapoints [...] were
  greater than or equal to the threshold (30.0) (minimum 3 datapoints for OK -> ALARM
  transition)."; the shorter form without DatapointsToAlarm; the missing-data forms;
  "Insufficient Data: ..."), values printed Java-style and dates as dd/MM/yy HH:mm:ss UTC;
  StateReasonData JSON (version, queryDate, startDate, statistic, period, recentDatapoints,
  threshold, evaluatedDatapoints) as real alarms write it.

Deliberately left out: anomaly-detection operators (they need a model's band), PromQL and
Metrics Insights alarms, and Auto Scaling's re-invocation; fetching the datapoints and running
actions belong to the service layer. Wording marked "verify" in REFERENCE-aws.md follows the
public captures it cites.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum

from opslib.emulator.cloudwatch.metricerrors import ValidationError
from opslib.emulator.cloudwatch.statistics import Percentile, parse_alarm_statistic

INITIAL_REASON = "Unchecked: Initial alarm creation"
DYNAMODB_NAMESPACE = "AWS/DynamoDB"
HIGH_RES_ALARM_PERIODS = (10, 20, 30)


class AlarmState(Enum):
    """StateValue of an alarm."""

    OK = "OK"  # the metric is within the threshold
    ALARM = "ALARM"  # the metric is outside the threshold
    INSUFFICIENT_DATA = "INSUFFICIENT_DATA"  # just created, or not enough data to decide


class ComparisonOperator(Enum):
    """The static-threshold operators; the statistic is the first operand."""

    GREATER_THAN_OR_EQUAL = "GreaterThanOrEqualToThreshold"  # value >= threshold breaches
    GREATER_THAN = "GreaterThanThreshold"  # value > threshold breaches
    LESS_THAN = "LessThanThreshold"  # value < threshold breaches
    LESS_THAN_OR_EQUAL = "LessThanOrEqualToThreshold"  # value <= threshold breaches

    @property
    def words(self) -> str:
        """How StateReason says it: "greater than or equal to", ..."""
        return _OPERATOR_WORDS[self]

    def breaches(self, value: float, threshold: float) -> bool:
        if self is ComparisonOperator.GREATER_THAN_OR_EQUAL:
            return value >= threshold
        if self is ComparisonOperator.GREATER_THAN:
            return value > threshold
        if self is ComparisonOperator.LESS_THAN:
            return value < threshold
        return value <= threshold


_OPERATOR_WORDS = {
    ComparisonOperator.GREATER_THAN_OR_EQUAL: "greater than or equal to",
    ComparisonOperator.GREATER_THAN: "greater than",
    ComparisonOperator.LESS_THAN: "less than",
    ComparisonOperator.LESS_THAN_OR_EQUAL: "less than or equal to",
}


class TreatMissingData(Enum):
    """How an alarm treats missing datapoints."""

    BREACHING = "breaching"  # missing points count as breaching
    NOT_BREACHING = "notBreaching"  # missing points count as within the threshold
    IGNORE = "ignore"  # the current state is kept
    MISSING = "missing"  # the default: all missing -> INSUFFICIENT_DATA


class LowSampleCount(Enum):
    """EvaluateLowSampleCountPercentile."""

    EVALUATE = "evaluate"  # the default: always evaluate
    IGNORE = "ignore"  # keep the state while samples are too few


@dataclass(frozen=True)
class AlarmConfig:
    """What PutMetricAlarm fixes about how an alarm evaluates (no names, no actions)."""

    period: int
    evaluation_periods: int
    threshold: float
    comparison_operator: ComparisonOperator
    datapoints_to_alarm: int | None = None
    treat_missing_data: TreatMissingData = TreatMissingData.MISSING
    evaluate_low_sample_count_percentile: LowSampleCount | None = None
    statistic: str | None = None  # Statistic ("Average", ...); None with math or extended
    extended_statistic: str | None = None  # ExtendedStatistic ("p99", "tm90", ...)
    unit: str | None = None
    namespace: str | None = None
    evaluation_range: int | None = None  # periods fetched per evaluation; None = max(5, N+2)

    @property
    def m(self) -> int:
        """DatapointsToAlarm, which defaults to EvaluationPeriods."""
        return self.datapoints_to_alarm or self.evaluation_periods

    @property
    def range_size(self) -> int:
        chosen = self.evaluation_range or max(5, self.evaluation_periods + 2)
        return max(chosen, self.evaluation_periods)

    @property
    def missing_policy(self) -> TreatMissingData:
        """TreatMissingData as applied: AWS/DynamoDB alarms always ignore missing data."""
        if self.namespace == DYNAMODB_NAMESPACE:
            return TreatMissingData.IGNORE
        return self.treat_missing_data


def validate_config(config: AlarmConfig) -> None:
    """PutMetricAlarm's limits on the evaluation parameters (ValidationError; our wording)."""
    period, n = config.period, config.evaluation_periods
    if period not in HIGH_RES_ALARM_PERIODS and (period <= 0 or period % 60):
        raise ValidationError(
            f"Period {period} is not valid: use 10, 20, 30 or a multiple of 60 seconds."
        )
    if n < 1:
        raise ValidationError("EvaluationPeriods must be at least 1.")
    if config.datapoints_to_alarm is not None and not 1 <= config.datapoints_to_alarm <= n:
        raise ValidationError(
            f"DatapointsToAlarm ({config.datapoints_to_alarm}) must be between 1 and "
            f"EvaluationPeriods ({n})."
        )
    limit = 86400 if period < 3600 else 604800
    if period * n > limit:
        raise ValidationError(
            f"Period * EvaluationPeriods ({period * n} s) must not exceed {limit} seconds."
        )
    if config.extended_statistic is not None:
        parse_alarm_statistic(config.extended_statistic)


# ---------------------------------------------------------------------------------------------
# Schedule


def evaluation_interval(period: int) -> int:
    """How often an alarm is evaluated: every 10 s for 10/20/30 s periods, else every minute."""
    return 10 if period < 60 else 60


def evaluation_window(config: AlarmConfig, now: float) -> list[int]:
    """The period starts of the evaluation range at ``now``, oldest first."""
    step = evaluation_interval(config.period)
    end = int(now // step) * step
    size = config.range_size
    return [end - (size - i) * config.period for i in range(size)]


# ---------------------------------------------------------------------------------------------
# Decision


@dataclass(frozen=True)
class Datapoint:
    """One period of the evaluation range: its start, value (None = missing), sample count."""

    timestamp: int
    value: float | None
    sample_count: float | None = None


@dataclass(frozen=True)
class EvaluatedPoint:
    """A point the decision used: real (with value) or missing and filled per policy."""

    timestamp: int
    value: float | None
    sample_count: float | None
    breaching: bool
    filled: bool


@dataclass(frozen=True)
class Decision:
    """The state reached (None = keep the current one) and what it was reached from."""

    state: AlarmState | None
    evaluated: tuple[EvaluatedPoint, ...] = ()
    unknown: tuple[int, ...] = ()  # timestamps of points too missing to decide on


def low_sample_threshold(percent: float) -> float:
    """Fewer samples than this make a pNN datapoint "statistically insignificant"."""
    p = percent / 100.0
    if 0.5 <= p < 1.0:
        return 10.0 / (1.0 - p)
    if 0.0 < p < 0.5:
        return 10.0 / p
    return 0.0  # p0 and p100 are the minimum and maximum: never too few


def _holds_for_low_samples(config: AlarmConfig, points: Sequence[Datapoint]) -> bool:
    if config.evaluate_low_sample_count_percentile is not LowSampleCount.IGNORE:
        return False
    if config.extended_statistic is None:
        return False
    statistic = parse_alarm_statistic(config.extended_statistic)
    real = [p for p in points if p.value is not None]
    if not isinstance(statistic, Percentile) or not real or real[-1].sample_count is None:
        return False
    return real[-1].sample_count < low_sample_threshold(statistic.percent)


def _real(config: AlarmConfig, point: Datapoint) -> EvaluatedPoint:
    assert point.value is not None
    breaching = config.comparison_operator.breaches(point.value, config.threshold)
    return EvaluatedPoint(point.timestamp, point.value, point.sample_count, breaching, False)


def _by_count(config: AlarmConfig, evaluated: Sequence[EvaluatedPoint]) -> Decision:
    breaching = sum(p.breaching for p in evaluated)
    state = AlarmState.ALARM if breaching >= config.m else AlarmState.OK
    return Decision(state, tuple(sorted(evaluated, key=lambda p: p.timestamp)))


def decide(config: AlarmConfig, points: Sequence[Datapoint]) -> Decision:
    """The documented missing-data algorithm over the evaluation range (oldest first)."""
    n = config.evaluation_periods
    real = [_real(config, p) for p in points if p.value is not None]
    if len(real) >= n:
        return _by_count(config, real[-n:])
    missing = [p.timestamp for p in points if p.value is None]
    fill = missing[len(missing) - (n - len(real)) :]
    policy = config.missing_policy
    if policy in (TreatMissingData.BREACHING, TreatMissingData.NOT_BREACHING):
        breaching = policy is TreatMissingData.BREACHING
        filled = [EvaluatedPoint(t, None, None, breaching, True) for t in fill]
        return _by_count(config, real + filled)
    return _decide_without_fill(config, real, missing, fill)


def _decide_without_fill(
    config: AlarmConfig, real: list[EvaluatedPoint], missing: list[int], fill: list[int]
) -> Decision:
    keep = config.missing_policy is TreatMissingData.IGNORE
    if not real:
        return (
            Decision(None) if keep else Decision(AlarmState.INSUFFICIENT_DATA, (), tuple(missing))
        )
    breaching = [p for p in real if p.breaching]
    if len(breaching) < len(real) or len(breaching) >= config.m:
        return _by_count(config, real)
    if keep:
        return Decision(None)
    if _premature_rule_alarms(config, real, fill):
        return Decision(AlarmState.ALARM, tuple(real))
    return Decision(AlarmState.INSUFFICIENT_DATA, tuple(real), tuple(fill))


def _premature_rule_alarms(
    config: AlarmConfig, real: list[EvaluatedPoint], fill: list[int]
) -> bool:
    """ALARM when the oldest breaching point is at least M deep among the N evaluated points.

    "...when the oldest available breaching datapoint during the Evaluation Periods number of
    data points is at least as old as the value of Datapoints to Alarm, and all other more
    recent data points are breaching or missing" (the caller ensured the latter).
    """
    window = sorted([p.timestamp for p in real] + fill)
    oldest = min(p.timestamp for p in real)
    return len(window) - window.index(oldest) >= config.m


# ---------------------------------------------------------------------------------------------
# Result


@dataclass(frozen=True)
class AlarmEvaluation:
    """What one evaluation concluded; ``reason`` None means the state is simply kept."""

    state: AlarmState
    reason: str | None
    reason_data: dict[str, object] | None
    evaluated: tuple[EvaluatedPoint, ...] = ()

    def changed(self, current: AlarmState) -> bool:
        return self.state is not current

    @property
    def reason_data_json(self) -> str | None:
        """StateReasonData as AWS stores it: compact JSON text."""
        if self.reason_data is None:
            return None
        return json.dumps(self.reason_data, separators=(",", ":"))


def evaluate_alarm(
    config: AlarmConfig,
    datapoints: Sequence[Datapoint],
    current: AlarmState,
    now: float | None = None,
) -> AlarmEvaluation:
    """Evaluate an alarm at ``now``; the state it goes to and why.

    ``datapoints`` are the alarm's per-period values keyed by period start, as
    :func:`evaluation_window` lays the periods out; a period of the range that is absent, or
    whose value is None, is missing. Points outside the range are not looked at.
    """
    now = time.time() if now is None else now
    given = {p.timestamp: p for p in datapoints}
    points = [given.get(t) or Datapoint(t, None) for t in evaluation_window(config, now)]
    if _holds_for_low_samples(config, points):
        return AlarmEvaluation(current, None, None)
    decision = decide(config, points)
    if decision.state is None:
        return AlarmEvaluation(current, None, None)
    reason = state_reason(config, decision)
    return AlarmEvaluation(
        decision.state, reason, state_reason_data(config, decision, now), decision.evaluated
    )


# ---------------------------------------------------------------------------------------------
# StateReason and StateReasonData


def java_double(value: float) -> str:
    """A double as Java's Double.toString prints it: 50.0, 0.0666851903306472, 1.0E7.

    The shortest digits that round-trip (as Python's repr), in plain notation for
    ``1e-3 <= |value| < 1e7`` and as ``d.dddE<exp>`` outside it.
    """
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    shortest = Decimal(repr(value))
    if 1e-3 <= abs(value) < 1e7:
        text = format(shortest, "f")
        return text if "." in text else f"{text}.0"
    sign, digits, exponent = shortest.as_tuple()
    assert isinstance(exponent, int)
    figures = "".join(map(str, digits)).rstrip("0") or "0"
    power = len(digits) - 1 + exponent
    return f"{'-' if sign else ''}{figures[0]}.{figures[1:] or '0'}E{power}"


def reason_time(timestamp: float) -> str:
    """dd/MM/yy HH:mm:ss in UTC, as datapoints appear in StateReason."""
    return time.strftime("%d/%m/%y %H:%M:%S", time.gmtime(timestamp))


def aws_time(timestamp: float) -> str:
    """yyyy-MM-dd'T'HH:mm:ss.SSS+0000, the timestamps of StateReasonData and alarm messages."""
    millis = int(round(timestamp * 1000))
    seconds, ms = divmod(millis, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{ms:03d}+0000"


def _count(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _was(n: int) -> str:
    return "was" if n == 1 else "were"


def _listed(
    config: AlarmConfig, real: Sequence[EvaluatedPoint], state: AlarmState
) -> tuple[list[EvaluatedPoint], str]:
    """The points the reason names (those agreeing with the new state), newest first, and verb."""
    alarming = state is AlarmState.ALARM
    agree = [p for p in real if p.breaching == alarming]
    shown = agree or list(real)
    positive = shown[0].breaching if shown else alarming
    verb = config.comparison_operator.words
    return sorted(shown, key=lambda p: -p.timestamp), verb if positive else f"not {verb}"


def _point_list(points: Sequence[EvaluatedPoint]) -> str:
    return ", ".join(f"{java_double(p.value or 0.0)} ({reason_time(p.timestamp)})" for p in points)


def state_reason(config: AlarmConfig, decision: Decision) -> str:
    """StateReason for a decided state, in the forms real alarms write."""
    state = decision.state
    assert state is not None
    if state is AlarmState.INSUFFICIENT_DATA:
        unknown = len(decision.unknown)
        return f"Insufficient Data: {_count(unknown, 'datapoint')} {_was(unknown)} unknown."
    real = [p for p in decision.evaluated if not p.filled]
    filled = [p for p in decision.evaluated if p.filled]
    threshold = java_double(config.threshold)
    if filled:
        return _filled_reason(config, real, filled, state, threshold)
    shown, verb = _listed(config, real, state)
    head = f"Threshold Crossed: {len(shown)}"
    body = f"[{_point_list(shown)}] {_was(len(shown))} {verb} the threshold ({threshold})"
    if config.datapoints_to_alarm is None:
        return f"{head} {'datapoint' if len(shown) == 1 else 'datapoints'} {body}."
    n, m = config.evaluation_periods, config.m
    minimum, direction = (
        (m, "OK -> ALARM") if state is AlarmState.ALARM else (n - m + 1, "ALARM -> OK")
    )
    return (
        f"{head} out of the last {n} datapoints {body} "
        f"(minimum {_count(minimum, 'datapoint')} for {direction} transition)."
    )


def _filled_reason(
    config: AlarmConfig,
    real: Sequence[EvaluatedPoint],
    filled: Sequence[EvaluatedPoint],
    state: AlarmState,
    threshold: str,
) -> str:
    k = len(filled)
    treated = "[Breaching]" if filled[0].breaching else "[NonBreaching]"
    tail = f"{_count(k, 'missing datapoint')} {_was(k)} treated as {treated}."
    if not real:
        return (
            f"Threshold Crossed: no datapoints were received for {_count(k, 'period')} and {tail}"
        )
    shown, verb = _listed(config, real, state)
    return (
        f"Threshold Crossed: {_count(len(shown), 'datapoint')} [{_point_list(shown)}] "
        f"{_was(len(shown))} {verb} the threshold ({threshold}) and {tail}"
    )


def state_reason_data(config: AlarmConfig, decision: Decision, now: float) -> dict[str, object]:
    """StateReasonData (as a JSON-ready dict, keys in AWS's order)."""
    real = [p for p in decision.evaluated if not p.filled]
    data: dict[str, object] = {"version": "1.0", "queryDate": aws_time(now)}
    if real:
        data["startDate"] = aws_time(min(p.timestamp for p in real))
    if config.statistic is not None:
        data["statistic"] = config.statistic
    elif config.extended_statistic is not None:
        data["extendedStatistic"] = config.extended_statistic
    if config.unit is not None:
        data["unit"] = config.unit
    data["period"] = config.period
    data["recentDatapoints"] = [p.value for p in real]
    data["threshold"] = float(config.threshold)
    data["evaluatedDatapoints"] = _evaluated_datapoints(decision, real)
    return data


def _evaluated_datapoints(
    decision: Decision, real: Sequence[EvaluatedPoint]
) -> list[dict[str, object]]:
    """The newest real point with its sample count and value, and every missing point used.

    Real alarms list only the newest real datapoint here (with 3 real points evaluated, one
    entry), and each missing or unknown point as a bare timestamp.
    """
    entries: dict[int, dict[str, object]] = {}
    for point in decision.evaluated:
        if point.filled:
            entries[point.timestamp] = {"timestamp": aws_time(point.timestamp)}
    for timestamp in decision.unknown:
        entries[timestamp] = {"timestamp": aws_time(timestamp)}
    if real:
        newest = max(real, key=lambda p: p.timestamp)
        entry: dict[str, object] = {"timestamp": aws_time(newest.timestamp)}
        if newest.sample_count is not None:
            entry["sampleCount"] = float(newest.sample_count)
        entry["value"] = newest.value
        entries[newest.timestamp] = entry
    return [entries[t] for t in sorted(entries, reverse=True)]
