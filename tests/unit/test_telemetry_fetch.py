"""Fetching: pagination, batches, early stop at the window, call counts, coverage."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import botocore
import botocore.exceptions
import botocore.paginate
import botocore.session
import pytest

from opslib.exceptions import ConfigError
from opslib.telemetry import fetch
from opslib.telemetry.fetch import Reader, Window
from tests.unit import telemetry_fixtures as fx

pytestmark = pytest.mark.unit


class FakeClient:
    """Answers each operation from a function of its parameters, recording the requests.

    Its paginators are botocore's own, over these answers: the tokens are the ones
    botocore's model names for the operation, as a real client's paginator follows them.
    """

    def __init__(self, answers: dict[str, Callable[..., dict[str, Any]]]) -> None:
        self.answers = answers
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.service = ""  # set by the FakeSession that holds it

    def __getattr__(self, name: str) -> Callable[..., dict[str, Any]]:
        def call(**params: Any) -> dict[str, Any]:
            self.requests.append((name, params))
            return self.answers[name](**params)

        return call

    def get_paginator(self, name: str) -> botocore.paginate.Paginator:
        session = botocore.session.get_session()
        model = session.get_service_model(self.service)
        operation = next(o for o in model.operation_names if botocore.xform_name(o) == name)
        config = session.get_paginator_model(self.service).get_paginator(operation)
        return botocore.paginate.Paginator(
            getattr(self, name), config, model.operation_model(operation)
        )


class FakeSession:
    def __init__(self, **clients: FakeClient) -> None:
        self.clients = clients
        for service, client in clients.items():
            client.service = service

    def client(self, service: str) -> FakeClient:
        return self.clients[service]


def paged(items: list[dict[str, Any]], key: str, size: int) -> Callable[..., dict[str, Any]]:
    def answer(nextToken: str = "0", **_: Any) -> dict[str, Any]:  # noqa: N803
        start = int(nextToken)
        page: dict[str, Any] = {key: items[start : start + size]}
        if start + size < len(items):
            page["nextToken"] = str(start + size)
        return page

    return answer


WINDOW = Window(fx.at(-60 * 24), fx.at(60 * 24))


def test_executions_stop_at_the_first_page_reaching_past_the_window() -> None:
    # 250 executions an hour apart, newest first; the window holds the newest 48
    items = [fx.execution(f"e{i}", "Succeeded", 60 * 24 - 30 - 60 * i, 60 * 24 - 20 - 60 * i,
                          "x") for i in range(250)]  # fmt: skip
    client = FakeClient({"list_pipeline_executions": paged(items, "pipelineExecutionSummaries",
                                                           100)})  # fmt: skip
    reader = Reader(FakeSession(codepipeline=client))  # type: ignore[arg-type]
    frame, coverage = fetch.pipeline_executions(reader, "p", WINDOW)
    assert len(frame) == 48
    assert reader.calls == {"codepipeline.ListPipelineExecutions": 1}
    assert coverage.covered_since == WINDOW.since


def test_a_pipeline_not_found_is_no_executions_and_one_call() -> None:
    def missing(**_: Any) -> dict[str, Any]:
        error = {"Error": {"Code": "PipelineNotFoundException", "Message": "no pipeline p"}}
        raise botocore.exceptions.ClientError(error, "ListPipelineExecutions")  # type: ignore[arg-type]

    reader = Reader(FakeSession(codepipeline=FakeClient({"list_pipeline_executions": missing})))  # type: ignore[arg-type]
    frame, _ = fetch.pipeline_executions(reader, "p", WINDOW)
    assert frame.empty
    assert reader.calls == {"codepipeline.ListPipelineExecutions": 1}


def test_a_window_older_than_the_history_says_how_far_it_reaches() -> None:
    window = Window.last(400, fx.T0)
    reader = Reader(
        FakeSession(
            codepipeline=FakeClient(
                {  # type: ignore[arg-type]
                    "list_pipeline_executions": paged([], "pipelineExecutionSummaries", 100)
                }
            )
        )
    )
    _, coverage = fetch.pipeline_executions(reader, "p", window)
    assert coverage.covered_since == fx.T0 - timedelta(days=365)
    assert "12 months" in coverage.reason


def test_builds_are_read_in_batches_of_100_until_the_window() -> None:
    ids = [f"b:{i}" for i in range(230)]
    docs = {b: fx.build(b, "SUCCEEDED", 60 * 24 - 1 - 10 * i, 30, "x") for i, b in enumerate(ids)}
    client = FakeClient({
        "list_builds_for_project": paged(ids, "ids", 100),
        "batch_get_builds": lambda ids: {"builds": [docs[i] for i in ids]},
    })  # fmt: skip
    reader = Reader(FakeSession(codebuild=client))  # type: ignore[arg-type]
    builds, phases, _ = fetch.builds(reader, "demo-build", WINDOW)
    # one build every 10 minutes: 2 days hold 288, more than exist — every page is read
    assert len(builds) == 230 and len(phases) == 460
    assert reader.calls == {"codebuild.ListBuildsForProject": 3, "codebuild.BatchGetBuilds": 3}
    assert max(len(p["ids"]) for n, p in client.requests if n == "batch_get_builds") == 100


def test_deployments_batch_by_25_and_read_targets_only_of_failures() -> None:
    *_, deployments = fx.scripted()
    many = [{**deployments[i % 4], "deploymentId": f"d-{i}"} for i in range(30)]
    by_id = {d["deploymentId"]: d for d in many}
    client = FakeClient({
        "list_deployments": lambda **_: {"deployments": list(by_id)},
        "batch_get_deployments": lambda deploymentIds: {
            "deploymentsInfo": [by_id[i] for i in deploymentIds]},
        "list_deployment_targets": lambda deploymentId: {"targetIds": ["i-1"]},
        "batch_get_deployment_targets": lambda deploymentId, targetIds: {"deploymentTargets": [
            {"instanceTarget": {"deploymentId": deploymentId, "targetId": "i-1",
                                "status": "Failed"}}]},
    })  # fmt: skip
    reader = Reader(FakeSession(codedeploy=client))  # type: ignore[arg-type]
    frame, targets, _ = fetch.deployments(reader, "demo-app", "demo-fleet", WINDOW)
    failed = sum(1 for d in many if d["status"] == "Failed")
    assert len(frame) == 30 and len(targets) == failed
    assert reader.calls["codedeploy.BatchGetDeployments"] == 2
    assert reader.calls["codedeploy.ListDeploymentTargets"] == failed


def test_the_events_window_is_bounded_by_retention() -> None:
    line = ('{"time": "%s", "source": "aws.codepipeline", "detail-type": "x", '
            '"detail": {"state": "STARTED", "execution-id": "e1"}}')  # fmt: skip
    client = FakeClient({
        "describe_log_groups": lambda **_: {"logGroups": [
            {"logGroupName": "/aws/events/demo", "retentionInDays": 1,
             "creationTime": int((fx.T0 - timedelta(days=30)).timestamp() * 1000)}]},
        "filter_log_events": paged(
            [{"message": line % fx.at(m).isoformat()} for m in (0, 5)] + [{"message": "junk"}],
            "events", 2),
    })  # fmt: skip
    reader = Reader(FakeSession(logs=client))  # type: ignore[arg-type]
    events, coverage = fetch.events(reader, "/aws/events/demo", WINDOW)
    assert events["subject"].tolist() == ["e1", "e1"]
    assert coverage.covered_since == WINDOW.until - timedelta(days=1)
    assert "retention is 1 days" in coverage.reason
    assert reader.calls == {"logs.DescribeLogGroups": 1, "logs.FilterLogEvents": 2}


def test_metric_queries_go_500_to_a_call() -> None:
    queries = [
        {
            "Id": f"m{i}",
            "MetricStat": {
                "Metric": {"Namespace": "AWS/CodeBuild", "MetricName": "Builds"},
                "Period": 300,
                "Stat": "Sum",
            },
        }
        for i in range(501)
    ]
    client = FakeClient({"get_metric_data": lambda MetricDataQueries, **_: {  # noqa: N803
        "MetricDataResults": [{"Id": q["Id"], "Label": "Builds", "Timestamps": [fx.T0],
                               "Values": [1.0]} for q in MetricDataQueries]}})  # fmt: skip
    reader = Reader(FakeSession(cloudwatch=client))  # type: ignore[arg-type]
    metrics, coverage = fetch.metric_data(reader, queries, Window.last(90, fx.T0))
    assert len(metrics) == 501 and reader.calls == {"cloudwatch.GetMetricData": 2}
    assert coverage.covered_since == fx.T0 - timedelta(days=63)


def test_only_commits_built_twice_have_their_test_cases_read() -> None:
    *_, builds, _ = fx.scripted()
    again = {**builds[1], "id": "demo-build:b2-retry", "buildStatus": "SUCCEEDED",
             "reportArns": ["arn:report:retry"]}  # fmt: skip
    from opslib.telemetry import parse
    from opslib.telemetry.schema import frame

    builds_frame = frame("builds", [parse.build(b) for b in [*builds, again]])
    statuses = {builds[1]["reportArns"][0]: "FAILED", "arn:report:retry": "SUCCEEDED"}
    client = FakeClient({"describe_test_cases": lambda reportArn, **_: {  # noqa: N803
        "testCases": [{"reportArn": reportArn, "name": "adds", "testSuiteName": "math",
                       "status": statuses[reportArn]}]}})  # fmt: skip
    reader = Reader(FakeSession(codebuild=client))  # type: ignore[arg-type]
    cases = fetch.test_cases(reader, builds_frame)
    assert reader.calls == {"codebuild.DescribeTestCases": 2}
    from opslib.reports.success import flaky_tests

    flaky = flaky_tests(cases)
    assert flaky[["name", "source_version", "failures", "passes"]].values.tolist() == [
        ["adds", "b2", 1, 1]
    ]


def test_a_coverage_or_expired_report_has_no_test_cases_and_is_skipped() -> None:
    import botocore.exceptions

    from opslib.telemetry import parse
    from opslib.telemetry.schema import frame

    *_, builds, _ = fx.scripted()
    coverage = "arn:aws:codebuild:us-east-1:123456789012:report/demo-build-coverage:b2"
    again = {**builds[1], "id": "demo-build:b2-retry", "reportArns": [coverage]}
    builds_frame = frame("builds", [parse.build(b) for b in [builds[1], again]])

    def answer(reportArn: str, **_: Any) -> dict[str, Any]:  # noqa: N803
        if reportArn == coverage:
            error = {"Error": {"Code": "ResourceNotFoundException", "Message": "no report"}}
            raise botocore.exceptions.ClientError(error, "DescribeTestCases")  # type: ignore[arg-type]
        return {"testCases": [{"reportArn": reportArn, "name": "adds", "status": "FAILED"}]}

    reader = Reader(FakeSession(codebuild=FakeClient({"describe_test_cases": answer})))  # type: ignore[arg-type]
    cases = fetch.test_cases(reader, builds_frame)
    assert list(cases["build_id"]) == ["demo-build:b2"]  # the coverage report gave none
    assert reader.calls == {"codebuild.DescribeTestCases": 2}


@pytest.mark.parametrize("days", [0, -1])
def test_a_window_of_no_days_is_refused(days: float) -> None:
    with pytest.raises(ConfigError, match="days: expected a positive number"):
        Window.last(days, fx.T0)


def test_a_targets_choice_not_known_is_refused() -> None:
    with pytest.raises(ConfigError, match="targets: expected failed, all or none"):
        fetch.deployments(Reader(FakeSession()), "a", "g", WINDOW, targets="some")  # type: ignore[arg-type]
