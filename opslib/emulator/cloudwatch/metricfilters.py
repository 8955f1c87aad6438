"""Metric filters: stored per log group, and datapoints as matching events arrive.

Each accepted PutLogEvents batch (and each EventBridge delivery) runs through its
group's filters: a matching event adds its metricValue (a constant or the event's
``$.field`` / ``$field``), an event that does not match adds the filter's defaultValue
when it has one. The values are gathered per metric, dimension values and minute of the
event's timestamp (CloudWatch Logs reports every minute) and published with
PutMetricData as ``Values``/``Counts`` to the emulator's CloudWatch, through the API and
from the deferred worker: the handler holds the gateway's lock and must not call back
into the server. A datapoint whose publication a crash interrupts is lost, as a metric
filter's on AWS can lag; the events themselves are durable before the answer.
"""

from __future__ import annotations

import functools
import logging
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import botocore.session

from opslib.emulator.cloudwatch.logapi import (
    decode_token,
    encode_token,
    find_group,
    invalid,
    not_found,
    now_ms,
    optional_int,
    required,
)
from opslib.emulator.cloudwatch.logstore import Group, LogStore, NewEvent
from opslib.emulator.cloudwatch.patterns import (
    FilterPattern,
    FilterPatternError,
    MetricValue,
    MetricValueError,
    field_reference,
    parse_filter_pattern,
    parse_metric_value,
)
from opslib.emulator.core.gateway import ApiException, ApiRequest
from opslib.emulator.core.runtime import Runtime

logger = logging.getLogger(__name__)

MAX_FILTERS_PER_GROUP = 100
MAX_DIMENSIONS = 3
MAX_VALUES_PER_DATUM = 150  # PutMetricData's Values/Counts arrays
MAX_DATA_PER_CALL = 1000
MINUTE_MS = 60_000
# (namespace, metric name, dimensions, unit, minute) -> Counter of values
Bucket = tuple[str, str, tuple[tuple[str, str], ...], str | None, int]
Handler = Callable[[ApiRequest, dict[str, Any]], Any]


@functools.cache
def _standard_units() -> frozenset[str]:
    model = botocore.session.get_session().get_service_model("logs")
    return frozenset(model.shape_for("StandardUnit").enum)


class _Compiled:
    """One stored filter, parsed once: pattern, metric value, dimension references."""

    def __init__(self, body: dict[str, Any]) -> None:
        self.pattern = parse_filter_pattern(body["filterPattern"])
        transform = body["metricTransformations"][0]
        self.namespace = str(transform["metricNamespace"])
        self.metric = str(transform["metricName"])
        self.value: MetricValue = parse_metric_value(transform["metricValue"], self.pattern)
        self.default: float | None = transform.get("defaultValue")
        self.unit: str | None = transform.get("unit")
        self.dimensions = {
            name: field_reference(ref, self.pattern)
            for name, ref in (transform.get("dimensions") or {}).items()
        }

    def observe(self, message: str, minute: int, buckets: dict[Bucket, Counter[float]]) -> None:
        fields = self.pattern.extract(message)
        if fields is None:
            if self.default is not None:
                key = (self.namespace, self.metric, (), self.unit, minute)
                buckets[key][float(self.default)] += 1
            return
        value = self.value.value_for(fields)
        dims = tuple(sorted((name, fields.get(ref)) for name, ref in self.dimensions.items()))
        if value is None or any(v is None or v == "" for _, v in dims):
            return  # not numeric, or a dimension field missing: no datapoint (verify)
        key = (self.namespace, self.metric, dims, self.unit, minute)  # type: ignore[assignment]
        buckets[key][value] += 1


@functools.lru_cache(maxsize=1024)
def _compiled(text: str) -> _Compiled:
    import json

    return _Compiled(json.loads(text))


class MetricFilters:
    """PutMetricFilter and friends, and the datapoints filters emit."""

    def __init__(self, runtime: Runtime, store: LogStore) -> None:
        self.runtime = runtime
        self.store = store

    def handlers(self) -> dict[str, Handler]:
        return {
            "PutMetricFilter": self.put_metric_filter,
            "DescribeMetricFilters": self.describe_metric_filters,
            "DeleteMetricFilter": self.delete_metric_filter,
            "TestMetricFilter": self.test_metric_filter,
        }

    def put_metric_filter(self, request: ApiRequest, values: dict[str, Any]) -> Any:
        group = find_group(self.store, request, values)
        name = required(values, "filterName")
        text = values.get("filterPattern")
        if not isinstance(text, str):
            raise invalid("filterPattern is required (an empty string matches every event)")
        transforms = required(values, "metricTransformations", list)
        if len(transforms) != 1 or not isinstance(transforms[0], dict):
            raise invalid("metricTransformations must hold exactly one transformation")
        body = {
            "filterName": name,
            "filterPattern": text,
            "metricTransformations": [_transformation(transforms[0])],
            "creationTime": now_ms(),
            "logGroupName": group.name,
        }
        _check(body)
        existing = {f["filterName"] for f in self.store.filters(group.gid)}
        if name not in existing and len(existing) >= MAX_FILTERS_PER_GROUP:
            raise ApiException("LimitExceededException", "Resource limit exceeded.")
        self.store.put_filter(group.gid, name, body)
        return {}

    def describe_metric_filters(self, request: ApiRequest, values: dict[str, Any]) -> Any:
        prefix = values.get("filterNamePrefix")
        metric, namespace = values.get("metricName"), values.get("metricNamespace")
        if prefix and not values.get("logGroupName"):
            raise invalid("If you are using filterNamePrefix, you must specify logGroupName.")
        if bool(metric) != bool(namespace):
            raise invalid("metricName and metricNamespace must be specified together.")
        if values.get("logGroupName"):
            found = self.store.filters(find_group(self.store, request, values).gid)
        else:
            found = self._region_filters(request)
        found = [f for f in found if f["filterName"].startswith(prefix or "")]
        if metric:
            found = [
                f
                for f in found
                if f["metricTransformations"][0]["metricName"] == metric
                and f["metricTransformations"][0]["metricNamespace"] == namespace
            ]
        limit = optional_int(values, "limit", 50, 1, 50)
        offset = int(decode_token(values["nextToken"])["offset"]) if values.get("nextToken") else 0
        page = found[offset : offset + limit]
        answer: dict[str, Any] = {
            "metricFilters": [{**f, "applyOnTransformedLogs": False} for f in page]
        }
        if offset + limit < len(found):
            answer["nextToken"] = encode_token({"offset": offset + limit})
        return answer

    def _region_filters(self, request: ApiRequest) -> list[dict[str, Any]]:
        filters: list[dict[str, Any]] = []
        for group in self.store.groups(request.account_id, request.region):
            filters += self.store.filters(group.gid)
        return filters

    def delete_metric_filter(self, request: ApiRequest, values: dict[str, Any]) -> Any:
        group = find_group(self.store, request, values)
        if not self.store.delete_filter(group.gid, required(values, "filterName")):
            raise not_found("The specified resource does not exist.")
        return {}

    def test_metric_filter(self, request: ApiRequest, values: dict[str, Any]) -> Any:
        pattern = _pattern(values.get("filterPattern"))
        messages = required(values, "logEventMessages", list)
        matches = []
        for number, message in enumerate(messages):  # eventNumber from 0, as AWS's example
            fields = pattern.extract(str(message))
            if fields is not None:
                matches.append(
                    {"eventNumber": number, "eventMessage": message, "extractedValues": fields}
                )
        return {"matches": matches}

    # --- datapoints --------------------------------------------------------------------

    def on_events(self, group: Group, events: list[NewEvent]) -> None:
        """Evaluate the group's filters on accepted events; publish from the deferred worker."""
        if not events:
            return
        import json

        filters = [_compiled(json.dumps(body)) for body in self.store.filters(group.gid)]
        if not filters:
            return
        buckets: dict[Bucket, Counter[float]] = defaultdict(Counter)
        for stamp, message in events:
            minute = stamp - stamp % MINUTE_MS
            for compiled in filters:
                compiled.observe(message, minute, buckets)
        if buckets:
            self.runtime.defer(self.publish, group.region, dict(buckets))

    def publish(self, region: str, buckets: dict[Bucket, Counter[float]]) -> None:
        try:
            cloudwatch = self.runtime.client("cloudwatch", region)
            for namespace, data in _metric_data(buckets).items():
                for start in range(0, len(data), MAX_DATA_PER_CALL):
                    chunk = data[start : start + MAX_DATA_PER_CALL]
                    cloudwatch.put_metric_data(Namespace=namespace, MetricData=chunk)
        except Exception:
            logger.exception("could not publish metric filter datapoints")


def _metric_data(buckets: dict[Bucket, Counter[float]]) -> dict[str, list[dict[str, Any]]]:
    by_namespace: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for (namespace, metric, dims, unit, minute), counts in buckets.items():
        items = sorted(counts.items())
        for start in range(0, len(items), MAX_VALUES_PER_DATUM):
            part = items[start : start + MAX_VALUES_PER_DATUM]
            datum: dict[str, Any] = {
                "MetricName": metric,
                "Timestamp": datetime.fromtimestamp(minute / 1000, UTC),
                "Values": [value for value, _ in part],
                "Counts": [float(count) for _, count in part],
            }
            if dims:
                datum["Dimensions"] = [{"Name": n, "Value": v} for n, v in dims]
            if unit and unit != "None":
                datum["Unit"] = unit
            by_namespace[namespace].append(datum)
    return by_namespace


def _pattern(text: Any) -> FilterPattern:
    if not isinstance(text, str):
        raise invalid("filterPattern is required (an empty string matches every event)")
    try:
        return parse_filter_pattern(text)
    except FilterPatternError as exc:
        raise invalid(exc.message) from exc


def _transformation(raw: dict[str, Any]) -> dict[str, Any]:
    transform: dict[str, Any] = {
        key: raw[key]
        for key in ("metricName", "metricNamespace", "metricValue", "defaultValue")
        if key in raw
    }
    for key in ("metricName", "metricNamespace", "metricValue"):
        required(raw, key)
    if "defaultValue" in transform:
        if not isinstance(transform["defaultValue"], int | float):
            raise invalid("defaultValue must be a number")
        transform["defaultValue"] = float(transform["defaultValue"])
    if raw.get("dimensions"):
        transform["dimensions"] = dict(raw["dimensions"])
    if raw.get("unit"):
        transform["unit"] = raw["unit"]
    return transform


def _check(body: dict[str, Any]) -> None:
    """AWS's refusals of a metric filter, each as InvalidParameterException."""
    pattern = _pattern(body["filterPattern"])
    transform = body["metricTransformations"][0]
    if any(c in transform["metricNamespace"] for c in ":*$"):
        raise invalid("Invalid metric namespace: it may not contain ':', '*' or '$'")
    dimensions = transform.get("dimensions") or {}
    if len(dimensions) > MAX_DIMENSIONS:
        raise invalid(f"A metric transformation may have at most {MAX_DIMENSIONS} dimensions")
    if dimensions and "defaultValue" in transform:
        raise invalid("You cannot specify both dimensions and defaultValue.")
    unit = transform.get("unit")
    if unit is not None and unit not in _standard_units():
        raise invalid(f"Invalid unit: {unit} (one of {', '.join(sorted(_standard_units()))})")
    try:
        parse_metric_value(transform["metricValue"], pattern)
        for reference in dimensions.values():
            field_reference(str(reference), pattern)
    except MetricValueError as exc:
        raise invalid(str(exc)) from exc
