"""CloudWatch Logs served by the emulator over its own store (:mod:`.logstore`).

Every Logs operation the project calls is answered here, none by moto: log groups (tags,
KMS key, class, retention that really deletes), streams, PutLogEvents with AWS's
rejection rules, the reads (:mod:`.logreads`), metric filters that publish datapoints
(:mod:`.metricfilters`), Logs Insights (:mod:`.logqueries`) and resource policies.
Operations of the Logs API the emulator does not serve answer InvalidOperationException
naming themselves, rather than reaching moto's backend, which is no longer persisted.

The store is durable on its own, so the gateway snapshots nothing after a Logs write
(``store.OWN_STORES``). EventBridge's deliveries to a log-group target land here too:
moto's events backend hands them to :meth:`LogService.deliver_event` (``motofixes``).

Retention: a group's events older than its retention are deleted by a sweep every
:data:`SWEEP_SECONDS` and at start, and reads never show them in between (AWS deletes
lazily, up to days late; the emulator is stricter, which no client can tell apart from a
prompt AWS).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any

import botocore.session

from opslib.emulator.cloudwatch import logqueries, logreads, metricfilters
from opslib.emulator.cloudwatch.logapi import (
    DAY_MS,
    already_exists,
    decode_token,
    encode_token,
    find_group,
    find_stream,
    group_arn,
    group_name_from_arn,
    invalid,
    not_found,
    now_ms,
    optional_int,
    params,
    required,
)
from opslib.emulator.cloudwatch.logstore import Group, LogStore, NewEvent
from opslib.emulator.core.gateway import ApiException, ApiRequest, ApiResponse
from opslib.emulator.core.runtime import Runtime

logger = logging.getLogger(__name__)

SWEEP_SECONDS = 60.0
MAX_PAST_MS = 14 * DAY_MS  # PutLogEvents rejects events older than 14 days ...
MAX_FUTURE_MS = 2 * 3600 * 1000  # ... or more than 2 hours ahead
MAX_RESOURCE_POLICIES = 10  # per account and region
Handler = Callable[[ApiRequest, dict[str, Any]], Any]


class LogService:
    """The Logs API over a :class:`LogStore`; ``register`` puts it on the gateway."""

    def __init__(self, runtime: Runtime, store: LogStore) -> None:
        self.runtime = runtime
        self.store = store
        self.filters = metricfilters.MetricFilters(runtime, store)
        self.queries = logqueries.Queries(store, self.visible_from)
        self._sweeper = threading.Thread(target=self._sweep_loop, daemon=True, name="logs-sweep")

    def register(self) -> None:
        handlers: dict[str, Handler] = {
            "CreateLogGroup": self.create_log_group,
            "DeleteLogGroup": self.delete_log_group,
            "DescribeLogGroups": self.describe_log_groups,
            "PutRetentionPolicy": self.put_retention_policy,
            "DeleteRetentionPolicy": self.delete_retention_policy,
            "TagResource": self.tag_resource,
            "UntagResource": self.untag_resource,
            "ListTagsForResource": self.list_tags_for_resource,
            "TagLogGroup": self.tag_log_group,
            "UntagLogGroup": self.untag_log_group,
            "ListTagsLogGroup": self.list_tags_log_group,
            "CreateLogStream": self.create_log_stream,
            "DeleteLogStream": self.delete_log_stream,
            "DescribeLogStreams": self.describe_log_streams,
            "PutLogEvents": self.put_log_events,
            "GetLogEvents": lambda r, p: logreads.get_log_events(
                self.store, self.visible_from, r, p
            ),
            "FilterLogEvents": lambda r, p: logreads.filter_log_events(
                self.store, self.visible_from, r, p
            ),
            "PutResourcePolicy": self.put_resource_policy,
            "DescribeResourcePolicies": self.describe_resource_policies,
            "DeleteResourcePolicy": self.delete_resource_policy,
            **self.filters.handlers(),
            **self.queries.handlers(),
        }
        model = botocore.session.get_session().get_service_model("logs")
        for operation in model.operation_names:
            handler = handlers.get(operation, _unsupported(operation))
            self.runtime.gateway.handle("logs", operation, _answer(handler))

    def start(self) -> None:
        """Begin the retention sweep and run queries left unfinished by the last stop."""
        self.sweep()
        self.queries.recover()
        self._sweeper.start()

    def shutdown(self) -> None:
        self.queries.shutdown()

    # --- retention ---------------------------------------------------------------------

    def visible_from(self, group: Group) -> int:
        """The oldest timestamp a read may show: retention hides what the sweep will delete."""
        return now_ms() - group.retention * DAY_MS if group.retention else 0

    def sweep(self) -> int:
        deleted = 0
        for group in self.store.retained_groups():
            deleted += self.store.expire(group.gid, self.visible_from(group))
        if deleted:
            logger.info("retention deleted %d log event(s)", deleted)
        return deleted

    def _sweep_loop(self) -> None:
        while not self.runtime.stopping.wait(SWEEP_SECONDS):
            try:
                self.sweep()
            except Exception:
                logger.exception("retention sweep failed")

    # --- groups ------------------------------------------------------------------------

    def create_log_group(self, request: ApiRequest, values: dict[str, Any]) -> Any:
        name = required(values, "logGroupName")
        tags = values.get("tags") or {}
        created = self.store.create_group(
            request.account_id,
            request.region,
            name,
            now_ms(),
            kms_key=values.get("kmsKeyId"),
            group_class=values.get("logGroupClass") or "STANDARD",
            tags=tags,
        )
        if not created:
            raise already_exists("The specified log group already exists")
        return {}

    def delete_log_group(self, request: ApiRequest, values: dict[str, Any]) -> Any:
        group = find_group(self.store, request, values)
        self.store.delete_group(group.gid)
        return {}

    def describe_log_groups(self, request: ApiRequest, values: dict[str, Any]) -> Any:
        prefix, pattern = values.get("logGroupNamePrefix"), values.get("logGroupNamePattern")
        if prefix and pattern:
            raise invalid("LogGroup name prefix and LogGroup name pattern are mutually exclusive")
        limit = optional_int(values, "limit", 50, 1, 50)
        after = str(decode_token(values["nextToken"])["after"]) if values.get("nextToken") else ""
        groups = self.store.groups(request.account_id, request.region, prefix or "", after)
        if pattern:
            groups = [g for g in groups if pattern.lower() in g.name.lower()]
        if values.get("logGroupClass"):
            groups = [g for g in groups if g.group_class == values["logGroupClass"]]
        counts = self.store.filter_counts()
        page = groups[:limit]
        answer: dict[str, Any] = {"logGroups": [_group_view(g, counts) for g in page]}
        if len(groups) > limit:
            answer["nextToken"] = encode_token({"after": page[-1].name})
        return answer

    def put_retention_policy(self, request: ApiRequest, values: dict[str, Any]) -> Any:
        group = find_group(self.store, request, values)
        days = required(values, "retentionInDays", int)
        from opslib.config import LOG_RETENTION_DAYS  # here: the server needs no config to start

        if days not in LOG_RETENTION_DAYS:  # limits.py answers first; this guards internal use
            raise invalid(f"Invalid retentionInDays: {days}")
        self.store.set_retention(group.gid, days)
        self.store.expire(group.gid, now_ms() - days * DAY_MS)
        return {}

    def delete_retention_policy(self, request: ApiRequest, values: dict[str, Any]) -> Any:
        group = find_group(self.store, request, values)
        self.store.set_retention(group.gid, None)
        return {}

    # --- tags --------------------------------------------------------------------------

    def _tagged(self, request: ApiRequest, arn: str) -> Group:
        name = group_name_from_arn(arn)
        if name is None:
            raise invalid(f"Invalid resource ARN: {arn}")
        group = self.store.group(request.account_id, request.region, name)
        if group is None:
            raise not_found()
        return group

    def tag_resource(self, request: ApiRequest, values: dict[str, Any]) -> Any:
        group = self._tagged(request, required(values, "resourceArn"))
        self.store.set_tags(group.gid, {**group.tags, **required(values, "tags", dict)})
        return {}

    def untag_resource(self, request: ApiRequest, values: dict[str, Any]) -> Any:
        group = self._tagged(request, required(values, "resourceArn"))
        keys = set(required(values, "tagKeys", list))
        self.store.set_tags(group.gid, {k: v for k, v in group.tags.items() if k not in keys})
        return {}

    def list_tags_for_resource(self, request: ApiRequest, values: dict[str, Any]) -> Any:
        return {"tags": self._tagged(request, required(values, "resourceArn")).tags}

    def tag_log_group(self, request: ApiRequest, values: dict[str, Any]) -> Any:
        group = find_group(self.store, request, values)
        self.store.set_tags(group.gid, {**group.tags, **required(values, "tags", dict)})
        return {}

    def untag_log_group(self, request: ApiRequest, values: dict[str, Any]) -> Any:
        group = find_group(self.store, request, values)
        keys = set(required(values, "tags", list))
        self.store.set_tags(group.gid, {k: v for k, v in group.tags.items() if k not in keys})
        return {}

    def list_tags_log_group(self, request: ApiRequest, values: dict[str, Any]) -> Any:
        return {"tags": find_group(self.store, request, values).tags}

    # --- streams -----------------------------------------------------------------------

    def create_log_stream(self, request: ApiRequest, values: dict[str, Any]) -> Any:
        group = find_group(self.store, request, values)
        name = required(values, "logStreamName")
        if not self.store.create_stream(group.gid, name, now_ms()):
            raise already_exists("The specified log stream already exists")
        return {}

    def delete_log_stream(self, request: ApiRequest, values: dict[str, Any]) -> Any:
        group = find_group(self.store, request, values)
        self.store.delete_stream(find_stream(self.store, group, required(values, "logStreamName")))
        return {}

    def describe_log_streams(self, request: ApiRequest, values: dict[str, Any]) -> Any:
        group = find_group(self.store, request, values)
        order = values.get("orderBy", "LogStreamName")
        prefix = values.get("logStreamNamePrefix") or ""
        if order not in ("LogStreamName", "LastEventTime"):
            raise invalid(f"Invalid orderBy: {order} (LogStreamName or LastEventTime)")
        if order == "LastEventTime" and prefix:
            raise invalid("Cannot order by LastEventTime with a logStreamNamePrefix.")
        limit = optional_int(values, "limit", 50, 1, 50)
        offset = int(decode_token(values["nextToken"])["offset"]) if values.get("nextToken") else 0
        streams = self.store.streams(group.gid, prefix)
        if order == "LastEventTime":
            streams.sort(key=lambda s: (s.last_ts or 0, s.name))
        if values.get("descending"):
            streams.reverse()
        page = streams[offset : offset + limit]
        answer: dict[str, Any] = {"logStreams": [_stream_view(group, s) for s in page]}
        if offset + limit < len(streams):
            answer["nextToken"] = encode_token({"offset": offset + limit})
        return answer

    # --- events ------------------------------------------------------------------------

    def put_log_events(self, request: ApiRequest, values: dict[str, Any]) -> Any:
        group = find_group(self.store, request, values)
        stream = find_stream(self.store, group, required(values, "logStreamName"))
        events = _input_events(required(values, "logEvents", list))
        accepted, rejected = _accept(events, now_ms(), group.retention)
        ingestion = now_ms()
        self.store.append(stream, accepted, ingestion)
        self.filters.on_events(group, accepted)
        answer: dict[str, Any] = {"nextSequenceToken": f"{ingestion:056d}"}
        if rejected:
            answer["rejectedLogEventsInfo"] = rejected
        return answer

    def deliver_event(self, account: str, region: str, group_name: str, message: str) -> bool:
        """An EventBridge rule's delivery to a log-group target: a stream per event, as AWS.

        False when the group does not exist (AWS counts a FailedInvocation and moves on).
        """
        import uuid

        group = self.store.group(account, region, group_name)
        if group is None:
            logger.warning("EventBridge target log group %s does not exist", group_name)
            return False
        name = str(uuid.uuid4())
        stamp = now_ms()
        self.store.create_stream(group.gid, name, stamp)
        stream = self.store.stream(group.gid, name)
        assert stream is not None
        self.store.append(stream, [(stamp, message)], stamp)
        self.filters.on_events(group, [(stamp, message)])
        return True

    # --- resource policies -------------------------------------------------------------

    def put_resource_policy(self, request: ApiRequest, values: dict[str, Any]) -> Any:
        name = required(values, "policyName")
        document = required(values, "policyDocument")
        try:
            json.loads(document)
        except ValueError as exc:
            raise invalid(f"Invalid policyDocument: not JSON ({exc})") from exc
        existing = self.store.policies(request.account_id, request.region)
        if len(existing) >= MAX_RESOURCE_POLICIES and name not in {
            p["policyName"] for p in existing
        }:
            raise ApiException("LimitExceededException", "Resource limit exceeded.")
        policy = {"policyName": name, "policyDocument": document, "lastUpdatedTime": now_ms()}
        self.store.put_policy(request.account_id, request.region, name, policy)
        return {"resourcePolicy": policy}

    def describe_resource_policies(self, request: ApiRequest, values: dict[str, Any]) -> Any:
        return {"resourcePolicies": self.store.policies(request.account_id, request.region)}

    def delete_resource_policy(self, request: ApiRequest, values: dict[str, Any]) -> Any:
        name = required(values, "policyName")
        if not self.store.delete_policy(request.account_id, request.region, name):
            raise not_found(f"Policy with name [{name}] does not exist")
        return {}


def _answer(handler: Handler) -> Callable[[ApiRequest], ApiResponse]:
    def answer(request: ApiRequest) -> ApiResponse:
        return ApiResponse.json(handler(request, params(request)))

    return answer


def _unsupported(operation: str) -> Handler:
    def refuse(request: ApiRequest, values: dict[str, Any]) -> Any:
        raise ApiException(
            "InvalidOperationException", f"The emulator does not implement logs {operation}"
        )

    return refuse


def _group_view(group: Group, filter_counts: dict[int, int]) -> dict[str, Any]:
    """A LogGroup as DescribeLogGroups shows it (``arn`` ends with ``:*``)."""
    arn = group_arn(group)
    view: dict[str, Any] = {
        "logGroupName": group.name,
        "creationTime": group.created,
        "metricFilterCount": filter_counts.get(group.gid, 0),
        "arn": f"{arn}:*",
        "storedBytes": group.stored_bytes,
        "logGroupClass": group.group_class,
        "logGroupArn": arn,
    }
    if group.retention:
        view["retentionInDays"] = group.retention
    if group.kms_key:
        view["kmsKeyId"] = group.kms_key
    return view


def _stream_view(group: Group, stream: Any) -> dict[str, Any]:
    view: dict[str, Any] = {
        "logStreamName": stream.name,
        "creationTime": stream.created,
        "arn": f"{group_arn(group)}:log-stream:{stream.name}",
        "storedBytes": 0,  # AWS: no longer supported for streams, always zero
    }
    for key, value in (
        ("firstEventTimestamp", stream.first_ts),
        ("lastEventTimestamp", stream.last_ts),
        ("lastIngestionTime", stream.last_ingest),
    ):
        if value is not None:
            view[key] = value
    return view


def _input_events(raw: list[Any]) -> list[NewEvent]:
    events: list[NewEvent] = []
    for index, event in enumerate(raw):
        if not isinstance(event, dict):
            raise invalid(f"logEvents[{index}] must be an object with timestamp and message")
        stamp, message = event.get("timestamp"), event.get("message")
        if isinstance(stamp, bool) or not isinstance(stamp, int) or not isinstance(message, str):
            raise invalid(f"logEvents[{index}] needs an integer timestamp and a string message")
        if not message:
            raise invalid(
                f"1 validation error detected: Value '' at 'logEvents.{index + 1}.member.message'"
                " failed to satisfy constraint: Member must have length greater than or equal to 1"
            )
        events.append((stamp, message))
    if any(later[0] < earlier[0] for earlier, later in zip(events, events[1:], strict=False)):
        raise invalid("Log events in a single PutLogEvents request must be in chronological order.")
    return events


def _accept(
    events: list[NewEvent], now: int, retention: int | None
) -> tuple[list[NewEvent], dict[str, int]]:
    """The events PutLogEvents keeps, and its ``rejectedLogEventsInfo`` (empty if none).

    Events are in order, so the too-old ones lead and the too-new ones trail: AWS answers
    the index ranges, ``tooOldLogEventEndIndex`` and ``expiredLogEventEndIndex``
    exclusive, ``tooNewLogEventStartIndex`` inclusive.
    """
    too_old = sum(1 for stamp, _ in events if stamp < now - MAX_PAST_MS)
    expired_before = now - retention * DAY_MS if retention else None
    expired = sum(1 for stamp, _ in events if stamp < expired_before) if expired_before else too_old
    too_new = next((i for i, (stamp, _) in enumerate(events) if stamp > now + MAX_FUTURE_MS), None)
    start, end = max(too_old, expired), len(events) if too_new is None else too_new
    rejected: dict[str, int] = {}
    if too_old:
        rejected["tooOldLogEventEndIndex"] = too_old
    if expired > too_old:
        rejected["expiredLogEventEndIndex"] = expired
    if too_new is not None:
        rejected["tooNewLogEventStartIndex"] = too_new
    return events[start : max(start, end)], rejected
