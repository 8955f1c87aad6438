"""Alarms that evaluate: a background thread that does what CloudWatch's alarm service does.

Every alarm is evaluated on AWS's schedule (:func:`alarms.evaluation_interval`: each minute
for periods of 60 s and more, each 10 s for 10/20/30 s periods) over its evaluation range
(:func:`alarms.evaluation_window`) with :func:`alarms.evaluate_alarm`, from the datapoints
the metric store holds (the same reads GetMetricData answers). Metric-math alarms go
through :func:`metricdata.evaluate_alarm_metrics`; composite alarms are evaluated after the
metric alarms of the round, over their children's new states.

A transition updates the alarm (StateValue, StateReason, StateReasonData,
StateUpdatedTimestamp, StateTransitionedTimestamp) in moto's backend under the gateway's
lock and snapshots it, writes the StateUpdate history item, then — outside the lock, from
this thread, through the emulator's own API like any AWS service — runs the new state's
actions when ActionsEnabled: SNS Publish of the alarm message to the topic, EC2
``arn:aws:automate:<region>:ec2:stop|terminate|reboot`` on the alarm's ``InstanceId``, and
always the "CloudWatch Alarm State Change" event on EventBridge. Each action writes an
Action history item (success or failure).

SetAlarmState is answered here too: the state is set (a transition runs the actions, as on
AWS) and lasts until the next evaluation on AWS's schedule (the next minute, or 10 s for
high-resolution alarms) — also under the time scale below, so a drill holds as long as
on AWS. PutMetricAlarm keeps moto's answer, with AWS's
state rules added: a new alarm starts INSUFFICIENT_DATA ("Unchecked: Initial alarm
creation"), an updated one keeps its state; both write a ConfigurationUpdate item.

Time scale (opt-in, for tests): ``OPSLIB_ALARM_EVALUATION_INTERVAL=<seconds>`` evaluates
every alarm that often in wall-clock time instead of every 60/10 s. Nothing else changes:
the periods, EvaluationPeriods, DatapointsToAlarm, the evaluation range (ending at the
evaluation time floored to the minute, or to 10 s) and the datapoints' timestamps are
AWS's. An alarm therefore still sees a period only once it has ended; it just notices it
sooner (within the interval, not within a minute).
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from moto.cloudwatch.models import cloudwatch_backends

from opslib.emulator.cloudwatch import metricquery
from opslib.emulator.cloudwatch.alarms import (
    INITIAL_REASON,
    AlarmConfig,
    AlarmEvaluation,
    AlarmState,
    ComparisonOperator,
    Datapoint,
    LowSampleCount,
    TreatMissingData,
    evaluate_alarm,
    evaluation_interval,
    evaluation_window,
)
from opslib.emulator.cloudwatch.composite import ChildAlarm, evaluate_composite, parse_alarm_rule
from opslib.emulator.cloudwatch.metricdata import MetricQuery, MetricStat, evaluate_alarm_metrics
from opslib.emulator.cloudwatch.metricerrors import CloudWatchError
from opslib.emulator.cloudwatch.metricmath import MathContext
from opslib.emulator.cloudwatch.metrics import SERVICE, params, respond
from opslib.emulator.cloudwatch.metricstore import MetricStore
from opslib.emulator.cloudwatch.notifications import (
    AlarmInfo,
    AlarmType,
    HistoryItem,
    StateRecord,
    action_item,
    configuration_update_item,
    sns_message,
    sns_subject,
    state_change_event,
    state_update_item,
)
from opslib.emulator.cloudwatch.statistics import parse_statistic
from opslib.emulator.core.gateway import ApiException, ApiRequest, ApiResponse
from opslib.emulator.core.runtime import Runtime
from opslib.emulator.core.telemetry import emit_event

logger = logging.getLogger(__name__)

INTERVAL_ENV = "OPSLIB_ALARM_EVALUATION_INTERVAL"
_EC2_ACTION_RE = re.compile(r"^arn:aws:automate:([a-z0-9-]+):ec2:(stop|terminate|reboot)$")


def _epoch(value: Any) -> float:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    return float(value)


@dataclass(frozen=True)
class Snapshot:
    """What one evaluation needs of a moto alarm, copied under the gateway's lock."""

    account: str
    region: str
    name: str
    arn: str
    state: StateRecord
    rule: str | None
    info: AlarmInfo | None  # metric alarms
    actions_enabled: bool
    dimensions: tuple[tuple[str, str], ...]
    updated: float  # configuration_updated, to skip a result for a replaced alarm


def _config(alarm: Any) -> AlarmConfig:
    lows = alarm.evaluate_low_sample_count_percentile
    return AlarmConfig(
        period=int(alarm.period or (_math_period(alarm) or 60)),
        evaluation_periods=int(alarm.evaluation_periods),
        threshold=float(alarm.threshold or 0.0),
        comparison_operator=ComparisonOperator(alarm.comparison_operator),
        datapoints_to_alarm=int(alarm.datapoints_to_alarm) if alarm.datapoints_to_alarm else None,
        treat_missing_data=TreatMissingData(alarm.treat_missing_data or "missing"),
        evaluate_low_sample_count_percentile=LowSampleCount(lows) if lows else None,
        statistic=alarm.statistic or None,
        extended_statistic=alarm.extended_statistic or None,
        unit=alarm.unit or None,
        namespace=alarm.namespace or None,
    )


def _math_period(alarm: Any) -> int | None:
    for query in alarm.metric_data_queries:
        if query.metric_stat is not None:
            return int(query.metric_stat.period)
    return None


def _queries(alarm: Any) -> tuple[MetricQuery, ...]:
    out = []
    for q in alarm.metric_data_queries:
        stat = None
        if q.metric_stat is not None:
            metric = q.metric_stat.metric
            dims = tuple(sorted((d.name, d.value) for d in metric.dimensions or []))
            stat = MetricStat(metric.namespace, metric.metric_name, dims,
                              int(q.metric_stat.period), q.metric_stat.stat,
                              q.metric_stat.unit or None)  # fmt: skip
        return_data = q.return_data in (None, True, "true", "True")
        out.append(MetricQuery(q.id, stat, q.expression, q.label, return_data,
                               int(q.period) if q.period else None))  # fmt: skip
    return tuple(out)


def _state(alarm: Any) -> StateRecord:
    data = alarm.state_reason_data
    return StateRecord(
        AlarmState(alarm.state_value),
        alarm.state_reason,
        data if data not in (None, "", "{}") else None,
        _epoch(alarm.state_updated_timestamp),
    )


def snapshot(account: str, region: str, alarm: Any) -> Snapshot:
    dims = tuple(sorted((d.name, d.value) for d in alarm.dimensions or []))
    info = None
    if alarm.rule is None:
        config = _config(alarm)
        metric = None
        if alarm.metric_name:
            metric = MetricStat(alarm.namespace, alarm.metric_name, dims, config.period,
                                config.statistic or config.extended_statistic or "Average",
                                config.unit)  # fmt: skip
        info = AlarmInfo(
            alarm.name, alarm.alarm_arn, account, region, config,
            _epoch(alarm.configuration_updated_timestamp), alarm.description or None, metric,
            _queries(alarm), tuple(alarm.ok_actions or ()), tuple(alarm.alarm_actions or ()),
            tuple(alarm.insufficient_data_actions or ()), "m1",
        )  # fmt: skip
    return Snapshot(account, region, alarm.name, alarm.alarm_arn, _state(alarm), alarm.rule,
                    info, bool(alarm.actions_enabled), dims,
                    _epoch(alarm.configuration_updated_timestamp))  # fmt: skip


def datapoints(store: MetricStore, info: AlarmInfo, now: float) -> list[Datapoint]:
    """The alarm's per-period values over its evaluation range, from the store."""
    config = info.config
    window = evaluation_window(config, now)
    start, end = window[0], window[-1] + config.period
    if info.metric is not None:
        statistic = parse_statistic(config.statistic or config.extended_statistic or "Average")
        values = metricquery.stat_series(
            store, info.region, info.metric, statistic, start, end, now
        )
        return [Datapoint(t, v.value, v.sample_count) for t, v in values.items()]
    points = metricquery.metric_points(store, info.region, info.metrics, start, end, now)
    series = evaluate_alarm_metrics(info.metrics, points, MathContext(start, end, config.period))
    return [Datapoint(t, v) for t, v in series.points.items()]


class AlarmEvaluator:
    """The alarm loop, SetAlarmState and AWS's PutMetricAlarm state rules."""

    def __init__(self, runtime: Runtime, store: MetricStore, interval: float | None = None) -> None:
        self.runtime = runtime
        self.store = store
        env = os.environ.get(INTERVAL_ENV)
        self.interval = interval if interval is not None else (float(env) if env else None)
        self._due: dict[str, float] = {}
        self._before_put: dict[tuple[str, str, str], tuple[StateRecord, Any]] = {}
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.evaluations = 0

    # -- registration -------------------------------------------------------------------------
    def register(self) -> None:
        gateway = self.runtime.gateway
        gateway.handle(SERVICE, "SetAlarmState", self.set_alarm_state)
        gateway.handle(SERVICE, "PutCompositeAlarm", self.put_composite_alarm)
        gateway.check(SERVICE, "PutMetricAlarm", self._remember_state)
        gateway.after(SERVICE, "PutMetricAlarm", self._after_put)

    def _backend(self, account: str, region: str) -> Any:
        return cloudwatch_backends[account][region]

    def _remember_state(self, request: ApiRequest) -> ApiResponse | None:
        """Before moto replaces an alarm: its state, which an update keeps (AWS)."""
        name = params(request).get("AlarmName")
        alarm = self._backend(request.account_id, request.region).alarms.get(name)
        if alarm is not None:
            transitioned = getattr(
                alarm, "state_transitioned_timestamp", alarm.state_updated_timestamp
            )
            key = (request.account_id, request.region, str(name))
            self._before_put[key] = (_state(alarm), transitioned)
        return None

    def _after_put(self, request: ApiRequest, body: bytes) -> None:
        name = str(params(request).get("AlarmName"))
        alarm = self._backend(request.account_id, request.region).alarms.get(name)
        if alarm is None:
            return
        key = (request.account_id, request.region, name)
        remembered = self._before_put.pop(key, None)
        now = time.time()
        if remembered is None:
            alarm.state_value = AlarmState.INSUFFICIENT_DATA.value
            alarm.state_reason = INITIAL_REASON
            alarm.state_reason_data = None
            alarm.state_updated_timestamp = _when(now)
            alarm.state_transitioned_timestamp = _when(now)
        else:
            before, transitioned = remembered
            alarm.state_value = before.value.value
            alarm.state_reason = before.reason
            alarm.state_reason_data = before.reason_data
            alarm.state_updated_timestamp = _when(before.timestamp)
            alarm.state_transitioned_timestamp = transitioned
        kind = AlarmType.COMPOSITE if alarm.rule is not None else AlarmType.METRIC
        configuration = {"alarmName": name, "alarmArn": alarm.alarm_arn}
        item = configuration_update_item(name, kind, now, configuration, remembered is None)
        self.store.add_history(request.region, [item])
        self._due.pop(alarm.alarm_arn, None)  # evaluate a new or changed alarm at once

    def put_composite_alarm(self, request: ApiRequest) -> ApiResponse:
        """moto stores composites (an alarm with a rule) but does not route this operation."""
        p = params(request)
        name = str(p.get("AlarmName") or "")
        try:
            rule = parse_alarm_rule(str(p.get("AlarmRule") or ""))
        except CloudWatchError as exc:
            raise ApiException(exc.code, f"Error in AlarmRule [{exc.message}]") from exc
        backend = self._backend(request.account_id, request.region)
        missing = [c for c in rule.children if not _known_alarm(backend, c)]
        if missing:
            raise ApiException(
                "ValidationError",
                f"Could not save the composite alarm as alarms [{', '.join(missing)}] "
                "in the alarm rule do not exist",
            )
        self._remember_state(request)
        backend.put_metric_alarm(
            name=name, namespace=None, metric_name=None, comparison_operator=None,
            evaluation_periods=None, period=None, threshold=None, statistic=None,
            description=p.get("AlarmDescription"), dimensions=[],
            alarm_actions=list(p.get("AlarmActions") or []),
            ok_actions=list(p.get("OKActions") or []),
            insufficient_data_actions=list(p.get("InsufficientDataActions") or []),
            actions_enabled=p.get("ActionsEnabled", True) is not False,
            rule=rule.text, tags=list(p.get("Tags") or []),
        )  # fmt: skip
        self._after_put(request, b"")
        return respond(request, {})

    def set_alarm_state(self, request: ApiRequest) -> ApiResponse:
        p = params(request)
        name, value = str(p.get("AlarmName") or ""), str(p.get("StateValue") or "")
        if value not in {s.value for s in AlarmState}:
            raise ApiException(
                "ValidationError",
                f"1 validation error detected: Value '{value}' at 'stateValue' failed to satisfy "
                "constraint: Member must satisfy enum value set: [INSUFFICIENT_DATA, ALARM, OK]",
            )
        data = p.get("StateReasonData")
        if data is not None:
            try:
                json.loads(data)
            except ValueError:
                raise ApiException(
                    "InvalidFormat", "The parameter StateReasonData is not valid JSON."
                ) from None
        alarm = self._backend(request.account_id, request.region).alarms.get(name)
        if alarm is None:
            raise ApiException("ResourceNotFound", f"Alarm {name} not found", 404)
        snap = snapshot(request.account_id, request.region, alarm)
        new = StateRecord(AlarmState(value), str(p.get("StateReason") or ""), data, time.time())
        self._apply(alarm, snap, new)  # we hold the gateway's lock: apply in place
        # It lasts until the next evaluation on AWS's schedule, even under the time scale.
        step = evaluation_interval(snap.info.config.period if snap.info else 60)
        self._due[snap.arn] = (new.timestamp // step + 1) * step
        if new.value is not snap.state.value:
            self.runtime.defer(self._announce, snap, new)
        return respond(request, {})

    # -- the loop -----------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="alarms", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        tick = min(1.0, self.interval) if self.interval else 1.0
        while not self._stop.wait(tick) and not self.runtime.stopping.is_set():
            try:
                self.evaluate_due(time.time())
            except Exception:  # one bad round must not end the alarm service
                logger.exception("alarm evaluation round failed")

    def _interval(self, snap: Snapshot) -> float:
        if self.interval:
            return self.interval
        period = snap.info.config.period if snap.info is not None else 60
        return float(evaluation_interval(period))

    def evaluate_due(self, now: float) -> int:
        """Evaluate every alarm whose time has come; returns how many changed state."""
        with self.runtime.gateway.lock:
            snaps = [
                snapshot(account, region, alarm)
                for account, regions in cloudwatch_backends.items()
                for region, backend in regions.items()
                for alarm in list(backend.alarms.values())
            ]
        due = [s for s in snaps if now >= self._due.get(s.arn, 0.0)]
        for snap in due:
            step = self._interval(snap)
            self._due[snap.arn] = (now // step + 1) * step
        changed = 0
        for snap in due:
            if snap.info is not None:
                changed += self._evaluate_metric_alarm(snap, now)
        if any(s.rule is not None for s in due):
            changed += self._evaluate_composites(now)
        self.evaluations += len(due)
        return changed

    def _evaluate_metric_alarm(self, snap: Snapshot, now: float) -> int:
        assert snap.info is not None
        try:
            points = datapoints(self.store, snap.info, now)
            result = evaluate_alarm(snap.info.config, points, snap.state.value, now)
        except CloudWatchError as exc:
            logger.warning("alarm %s cannot be evaluated: %s", snap.name, exc.message)
            return 0
        return self._conclude(snap, result, now)

    def _conclude(self, snap: Snapshot, result: AlarmEvaluation, now: float) -> int:
        if result.reason is None:
            return 0  # kept (ignore / low samples): not even StateUpdatedTimestamp moves
        new = StateRecord(result.state, result.reason, result.reason_data_json, now)
        if new.value is snap.state.value and new.reason == snap.state.reason:
            return 0
        if not self._commit(snap, new):
            return 0
        if new.value is not snap.state.value:
            self._announce(snap, new)
            return 1
        return 0

    def _evaluate_composites(self, now: float) -> int:
        with self.runtime.gateway.lock:
            snaps = [
                snapshot(account, region, alarm)
                for account, regions in cloudwatch_backends.items()
                for region, backend in regions.items()
                for alarm in list(backend.alarms.values())
            ]
        children = [ChildAlarm(s.name, s.arn, s.state.value, s.state.timestamp) for s in snaps]
        changed = 0
        for snap in (s for s in snaps if s.rule is not None):
            try:
                rule = parse_alarm_rule(snap.rule or "FALSE")
                newest = max(
                    (c for c in children if c.name in snap.rule or c.arn in snap.rule),  # type: ignore[operator]
                    key=lambda c: c.timestamp,
                    default=None,
                )
                trigger = newest.name if newest is not None else None
                result = evaluate_composite(snap.arn, rule, children, trigger)
            except CloudWatchError as exc:
                logger.warning("composite %s cannot be evaluated: %s", snap.name, exc.message)
                continue
            if result.state is snap.state.value:
                continue
            data = json.dumps(result.reason_data, separators=(",", ":"))
            new = StateRecord(result.state, result.reason, data, now)
            if self._commit(snap, new):
                self._announce(snap, new)
                changed += 1
        return changed

    # -- transitions --------------------------------------------------------------------------
    def _commit(self, snap: Snapshot, new: StateRecord) -> bool:
        """Store the new state unless the alarm was deleted or replaced meanwhile."""
        with self.runtime.gateway.lock:
            alarm = self._backend(snap.account, snap.region).alarms.get(snap.name)
            if alarm is None or _epoch(alarm.configuration_updated_timestamp) != snap.updated:
                return False
            self._apply(alarm, snap, new)
            self.runtime.gateway.snapshots.save(["cloudwatch"])
        return True

    def _apply(self, alarm: Any, snap: Snapshot, new: StateRecord) -> None:
        alarm.state_value = new.value.value
        alarm.state_reason = new.reason
        alarm.state_reason_data = new.reason_data
        alarm.state_updated_timestamp = _when(new.timestamp)
        if new.value is not snap.state.value:
            alarm.state_transitioned_timestamp = _when(new.timestamp)
            kind = AlarmType.COMPOSITE if snap.rule is not None else AlarmType.METRIC
            item = state_update_item(snap.name, kind, snap.state, new)
            self.store.add_history(snap.region, [item])

    def _announce(self, snap: Snapshot, new: StateRecord) -> None:
        """The transition's event and, when enabled, its actions (outside the lock)."""
        if snap.info is not None:
            event = state_change_event(snap.info, snap.state, new, str(uuid.uuid4()))
            emit_event(self.runtime, snap.region, "aws.cloudwatch",
                       "CloudWatch Alarm State Change", event["detail"],  # type: ignore[arg-type]
                       [snap.arn])  # fmt: skip
        else:
            detail = {"alarmName": snap.name, "state": {"value": new.value.value,
                      "reason": new.reason, "timestamp": new.timestamp},
                      "previousState": {"value": snap.state.value.value}}  # fmt: skip
            emit_event(self.runtime, snap.region, "aws.cloudwatch",
                       "CloudWatch Alarm State Change", detail, [snap.arn])  # fmt: skip
        if not snap.actions_enabled:
            return
        actions = self._actions(snap, new.value)
        items: list[HistoryItem] = []
        kind = AlarmType.COMPOSITE if snap.rule is not None else AlarmType.METRIC
        for arn in actions:
            error, published = self._run_action(snap, new, arn)
            items.append(action_item(snap.name, kind, time.time(), arn, error, published))
        if items:
            self.store.add_history(snap.region, items)

    @staticmethod
    def _actions(snap: Snapshot, state: AlarmState) -> tuple[str, ...]:
        info = snap.info
        if info is None:
            return ()
        return {
            AlarmState.ALARM: info.alarm_actions,
            AlarmState.OK: info.ok_actions,
            AlarmState.INSUFFICIENT_DATA: info.insufficient_data_actions,
        }[state]

    def _run_action(
        self, snap: Snapshot, new: StateRecord, arn: str
    ) -> tuple[str | None, str | None]:
        try:
            if arn.startswith("arn:aws:sns:"):
                assert snap.info is not None
                message = json.dumps(sns_message(snap.info, snap.state, new))
                self.runtime.client("sns", arn.split(":")[3]).publish(
                    TopicArn=arn,
                    Subject=sns_subject(snap.name, new.value, snap.region),
                    Message=message,
                )
                return None, message
            match = _EC2_ACTION_RE.match(arn)
            if match:
                return self._ec2_action(snap, match.group(1), match.group(2)), None
            return f"the opslib emulator does not run actions like {arn}", None
        except Exception as exc:  # an action failure is history, never fatal to the loop
            logger.warning("alarm %s: action %s failed: %s", snap.name, arn, exc)
            return str(exc), None

    def _ec2_action(self, snap: Snapshot, region: str, verb: str) -> str | None:
        instance = dict(snap.dimensions).get("InstanceId")
        if instance is None:
            return "EC2 actions need an alarm on a metric with an InstanceId dimension"
        ec2 = self.runtime.client("ec2", region)
        call: Callable[..., Any] = {
            "stop": ec2.stop_instances,
            "terminate": ec2.terminate_instances,
            "reboot": ec2.reboot_instances,
        }[verb]
        call(InstanceIds=[instance])
        return None


def _known_alarm(backend: Any, name_or_arn: str) -> bool:
    """A child named by name or ARN exists in this account and region (AWS requires it)."""
    return name_or_arn in backend.alarms or any(
        alarm.alarm_arn == name_or_arn for alarm in backend.alarms.values()
    )


def _when(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)
