"""The operation a REST request calls (``PUT /bucket/key`` is S3's PutObject), from botocore.

The gateway names a REST request by its method and path; AWS's REST APIs name the
operation by its HTTP binding, which botocore's model holds as ``requestUri`` templates:
``/{Bucket}/{Key+}?acl`` (a ``+`` label takes slashes, a query word after ``?`` must be
present). The binding with the most literal parts that matches wins, so
``GET /experiments/abc`` is FIS's GetExperiment and ``PUT /b/k?acl`` S3's PutObjectAcl,
not PutObject. Used where an operation must be named: FIS's routes and faults that name
operations.
"""

from __future__ import annotations

import functools
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from opslib.emulator.core.apimodel import service_model

_LABEL_RE = re.compile(r"\{([A-Za-z0-9_]+)(\+?)\}")


@dataclass(frozen=True)
class Binding:
    """One operation's HTTP binding, compiled."""

    operation: str
    method: str
    pattern: re.Pattern[str]
    query: frozenset[str]  # query words the binding requires (``?acl``, ``?uploads``)
    headers: frozenset[str]  # headers its required input members travel in (CopyObject's)
    weight: int  # literal characters: more specific bindings win


@dataclass(frozen=True)
class RestCall:
    """A REST request named: its operation and the path labels' values."""

    operation: str
    labels: dict[str, str]


@functools.cache
def bindings(signing_name: str) -> tuple[Binding, ...]:
    """Every operation binding of a REST service (empty for other protocols)."""
    model = service_model(signing_name)
    if model is None or not str(model.metadata.get("protocol", "")).startswith("rest"):
        return ()
    found = []
    for name in model.operation_names:
        operation = model.operation_model(name)
        http = operation.http
        path, _, query = str(http["requestUri"]).partition("?")
        headers = _required(operation.input_shape, "header")
        words = _required(operation.input_shape, "querystring", lower=False)
        found.append(
            Binding(
                operation=name,
                method=str(http["method"]).upper(),
                pattern=_compile(path),
                query=frozenset(w.split("=")[0] for w in query.split("&") if w) | words,
                headers=headers,
                weight=len(_LABEL_RE.sub("", path)) + 10 * (len(query) + len(words) + len(headers)),
            )
        )
    return tuple(sorted(found, key=lambda b: -b.weight))


def _required(shape: Any, location: str, lower: bool = True) -> frozenset[str]:
    """The wire names of the required input members sent in ``location`` (header, query)."""
    if shape is None:
        return frozenset()
    required = set(shape.metadata.get("required", ()))
    names = (
        str(member.serialization["name"])
        for name, member in shape.members.items()
        if name in required and member.serialization.get("location") == location
    )
    return frozenset(n.lower() if lower else n for n in names)


def _compile(path: str) -> re.Pattern[str]:
    parts, last = [], 0
    for match in _LABEL_RE.finditer(path):
        parts.append(re.escape(path[last : match.start()]))
        body = ".+" if match.group(2) else "[^/]+"
        parts.append(f"(?P<{match.group(1)}>{body})")
        last = match.end()
    parts.append(re.escape(path[last:]))
    pattern = "".join(parts).rstrip("/") or "/"
    return re.compile(f"^{pattern}/?$")


def rest_call(
    signing_name: str,
    method: str,
    path: str,
    query_string: str = "",
    headers: Mapping[str, str] | None = None,
) -> RestCall | None:
    """The operation ``method path?query`` calls in a REST service, or None.

    Required members sent as headers or query words tell apart bindings with one path:
    S3's CopyObject is PutObject's binding with ``x-amz-copy-source``, UploadPart with
    ``partNumber`` and ``uploadId``.
    """
    words = set(urllib.parse.parse_qs(query_string, keep_blank_values=True))
    present = {h.lower() for h in headers or {}}
    for binding in bindings(signing_name):
        if binding.method != method.upper() or not binding.query <= words:
            continue
        if not binding.headers <= present:
            continue
        match = binding.pattern.match(path)
        if match:
            labels = {k: urllib.parse.unquote(v) for k, v in match.groupdict().items()}
            return RestCall(binding.operation, labels)
    return None


def rest_json_operation(
    signing_name: str, method: str, path: str, query_string: str = ""
) -> str | None:
    """The operation a REST-JSON request names (``POST /schedules/nightly`` is Scheduler's
    CreateSchedule); None for REST-XML, whose requests keep their ``PUT /bucket/key``
    names, and for a path no operation of the service has."""
    model = service_model(signing_name)
    if model is None or model.metadata.get("protocol") != "rest-json":
        return None
    call = rest_call(signing_name, method, path, query_string)
    return call.operation if call else None
