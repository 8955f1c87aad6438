"""Events and metrics the emulator publishes the way AWS's services do.

Events go through EventBridge (PutEvents), so the stack's rule routes them to its log
group exactly as on AWS; metrics go to CloudWatch (PutMetricData) under AWS's namespaces
and dimensions, from real measurements. A failure to publish is logged, never fatal to
the build or host it describes.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from opslib.emulator.core.runtime import Runtime

logger = logging.getLogger(__name__)


def emit_event(
    runtime: Runtime,
    region: str,
    source: str,
    detail_type: str,
    detail: dict[str, Any],
    resources: Sequence[str] = (),
) -> None:
    """Put one event on the default bus (source e.g. ``aws.codebuild``)."""
    entry = {
        "Time": datetime.now(UTC),
        "Source": source,
        "DetailType": detail_type,
        "Detail": json.dumps(detail, default=str),
        "Resources": list(resources),
    }
    try:
        runtime.client("events", region).put_events(Entries=[entry])
    except Exception:  # publishing must never break the work it reports on
        logger.exception("could not emit %s event", detail_type)


def metric(
    name: str, value: float, unit: str, dimensions: dict[str, str], at: datetime | None = None
) -> dict[str, Any]:
    """One MetricData entry in PutMetricData's shape."""
    return {
        "MetricName": name,
        "Value": float(value),
        "Unit": unit,
        "Timestamp": at or datetime.now(UTC),
        "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()],
    }


def put_metrics(runtime: Runtime, region: str, namespace: str, data: list[dict[str, Any]]) -> None:
    """Publish metric data points (in batches of 1000, PutMetricData's limit)."""
    client = runtime.client("cloudwatch", region)
    try:
        for start in range(0, len(data), 1000):
            client.put_metric_data(Namespace=namespace, MetricData=data[start : start + 1000])
    except Exception:
        logger.exception("could not publish %s metrics", namespace)
