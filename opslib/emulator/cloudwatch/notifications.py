"""What an alarm says when its state changes: SNS message, EventBridge event, history items.

Pure functions from an alarm's description and its old/new state to the bodies AWS sends:

- SNS: the ``Subject`` (``ALARM: "name" in US East (N. Virginia)``, at most 100 characters)
  and the ``Message`` JSON, keys in the order real notifications have them: AlarmName,
  AlarmDescription (null when none), AWSAccountId, AlarmConfigurationUpdatedTimestamp,
  NewStateValue, NewStateReason, StateChangeTime, Region (long name), AlarmArn,
  OldStateValue, OKActions, AlarmActions, InsufficientDataActions, Trigger. A single-metric
  Trigger names the metric (Statistic in capitals, "StatisticType" Statistic or
  ExtendedStatistic); a math alarm's Trigger carries the Metrics list instead.
- EventBridge: the "CloudWatch Alarm State Change" event from source aws.cloudwatch with
  ``detail`` {alarmName, state, previousState, configuration} — reasonData as a JSON string,
  configuration.metrics as the guide's samples show (a single-metric alarm appears as one
  metricStat query with a generated id); composite alarms carry alarmRule instead.
- DescribeAlarmHistory items: StateUpdate ("Alarm updated from OK to ALARM", HistoryData with
  oldState/newState and stateReasonData as an embedded object), ConfigurationUpdate and
  Action items (their summaries and HistoryData are from third-party captures: verify).

Sources: CloudWatch User Guide (cloudwatch-and-eventbridge), the AWS CLI's describe-alarm-
history example, and public captures of real SNS alarm messages (REFERENCE-aws.md 1.7-1.9).
Deliberately left out: the SNS envelope (Type, MessageId, Signature...), which the SNS
service adds, and AlarmContributor items of multi-contributor alarms.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum

from opslib.emulator.cloudwatch.alarms import AlarmConfig, AlarmState, aws_time
from opslib.emulator.cloudwatch.metricdata import MetricQuery, MetricStat

SUBJECT_LIMIT = 100

# Region names as alarm notifications print them (e.g. "EU (Ireland)", as in real captures).
REGION_NAMES = {
    "us-east-1": "US East (N. Virginia)",
    "us-east-2": "US East (Ohio)",
    "us-west-1": "US West (N. California)",
    "us-west-2": "US West (Oregon)",
    "af-south-1": "Africa (Cape Town)",
    "ap-east-1": "Asia Pacific (Hong Kong)",
    "ap-south-1": "Asia Pacific (Mumbai)",
    "ap-northeast-1": "Asia Pacific (Tokyo)",
    "ap-northeast-2": "Asia Pacific (Seoul)",
    "ap-northeast-3": "Asia Pacific (Osaka)",
    "ap-southeast-1": "Asia Pacific (Singapore)",
    "ap-southeast-2": "Asia Pacific (Sydney)",
    "ca-central-1": "Canada (Central)",
    "eu-central-1": "EU (Frankfurt)",
    "eu-west-1": "EU (Ireland)",
    "eu-west-2": "EU (London)",
    "eu-west-3": "EU (Paris)",
    "eu-north-1": "EU (Stockholm)",
    "eu-south-1": "EU (Milan)",
    "me-south-1": "Middle East (Bahrain)",
    "sa-east-1": "South America (Sao Paulo)",
}


def region_name(region: str) -> str:
    """The long region name of notifications; the code itself for regions not listed."""
    return REGION_NAMES.get(region, region)


class AlarmType(Enum):
    """AlarmHistoryItem.AlarmType."""

    METRIC = "MetricAlarm"  # a metric or metric math alarm
    COMPOSITE = "CompositeAlarm"  # an alarm over other alarms' states


@dataclass(frozen=True)
class StateRecord:
    """One alarm state as stored: value, reason, StateReasonData (JSON text) and time."""

    value: AlarmState
    reason: str
    reason_data: str | None
    timestamp: float


@dataclass(frozen=True)
class AlarmInfo:
    """Everything about a metric alarm that its notifications repeat."""

    name: str
    arn: str
    account: str
    region: str
    config: AlarmConfig
    configuration_updated: float
    description: str | None = None
    metric: MetricStat | None = None  # single-metric alarms
    metrics: tuple[MetricQuery, ...] = ()  # metric math alarms
    ok_actions: tuple[str, ...] = ()
    alarm_actions: tuple[str, ...] = ()
    insufficient_data_actions: tuple[str, ...] = ()
    metric_id: str = field(default="", compare=False)  # configuration.metrics[0].id of events


# ---------------------------------------------------------------------------------------------
# SNS


def sns_subject(alarm_name: str, state: AlarmState, region: str) -> str:
    """``ALARM: "name" in US East (N. Virginia)``, cut to SNS's 100-character subject."""
    return f'{state.value}: "{alarm_name}" in {region_name(region)}'[:SUBJECT_LIMIT]


def _dimensions_list(dimensions: Sequence[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"value": value, "name": name} for name, value in dimensions]


def _single_metric_trigger(info: AlarmInfo, metric: MetricStat) -> dict[str, object]:
    config = info.config
    extended = config.extended_statistic is not None
    trigger: dict[str, object] = {
        "MetricName": metric.metric_name,
        "Namespace": metric.namespace,
        "StatisticType": "ExtendedStatistic" if extended else "Statistic",
        "Statistic": config.extended_statistic if extended else (config.statistic or "").upper(),
        "Unit": config.unit,
        "Dimensions": _dimensions_list(metric.dimensions),
        "Period": config.period,
        "EvaluationPeriods": config.evaluation_periods,
    }
    if config.datapoints_to_alarm is not None:
        trigger["DatapointsToAlarm"] = config.datapoints_to_alarm
    trigger.update(_threshold_fields(config))
    return trigger


def _threshold_fields(config: AlarmConfig) -> dict[str, object]:
    low_sample = config.evaluate_low_sample_count_percentile
    return {
        "ComparisonOperator": config.comparison_operator.value,
        "Threshold": float(config.threshold),
        "TreatMissingData": config.treat_missing_data.value,
        "EvaluateLowSampleCountPercentile": low_sample.value if low_sample else "",
    }


def _trigger_query(query: MetricQuery) -> dict[str, object]:
    if query.metric_stat is None:
        out: dict[str, object] = {"Expression": query.expression, "Id": query.id}
        if query.label is not None:
            out["Label"] = query.label
        out["ReturnData"] = query.return_data
        return out
    stat = query.metric_stat
    metric = {
        "Dimensions": _dimensions_list(stat.dimensions),
        "MetricName": stat.metric_name,
        "Namespace": stat.namespace,
    }
    return {
        "Id": query.id,
        "MetricStat": {"Metric": metric, "Period": stat.period, "Stat": stat.stat},
        "ReturnData": query.return_data,
    }


def _math_trigger(info: AlarmInfo) -> dict[str, object]:
    config = info.config
    trigger: dict[str, object] = {
        "Period": config.period,
        "EvaluationPeriods": config.evaluation_periods,
    }
    if config.datapoints_to_alarm is not None:
        trigger["DatapointsToAlarm"] = config.datapoints_to_alarm
    trigger.update(_threshold_fields(config))
    trigger["Metrics"] = [_trigger_query(q) for q in info.metrics]
    return trigger


def sns_message(info: AlarmInfo, old: StateRecord, new: StateRecord) -> dict[str, object]:
    """The JSON body an alarm publishes to its SNS actions (keys in AWS's order)."""
    trigger = _single_metric_trigger(info, info.metric) if info.metric else _math_trigger(info)
    return {
        "AlarmName": info.name,
        "AlarmDescription": info.description,
        "AWSAccountId": info.account,
        "AlarmConfigurationUpdatedTimestamp": aws_time(info.configuration_updated),
        "NewStateValue": new.value.value,
        "NewStateReason": new.reason,
        "StateChangeTime": aws_time(new.timestamp),
        "Region": region_name(info.region),
        "AlarmArn": info.arn,
        "OldStateValue": old.value.value,
        "OKActions": list(info.ok_actions),
        "AlarmActions": list(info.alarm_actions),
        "InsufficientDataActions": list(info.insufficient_data_actions),
        "Trigger": trigger,
    }


# ---------------------------------------------------------------------------------------------
# EventBridge


def _event_state(record: StateRecord) -> dict[str, object]:
    state: dict[str, object] = {"value": record.value.value, "reason": record.reason}
    if record.reason_data is not None:
        state["reasonData"] = record.reason_data
    state["timestamp"] = aws_time(record.timestamp)
    return state


def _event_query(query: MetricQuery) -> dict[str, object]:
    if query.metric_stat is None:
        out: dict[str, object] = {"id": query.id, "expression": query.expression}
        if query.label is not None:
            out["label"] = query.label
        out["returnData"] = query.return_data
        return out
    stat = query.metric_stat
    return {
        "id": query.id,
        "metricStat": {
            "metric": {
                "namespace": stat.namespace,
                "name": stat.metric_name,
                "dimensions": dict(stat.dimensions),
            },
            "period": stat.period,
            "stat": stat.stat,
        },
        "returnData": query.return_data,
    }


def _event_configuration(info: AlarmInfo) -> dict[str, object]:
    configuration: dict[str, object] = {}
    if info.description is not None:
        configuration["description"] = info.description
    if info.metric is not None:
        stat = info.config.statistic or info.config.extended_statistic or ""
        metric = MetricStat(
            info.metric.namespace,
            info.metric.metric_name,
            info.metric.dimensions,
            info.config.period,
            stat,
        )
        queries: Sequence[MetricQuery] = (MetricQuery(info.metric_id, metric_stat=metric),)
    else:
        queries = info.metrics
    configuration["metrics"] = [_event_query(q) for q in queries]
    return configuration


def _event_envelope(
    event_id: str, account: str, region: str, arn: str, when: float, detail: dict[str, object]
) -> dict[str, object]:
    return {
        "version": "0",
        "id": event_id,
        "detail-type": "CloudWatch Alarm State Change",
        "source": "aws.cloudwatch",
        "account": account,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when)),
        "region": region,
        "resources": [arn],
        "detail": detail,
    }


def state_change_event(
    info: AlarmInfo, old: StateRecord, new: StateRecord, event_id: str
) -> dict[str, object]:
    """The "CloudWatch Alarm State Change" event of a metric alarm."""
    detail: dict[str, object] = {
        "alarmName": info.name,
        "state": _event_state(new),
        "previousState": _event_state(old),
        "configuration": _event_configuration(info),
    }
    return _event_envelope(event_id, info.account, info.region, info.arn, new.timestamp, detail)


@dataclass(frozen=True)
class CompositeInfo:
    """What a composite alarm's event repeats about it."""

    name: str
    arn: str
    account: str
    region: str
    alarm_rule: str
    description: str | None = None
    actions_suppressor: str | None = None
    actions_suppressor_wait_period: int | None = None
    actions_suppressor_extension_period: int | None = None


def composite_state_change_event(
    info: CompositeInfo, old: StateRecord, new: StateRecord, event_id: str
) -> dict[str, object]:
    """The "CloudWatch Alarm State Change" event of a composite alarm."""
    configuration: dict[str, object] = {"alarmRule": info.alarm_rule}
    if info.description is not None:
        configuration["description"] = info.description
    if info.actions_suppressor is not None:
        configuration["actionsSuppressor"] = info.actions_suppressor
        configuration["actionsSuppressorWaitPeriod"] = info.actions_suppressor_wait_period
        configuration["actionsSuppressorExtensionPeriod"] = info.actions_suppressor_extension_period
    detail: dict[str, object] = {
        "alarmName": info.name,
        "state": _event_state(new),
        "previousState": _event_state(old),
        "configuration": configuration,
    }
    return _event_envelope(event_id, info.account, info.region, info.arn, new.timestamp, detail)


# ---------------------------------------------------------------------------------------------
# DescribeAlarmHistory


class HistoryItemType(Enum):
    """AlarmHistoryItem.HistoryItemType (the ones a non-contributor alarm writes)."""

    CONFIGURATION_UPDATE = "ConfigurationUpdate"  # created or updated by PutMetricAlarm
    STATE_UPDATE = "StateUpdate"  # its state changed
    ACTION = "Action"  # an action ran (or failed)


@dataclass(frozen=True)
class HistoryItem:
    """One AlarmHistoryItem; ``data`` is HistoryData (JSON text, at most 4095 characters)."""

    alarm_name: str
    alarm_type: AlarmType
    timestamp: float
    item_type: HistoryItemType
    summary: str
    data: str

    def to_wire(self) -> dict[str, object]:
        return {
            "AlarmName": self.alarm_name,
            "AlarmType": self.alarm_type.value,
            "Timestamp": self.timestamp,
            "HistoryItemType": self.item_type.value,
            "HistorySummary": self.summary,
            "HistoryData": self.data,
        }


def _json(data: object) -> str:
    return json.dumps(data, separators=(",", ":"))


def _history_state(record: StateRecord) -> dict[str, object]:
    state: dict[str, object] = {"stateValue": record.value.value, "stateReason": record.reason}
    if record.reason_data is not None:
        state["stateReasonData"] = json.loads(record.reason_data)
    return state


def state_update_item(
    alarm_name: str, alarm_type: AlarmType, old: StateRecord, new: StateRecord
) -> HistoryItem:
    """The StateUpdate item of a transition (stateReasonData embedded as an object)."""
    data = {"version": "1.0", "oldState": _history_state(old), "newState": _history_state(new)}
    summary = f"Alarm updated from {old.value.value} to {new.value.value}"
    return HistoryItem(
        alarm_name, alarm_type, new.timestamp, HistoryItemType.STATE_UPDATE, summary, _json(data)
    )


def configuration_update_item(
    alarm_name: str,
    alarm_type: AlarmType,
    when: float,
    configuration: dict[str, object],
    created: bool,
) -> HistoryItem:
    """The ConfigurationUpdate item of PutMetricAlarm/PutCompositeAlarm (verify wording)."""
    verb, kind, key = (
        ("created", "Create", "createdAlarm") if created else ("updated", "Update", "updatedAlarm")
    )
    data = {"version": "1.0", "type": kind, key: configuration}
    summary = f'Alarm "{alarm_name}" {verb}'
    return HistoryItem(
        alarm_name, alarm_type, when, HistoryItemType.CONFIGURATION_UPDATE, summary, _json(data)
    )


def action_item(
    alarm_name: str,
    alarm_type: AlarmType,
    when: float,
    action_arn: str,
    error: str | None = None,
    published: str | None = None,
) -> HistoryItem:
    """The Action item of one alarm action: success, or failure with the error (verify)."""
    if error is None:
        summary = f"Successfully executed action {action_arn}"
        data: dict[str, object] = {
            "actionState": "Succeeded",
            "stateUpdateTimestamp": int(when * 1000),
        }
        data["notificationResource"] = action_arn
        if published is not None:
            data["publishedMessage"] = published
    else:
        summary = f"Failed to execute action {action_arn}"
        data = {"actionState": "Failed", "stateUpdateTimestamp": int(when * 1000), "error": error}
    return HistoryItem(
        alarm_name, alarm_type, when, HistoryItemType.ACTION, summary[:255], _json(data)
    )
