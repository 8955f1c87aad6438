"""Monitoring: metric filters, alarms (pipeline, build, deploy, app, instances), dashboard.

CodePipeline and CodeDeploy publish no metrics of their own, so their failures are
counted from the events log group by metric filters; the app's errors likewise from its
log group. CodeBuild and EC2 alarms use AWS's own metrics.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from opslib.stack import tags
from opslib.stack.api import Api
from opslib.stack.context import UNKNOWN, Context
from opslib.stack.model import Resource, State, changed_under
from opslib.stack.tags import STACK_TAG

DASHBOARD_MARKER = "opslib:stack="


@dataclass(frozen=True)
class FilterSpec:
    """A metric filter: which log group, which pattern, which metric it counts into."""

    log_group: str
    pattern: str
    metric: str


APP_ERRORS_PATTERN = '{ ($.level = "error") || ($.status >= 500) }'  # the app's JSON lines


def metric_filters(ctx: Context) -> dict[str, FilterSpec]:
    """Filter name → spec: pipeline and deployment failures from events, app errors."""
    names = ctx.names
    return {
        f"{ctx.stack}-pipeline-failures": FilterSpec(
            names.events_log_group,
            f'{{ ($.source = "aws.codepipeline") && ($.detail.state = "FAILED") '
            f'&& ($.detail.pipeline = "{names.pipeline}") }}',
            "PipelineFailures",
        ),
        f"{ctx.stack}-deploy-failures": FilterSpec(
            names.events_log_group,
            f'{{ ($.source = "aws.codedeploy") && ($.detail.state = "FAILURE") '
            f'&& ($.detail.application = "{names.application}") }}',
            "DeploymentFailures",
        ),
        f"{ctx.stack}-app-errors": FilterSpec(names.app_log_group, APP_ERRORS_PATTERN, "AppErrors"),
    }


class MetricFilter(Resource):
    """A metric filter; it belongs to the stack through its (tagged) log group."""

    kind = "logs metric filter"

    def _spec(self, ctx: Context) -> FilterSpec:
        return metric_filters(ctx)[self.name]

    def desired(self, ctx: Context) -> State:
        spec = self._spec(ctx)
        transform = {
            "metricName": spec.metric,
            "metricNamespace": ctx.names.metric_namespace,
            "metricValue": "1",
            "defaultValue": 0.0,
        }
        return {"pattern": spec.pattern, "metric": transform}

    def read(self, api: Api, ctx: Context) -> State | None:
        group = self._spec(ctx).log_group
        found = api.find(
            "logs", "describe_metric_filters", logGroupName=group, filterNamePrefix=self.name
        )
        match = [f for f in (found or {}).get("metricFilters", []) if f["filterName"] == self.name]
        if not match:
            return None
        arn = ctx.log_group_arn(group)
        group_tags = api.call("logs", "list_tags_for_resource", resourceArn=arn).get("tags", {})
        transform = dict(match[0]["metricTransformations"][0])
        transform["defaultValue"] = float(transform.get("defaultValue", 0.0))
        return {"pattern": match[0]["filterPattern"], "metric": transform, "tags": group_tags}

    def create(self, api: Api, ctx: Context, desired: State) -> None:
        api.call(
            "logs",
            "put_metric_filter",
            logGroupName=self._spec(ctx).log_group,
            filterName=self.name,
            filterPattern=desired["pattern"],
            metricTransformations=[desired["metric"]],
        )

    def update(self, api: Api, ctx: Context, desired: State, changed: list[str]) -> None:
        self.create(api, ctx, desired)

    def delete(self, api: Api, ctx: Context, current: State) -> None:
        group = self._spec(ctx).log_group
        api.call("logs", "delete_metric_filter", logGroupName=group, filterName=self.name)


def alarm_specs(ctx: Context) -> dict[str, dict[str, Any]]:
    """Alarm name → its metric and threshold, for the stack-wide alarms."""
    names = ctx.names
    own = names.metric_namespace
    return {
        names.alarm("pipeline-failures"): _metric(own, "PipelineFailures", {}, "Sum", 1),
        names.alarm("build-failures"): _metric(
            "AWS/CodeBuild", "FailedBuilds", {"ProjectName": names.project}, "Sum", 1
        ),
        names.alarm("deploy-failures"): _metric(own, "DeploymentFailures", {}, "Sum", 1),
        names.alarm("app-errors"): _metric(own, "AppErrors", {}, "Sum", 5),
    }


def _metric(
    namespace: str, metric: str, dimensions: dict[str, str], statistic: str, threshold: float
) -> dict[str, Any]:
    return {
        "Namespace": namespace,
        "MetricName": metric,
        "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()],
        "Statistic": statistic,
        "Period": 60,
        "EvaluationPeriods": 1,
        "Threshold": float(threshold),
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "TreatMissingData": "notBreaching",
    }


def status_check(instance_id: str) -> dict[str, Any]:
    """An instance's status-check alarm: failed checks for two minutes."""
    spec = _metric("AWS/EC2", "StatusCheckFailed", {"InstanceId": instance_id}, "Maximum", 1)
    return {**spec, "EvaluationPeriods": 2}


def _alarm_state(alarm: dict[str, Any]) -> State:
    keys = ("Namespace", "MetricName", "Dimensions", "Statistic", "Period", "EvaluationPeriods")
    state = {k: alarm.get(k) for k in keys}
    state.update(
        Threshold=float(alarm.get("Threshold", 0)),
        ComparisonOperator=alarm.get("ComparisonOperator"),
        TreatMissingData=alarm.get("TreatMissingData"),
        AlarmActions=alarm.get("AlarmActions", []),
    )
    return state


def put_alarm(api: Api, name: str, desired: State) -> None:
    """PutMetricAlarm (create or replace) with the stack's tags."""
    settings = {k: v for k, v in desired.items() if k != "tags"}
    api.call(
        "cloudwatch",
        "put_metric_alarm",
        AlarmName=name,
        Tags=tags.to_list(desired["tags"]),
        **settings,
    )


def read_alarms(api: Api, ctx: Context, **selector: Any) -> dict[str, State]:
    """Alarms by name (AlarmNames=[...] or AlarmNamePrefix=...), with their tags."""
    found = api.call("cloudwatch", "describe_alarms", AlarmTypes=["MetricAlarm"], **selector)
    result = {}
    for alarm in found["MetricAlarms"]:
        listed = api.call("cloudwatch", "list_tags_for_resource", ResourceARN=alarm["AlarmArn"])
        result[alarm["AlarmName"]] = {
            **_alarm_state(alarm),
            "tags": tags.to_dict(listed.get("Tags")),
        }
    return result


class Alarm(Resource):
    """A stack-wide alarm, notifying the SNS topic."""

    kind = "cloudwatch alarm"

    def desired(self, ctx: Context) -> State:
        spec = alarm_specs(ctx)[self.name]
        return {**spec, "AlarmActions": [ctx.topic_arn], "tags": ctx.tags(self.name)}

    def read(self, api: Api, ctx: Context) -> State | None:
        return read_alarms(api, ctx, AlarmNames=[self.name]).get(self.name)

    def create(self, api: Api, ctx: Context, desired: State) -> None:
        put_alarm(api, self.name, desired)

    def update(self, api: Api, ctx: Context, desired: State, changed: list[str]) -> None:
        put_alarm(api, self.name, desired)

    def delete(self, api: Api, ctx: Context, current: State) -> None:
        api.call("cloudwatch", "delete_alarms", AlarmNames=[self.name])


class StatusCheckAlarms(Resource):
    """One status-check alarm per instance of the fleet (the set follows the fleet)."""

    kind = "cloudwatch alarms"

    def _prefix(self) -> str:
        return f"{self.name}-"

    def desired(self, ctx: Context) -> State:
        ids = [i for i in ctx.fact("instance_ids").split(",") if i] or [UNKNOWN]
        alarms = {
            f"{self._prefix()}{i}": {
                **status_check(i),
                "AlarmActions": [ctx.topic_arn],
                "tags": ctx.tags(),
            }
            for i in ids
        }
        return {"names": sorted(alarms), "alarms": alarms, "tags": ctx.tags()}

    def read(self, api: Api, ctx: Context) -> State | None:
        found = read_alarms(api, ctx, AlarmNamePrefix=self._prefix())
        mine = {k: v for k, v in found.items() if v["tags"].get(STACK_TAG) == ctx.stack}
        if not mine:
            return None
        return {"names": sorted(mine), "alarms": mine, "tags": {STACK_TAG: ctx.stack}}

    def create(self, api: Api, ctx: Context, desired: State) -> None:
        for name, alarm in desired["alarms"].items():
            put_alarm(api, name, alarm)

    def update(self, api: Api, ctx: Context, desired: State, changed: list[str]) -> None:
        current = (self.read(api, ctx) or {"alarms": {}})["alarms"]
        stale = [name for name in current if name not in desired["alarms"]]
        if stale:
            api.call("cloudwatch", "delete_alarms", AlarmNames=stale)
        for name, alarm in desired["alarms"].items():
            if changed_under(changed, f"alarms.{name}"):
                put_alarm(api, name, alarm)

    def delete(self, api: Api, ctx: Context, current: State) -> None:
        api.call("cloudwatch", "delete_alarms", AlarmNames=list(current["alarms"]))


def dashboard_body(ctx: Context) -> dict[str, Any]:
    """The pipeline's dashboard: builds, failures, alarms and the latest events."""
    names, region = ctx.names, ctx.region
    project = ["ProjectName", names.project]
    own = names.metric_namespace
    alarm_arns = [ctx.arn("cloudwatch", f"alarm:{a}") for a in alarm_specs(ctx)]

    def metrics(title: str, series: list[list[str]], y: int) -> dict[str, Any]:
        props = {"title": title, "region": region, "stat": "Sum", "period": 300, "metrics": series}
        return {"type": "metric", "x": 0, "y": y, "width": 12, "height": 6, "properties": props}

    query = (
        f"SOURCE '{names.events_log_group}' | fields @timestamp, source, detail.state"
        " | sort @timestamp desc | limit 20"
    )
    return {
        "widgets": [
            {
                "type": "text",
                "x": 0,
                "y": 0,
                "width": 24,
                "height": 2,
                "properties": {"markdown": f"# {names.pipeline}\n{DASHBOARD_MARKER}{ctx.stack}"},
            },
            metrics(
                "Builds",
                [
                    ["AWS/CodeBuild", "SucceededBuilds", *project],
                    ["AWS/CodeBuild", "FailedBuilds", *project],
                ],
                2,
            ),
            metrics(
                "Failures",
                [
                    [own, "PipelineFailures"],
                    [own, "DeploymentFailures"],
                    [own, "AppErrors"],
                ],
                8,
            ),
            {
                "type": "alarm",
                "x": 12,
                "y": 2,
                "width": 12,
                "height": 6,
                "properties": {"title": "Alarms", "alarms": alarm_arns},
            },
            {
                "type": "log",
                "x": 12,
                "y": 8,
                "width": 12,
                "height": 6,
                "properties": {"title": "Events", "region": region, "query": query},
            },
        ]
    }


class Dashboard(Resource):
    """The pipeline's dashboard. Dashboards take no tags: a text widget carries the stack."""

    kind = "cloudwatch dashboard"

    def desired(self, ctx: Context) -> State:
        return {"body": dashboard_body(ctx)}

    def read(self, api: Api, ctx: Context) -> State | None:
        found = api.find(
            "cloudwatch", "get_dashboard", ("ResourceNotFound",), DashboardName=self.name
        )
        if found is None:
            return None
        body = found["DashboardBody"]
        ours = f"{DASHBOARD_MARKER}{ctx.stack}" in body
        return {"body": json.loads(body), "tags": {STACK_TAG: ctx.stack} if ours else {}}

    def create(self, api: Api, ctx: Context, desired: State) -> None:
        body = json.dumps(desired["body"])
        api.call("cloudwatch", "put_dashboard", DashboardName=self.name, DashboardBody=body)

    def update(self, api: Api, ctx: Context, desired: State, changed: list[str]) -> None:
        self.create(api, ctx, desired)

    def delete(self, api: Api, ctx: Context, current: State) -> None:
        api.call("cloudwatch", "delete_dashboards", DashboardNames=[self.name])
