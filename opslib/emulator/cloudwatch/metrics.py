"""CloudWatch metrics served by the emulator over its own store (signing name ``monitoring``).

PutMetricData, GetMetricStatistics, ListMetrics and GetMetricData are answered here, not by
moto: datapoints live in :class:`~opslib.emulator.cloudwatch.metricstore.MetricStore`, and
reads go through the pure cores (statistics, metric math, query lists). DescribeAlarmHistory
reads the history the evaluator writes. Alarms, dashboards and tags stay moto's.

Wire protocol: botocore's CloudWatch model lists ``smithy-rpc-v2-cbor``, ``json`` and
``query``; the botocore this project installs picks ``json`` (awsJson 1.0 with the
``awsQueryCompatible`` trait), so boto3 and the AWS CLI speak JSON. Older SDKs speak the
query protocol; both are parsed and answered with moto's own serializers for the model, so
shapes are the model's. RPC v2 CBOR is not spoken by the installed SDKs and not answered.
Errors are raised as :class:`ApiException` with AWS's code; the gateway renders them in the
request's protocol.
"""

from __future__ import annotations

import base64
import json
import logging
import math
import time
import urllib.parse
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from moto.core.parse import QueryParser
from moto.core.serialize import get_serializer_class
from moto.core.utils import get_service_model as moto_service_model

from opslib.emulator.cloudwatch import metricquery
from opslib.emulator.cloudwatch.metricdata import MetricDataResult, MetricQuery, MetricStat, partial
from opslib.emulator.cloudwatch.metricerrors import (
    CloudWatchError,
    InvalidParameterCombination,
    InvalidParameterValue,
    MissingParameter,
)
from opslib.emulator.cloudwatch.metricstore import Datum, MetricId, MetricStore
from opslib.emulator.cloudwatch.statistics import (
    MAX_STATISTICS_DATAPOINTS,
    StatisticSet,
    bucketize,
    check_datapoint_limit,
    check_period,
    compute,
    parse_extended_statistic,
    round_start_time,
    summarize,
    validate_period,
)
from opslib.emulator.core.awserrors import Protocol
from opslib.emulator.core.gateway import ApiException, ApiRequest, ApiResponse
from opslib.emulator.core.runtime import INTERNAL_CREDENTIALS, Runtime

logger = logging.getLogger(__name__)

SERVICE = "monitoring"
STORE_FILE = "metrics.sqlite"
MAX_DATUMS = 1000
MAX_VALUES = 150
MAX_DIMENSIONS = 30
PAST_LIMIT = 14 * 86400  # PutMetricData accepts timestamps up to two weeks old ...
FUTURE_LIMIT = 2 * 3600  # ... and up to two hours in the future
LIST_PAGE = 500
RECENT = 3 * 3600  # RecentlyActive=PT3H
LIST_HORIZON = 14 * 86400  # metrics without data for two weeks leave ListMetrics
MAX_DATAPOINTS = 100_800
STANDARD = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")


def epoch(value: Any) -> float:
    """A timestamp member as epoch seconds (JSON numbers, ISO strings, parsed datetimes)."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    if isinstance(value, int | float):
        return float(value)
    text = str(value)
    try:
        return float(text)
    except ValueError:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _when(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


# -- the wire ---------------------------------------------------------------------------------
def _model() -> Any:
    """moto's copy of botocore's CloudWatch model (its serializers need its shape classes)."""
    return moto_service_model("cloudwatch")


def params(request: ApiRequest) -> dict[str, Any]:
    """The request's input members, parsed as its protocol carries them."""
    if request.wire is Protocol.QUERY:
        parser = QueryParser(_model().operation_model(request.operation), map_type=dict)
        raw: Any = {
            "method": request.method,
            "values": _form(request),
            "headers": {},
            "body": b"",
            "url_path": "/",
            "url_params": {},
        }
        return dict(parser.parse(raw))
    return request.params()


def _form(request: ApiRequest) -> dict[str, str]:
    pairs = urllib.parse.parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True)
    return dict(pairs)


def respond(request: ApiRequest, result: dict[str, Any]) -> ApiResponse:
    """``result`` serialized for the operation's output shape in the request's protocol."""
    model = _model()
    protocol = "query" if request.wire is Protocol.QUERY else "json"
    serializer = get_serializer_class(model.service_name, protocol)(
        model.operation_model(request.operation)
    )
    out = serializer.serialize(result)
    body = out["body"]
    headers = list(out["headers"].items())
    return ApiResponse(
        out["status_code"], body.encode() if isinstance(body, str) else body, headers
    )


Operation = Callable[[ApiRequest, dict[str, Any]], dict[str, Any]]


def wire(operation: Operation) -> Callable[[ApiRequest], ApiResponse]:
    """A handler: parse, run ``operation``, answer; CloudWatch errors keep their code."""

    def handler(request: ApiRequest) -> ApiResponse:
        try:
            return respond(request, operation(request, params(request)))
        except CloudWatchError as exc:
            raise ApiException(exc.code, exc.message, exc.http_status) from exc

    return handler


def internal(request: ApiRequest) -> bool:
    """Whether the emulator itself called (its services publish AWS/ namespaces)."""
    credential = f"Credential={INTERNAL_CREDENTIALS['aws_access_key_id']}/"
    return credential in request.headers.get("authorization", "")


# -- PutMetricData ----------------------------------------------------------------------------
def _units() -> set[str]:
    shape = _model().shape_for("StandardUnit")
    return set(shape.enum)


def parse_datums(
    namespace: str, data: list[dict[str, Any]], now: float, units: set[str]
) -> list[Datum]:
    """PutMetricData's MetricData as samples to store; AWS's checks, member by member."""
    if not data:
        raise MissingParameter("The parameter MetricData is required.")
    if len(data) > MAX_DATUMS:
        raise InvalidParameterValue(
            f"The collection MetricData must not have a size greater than {MAX_DATUMS}."
        )
    out: list[Datum] = []
    for member, item in enumerate(data, start=1):
        out.extend(_datum(namespace, item, f"MetricData.member.{member}", now, units))
    return out


def _dimensions(items: list[dict[str, Any]] | None, where: str) -> tuple[tuple[str, str], ...]:
    items = items or []
    if len(items) > MAX_DIMENSIONS:
        raise InvalidParameterValue(
            f"The collection {where}.Dimensions must not have a size greater than {MAX_DIMENSIONS}."
        )
    pairs = []
    for i, dim in enumerate(items, start=1):
        if not dim.get("Name") or dim.get("Value") is None:
            raise InvalidParameterValue(
                f"The parameter {where}.Dimensions.member.{i} must have a Name and a Value."
            )
        pairs.append((str(dim["Name"]), str(dim["Value"])))
    if len({name for name, _ in pairs}) != len(pairs):
        raise InvalidParameterValue(f"The parameter {where}.Dimensions has duplicate names.")
    return tuple(sorted(pairs))


def _finite(value: Any, where: str) -> float:
    number = float(value)
    if not math.isfinite(number) or abs(number) > 2**360 or (0 < abs(number) < 2**-260):
        raise InvalidParameterValue(
            f"The value {value} for parameter {where} is invalid: it must be a finite number "
            "between 8.515920e-109 and 1.174271e+108 in magnitude (or 0)."
        )
    return number


def _datum(
    namespace: str, item: dict[str, Any], where: str, now: float, units: set[str]
) -> list[Datum]:
    name = item.get("MetricName")
    if not name:
        raise MissingParameter(f"The parameter {where}.MetricName is required.")
    metric = MetricId(namespace, str(name), _dimensions(item.get("Dimensions"), where))
    ts = epoch(item["Timestamp"]) if item.get("Timestamp") is not None else now
    if ts < now - PAST_LIMIT or ts > now + FUTURE_LIMIT:
        raise InvalidParameterValue(
            f"The parameter {where}.Timestamp must specify a time no more than two weeks in the "
            "past and no more than two hours in the future."
        )
    unit = item.get("Unit")
    if unit is not None and unit not in units:
        raise InvalidParameterValue(
            f"The value {unit} for parameter {where}.Unit is not a valid unit."
        )
    resolution = int(item.get("StorageResolution") or 60)
    if resolution not in (1, 60):
        raise InvalidParameterValue(
            f"The value {resolution} for parameter {where}.StorageResolution is invalid: "
            "use 1 (high resolution) or 60 (standard)."
        )
    given = [k for k in ("Value", "StatisticValues", "Values") if item.get(k) is not None]
    if len(given) > 1:
        raise InvalidParameterCombination(
            f"The parameters {where}.{given[0]} and {where}.{given[1]} are mutually exclusive "
            "and you have specified both."
        )
    common = {"metric": metric, "timestamp": ts, "unit": unit, "resolution": resolution}
    if not given:
        raise MissingParameter(
            f"The parameter {where}.Value, {where}.Values or {where}.StatisticValues is required."
        )
    if given[0] == "Value":
        return [Datum(value=_finite(item["Value"], f"{where}.Value"), **common)]  # type: ignore[arg-type]
    if given[0] == "StatisticValues":
        return [Datum(statistic_set=_statistic_set(item["StatisticValues"], where), **common)]  # type: ignore[arg-type]
    return _values(item, where, common)


def _statistic_set(raw: dict[str, Any], where: str) -> StatisticSet:
    keys = ("SampleCount", "Sum", "Minimum", "Maximum")
    missing = [k for k in keys if raw.get(k) is None]
    if missing:
        raise MissingParameter(f"The parameter {where}.StatisticValues.{missing[0]} is required.")
    count, total, low, high = (_finite(raw[k], f"{where}.StatisticValues.{k}") for k in keys)
    if count <= 0 or low > high:
        raise InvalidParameterValue(
            f"The parameter {where}.StatisticValues is invalid: SampleCount must be positive and "
            "Minimum not greater than Maximum."
        )
    return StatisticSet(count, total, low, high)


def _values(item: dict[str, Any], where: str, common: dict[str, Any]) -> list[Datum]:
    values = list(item["Values"])
    counts = list(item.get("Counts") or [1.0] * len(values))
    if len(values) > MAX_VALUES:
        raise InvalidParameterValue(
            f"The collection {where}.Values must not have a size greater than {MAX_VALUES}."
        )
    if len(counts) != len(values):
        raise InvalidParameterValue(
            f"The parameters {where}.Values and {where}.Counts must be of the same size."
        )
    return [
        Datum(
            value=_finite(v, f"{where}.Values.member.{i}"),
            count=_finite(c, f"{where}.Counts.member.{i}"),
            **common,
        )
        for i, (v, c) in enumerate(zip(values, counts, strict=True), start=1)
    ]


# -- the service ------------------------------------------------------------------------------
class MetricService:
    """The metric API of the emulator's CloudWatch, over :class:`MetricStore`."""

    def __init__(self, runtime: Runtime, path: Path | None = None) -> None:
        self.runtime = runtime
        self.store = MetricStore(path or runtime.state_dir / STORE_FILE)
        self._units = _units()
        self.on_put: Callable[[str], None] | None = None  # the evaluator's nudge

    def register(self) -> None:
        gateway = self.runtime.gateway
        for name, operation in (
            ("PutMetricData", self.put_metric_data),
            ("GetMetricStatistics", self.get_metric_statistics),
            ("GetMetricData", self.get_metric_data),
            ("ListMetrics", self.list_metrics),
            ("DescribeAlarmHistory", self.describe_alarm_history),
        ):
            gateway.handle(SERVICE, name, wire(operation))

    def put_metric_data(self, request: ApiRequest, p: dict[str, Any]) -> dict[str, Any]:
        namespace = str(p.get("Namespace") or "")
        if not namespace:
            raise MissingParameter("The parameter Namespace is required.")
        if namespace.startswith("AWS/") and not internal(request):
            raise InvalidParameterValue(
                f"The value {namespace} for parameter Namespace is invalid: the AWS/ prefix is "
                "reserved for AWS's own metrics."
            )
        data = parse_datums(namespace, list(p.get("MetricData") or []), time.time(), self._units)
        self.store.put(request.region, data)
        return {}

    def get_metric_statistics(self, request: ApiRequest, p: dict[str, Any]) -> dict[str, Any]:
        statistics = list(p.get("Statistics") or [])
        extended = list(p.get("ExtendedStatistics") or [])
        if not statistics and not extended:
            raise MissingParameter("Must specify either Statistics or ExtendedStatistics.")
        if len(statistics) > 5 or len(extended) > 10:
            raise InvalidParameterValue(
                "At most 5 Statistics and 10 ExtendedStatistics may be requested."
            )
        for name in statistics:
            if name not in STANDARD:
                raise InvalidParameterValue(
                    f"The value {name} for parameter Statistics is not supported."
                )
        parsed = {name: parse_extended_statistic(name, "ExtendedStatistics") for name in extended}
        period = int(p["Period"])
        validate_period(period)
        now = time.time()
        start, end = epoch(p["StartTime"]), epoch(p["EndTime"])
        if start >= end:
            raise InvalidParameterValue(
                "The parameter StartTime must be less than the parameter EndTime."
            )
        check_datapoint_limit(start, end, period, MAX_STATISTICS_DATAPOINTS)
        stat = MetricStat(
            str(p.get("Namespace") or ""),
            str(p.get("MetricName") or ""),
            _dimensions(p.get("Dimensions"), "Dimensions"),
            period,
            unit=p.get("Unit"),
        )
        rounded = round_start_time(start, now, period)
        grouped = (
            bucketize(
                self.store.samples(
                    request.region, metricquery.metric_id(stat), rounded, end, stat.unit
                ),
                rounded,
                int(math.ceil(end)),
                period,
            )  # fmt: skip
            if check_period(period, start, now).valid
            else {}
        )
        unit = stat.unit or self._single_unit(request.region, stat, rounded, end)
        points = []
        for timestamp in sorted(grouped):
            summary = summarize(grouped[timestamp])
            if summary is None:
                continue
            point: dict[str, Any] = {"Timestamp": _when(timestamp), "Unit": unit}
            for name in statistics:
                point[name] = (
                    summary.average
                    if name == "Average"
                    else getattr(
                        summary,
                        {
                            "SampleCount": "sample_count",
                            "Sum": "sum",
                            "Minimum": "minimum",
                            "Maximum": "maximum",
                        }[name],  # fmt: skip
                    )
                )
            values = {n: compute(s, grouped[timestamp]) for n, s in parsed.items()}
            if extended:
                point["ExtendedStatistics"] = {n: v for n, v in values.items() if v is not None}
            points.append(point)
        return {"Label": stat.metric_name, "Datapoints": points}

    def _single_unit(self, region: str, stat: MetricStat, start: float, end: float) -> str:
        units = set(self.store.units(region, metricquery.metric_id(stat), start, end))
        only = next(iter(units)) if len(units) == 1 else None
        return only or "None"

    def list_metrics(self, request: ApiRequest, p: dict[str, Any]) -> dict[str, Any]:
        now = time.time()
        horizon = now - (RECENT if p.get("RecentlyActive") == "PT3H" else LIST_HORIZON)
        wanted = [(d.get("Name"), d.get("Value")) for d in p.get("Dimensions") or []]
        listed = []
        for entry in self.store.metrics(request.region, p.get("Namespace"), p.get("MetricName")):
            if entry.last_put < horizon:
                continue
            dims = dict(entry.metric.dimensions)
            if all(n in dims and (v is None or dims[n] == v) for n, v in wanted):
                listed.append(entry.metric)
        offset = _offset(p.get("NextToken"))
        page = listed[offset : offset + LIST_PAGE]
        result: dict[str, Any] = {
            "Metrics": [
                {
                    "Namespace": m.namespace,
                    "MetricName": m.name,
                    "Dimensions": [{"Name": n, "Value": v} for n, v in m.dimensions],
                }
                for m in page
            ]
        }
        if offset + LIST_PAGE < len(listed):
            result["NextToken"] = _token(offset + LIST_PAGE)
        return result

    def get_metric_data(self, request: ApiRequest, p: dict[str, Any]) -> dict[str, Any]:
        now = time.time()
        queries = [_query(q) for q in p.get("MetricDataQueries") or []]
        start, end = epoch(p["StartTime"]), epoch(p["EndTime"])
        if start >= end:
            raise InvalidParameterValue(
                "The parameter StartTime must be less than the parameter EndTime."
            )
        periods = [q.metric_stat.period for q in queries if q.metric_stat] or [60]
        rounded = round_start_time(start, now, min(periods))
        results = metricquery.answer(
            self.store, request.region, queries, rounded, int(math.ceil(end)), now
        )
        descending = p.get("ScanBy", "TimestampDescending") != "TimestampAscending"
        limit = int(p.get("MaxDatapoints") or MAX_DATAPOINTS)
        page, token = _paginate(results, queries, _offset(p.get("NextToken")), limit, descending)
        out: dict[str, Any] = {"MetricDataResults": page, "Messages": []}
        if token is not None:
            out["NextToken"] = token
        return out

    def describe_alarm_history(self, request: ApiRequest, p: dict[str, Any]) -> dict[str, Any]:
        types = p.get("AlarmTypes") or ["MetricAlarm"]
        kind = p.get("HistoryItemType")
        start = epoch(p["StartDate"]) if p.get("StartDate") else 0.0
        end = epoch(p["EndDate"]) if p.get("EndDate") else math.inf
        ascending = p.get("ScanBy") == "TimestampAscending"
        items = [
            item
            for item in self.store.history(
                request.region, p.get("AlarmName"), start, end, ascending
            )
            if item["AlarmType"] in types and (kind is None or item["HistoryItemType"] == kind)
        ]
        size = int(p.get("MaxRecords") or 100)
        if not 1 <= size <= 100:
            raise InvalidParameterValue("The parameter MaxRecords must be between 1 and 100.")
        offset = _offset(p.get("NextToken"))
        page = items[offset : offset + size]
        for item in page:
            item["Timestamp"] = _when(float(str(item["Timestamp"])))
        result: dict[str, Any] = {"AlarmHistoryItems": page}
        if offset + size < len(items):
            result["NextToken"] = _token(offset + size)
        return result


def _query(raw: dict[str, Any]) -> MetricQuery:
    stat = raw.get("MetricStat")
    metric_stat = None
    if stat is not None:
        metric = stat.get("Metric") or {}
        metric_stat = MetricStat(
            str(metric.get("Namespace") or ""),
            str(metric.get("MetricName") or ""),
            _dimensions(metric.get("Dimensions"), "MetricStat.Metric"),
            int(stat.get("Period") or 0),
            str(stat.get("Stat") or ""),
            stat.get("Unit"),
        )
    return MetricQuery(
        id=str(raw.get("Id") or ""),
        metric_stat=metric_stat,
        expression=raw.get("Expression"),
        label=raw.get("Label"),
        return_data=raw.get("ReturnData", True) is not False,
        period=int(raw["Period"]) if raw.get("Period") else None,
    )


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def _offset(token: str | None) -> int:
    if not token:
        return 0
    try:
        offset = json.loads(base64.urlsafe_b64decode(token.encode()))["offset"]
        if isinstance(offset, int) and offset >= 0:
            return offset
    except (ValueError, KeyError, TypeError):
        pass
    raise InvalidParameterValue(f"The value {token} for parameter NextToken is invalid.")


def _paginate(
    results: list[MetricDataResult],
    queries: list[MetricQuery],
    offset: int,
    limit: int,
    descending: bool,
) -> tuple[list[dict[str, object]], str | None]:
    """Cut the answer at ``limit`` datapoints after skipping ``offset`` of them.

    Points are counted in answer order (result by result, each in ScanBy order); a result
    cut short is PartialData and NextToken resumes where it stopped. Math results are
    complete or absent ("NextToken is not returned if you are performing a math
    expression"): a request with expressions is answered whole.
    """
    if any(q.expression is not None for q in queries):
        return [_wire(r, descending) for r in results], None
    page: list[dict[str, object]] = []
    skip, room = offset, limit
    for result in results:
        times = sorted(result.points, reverse=descending)
        if times and skip >= len(times):
            skip -= len(times)  # answered on an earlier page
            continue
        kept = times[skip : skip + room]
        skip = 0
        room -= len(kept)
        cut = MetricDataResult(result.id, result.label, {t: result.points[t] for t in kept},
                               result.status_code, result.messages)  # fmt: skip
        done = kept[-1] == times[-1] if kept else not times
        page.append(_wire(cut if done else partial(cut), descending))
        if room <= 0:
            total = sum(len(r.points) for r in results)
            consumed = offset + limit
            return page, (_token(consumed) if consumed < total else None)
    return page, None


def _wire(result: MetricDataResult, descending: bool) -> dict[str, object]:
    out = result.to_wire(descending)
    out["Timestamps"] = [
        _when(t) for t in result.points and sorted(result.points, reverse=descending)
    ]
    return out
