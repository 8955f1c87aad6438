"""The fault switch from outside the emulator: add, list and clear faults over HTTP.

What ``opslib emulator fault`` and the drills call (through :mod:`opslib.emulator`). It
speaks to ``/_opslib/faults``, the emulator-only endpoint (not an AWS API), with urllib:
no boto3, no moto, so the CLI stays quick to start.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from opslib.emulator.core.faultspec import Fault, fault_from_record
from opslib.exceptions import ConfigError, EmulatorError

PATH = "/_opslib/faults"
TIMEOUT = 10.0


def _call(endpoint: str, method: str, query: str = "", body: Any = None) -> dict[str, Any]:
    import urllib.error  # here: urllib (http.client, ssl) is most of the CLI's imports
    import urllib.request

    url = f"{endpoint.rstrip('/')}{PATH}{'?' + query if query else ''}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            answer = json.loads(response.read())
    except urllib.error.HTTPError as exc:  # the switch refused: its message names the field
        try:
            message = json.loads(exc.read()).get("error", exc.reason)
        except ValueError:
            message = exc.reason
        raise ConfigError(f"fault: {message}") from exc
    except (OSError, ValueError) as exc:
        raise EmulatorError(f"the emulator at {endpoint} did not answer {PATH}: {exc}") from exc
    return answer if isinstance(answer, dict) else {}


def inject_fault(
    endpoint: str,
    *,
    service: str = "",
    region: str = "",
    error: str = "ServiceUnavailable",
    rate: float = 1.0,
    operations: Sequence[str] = (),
    duration: float | str | None = None,
) -> Fault:
    """Make the emulator at ``endpoint`` answer matching requests with ``error``.

    ``service`` is a SigV4 signing name (``s3``, ``ec2``, ``codebuild``, ``monitoring``);
    give a ``region`` alone for a whole-region outage. ``error`` is ServiceUnavailable
    (503), InternalError (500) or Throttling; ``rate`` the share of requests that fail;
    ``duration`` seconds or e.g. ``"5m"`` (None: until cleared). Emulator-only.
    """
    body = {
        "service": service,
        "region": region,
        "error": error,
        "rate": rate,
        "operations": list(operations),
        "duration": duration,
    }
    return fault_from_record(_call(endpoint, "POST", body=body)["fault"])


def list_faults(endpoint: str) -> list[Fault]:
    """The faults in force (the fault switch's and FIS experiments' alike)."""
    return [fault_from_record(doc) for doc in _call(endpoint, "GET").get("faults", [])]


def clear_faults(endpoint: str, fault_id: str = "") -> list[Fault]:
    """Remove one fault by id, or every fault; returns what was removed."""
    query = f"id={fault_id}" if fault_id else ""
    return [fault_from_record(doc) for doc in _call(endpoint, "DELETE", query).get("cleared", [])]
