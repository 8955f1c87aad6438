"""What the cost report prices beside the history: the stack's resources as frames.

Instances and their volumes (by the stack's tag), the artifact bucket's object versions
(noncurrent ones are billed too), the stack's log groups, alarms, custom metrics and
dashboard, the pipeline's type (V1 and V2 are priced differently), and the metrics that
measure what no inventory shows: CloudWatch Logs' ``IncomingBytes`` and SNS's published
messages. Every read goes through :class:`~opslib.telemetry.fetch.Reader` (counted, errors
translated). What cannot be read is named in ``missing`` with the reason, never counted 0.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pandas

from opslib.config import StackConfig
from opslib.exceptions import AwsError, NotFoundError
from opslib.stack.context import Names
from opslib.stack.tags import STACK_TAG
from opslib.target import Session
from opslib.telemetry import parse
from opslib.telemetry.fetch import Reader, Sources, Window, metric_data
from opslib.telemetry.schema import frame

logger = logging.getLogger(__name__)

DAY = 86400
# The usage metrics: (query id, namespace, metric, dimension name) — summed per day.
LOGS_INGEST = "logs_ingest"
SNS_PUBLISHED = "sns_published"


@dataclass
class Inventory:
    """The stack's billable resources, the usage metrics, and what could not be read."""

    frames: dict[str, pandas.DataFrame]
    metrics: pandas.DataFrame
    pipeline_type: str | None
    missing: dict[str, str] = field(default_factory=dict)


def instances(reader: Reader, stack: str) -> pandas.DataFrame:
    """DescribeInstances of every instance carrying the stack's tag (terminated ones too)."""
    rows = []
    for page in reader.pages(
        "ec2",
        "DescribeInstances",
        token="NextToken",
        Filters=[{"Name": f"tag:{STACK_TAG}", "Values": [stack]}],
    ):
        for reservation in page.get("Reservations") or []:
            rows += [
                {
                    "instance_id": i["InstanceId"],
                    "type": i.get("InstanceType"),
                    "state": (i.get("State") or {}).get("Name"),
                    "launch": parse.when(i.get("LaunchTime")),
                }
                for i in reservation.get("Instances") or []
            ]
    return frame("instances", rows)


def volumes(reader: Reader, instance_ids: list[str]) -> pandas.DataFrame:
    """DescribeVolumes attached to the instances."""
    if not instance_ids:
        return frame("volumes", [])
    rows = []
    for page in reader.pages(
        "ec2",
        "DescribeVolumes",
        token="NextToken",
        Filters=[{"Name": "attachment.instance-id", "Values": instance_ids}],
    ):
        rows += [
            {
                "volume_id": v["VolumeId"],
                "type": v.get("VolumeType"),
                "size_gb": float(v.get("Size") or 0),
                "create": parse.when(v.get("CreateTime")),
            }
            for v in page.get("Volumes") or []
        ]
    return frame("volumes", rows)


def _version_pages(reader: Reader, bucket: str) -> Iterator[dict[str, Any]]:
    """ListObjectVersions, following its two markers (it has no single next token)."""
    params: dict[str, Any] = {"Bucket": bucket}
    while True:
        page = reader.call("s3", "ListObjectVersions", **params)
        yield page
        if not page.get("IsTruncated"):
            return
        params["KeyMarker"] = page.get("NextKeyMarker")
        params["VersionIdMarker"] = page.get("NextVersionIdMarker")


def object_versions(reader: Reader, bucket: str) -> pandas.DataFrame:
    """Every object version of the bucket, noncurrent ones included (S3 bills them all)."""
    rows = [
        {
            "bucket": bucket,
            "key": v.get("Key"),
            "version_id": v.get("VersionId"),
            "size_bytes": float(v.get("Size") or 0),
            "latest": bool(v.get("IsLatest")),
            "modified": parse.when(v.get("LastModified")),
        }
        for page in _version_pages(reader, bucket)
        for v in page.get("Versions") or []
    ]
    return frame("object_versions", rows)


def log_groups(reader: Reader, prefixes: list[str]) -> pandas.DataFrame:
    """DescribeLogGroups for each prefix (the stack's build, app, agent and events groups)."""
    rows: dict[str, dict[str, Any]] = {}
    for prefix in prefixes:
        for page in reader.pages("logs", "DescribeLogGroups", logGroupNamePrefix=prefix):
            for group in page.get("logGroups") or []:
                created = group.get("creationTime")
                rows[group["logGroupName"]] = {
                    "name": group["logGroupName"],
                    "stored_bytes": float(group.get("storedBytes") or 0),
                    "created": parse.when(created / 1000) if created else None,
                    "retention_days": group.get("retentionInDays"),
                }
    return frame("log_groups", list(rows.values()))


def alarms(reader: Reader, prefix: str) -> pandas.DataFrame:
    """DescribeAlarms of the stack: each metric alarm with the metrics it evaluates."""
    rows = []
    for page in reader.pages(
        "cloudwatch",
        "DescribeAlarms",
        token="NextToken",
        AlarmNamePrefix=prefix,
        AlarmTypes=["MetricAlarm", "CompositeAlarm"],
    ):
        for alarm in page.get("MetricAlarms") or []:
            stats = [q for q in alarm.get("Metrics") or [] if "MetricStat" in q]
            rows.append(
                {
                    "name": alarm["AlarmName"],
                    "alarm_type": "MetricAlarm",
                    "metrics": max(1, len(stats)),
                }
            )
        for alarm in page.get("CompositeAlarms") or []:
            rows.append({"name": alarm["AlarmName"], "alarm_type": "CompositeAlarm", "metrics": 0})
    return frame("alarms", rows)


def custom_metrics(reader: Reader, namespace: str) -> pandas.DataFrame:
    """ListMetrics of the stack's own namespace (metric filters publish there)."""
    rows = []
    for page in reader.pages("cloudwatch", "ListMetrics", token="NextToken", Namespace=namespace):
        for metric in page.get("Metrics") or []:
            dims = ",".join(f"{d['Name']}={d['Value']}" for d in metric.get("Dimensions") or [])
            rows.append(
                {
                    "namespace": metric.get("Namespace"),
                    "name": metric.get("MetricName"),
                    "dimensions": dims,
                }
            )
    return frame("custom_metrics", rows)


def dashboards(reader: Reader, prefix: str) -> pandas.DataFrame:
    """ListDashboards whose name starts with the stack's."""
    rows = []
    for page in reader.pages(
        "cloudwatch", "ListDashboards", token="NextToken", DashboardNamePrefix=prefix
    ):
        rows += [
            {"name": d.get("DashboardName"), "modified": parse.when(d.get("LastModified"))}
            for d in page.get("DashboardEntries") or []
        ]
    return frame("dashboards", rows)


def pipeline_type(reader: Reader, pipeline: str) -> str | None:
    """GetPipeline's pipelineType (V1 when the API leaves it out, as it does for V1)."""
    try:
        found = reader.call("codepipeline", "GetPipeline", name=pipeline)
    except NotFoundError:
        return None
    return str(found.get("pipeline", {}).get("pipelineType") or "V1")


def usage_queries(groups: list[str], topic: str) -> list[dict[str, Any]]:
    """GetMetricData queries for what only metrics measure: Logs ingest, SNS publishes."""
    queries = [
        {
            "Id": f"{LOGS_INGEST}_{n}",
            "Label": name,
            "MetricStat": {
                "Metric": {
                    "Namespace": "AWS/Logs",
                    "MetricName": "IncomingBytes",
                    "Dimensions": [{"Name": "LogGroupName", "Value": name}],
                },
                "Period": DAY,
                "Stat": "Sum",
            },
        }
        for n, name in enumerate(groups)
    ]
    queries.append(
        {
            "Id": SNS_PUBLISHED,
            "Label": topic,
            "MetricStat": {
                "Metric": {
                    "Namespace": "AWS/SNS",
                    "MetricName": "NumberOfMessagesPublished",
                    "Dimensions": [{"Name": "TopicName", "Value": topic}],
                },
                "Period": DAY,
                "Stat": "Sum",
            },
        }
    )
    return queries


def _account(reader: Reader) -> str:
    return str(reader.call("sts", "GetCallerIdentity")["Account"])


def _read(
    missing: dict[str, str], what: str, read: Any, *args: Any, empty: str = ""
) -> pandas.DataFrame:
    """One inventory read; an AWS error leaves the frame empty and names what is missing."""
    try:
        result: pandas.DataFrame = read(*args)
    except AwsError as exc:
        logger.info("inventory: %s not read: %s", what, exc)
        missing[what] = f"not read: {exc}"
        return frame(empty or what, [])
    return result


def collect_inventory(
    session: Session, config: StackConfig, window: Window, reader: Reader | None = None
) -> tuple[Inventory, Reader]:
    """Every resource and usage metric the cost report prices, over ``window``."""
    reader = reader or Reader(session)
    sources = Sources.from_config(config)
    missing: dict[str, str] = {}
    frames: dict[str, pandas.DataFrame] = {}
    frames["instances"] = _read(missing, "instances", instances, reader, config.stack)
    ids = [str(i) for i in frames["instances"]["instance_id"]]
    frames["volumes"] = _read(missing, "volumes", volumes, reader, ids)
    names = Names(config.stack, _account(reader), config.region)
    frames["object_versions"] = _read(
        missing, "object_versions", object_versions, reader, names.bucket
    )
    prefixes = [names.build_log_group, f"/{config.stack}/", names.events_log_group]
    frames["log_groups"] = _read(missing, "log_groups", log_groups, reader, prefixes)
    frames["alarms"] = _read(missing, "alarms", alarms, reader, sources.alarm_prefix)
    frames["custom_metrics"] = _read(
        missing, "custom_metrics", custom_metrics, reader, names.metric_namespace
    )
    frames["dashboards"] = _read(missing, "dashboards", dashboards, reader, names.dashboard)
    kind = pipeline_type(reader, sources.pipeline)
    groups = [str(g) for g in frames["log_groups"]["name"]]
    try:
        metrics, _ = metric_data(reader, usage_queries(groups, names.topic), window)
    except AwsError as exc:
        missing["metrics"] = f"not read: {exc}"
        metrics = frame("metrics", [])
    return Inventory(frames, metrics, kind, missing), reader
