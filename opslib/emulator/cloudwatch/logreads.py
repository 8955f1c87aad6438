"""GetLogEvents and FilterLogEvents over the store, paged and tokened the way AWS does.

GetLogEvents pages one stream in (timestamp, ingestion) order. Its tokens are positions:
``f/<key>/s`` reads the events after the key, ``b/<key>/s`` the ones before it, both
answered in ascending order; the key is the event's timestamp and ingestion number as
one 40-digit string, the shape of AWS's ``f/3758...`` tokens. At the end of the stream
the forward token comes back unchanged, which is how AWS tells a follower to stop.
Without a token, ``startFromHead`` reads from the oldest event, otherwise the newest
page. A page holds at most ``limit`` events (default 10,000) and 1 MB.

FilterLogEvents reads a group's events (all streams, the named ones or a prefix) in
AWS's order, keeping those the filter pattern matches (:mod:`.patterns`). A page ends
at ``limit`` events, 1 MB, or after :data:`SCAN_BUDGET` events scanned: as on AWS, a
page may be short or empty while a ``nextToken`` says there is more.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from opslib.emulator.cloudwatch.logapi import (
    decode_token,
    encode_token,
    find_group,
    find_stream,
    invalid,
    optional_int,
    required,
)
from opslib.emulator.cloudwatch.logstore import Event, Group, Key, LogStore
from opslib.emulator.cloudwatch.patterns import FilterPatternError, parse_filter_pattern
from opslib.emulator.core.gateway import ApiRequest
from opslib.emulator.core.limits import EVENT_OVERHEAD

MAX_PAGE_BYTES = 1_048_576
MAX_LIMIT = 10_000
SCAN_BUDGET = 200_000  # events one FilterLogEvents page may look at
FOREVER = 2**62
VisibleFrom = Callable[[Group], int]  # the oldest timestamp retention lets a read show
_TOKEN = re.compile(r"^([fb])/(\d{20})(\d{20})/s$")


def _token(direction: str, key: Key) -> str:
    return f"{direction}/{key[0]:020d}{key[1]:020d}/s"


def _parse_token(token: str) -> tuple[bool, Key]:
    match = _TOKEN.match(token)
    if match is None:
        raise invalid("The specified nextToken is invalid.")
    return match.group(1) == "f", (int(match.group(2)), int(match.group(3)))


def _within_bytes(events: list[Event], from_end: bool) -> list[Event]:
    """The longest run of ``events`` (from the start, or the end) within 1 MB."""
    total, kept = 0, 0
    for event in reversed(events) if from_end else events:
        total += len(event.message.encode("utf-8")) + EVENT_OVERHEAD
        if total > MAX_PAGE_BYTES and kept:
            break
        kept += 1
    return events[len(events) - kept :] if from_end else events[:kept]


def _time_range(visible_from: VisibleFrom, group: Group, values: dict[str, Any]) -> tuple[int, int]:
    start = values.get("startTime") or 0
    end = values.get("endTime") or FOREVER
    if not isinstance(start, int) or not isinstance(end, int):
        raise invalid("startTime and endTime must be epoch milliseconds")
    if end < start:
        raise invalid("endTime must be greater than or equal to startTime")
    return max(start, visible_from(group)), end


def get_log_events(
    store: LogStore, visible_from: VisibleFrom, request: ApiRequest, values: dict[str, Any]
) -> Any:
    group = find_group(store, request, values)
    stream = find_stream(store, group, required(values, "logStreamName"))
    start, end = _time_range(visible_from, group, values)
    limit = optional_int(values, "limit", MAX_LIMIT, 1, MAX_LIMIT)
    token = values.get("nextToken")
    if token:
        forward, bound = _parse_token(token)
    else:
        forward = bool(values.get("startFromHead"))
        bound = (-1, -1) if forward else (FOREVER, FOREVER)
    events = _within_bytes(
        store.stream_page(stream, start, end, bound, forward, limit), not forward
    )
    if events:
        first, last = events[0].key, events[-1].key
        next_forward, next_backward = _token("f", last), _token("b", first)
    elif forward:  # nothing after the bound: the same forward token, a way back from it
        next_forward, next_backward = _token("f", bound), _token("b", (bound[0], bound[1] + 1))
    else:  # nothing before the bound
        next_forward, next_backward = _token("f", (bound[0], bound[1] - 1)), _token("b", bound)
    if token and not events:
        next_forward = token if forward else next_forward
        next_backward = token if not forward else next_backward
    return {
        "events": [
            {"timestamp": e.timestamp, "message": e.message, "ingestionTime": e.ingestion}
            for e in events
        ],
        "nextForwardToken": next_forward,
        "nextBackwardToken": next_backward,
    }


def filter_log_events(
    store: LogStore, visible_from: VisibleFrom, request: ApiRequest, values: dict[str, Any]
) -> Any:
    group = find_group(store, request, values)
    names, prefix = values.get("logStreamNames"), values.get("logStreamNamePrefix")
    if names and prefix:
        raise invalid("logStreamNames and logStreamNamePrefix are mutually exclusive")
    try:
        pattern = parse_filter_pattern(values.get("filterPattern") or "")
    except FilterPatternError as exc:
        raise invalid(exc.message) from exc
    start, end = _time_range(visible_from, group, values)
    limit = optional_int(values, "limit", MAX_LIMIT, 1, MAX_LIMIT)
    streams = store.streams(group.gid, prefix or "")
    if names:
        wanted = set(names)
        streams = [s for s in streams if s.name in wanted]
    sids = [s.sid for s in streams] if (names or prefix) else None
    after: Key = (-1, -1)
    if values.get("nextToken"):
        key = decode_token(values["nextToken"]).get("after")
        if not isinstance(key, list) or len(key) != 2:
            raise invalid("The specified nextToken is invalid.")
        after = (int(key[0]), int(key[1]))
    found, last, done = _filter_page(store.scan(group.gid, start, end, after, sids), pattern, limit)
    answer: dict[str, Any] = {
        "events": [_filtered(e) for e in found],
        "searchedLogStreams": [
            {"logStreamName": s.name, "searchedCompletely": done} for s in streams
        ],
    }
    if not done and last is not None:
        answer["nextToken"] = encode_token({"after": list(last)})
    return answer


def _filter_page(scan: Any, pattern: Any, limit: int) -> tuple[list[Event], Key | None, bool]:
    """The matching events of one page, the key scanned up to, and whether the scan ended."""
    found: list[Event] = []
    size = scanned = 0
    last: Key | None = None
    matches = pattern.matches
    for event in scan:
        scanned += 1
        if matches(event.message):
            size += len(event.message.encode("utf-8")) + EVENT_OVERHEAD
            if found and size > MAX_PAGE_BYTES:
                scan.close()
                return found, last, False
            found.append(event)
        last = event.key
        if len(found) >= limit or scanned >= SCAN_BUDGET:
            scan.close()
            return found, last, False
    return found, last, True


def _filtered(event: Event) -> dict[str, Any]:
    return {
        "logStreamName": event.stream,
        "timestamp": event.timestamp,
        "message": event.message,
        "ingestionTime": event.ingestion,
        "eventId": f"{event.timestamp:020d}{event.eid:020d}",
    }
