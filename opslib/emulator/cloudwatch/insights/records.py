"""One log event as a query sees it: system fields, discovered JSON fields, computed ones.

JSON discovery is lazy: the message is decoded the first time a query reads a field that
is not a system field, so ``stats count(*) by bin(1h)`` never decodes anything. Nested
objects flatten with dots and arrays with indexes (``a.items.0.id``), at most 1000
fields per event as the guide says; a discovered name starting with ``@`` gets one more
``@``. JSON booleans read as the text ``true``/``false``, JSON null as no value, and
floats keep their logged text (``0.123456``, not a re-rounded number).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any, NotRequired, TypedDict

from opslib.emulator.cloudwatch.insights.values import Timestamp

MAX_DISCOVERED_FIELDS = 1000
# Floats keep their logged text (0.123456 prints as logged); integers are exact anyway.
_DECODER = json.JSONDecoder(parse_float=str)


class LogEvent(TypedDict):
    """An event to query: the store's view of one PutLogEvents entry."""

    timestamp: int  # epoch milliseconds
    message: str
    logStream: str
    logGroup: str
    ingestionTime: NotRequired[int]
    ptr: NotRequired[str]  # the store's pointer for GetLogRecord; one is made up if absent


def make_pointer(event: LogEvent, index: int) -> str:
    """A stable opaque @ptr for an event that did not bring its own."""
    raw = f"{event['logGroup']}\n{event['logStream']}\n{event['timestamp']}\n{index}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


class Record:
    """Field access for one event (or one stats row) during a query."""

    __slots__ = ("_event", "_account", "_values", "_discovered", "_index")

    def __init__(
        self, event: LogEvent | None, account: str, values: dict[str, Any], index: int = -1
    ) -> None:
        self._event = event
        self._account = account
        self._values = values
        self._discovered = event is None
        self._index = index

    @classmethod
    def row(cls, values: dict[str, Any]) -> Record:
        """A stats result row: only the values given, nothing to discover."""
        return cls(None, "", values)

    def pointer(self) -> str | None:
        """The event's @ptr; None for a stats row."""
        if self._event is None:
            return None
        return self._event.get("ptr") or make_pointer(self._event, self._index)

    def set(self, name: str, value: Any) -> None:
        self._values[name] = value

    def get(self, name: str) -> Any:
        values = self._values
        if name in values:
            return values[name]
        event = self._event
        if event is None:
            return None
        system = SYSTEM_FIELDS.get(name)
        if system is not None:
            return system(event, self._account)
        if not self._discovered:
            self._discovered = True
            for key, value in discover_json(event["message"]).items():
                values.setdefault(key, value)
            return values.get(name)
        return None


SYSTEM_FIELDS: dict[str, Callable[[LogEvent, str], Any]] = {
    "@timestamp": lambda event, account: Timestamp(event["timestamp"]),
    "@message": lambda event, account: event["message"],
    "@logStream": lambda event, account: event["logStream"],
    "@log": lambda event, account: f"{account}:{event['logGroup']}",
    "@ingestionTime": lambda event, account: Timestamp(
        event.get("ingestionTime", event["timestamp"])
    ),
}


def discover_json(message: str) -> dict[str, Any]:
    """The fields CloudWatch Logs Insights discovers in a JSON-object message."""
    if not message.lstrip().startswith("{"):
        return {}
    try:
        doc = _DECODER.decode(message)
    except ValueError:
        return {}
    fields: dict[str, Any] = {}
    if isinstance(doc, dict):
        _flatten(doc, "", fields)
    return fields


def _flatten(node: Any, prefix: str, fields: dict[str, Any]) -> None:
    items = node.items() if type(node) is dict else enumerate(node)
    for key, value in items:
        if len(fields) >= MAX_DISCOVERED_FIELDS:
            return
        name = f"{prefix}{key}" if prefix else _top_name(str(key))
        kind = type(value)
        if kind is dict or kind is list:
            _flatten(value, name + ".", fields)
        elif kind is bool:
            fields[name] = "true" if value else "false"
        elif value is not None:
            fields[name] = value


def _top_name(key: str) -> str:
    """A discovered name that starts with @ gets one more, to stay apart from @message."""
    return "@" + key if key.startswith("@") else key
