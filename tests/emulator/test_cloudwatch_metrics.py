"""CloudWatch metrics and alarms served by the emulator: boto3 and the AWS CLI."""

from __future__ import annotations

import json
import os
import signal
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from opslib.emulator import EmulatorInfo
from tests.emulator.conftest import aws_cli, client
from tests.emulator.deploy_helpers import launch, wait_until

pytestmark = pytest.mark.emulator

ACCOUNT = "123456789012"


@pytest.fixture
def fast(start_emulator: Callable[..., EmulatorInfo]) -> EmulatorInfo:
    """An emulator whose alarms are evaluated every half second (the documented time scale)."""
    return start_emulator(OPSLIB_ALARM_EVALUATION_INTERVAL="0.5")


def _minute(minutes_ago: int) -> datetime:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    return now - timedelta(minutes=minutes_ago)


def test_p90_and_a_math_expression_answer_through_the_aws_cli(running: EmulatorInfo) -> None:
    moment = _minute(2)  # once: the CLI calls below may take past the next minute
    at = moment.isoformat()
    data = [{"MetricName": "Latency", "Unit": "Milliseconds", "Timestamp": at,
             "Values": [float(v) for v in range(1, 101)]}]  # fmt: skip
    aws_cli(running, "cloudwatch", "put-metric-data", "--namespace", "App",
            "--metric-data", json.dumps(data))  # fmt: skip
    queries = [
        {"Id": "p", "MetricStat": {"Metric": {"Namespace": "App", "MetricName": "Latency"},
                                   "Period": 60, "Stat": "p90"}},
        {"Id": "s", "MetricStat": {"Metric": {"Namespace": "App", "MetricName": "Latency"},
                                   "Period": 60, "Stat": "Sum"}, "ReturnData": False},
        {"Id": "avg", "Expression": "s / 100", "Label": "mean"},
    ]  # fmt: skip
    answer = aws_cli(running, "cloudwatch", "get-metric-data", "--metric-data-queries",
                     json.dumps(queries), "--start-time", _minute(10).isoformat(),
                     "--end-time", _minute(0).isoformat())  # fmt: skip
    results = {r["Id"]: r for r in answer["MetricDataResults"]}
    assert set(results) == {"p", "avg"}
    assert results["p"]["Values"] == [90.0]
    assert results["avg"]["Values"] == [50.5]
    assert results["avg"]["Label"] == "mean"
    # awsJson carries timestamps as epoch seconds; the CLI prints them as received
    assert results["p"]["Timestamps"] == [int(moment.timestamp())]
    stats = client(running, "cloudwatch").get_metric_statistics(
        Namespace="App", MetricName="Latency", StartTime=_minute(10), EndTime=_minute(0),
        Period=60, Statistics=["SampleCount", "Maximum"], ExtendedStatistics=["p50", "tm90"],
    )["Datapoints"]  # fmt: skip
    assert len(stats) == 1
    assert stats[0]["SampleCount"] == 100 and stats[0]["Maximum"] == 100
    assert stats[0]["ExtendedStatistics"]["p50"] == 50
    assert stats[0]["Unit"] == "Milliseconds"


def test_list_metrics_filters_by_namespace_and_dimension(running: EmulatorInfo) -> None:
    cloudwatch = client(running, "cloudwatch")
    cloudwatch.put_metric_data(Namespace="App", MetricData=[
        {"MetricName": "Hits", "Value": 1, "Dimensions": [{"Name": "Host", "Value": "a"}]},
        {"MetricName": "Hits", "Value": 1, "Dimensions": [{"Name": "Host", "Value": "b"}]},
        {"MetricName": "Misses", "StatisticValues": {"SampleCount": 2, "Sum": 4, "Minimum": 2,
                                                     "Maximum": 2}},
    ])  # fmt: skip
    cloudwatch.put_metric_data(Namespace="Other", MetricData=[{"MetricName": "X", "Value": 1}])
    app = cloudwatch.list_metrics(Namespace="App")["Metrics"]
    assert sorted(m["MetricName"] for m in app) == ["Hits", "Hits", "Misses"]
    host_b = cloudwatch.list_metrics(Dimensions=[{"Name": "Host", "Value": "b"}])["Metrics"]
    assert host_b == [
        {"Namespace": "App", "MetricName": "Hits", "Dimensions": [{"Name": "Host", "Value": "b"}]}
    ]
    recent = cloudwatch.list_metrics(RecentlyActive="PT3H", Namespace="Other")["Metrics"]
    assert [m["MetricName"] for m in recent] == ["X"]


@pytest.mark.parametrize(
    ("call", "code"),
    [
        ("put_aws_namespace", "InvalidParameterValue"),
        ("put_too_old", "InvalidParameterValue"),
        ("put_value_and_values", "InvalidParameterCombination"),
        ("bad_statistic", "ValidationError"),
        ("bad_expression", "ValidationError"),
        ("bad_period", "InvalidParameterValue"),
        ("too_many_datapoints", "InvalidParameterCombination"),
        ("set_unknown_alarm", "ResourceNotFound"),
    ],
)
def test_bad_input_answers_aws_error_codes(running: EmulatorInfo, call: str, code: str) -> None:
    cloudwatch = client(running, "cloudwatch")
    metric = {"Namespace": "App", "MetricName": "Latency"}
    span = {"StartTime": _minute(10), "EndTime": _minute(0)}
    calls: dict[str, Callable[[], Any]] = {
        "put_aws_namespace": lambda: cloudwatch.put_metric_data(
            Namespace="AWS/EC2", MetricData=[{"MetricName": "CPU", "Value": 1}]
        ),
        "put_too_old": lambda: cloudwatch.put_metric_data(
            Namespace="App",
            MetricData=[{"MetricName": "L", "Value": 1, "Timestamp": _minute(60 * 24 * 15)}],
        ),
        "put_value_and_values": lambda: cloudwatch.put_metric_data(
            Namespace="App", MetricData=[{"MetricName": "L", "Value": 1, "Values": [1.0]}]
        ),
        "bad_statistic": lambda: cloudwatch.get_metric_data(
            MetricDataQueries=[
                {"Id": "m", "MetricStat": {"Metric": metric, "Period": 60, "Stat": "p101x"}}
            ],
            **span,
        ),  # fmt: skip
        "bad_expression": lambda: cloudwatch.get_metric_data(
            MetricDataQueries=[{"Id": "e", "Expression": "SUM(("}], **span
        ),
        "bad_period": lambda: cloudwatch.get_metric_statistics(
            **metric, Period=61, Statistics=["Sum"], **span
        ),
        "too_many_datapoints": lambda: cloudwatch.get_metric_statistics(
            **metric, Period=1, Statistics=["Sum"], StartTime=_minute(60), EndTime=_minute(0)
        ),
        "set_unknown_alarm": lambda: cloudwatch.set_alarm_state(
            AlarmName="nope", StateValue="ALARM", StateReason="x"
        ),
    }
    with pytest.raises(ClientError) as refused:
        calls[call]()
    assert refused.value.response["Error"]["Code"] == code
    assert client(running, "cloudwatch").list_metrics()["Metrics"] == []  # nothing kept


def _subscribe_queue(info: EmulatorInfo, topic_arn: str) -> str:
    sqs = client(info, "sqs")
    url = sqs.create_queue(QueueName="alarms")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    client(info, "sns").subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn["QueueArn"])
    return url


def _route_alarm_events(info: EmulatorInfo, group: str) -> None:
    client(info, "logs").create_log_group(logGroupName=group)
    events = client(info, "events")
    pattern = {"source": ["aws.cloudwatch"], "detail-type": ["CloudWatch Alarm State Change"]}
    events.put_rule(Name="alarms", EventPattern=json.dumps(pattern))
    target = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:{group}"
    events.put_targets(Rule="alarms", Targets=[{"Id": "log", "Arn": target}])


def test_a_2_of_3_alarm_goes_to_alarm_and_notifies(fast: EmulatorInfo) -> None:
    topic = aws_cli(fast, "sns", "create-topic", "--name", "ops")["TopicArn"]
    queue = _subscribe_queue(fast, topic)
    _route_alarm_events(fast, "/aws/events/alarms")
    for minutes_ago, value in ((3, 1), (2, 7), (1, 9)):
        at = _minute(minutes_ago).isoformat()
        aws_cli(fast, "cloudwatch", "put-metric-data", "--namespace", "App", "--metric-name",
                "Errors", "--value", str(value), "--timestamp", at)  # fmt: skip
    aws_cli(fast, "cloudwatch", "put-metric-alarm", "--alarm-name", "errors",
            "--namespace", "App", "--metric-name", "Errors", "--statistic", "Sum",
            "--period", "60", "--evaluation-periods", "3", "--datapoints-to-alarm", "2",
            "--threshold", "5", "--comparison-operator", "GreaterThanOrEqualToThreshold",
            "--alarm-actions", topic)  # fmt: skip

    def alarmed() -> dict[str, Any] | None:
        found = aws_cli(fast, "cloudwatch", "describe-alarms", "--alarm-names", "errors")
        alarm = found["MetricAlarms"][0]
        return alarm if alarm["StateValue"] == "ALARM" else None

    alarm = wait_until(alarmed, timeout=30, what="the alarm to go to ALARM")
    assert alarm["StateReason"].startswith(
        "Threshold Crossed: 2 out of the last 3 datapoints [9.0 ("
    )
    assert alarm["StateReason"].endswith(
        "were greater than or equal to the threshold (5.0) "
        "(minimum 2 datapoints for OK -> ALARM transition)."
    )
    reason_data = json.loads(alarm["StateReasonData"])
    assert reason_data["statistic"] == "Sum" and reason_data["threshold"] == 5.0
    assert alarm["StateTransitionedTimestamp"]

    sqs = client(fast, "sqs")
    received = wait_until(
        lambda: sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1).get("Messages"),
        timeout=30, what="the SNS notification in the queue",
    )  # fmt: skip
    envelope = json.loads(received[0]["Body"])
    message = json.loads(envelope["Message"])
    assert envelope["Subject"] == 'ALARM: "errors" in US East (N. Virginia)'
    assert message["NewStateValue"] == "ALARM" and message["OldStateValue"] == "INSUFFICIENT_DATA"
    assert message["Trigger"]["MetricName"] == "Errors"

    def event_logged() -> list[dict[str, Any]]:
        logs = client(fast, "logs").filter_log_events(logGroupName="/aws/events/alarms")
        return [json.loads(e["message"]) for e in logs["events"]]

    events = wait_until(event_logged, timeout=30, what="the state-change event in the log group")
    assert events[0]["detail-type"] == "CloudWatch Alarm State Change"
    assert events[0]["detail"]["state"]["value"] == "ALARM"
    assert events[0]["resources"] == [alarm["AlarmArn"]]

    history = aws_cli(fast, "cloudwatch", "describe-alarm-history", "--alarm-name", "errors")
    kinds = [item["HistoryItemType"] for item in history["AlarmHistoryItems"]]
    assert {"StateUpdate", "Action", "ConfigurationUpdate"} <= set(kinds)
    update = next(i for i in history["AlarmHistoryItems"] if i["HistoryItemType"] == "StateUpdate")
    assert update["HistorySummary"] == "Alarm updated from INSUFFICIENT_DATA to ALARM"


def test_set_alarm_state_lasts_until_the_next_evaluation(fast: EmulatorInfo) -> None:
    cloudwatch = client(fast, "cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName="quiet", Namespace="App", MetricName="Nothing", Statistic="Sum", Period=60,
        EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="notBreaching",
    )  # fmt: skip
    wait_until(
        lambda: (
            cloudwatch.describe_alarms(AlarmNames=["quiet"])["MetricAlarms"][0]["StateValue"]
            == "OK"
        ),
        what="the first evaluation",
    )
    cloudwatch.set_alarm_state(AlarmName="quiet", StateValue="ALARM", StateReason="drill")
    history = cloudwatch.describe_alarm_history(AlarmName="quiet", HistoryItemType="StateUpdate")
    assert history["AlarmHistoryItems"][0]["HistorySummary"] == "Alarm updated from OK to ALARM"
    wait_until(
        lambda: (
            cloudwatch.describe_alarms(AlarmNames=["quiet"])["MetricAlarms"][0]["StateValue"]
            == "OK"
        ),
        timeout=90,  # the next evaluation on AWS's schedule: the next minute
        what="the next evaluation to take the alarm back to OK",
    )


def test_an_ec2_stop_action_stops_the_host(fast: EmulatorInfo) -> None:
    ec2 = client(fast, "ec2")
    (instance_id,) = launch(fast, 1, "alarm-stop")
    cloudwatch = client(fast, "cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName="cpu", Namespace="Custom", MetricName="Load", Statistic="Maximum", Period=60,
        EvaluationPeriods=1, Threshold=90, ComparisonOperator="GreaterThanThreshold",
        Dimensions=[{"Name": "InstanceId", "Value": instance_id}],
        AlarmActions=["arn:aws:automate:us-east-1:ec2:stop"],
    )  # fmt: skip
    cloudwatch.put_metric_data(Namespace="Custom", MetricData=[{
        "MetricName": "Load", "Value": 99, "Timestamp": _minute(1),
        "Dimensions": [{"Name": "InstanceId", "Value": instance_id}],
    }])  # fmt: skip

    def state() -> str:
        found = ec2.describe_instances(InstanceIds=[instance_id])
        return str(found["Reservations"][0]["Instances"][0]["State"]["Name"])

    wait_until(lambda: state() == "stopped", timeout=30, what="the alarm to stop the instance")
    with urllib.request.urlopen(f"{fast.endpoint}/opslib/health") as answer:
        assert json.load(answer)["hosts_running"] == 0
    history = cloudwatch.describe_alarm_history(AlarmName="cpu", HistoryItemType="Action")
    assert history["AlarmHistoryItems"][0]["HistorySummary"] == (
        "Successfully executed action arn:aws:automate:us-east-1:ec2:stop"
    )


def test_datapoints_survive_kill_9(start_emulator: Callable[..., EmulatorInfo]) -> None:
    first = start_emulator()
    cloudwatch = client(first, "cloudwatch")
    for _ in range(20):
        cloudwatch.put_metric_data(Namespace="App", MetricData=[
            {"MetricName": "Acked", "Value": 1.0, "Timestamp": _minute(1)} for _ in range(50)
        ])  # fmt: skip
    os.kill(first.pid, signal.SIGKILL)
    second = start_emulator()
    stats = client(second, "cloudwatch").get_metric_statistics(
        Namespace="App", MetricName="Acked", StartTime=_minute(5), EndTime=_minute(0),
        Period=60, Statistics=["SampleCount"],
    )["Datapoints"]  # fmt: skip
    assert [d["SampleCount"] for d in stats] == [1000.0]
