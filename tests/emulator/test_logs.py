"""CloudWatch Logs served by the emulator: shapes, filters, metric filters, Insights, errors.

One emulator for the module (the tests use distinct log groups); through boto3 and the
AWS CLI, as a user would.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from opslib import emulator
from opslib.emulator import EmulatorInfo
from tests.emulator.conftest import aws_cli, client
from tests.emulator.deploy_helpers import wait_until

pytestmark = pytest.mark.emulator

DAY_MS = 24 * 3600 * 1000
ERRORS_OVER_10 = '{ $.level = "error" && $.i > 10 }'


@pytest.fixture(scope="module")
def info(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorInfo]:
    state: Path = tmp_path_factory.mktemp("logs") / "state"
    yield emulator.start(state, port=0)
    emulator.stop(state)


@pytest.fixture
def logs(info: EmulatorInfo) -> Any:
    return client(info, "logs")


def _now() -> int:
    return int(time.time() * 1000)


def _stream(logs: Any, group: str, stream: str = "s") -> None:
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName=stream)


def _thirty_json_events(logs: Any, group: str) -> None:
    """30 events; every third is an error, so six errors have i > 10 (12, 15, ..., 27)."""
    _stream(logs, group)
    now = _now()
    logs.put_log_events(logGroupName=group, logStreamName="s", logEvents=_json_events(now))


def _json_events(now: int) -> list[dict[str, Any]]:
    def doc(i: int) -> str:
        return json.dumps({"level": "error" if i % 3 == 0 else "info", "i": i})

    return [{"timestamp": now + i, "message": doc(i)} for i in range(30)]


def _code(excinfo: pytest.ExceptionInfo[ClientError]) -> str:
    return str(excinfo.value.response["Error"]["Code"])


def test_filter_log_events_json_pattern_through_the_cli(info: EmulatorInfo, logs: Any) -> None:
    _thirty_json_events(logs, "/t/filter")
    out = aws_cli(
        info, "logs", "filter-log-events", "--log-group-name", "/t/filter",
        "--filter-pattern", ERRORS_OVER_10,
    )  # fmt: skip
    assert [json.loads(e["message"])["i"] for e in out["events"]] == [12, 15, 18, 21, 24, 27]
    assert {e["logStreamName"] for e in out["events"]} == {"s"}


def test_filter_log_events_pages_with_next_token(logs: Any) -> None:
    _thirty_json_events(logs, "/t/filter-pages")
    pages = logs.get_paginator("filter_log_events").paginate(
        logGroupName="/t/filter-pages", filterPattern='{ $.level = "info" }', limit=7
    )
    found = [json.loads(e["message"])["i"] for page in pages for e in page["events"]]
    assert found == [i for i in range(30) if i % 3]


def test_metric_filter_counts_exactly_the_matching_events(info: EmulatorInfo, logs: Any) -> None:
    group = "/t/metric"
    logs.create_log_group(logGroupName=group)
    aws_cli(
        info, "logs", "put-metric-filter", "--log-group-name", group, "--filter-name", "errors",
        "--filter-pattern", '{ $.level = "error" }', "--metric-transformations",
        "metricName=Errors,metricNamespace=T/Logs,metricValue=1,unit=Count",
    )  # fmt: skip
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    now = _now()
    logs.put_log_events(logGroupName=group, logStreamName="s", logEvents=_json_events(now))
    cloudwatch = client(info, "cloudwatch")

    def errors_sum() -> float | None:
        points = cloudwatch.get_metric_statistics(
            Namespace="T/Logs", MetricName="Errors", Statistics=["Sum"], Period=60,
            StartTime=datetime.now(UTC) - timedelta(minutes=5),
            EndTime=datetime.now(UTC) + timedelta(minutes=5),
        )["Datapoints"]  # fmt: skip
        total = sum(p["Sum"] for p in points)
        return total if total >= 10 else None

    assert wait_until(errors_sum, what="metric filter datapoints") == 10.0
    described = logs.describe_metric_filters(logGroupName=group)["metricFilters"]
    assert [f["filterName"] for f in described] == ["errors"]
    groups = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    assert groups[0]["metricFilterCount"] == 1


def test_metric_filter_value_from_a_field_and_test_metric_filter(logs: Any) -> None:
    tested = logs.test_metric_filter(
        filterPattern="{ $.latency > 100 }",
        logEventMessages=['{"latency": 50}', '{"latency": 250}'],
    )["matches"]
    assert [(m["eventNumber"], m["extractedValues"]) for m in tested] == [(1, {"$.latency": "250"})]
    logs.create_log_group(logGroupName="/t/metric-field")
    logs.put_metric_filter(
        logGroupName="/t/metric-field", filterName="latency",
        filterPattern='{ $.latency > 0 && $.path = "*" }',
        metricTransformations=[
            {"metricName": "L", "metricNamespace": "T", "metricValue": "$.latency",
             "dimensions": {"Path": "$.path"}}
        ],
    )  # fmt: skip
    with pytest.raises(ClientError) as excinfo:
        logs.put_metric_filter(
            logGroupName="/t/metric-field", filterName="bad", filterPattern="{ $.latency > 0 }",
            metricTransformations=[
                {"metricName": "L", "metricNamespace": "T", "metricValue": "$.other"}
            ],
        )  # fmt: skip
    assert _code(excinfo) == "InvalidParameterException"
    assert "$.other" in excinfo.value.response["Error"]["Message"]


def test_get_log_events_tokens_page_forward_and_backward(logs: Any) -> None:
    _stream(logs, "/t/tokens")
    now = _now()
    events = [{"timestamp": now + i, "message": f"m{i}"} for i in range(25)]
    logs.put_log_events(logGroupName="/t/tokens", logStreamName="s", logEvents=events)

    def page(**kwargs: Any) -> tuple[list[str], dict[str, Any]]:
        answer = logs.get_log_events(
            logGroupName="/t/tokens", logStreamName="s", limit=10, **kwargs
        )
        return [e["message"] for e in answer["events"]], answer

    first, a = page(startFromHead=True)
    second, b = page(nextToken=a["nextForwardToken"])
    third, c = page(nextToken=b["nextForwardToken"])
    end, d = page(nextToken=c["nextForwardToken"])
    assert (first, second, third, end) == (
        [f"m{i}" for i in range(10)], [f"m{i}" for i in range(10, 20)],
        [f"m{i}" for i in range(20, 25)], [],
    )  # fmt: skip
    assert d["nextForwardToken"] == c["nextForwardToken"]  # AWS: the end gives the token back
    back, _ = page(nextToken=c["nextBackwardToken"])
    assert back == [f"m{i}" for i in range(10, 20)]
    latest, e = page()  # without a token: the newest page
    assert latest == [f"m{i}" for i in range(15, 25)]
    older, _ = page(nextToken=e["nextBackwardToken"])
    assert older == [f"m{i}" for i in range(5, 15)]
    ranged, _ = page(startTime=now + 3, endTime=now + 6, startFromHead=True)
    assert ranged == ["m3", "m4", "m5"]


def test_retention_deletes_old_events(logs: Any) -> None:
    _stream(logs, "/t/retention")
    now = _now()
    old = [{"timestamp": now - 10 * DAY_MS + i, "message": f"old {i}"} for i in range(3)]
    new = [{"timestamp": now, "message": "new"}]
    for batch in (old, new):  # one batch may span 24 hours at most
        logs.put_log_events(logGroupName="/t/retention", logStreamName="s", logEvents=batch)
    before = logs.describe_log_groups(logGroupNamePrefix="/t/retention")["logGroups"][0]
    logs.put_retention_policy(logGroupName="/t/retention", retentionInDays=7)
    events = logs.get_log_events(logGroupName="/t/retention", logStreamName="s", startFromHead=True)
    assert [e["message"] for e in events["events"]] == ["new"]
    after = logs.describe_log_groups(logGroupNamePrefix="/t/retention")["logGroups"][0]
    assert (before["storedBytes"], after["storedBytes"]) == (3 * len("old 0") + 3, 3)
    assert after["retentionInDays"] == 7
    stream = logs.describe_log_streams(logGroupName="/t/retention")["logStreams"][0]
    assert stream["firstEventTimestamp"] == now
    # An event older than the retention is now rejected as expired.
    answer = logs.put_log_events(logGroupName="/t/retention", logStreamName="s", logEvents=old[:1])
    assert answer["rejectedLogEventsInfo"] == {"expiredLogEventEndIndex": 1}


def test_too_old_and_too_new_events_are_rejected_not_the_batch(logs: Any) -> None:
    _stream(logs, "/t/rejected")
    now = _now()
    recent = [
        {"timestamp": now - 20 * 3600 * 1000, "message": "kept early"},
        {"timestamp": now, "message": "kept"},
        {"timestamp": now + 3 * 3600 * 1000, "message": "too new"},
    ]
    answer = logs.put_log_events(logGroupName="/t/rejected", logStreamName="s", logEvents=recent)
    assert answer["rejectedLogEventsInfo"] == {"tooNewLogEventStartIndex": 2}
    # A batch spans 24 hours at most, so events older than 14 days come on their own.
    old = [{"timestamp": now - 15 * DAY_MS + i, "message": "too old"} for i in range(2)]
    answer = logs.put_log_events(logGroupName="/t/rejected", logStreamName="s", logEvents=old)
    assert answer["rejectedLogEventsInfo"] == {"tooOldLogEventEndIndex": 2}
    events = logs.get_log_events(logGroupName="/t/rejected", logStreamName="s")["events"]
    assert [e["message"] for e in events] == ["kept early", "kept"]


def test_insights_stats_count_by_bin_completes_with_counts(info: EmulatorInfo, logs: Any) -> None:
    _stream(logs, "/t/insights")
    hour = 3600 * 1000
    base = (_now() - 2 * DAY_MS) // hour * hour
    stamps = [base + 1, base + 2, base + hour, base + hour + 5, base + hour + 9, base + 2 * hour]
    logs.put_log_events(
        logGroupName="/t/insights", logStreamName="s",
        logEvents=[{"timestamp": t, "message": f"e{t}"} for t in stamps],
    )  # fmt: skip
    started = aws_cli(
        info, "logs", "start-query", "--log-group-name", "/t/insights",
        "--start-time", str(base // 1000), "--end-time", str((base + 3 * hour) // 1000),
        "--query-string", "stats count(*) as n by bin(1h)",
    )  # fmt: skip

    def complete() -> dict[str, Any] | None:
        answer = logs.get_query_results(queryId=started["queryId"])
        return answer if answer["status"] == "Complete" else None

    answer = wait_until(complete, what="query Complete")
    rows = [{f["field"]: f["value"] for f in row} for row in answer["results"]]
    assert [row["n"] for row in rows] == ["2", "3", "1"]
    assert rows[0]["bin(1h)"] == datetime.fromtimestamp(base / 1000, UTC).strftime(
        "%Y-%m-%d %H:%M:%S.000"
    )
    assert answer["statistics"]["recordsScanned"] == 6.0
    queries = logs.describe_queries(logGroupName="/t/insights")["queries"]
    assert [(q["queryId"], q["status"]) for q in queries] == [(started["queryId"], "Complete")]
    assert logs.stop_query(queryId=started["queryId"])["success"] is False


def test_groups_streams_tags_and_policies_have_aws_shapes(logs: Any) -> None:
    logs.create_log_group(
        logGroupName="/t/shape", tags={"team": "ops"}, logGroupClass="INFREQUENT_ACCESS",
        kmsKeyId="arn:aws:kms:us-east-1:123456789012:key/abc",
    )  # fmt: skip
    group = logs.describe_log_groups(logGroupNamePattern="T/SHA")["logGroups"][0]
    arn = "arn:aws:logs:us-east-1:123456789012:log-group:/t/shape"
    assert group["arn"] == arn + ":*" and group["logGroupArn"] == arn
    assert group["logGroupClass"] == "INFREQUENT_ACCESS" and group["kmsKeyId"].endswith("/abc")
    assert "retentionInDays" not in group
    logs.tag_resource(resourceArn=arn, tags={"stack": "x"})
    logs.untag_resource(resourceArn=arn, tagKeys=["team"])
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"stack": "x"}
    logs.tag_log_group(logGroupName="/t/shape", tags={"old": "api"})
    assert logs.list_tags_log_group(logGroupName="/t/shape")["tags"] == {"stack": "x", "old": "api"}
    now = _now()
    for name, stamp in (("b", now), ("a", now + 5), ("c", now - 5)):
        logs.create_log_stream(logGroupName="/t/shape", logStreamName=name)
        logs.put_log_events(logGroupName="/t/shape", logStreamName=name,
                            logEvents=[{"timestamp": stamp, "message": name}])  # fmt: skip
    by_time = logs.describe_log_streams(
        logGroupName="/t/shape", orderBy="LastEventTime", descending=True
    )["logStreams"]
    assert [s["logStreamName"] for s in by_time] == ["a", "b", "c"]
    assert by_time[0]["lastEventTimestamp"] == now + 5 and by_time[0]["lastIngestionTime"] >= now
    paged = logs.describe_log_streams(logGroupName="/t/shape", limit=2)
    assert [s["logStreamName"] for s in paged["logStreams"]] == ["a", "b"]
    rest = logs.describe_log_streams(logGroupName="/t/shape", nextToken=paged["nextToken"])
    assert [s["logStreamName"] for s in rest["logStreams"]] == ["c"]
    logs.put_resource_policy(policyName="t-shape", policyDocument='{"Version": "2012-10-17"}')
    policies = logs.describe_resource_policies()["resourcePolicies"]
    assert "t-shape" in {p["policyName"] for p in policies}
    logs.delete_resource_policy(policyName="t-shape")


def test_eventbridge_rule_delivers_into_the_log_group(info: EmulatorInfo, logs: Any) -> None:
    logs.create_log_group(logGroupName="/aws/events/t")
    events = client(info, "events")
    events.put_rule(Name="t-logs", EventPattern=json.dumps({"source": ["t.app"]}))
    arn = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/events/t"
    events.put_targets(Rule="t-logs", Targets=[{"Id": "l", "Arn": arn}])
    events.put_events(Entries=[{"Source": "t.app", "DetailType": "x", "Detail": '{"k": 1}'}])
    found = logs.filter_log_events(logGroupName="/aws/events/t", filterPattern="{ $.detail.k = 1 }")
    assert [json.loads(e["message"])["source"] for e in found["events"]] == ["t.app"]


def _error(call: Any, **kwargs: Any) -> tuple[str, str, dict[str, Any]]:
    with pytest.raises(ClientError) as excinfo:
        call(**kwargs)
    error = excinfo.value.response["Error"]
    return str(error["Code"]), str(error["Message"]), excinfo.value.response


def test_errors_have_aws_codes_and_messages(logs: Any) -> None:
    _stream(logs, "/t/errors")
    assert _error(logs.describe_log_streams, logGroupName="/t/none")[:2] == (
        "ResourceNotFoundException", "The specified log group does not exist."
    )  # fmt: skip
    assert _error(logs.get_log_events, logGroupName="/t/errors", logStreamName="x")[:2] == (
        "ResourceNotFoundException", "The specified log stream does not exist."
    )  # fmt: skip
    assert _error(logs.create_log_group, logGroupName="/t/errors")[0] == (
        "ResourceAlreadyExistsException"
    )
    assert _error(logs.create_log_stream, logGroupName="/t/errors", logStreamName="s")[0] == (
        "ResourceAlreadyExistsException"
    )
    code, message, _ = _error(
        logs.filter_log_events, logGroupName="/t/errors", filterPattern="{ $.a = 1"
    )
    assert (code, message) == (
        "InvalidParameterException",
        "Invalid filter pattern: If a filter pattern starts with '{' it must end with '}'",
    )
    now = _now()
    code, message, _ = _error(
        logs.put_log_events, logGroupName="/t/errors", logStreamName="s",
        logEvents=[{"timestamp": now, "message": "b"}, {"timestamp": now - 1, "message": "a"}],
    )  # fmt: skip
    assert code == "InvalidParameterException" and "chronological order" in message
    code, message, response = _error(
        logs.start_query, logGroupName="/t/errors", startTime=0, endTime=1,
        queryString="stats count(*) by",
    )  # fmt: skip
    assert code == "MalformedQueryException"
    assert response["queryCompileError"]["message"] == message
    assert _error(logs.get_query_results, queryId="nope")[0] == "ResourceNotFoundException"
    assert _error(logs.delete_metric_filter, logGroupName="/t/errors", filterName="x")[0] == (
        "ResourceNotFoundException"
    )
    for i in range(10):
        logs.put_resource_policy(policyName=f"t-limit-{i}", policyDocument="{}")
    assert _error(logs.put_resource_policy, policyName="t-limit-x", policyDocument="{}")[0] == (
        "LimitExceededException"
    )
    for i in range(10):
        logs.delete_resource_policy(policyName=f"t-limit-{i}")
    assert _error(logs.delete_resource_policy, policyName="t-limit-0")[0] == (
        "ResourceNotFoundException"
    )
    logs.delete_log_group(logGroupName="/t/errors")
    assert _error(logs.delete_log_group, logGroupName="/t/errors")[0] == (
        "ResourceNotFoundException"
    )
