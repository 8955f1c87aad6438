"""Alarms fed the way a stack feeds them: log lines through a metric filter, metric math, and
composite alarms over other alarms — each evaluated by the emulator, not set by hand."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from opslib.emulator import EmulatorInfo
from opslib.stack.monitoring import dashboard_body
from tests.emulator.conftest import client
from tests.emulator.deploy_helpers import wait_until
from tests.unit.stack_fixtures import make_context

pytestmark = pytest.mark.emulator


@pytest.fixture
def fast(start_emulator: Callable[..., EmulatorInfo]) -> EmulatorInfo:
    """An emulator whose alarms are evaluated every half second (the documented time scale)."""
    return start_emulator(OPSLIB_ALARM_EVALUATION_INTERVAL="0.5")


def _alarm(info: EmulatorInfo, name: str) -> dict[str, Any]:
    found = client(info, "cloudwatch").describe_alarms(
        AlarmNames=[name], AlarmTypes=["MetricAlarm", "CompositeAlarm"]
    )
    alarms = found["MetricAlarms"] + found["CompositeAlarms"]
    assert len(alarms) == 1, f"expected one alarm named {name}, got {alarms}"
    return alarms[0]


def _wait_state(info: EmulatorInfo, name: str, state: str) -> dict[str, Any]:
    def reached() -> dict[str, Any] | None:
        alarm = _alarm(info, name)
        return alarm if alarm["StateValue"] == state else None

    # Data stamped now is seen once its minute has ended (the evaluation range ends at the
    # evaluation time floored to the minute, as on AWS): up to a minute, then one evaluation.
    return wait_until(reached, timeout=150, what=f"alarm {name} to reach {state}")


def _minute(minutes_ago: int) -> datetime:
    return datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=minutes_ago)


def _last_minute() -> datetime:
    """The middle of the minute that has just ended: data an alarm evaluated now can see.

    Data stamped now would wait for its minute to end first (see :func:`_wait_state`). The
    alarms that take it look back two periods or more, so the data stays in their range if
    a minute ends while the test runs.
    """
    return _minute(1) + timedelta(seconds=30)


def test_error_log_lines_drive_an_alarm_through_a_metric_filter(fast: EmulatorInfo) -> None:
    logs = client(fast, "logs")
    logs.create_log_group(logGroupName="/app")
    logs.create_log_stream(logGroupName="/app", logStreamName="host-1")
    logs.put_metric_filter(
        logGroupName="/app", filterName="errors",
        filterPattern='{ $.level = "error" && $.count = * }',
        metricTransformations=[{"metricName": "LogErrors", "metricNamespace": "App",
                                "metricValue": "$.count", "unit": "Count"}],
    )  # fmt: skip
    cloudwatch = client(fast, "cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName="log-errors", Namespace="App", MetricName="LogErrors", Statistic="Sum",
        Period=60, EvaluationPeriods=2, DatapointsToAlarm=1, Threshold=5,
        ComparisonOperator="GreaterThanThreshold", TreatMissingData="notBreaching",
    )  # fmt: skip
    _wait_state(fast, "log-errors", "OK")  # no data yet is "not breaching"

    now_ms = int(_last_minute().timestamp() * 1000)
    lines = [
        {"level": "error", "count": 4},
        {"level": "info", "count": 100},  # does not match: its count must not be summed
        {"level": "error", "count": 3},
        {"level": "warn", "count": 50},
    ]
    logs.put_log_events(
        logGroupName="/app", logStreamName="host-1",
        logEvents=[{"timestamp": now_ms + i, "message": json.dumps(line)}
                   for i, line in enumerate(lines)],
    )  # fmt: skip

    alarm = _wait_state(fast, "log-errors", "ALARM")
    assert "[7.0 (" in alarm["StateReason"]  # 4 + 3 from the two error lines only
    assert "greater than the threshold (5.0)" in alarm["StateReason"]
    stats = cloudwatch.get_metric_statistics(
        Namespace="App", MetricName="LogErrors", StartTime=_minute(2),
        EndTime=_minute(-2), Period=60, Statistics=["Sum", "SampleCount"],
    )  # fmt: skip
    assert sum(p["Sum"] for p in stats["Datapoints"]) == 7.0
    assert sum(p["SampleCount"] for p in stats["Datapoints"]) == 2.0


def test_a_metric_math_alarm_evaluates_the_expression(fast: EmulatorInfo) -> None:
    cloudwatch = client(fast, "cloudwatch")
    for minutes_ago in (3, 2, 1):
        at = _minute(minutes_ago)
        cloudwatch.put_metric_data(
            Namespace="App",
            MetricData=[
                {"MetricName": "Requests", "Value": 200.0, "Timestamp": at},
                {"MetricName": "Failures", "Value": 30.0 if minutes_ago < 3 else 1.0,
                 "Timestamp": at},
            ],
        )  # fmt: skip

    def stat(metric_id: str, name: str) -> dict[str, Any]:
        return {
            "Id": metric_id, "ReturnData": False,
            "MetricStat": {"Metric": {"Namespace": "App", "MetricName": name},
                           "Period": 60, "Stat": "Sum"},
        }  # fmt: skip

    cloudwatch.put_metric_alarm(
        AlarmName="failure-rate", EvaluationPeriods=3, DatapointsToAlarm=2, Threshold=10,
        ComparisonOperator="GreaterThanThreshold",
        Metrics=[stat("f", "Failures"), stat("r", "Requests"),
                 {"Id": "rate", "Expression": "100 * f / r", "Label": "failure %",
                  "ReturnData": True}],
    )  # fmt: skip
    alarm = _wait_state(fast, "failure-rate", "ALARM")
    assert "2 out of the last 3 datapoints [15.0 (" in alarm["StateReason"]
    reason = json.loads(alarm["StateReasonData"])
    assert "statistic" not in reason  # math alarms carry no statistic
    assert reason["recentDatapoints"][-2:] == [15.0, 15.0]


def test_a_composite_alarm_follows_its_children(fast: EmulatorInfo) -> None:
    cloudwatch = client(fast, "cloudwatch")
    for name in ("cpu", "errors"):
        cloudwatch.put_metric_alarm(
            AlarmName=name, Namespace="App", MetricName=name.title(), Statistic="Maximum",
            Period=60, EvaluationPeriods=3, DatapointsToAlarm=1, Threshold=50,
            ComparisonOperator="GreaterThanThreshold", TreatMissingData="notBreaching",
        )  # fmt: skip
    cloudwatch.put_composite_alarm(
        AlarmName="service-down", AlarmRule="ALARM(cpu) AND ALARM(errors)"
    )
    for name in ("cpu", "errors"):
        _wait_state(fast, name, "OK")
    assert _wait_state(fast, "service-down", "OK")["StateValue"] == "OK"

    cpu = {"MetricName": "Cpu", "Value": 90.0, "Timestamp": _last_minute()}
    cloudwatch.put_metric_data(Namespace="App", MetricData=[cpu])
    _wait_state(fast, "cpu", "ALARM")
    assert _alarm(fast, "service-down")["StateValue"] == "OK"  # one child is not enough

    errors = {"MetricName": "Errors", "Value": 70.0, "Timestamp": _last_minute()}
    cloudwatch.put_metric_data(Namespace="App", MetricData=[errors])
    _wait_state(fast, "errors", "ALARM")
    composite = _wait_state(fast, "service-down", "ALARM")
    when = r"\w+ \d{1,2} \w+, \d{4} \d\d:\d\d:\d\d UTC"
    arn = r"arn:aws:cloudwatch:us-east-1:\d{12}:alarm:(cpu|errors)"
    assert re.fullmatch(f"{arn} transitioned to ALARM at {when}", composite["StateReason"]), (
        composite["StateReason"]
    )
    triggering = json.loads(composite["StateReasonData"])["triggeringAlarms"]
    assert {t["arn"].rsplit(":", 1)[1] for t in triggering} <= {"cpu", "errors"}
    assert all(t["state"]["value"] == "ALARM" for t in triggering)
    kwargs: dict[str, Any] = {"AlarmName": "service-down", "HistoryItemType": "StateUpdate"}
    assert cloudwatch.describe_alarm_history(**kwargs)["AlarmHistoryItems"] == []  # metric only
    history = cloudwatch.describe_alarm_history(**kwargs, AlarmTypes=["CompositeAlarm"])[
        "AlarmHistoryItems"
    ]
    assert history[0]["AlarmType"] == "CompositeAlarm"
    assert history[0]["HistorySummary"] == "Alarm updated from OK to ALARM"


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("ALARM(nope)", "Could not save the composite alarm as alarms [nope] in the alarm rule"),
        ("ALARM(cpu) AND", "Error in AlarmRule ["),
        ("ALARM(cpu) OR (OK(cpu)", "Error in AlarmRule ["),
    ],
)
def test_a_bad_composite_rule_is_refused_and_nothing_is_kept(
    running: EmulatorInfo, rule: str, message: str
) -> None:
    cloudwatch = client(running, "cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName="cpu", Namespace="App", MetricName="Cpu", Statistic="Maximum", Period=60,
        EvaluationPeriods=1, Threshold=50, ComparisonOperator="GreaterThanThreshold",
    )  # fmt: skip
    with pytest.raises(ClientError) as refused:
        cloudwatch.put_composite_alarm(AlarmName="bad", AlarmRule=rule)
    assert refused.value.response["Error"]["Code"] == "ValidationError"
    assert message in refused.value.response["Error"]["Message"]
    found = cloudwatch.describe_alarms(AlarmTypes=["CompositeAlarm"])["CompositeAlarms"]
    assert found == []


def _widget_queries(widget: dict[str, Any]) -> list[dict[str, Any]]:
    """A metric widget's series as the console asks GetMetricData for them."""
    props = widget["properties"]
    queries = []
    for n, (namespace, name, *pairs) in enumerate(props["metrics"]):
        dimensions = [{"Name": k, "Value": v} for k, v in zip(pairs[::2], pairs[1::2], strict=True)]
        metric = {"Namespace": namespace, "MetricName": name, "Dimensions": dimensions}
        stat = {"Metric": metric, "Period": props["period"], "Stat": props["stat"]}
        queries.append({"Id": f"m{n}", "MetricStat": stat})
    return queries


def test_the_stacks_dashboard_widgets_answer(running: EmulatorInfo) -> None:
    """Every widget of the dashboard opslib creates renders: its metric series, its alarms and
    its Logs Insights query answer as the console asks for them."""
    ctx = make_context()
    body = dashboard_body(ctx)
    kinds = {w["type"] for w in body["widgets"]}
    assert {"metric", "alarm", "log"} <= kinds  # the test covers every kind the stack draws
    cloudwatch, logs = client(running, "cloudwatch"), client(running, "logs")
    # AWS/ namespaces are the services' own (a real build publishes them); the stack's own
    # namespace takes a client's datapoint, as the app-errors metric filter's would be.
    cloudwatch.put_metric_data(
        Namespace=ctx.names.metric_namespace, MetricData=[{"MetricName": "AppErrors", "Value": 1.0}]
    )
    group = ctx.names.events_log_group
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="events")
    event = {"source": "aws.codebuild", "detail": {"state": "SUCCEEDED"}}
    logs.put_log_events(
        logGroupName=group, logStreamName="events",
        logEvents=[{"timestamp": int(time.time() * 1000), "message": json.dumps(event)}],
    )  # fmt: skip
    end = datetime.now(UTC) + timedelta(minutes=5)
    for widget in body["widgets"]:
        props = widget["properties"]
        if widget["type"] == "metric":
            answer = cloudwatch.get_metric_data(
                MetricDataQueries=_widget_queries(widget), StartTime=end - timedelta(hours=3),
                EndTime=end,
            )  # fmt: skip
            assert [r["StatusCode"] for r in answer["MetricDataResults"]] == ["Complete"] * len(
                props["metrics"]
            )
        elif widget["type"] == "alarm":
            names = [arn.rsplit(":", 1)[1] for arn in props["alarms"]]
            assert cloudwatch.describe_alarms(AlarmNames=names)["MetricAlarms"] == []  # not up
        elif widget["type"] == "log":
            source, _, query = props["query"].partition(" | ")
            assert source == f"SOURCE '{group}'"  # the console sends the group apart
            started = logs.start_query(
                logGroupNames=[group], queryString=query,
                startTime=int(time.time()) - 3600, endTime=int(time.time()) + 60,
            )  # fmt: skip

            def complete(query_id: str = started["queryId"]) -> dict[str, Any] | None:
                found = logs.get_query_results(queryId=query_id)
                return found if found["status"] == "Complete" else None

            rows = wait_until(complete, what="the dashboard's Insights query")["results"]
            fields = {f["field"]: f["value"] for f in rows[0]}
            assert fields["source"] == "aws.codebuild" and fields["detail.state"] == "SUCCEEDED"
    (failures,) = [w for w in body["widgets"] if w["properties"].get("title") == "Failures"]
    app_errors = cloudwatch.get_metric_data(
        MetricDataQueries=_widget_queries(failures)[2:], StartTime=end - timedelta(hours=3),
        EndTime=end,
    )["MetricDataResults"][0]  # fmt: skip
    assert app_errors["Label"] == "AppErrors" and sum(app_errors["Values"]) == 1.0
