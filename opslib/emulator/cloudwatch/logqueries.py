"""Logs Insights: StartQuery, GetQueryResults, StopQuery, DescribeQueries over the store.

StartQuery parses the query at once (a malformed one is MalformedQueryException with
its ``queryCompileError``), records it ``Scheduled`` and hands it to a worker thread of
its own, which marks it ``Running``, streams the groups' events of the time range
(epoch seconds, both ends inclusive) in time order through :func:`.insights.run_query`,
and records ``Complete`` with the rows and statistics, or ``Failed``. StopQuery turns a
query that has not finished ``Cancelled``; the worker notices between events. Queries a
stop interrupted run again at start (the query record is durable, its result is not
there yet). Results stay as long as the state does (AWS keeps them 7 days).
"""

from __future__ import annotations

import heapq
import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from enum import StrEnum
from typing import Any

from opslib.emulator.cloudwatch.insights import (
    LogEvent,
    MalformedQueryError,
    parse_query,
    run_query,
)
from opslib.emulator.cloudwatch.logapi import (
    decode_token,
    encode_token,
    invalid,
    not_found,
    now_ms,
    optional_int,
    required,
)
from opslib.emulator.cloudwatch.logstore import Group, LogStore
from opslib.emulator.core.gateway import ApiException, ApiRequest

logger = logging.getLogger(__name__)

MAX_CONCURRENT = 100  # queries Scheduled or Running per account and region
MAX_GROUPS = 50
Handler = Callable[[ApiRequest, dict[str, Any]], Any]


class QueryStatus(StrEnum):
    """GetQueryResults' statuses the emulator reaches."""

    SCHEDULED = "Scheduled"  # accepted, waiting for the worker
    RUNNING = "Running"  # the worker is reading events
    COMPLETE = "Complete"  # rows and statistics are final
    FAILED = "Failed"  # the run raised (the log says why)
    CANCELLED = "Cancelled"  # StopQuery came first


_ACTIVE = (QueryStatus.SCHEDULED.value, QueryStatus.RUNNING.value)
_EMPTY_STATISTICS = {"recordsMatched": 0.0, "recordsScanned": 0.0, "bytesScanned": 0.0}


class _Cancelled(Exception):
    pass


class Queries:
    """The query records (in the store) and the worker that runs them."""

    def __init__(self, store: LogStore, visible_from: Callable[[Group], int]) -> None:
        self.store = store
        self.visible_from = visible_from
        self._lock = threading.Lock()
        self._cancelled: set[str] = set()
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="insights")

    def handlers(self) -> dict[str, Handler]:
        return {
            "StartQuery": self.start_query,
            "GetQueryResults": self.get_query_results,
            "StopQuery": self.stop_query,
            "DescribeQueries": self.describe_queries,
        }

    def start_query(self, request: ApiRequest, values: dict[str, Any]) -> Any:
        if values.get("queryLanguage", "CWLI") != "CWLI":
            raise invalid("The emulator answers queryLanguage CWLI only (not SQL or PPL)")
        text = required(values, "queryString")
        try:
            query = parse_query(text)
        except MalformedQueryError as exc:
            raise ApiException(
                "MalformedQueryException", exc.message, queryCompileError=exc.query_compile_error()
            ) from exc
        groups = self._groups(request, values)
        start, end = required(values, "startTime", int), required(values, "endTime", int)
        if end < start:
            raise invalid("endTime must be greater than or equal to startTime")
        limit = values.get("limit")
        if limit is not None:
            optional_int(values, "limit", 1, 1, 100_000)
        active = self.store.queries(request.account_id, request.region)
        if sum(q["status"] in _ACTIVE for q in active) >= MAX_CONCURRENT:
            raise ApiException("LimitExceededException", "Resource limit exceeded.")
        qid = str(uuid.uuid4())
        record = {
            "queryId": qid,
            "queryString": text,
            "status": QueryStatus.SCHEDULED.value,
            "createTime": now_ms(),
            "logGroupName": groups[0].name,
            "queryLanguage": "CWLI",
            "_groups": [g.name for g in groups],
            "_range": [start * 1000, (end + 1) * 1000],
            "_limit": limit,
            "_account": request.account_id,
            "_region": request.region,
        }
        del query  # parsed again by the worker: a record is all a restart has
        self.store.put_query(qid, request.account_id, request.region, record)
        self._worker.submit(self._run, qid)
        return {"queryId": qid}

    def _groups(self, request: ApiRequest, values: dict[str, Any]) -> list[Group]:
        given = [
            key
            for key in ("logGroupName", "logGroupNames", "logGroupIdentifiers")
            if values.get(key)
        ]
        if len(given) != 1:
            raise invalid(
                "Exactly one of logGroupName, logGroupNames or logGroupIdentifiers is required."
            )
        names = values[given[0]]
        names = [names] if isinstance(names, str) else list(names)
        if len(names) > MAX_GROUPS:
            raise invalid(f"A query may name at most {MAX_GROUPS} log groups")
        groups = []
        for name in names:
            plain = _plain_name(str(name))
            group = self.store.group(request.account_id, request.region, plain)
            if group is None:
                raise not_found(f"Log group '{plain}' does not exist for account ID"
                                f" '{request.account_id}' (Service: AWSLogs)")  # fmt: skip
            groups.append(group)
        return groups

    def get_query_results(self, request: ApiRequest, values: dict[str, Any]) -> Any:
        record = self._record(required(values, "queryId"))
        return {
            "queryLanguage": "CWLI",
            "results": record.get("_results", []),
            "statistics": record.get("_statistics", _EMPTY_STATISTICS),
            "status": record["status"],
        }

    def stop_query(self, request: ApiRequest, values: dict[str, Any]) -> Any:
        qid = required(values, "queryId")
        with self._lock:
            record = self._record(qid)
            if record["status"] not in _ACTIVE:
                return {"success": False}
            self._cancelled.add(qid)
            record["status"] = QueryStatus.CANCELLED.value
            self.store.put_query(qid, record["_account"], record["_region"], record)
        return {"success": True}

    def describe_queries(self, request: ApiRequest, values: dict[str, Any]) -> Any:
        found = self.store.queries(request.account_id, request.region)
        if values.get("logGroupName"):
            found = [q for q in found if values["logGroupName"] in q["_groups"]]
        if values.get("status"):
            found = [q for q in found if q["status"] == values["status"]]
        limit = optional_int(values, "maxResults", 1000, 1, 1000)
        offset = int(decode_token(values["nextToken"])["offset"]) if values.get("nextToken") else 0
        page = found[offset : offset + limit]
        answer: dict[str, Any] = {"queries": [_info(q) for q in page]}
        if offset + limit < len(found):
            answer["nextToken"] = encode_token({"offset": offset + limit})
        return answer

    def _record(self, qid: str) -> dict[str, Any]:
        record = self.store.query(qid)
        if record is None:
            raise not_found(f"Query does not exist: {qid}")
        return record

    # --- the worker --------------------------------------------------------------------

    def recover(self) -> int:
        """Run again the queries a stop left Scheduled or Running."""
        pending = [q["queryId"] for q in self.store.all_queries() if q["status"] in _ACTIVE]
        for qid in pending:
            self._worker.submit(self._run, qid)
        return len(pending)

    def shutdown(self) -> None:
        with self._lock:
            self._cancelled.update(
                q["queryId"] for q in self.store.all_queries() if q["status"] in _ACTIVE
            )
        self._worker.shutdown(wait=False, cancel_futures=True)

    def _run(self, qid: str) -> None:
        if not self._advance(qid, QueryStatus.RUNNING, {}):
            return
        record = self.store.query(qid)
        assert record is not None
        try:
            result = run_query(
                record["queryString"],
                self._events(qid, record),
                limit=record["_limit"],
                account_id=record["_account"],
            )
        except _Cancelled:
            return
        except Exception:
            logger.exception("Logs Insights query %s failed", qid)
            self._advance(qid, QueryStatus.FAILED, {})
            return
        extra = {"_results": result.results, "_statistics": dict(result.statistics)}
        self._advance(qid, QueryStatus.COMPLETE, extra)

    def _advance(self, qid: str, status: QueryStatus, extra: dict[str, Any]) -> bool:
        """Move the query on unless StopQuery (or a shutdown) came first."""
        with self._lock:
            record = self.store.query(qid)
            if record is None or qid in self._cancelled or record["status"] not in _ACTIVE:
                return False
            record.update(extra, status=status.value)
            self.store.put_query(qid, record["_account"], record["_region"], record)
            return True

    def _events(self, qid: str, record: dict[str, Any]) -> Iterator[LogEvent]:
        """The queried groups' events in time order, stopping when the query is cancelled."""
        start, end = record["_range"]
        scans = []
        for name in record["_groups"]:
            group = self.store.group(record["_account"], record["_region"], name)
            if group is not None:
                since = max(start, self.visible_from(group))
                scans.append(_as_query_events(name, self.store.scan(group.gid, since, end)))
        for count, event in enumerate(heapq.merge(*scans, key=lambda e: e["timestamp"])):
            if count % 10_000 == 0 and qid in self._cancelled:
                raise _Cancelled
            yield event


def _as_query_events(group: str, events: Iterator[Any]) -> Iterator[LogEvent]:
    for event in events:
        yield LogEvent(
            timestamp=event.timestamp,
            message=event.message,
            logStream=event.stream,
            logGroup=group,
            ingestionTime=event.ingestion,
        )


def _plain_name(name: str) -> str:
    """A group name, also from an ARN (logGroupIdentifiers take both)."""
    if name.startswith("arn:"):
        name = name.split(":", 6)[-1]
        return name[:-2] if name.endswith(":*") else name
    return name


def _info(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if not k.startswith("_")}
