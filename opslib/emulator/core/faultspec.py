"""Injected faults, pure: what one fault matches and the AWS error it answers with.

A fault makes matching requests fail the way an AWS outage does: a service, a whole region
or both answer errors, at a rate, for a while. Two kinds share this vocabulary:

- the emulator-only fault switch (``opslib emulator fault add``, ``/_opslib/faults``): not
  an AWS API, it stands for an outage AWS would not let you cause;
- FIS's API fault injection (``aws:fis:inject-api-*-error``), which targets an IAM role:
  only calls signed with that role's credentials fail.

The error is named by its kind and translated into the code the request's protocol uses,
as each service answers it (S3's codes are its own: "SlowDown", "InternalError";
EC2's throttling is "RequestLimitExceeded"; the JSON services' "ThrottlingException").
No moto and no gateway here, so the CLI's client and the unit tables import it cheaply.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from opslib.emulator.core.awserrors import Protocol, WireError


class FaultKind(StrEnum):
    """The failures a fault can answer with (what ``--error`` takes)."""

    SERVICE_UNAVAILABLE = "ServiceUnavailable"  # 503: the endpoint is down
    INTERNAL_ERROR = "InternalError"  # 500: the service failed
    THROTTLING = "Throttling"  # throttled: 400 (JSON, query) or 503 (S3 SlowDown, EC2)


# (code, HTTP status) per kind and protocol. Sources: AWS's common errors
# (https://docs.aws.amazon.com/general/latest/gr/api-retries.html: InternalFailure 500,
# ServiceUnavailable 503, ThrottlingException/Throttling 400), S3's error responses
# (InternalError 500, ServiceUnavailable 503, SlowDown 503 "Please reduce your request
# rate") and EC2's error codes (InternalError 500, Unavailable/ServiceUnavailable 503,
# RequestLimitExceeded 503).
_CODES: dict[FaultKind, dict[Protocol, tuple[str, int]]] = {
    FaultKind.SERVICE_UNAVAILABLE: {
        Protocol.JSON: ("ServiceUnavailable", 503),
        Protocol.REST_JSON: ("ServiceUnavailable", 503),
        Protocol.QUERY: ("ServiceUnavailable", 503),
        Protocol.EC2: ("ServiceUnavailable", 503),
        Protocol.REST_XML: ("ServiceUnavailable", 503),
    },
    FaultKind.INTERNAL_ERROR: {
        Protocol.JSON: ("InternalFailure", 500),
        Protocol.REST_JSON: ("InternalFailure", 500),
        Protocol.QUERY: ("InternalFailure", 500),
        Protocol.EC2: ("InternalError", 500),
        Protocol.REST_XML: ("InternalError", 500),
    },
    FaultKind.THROTTLING: {
        Protocol.JSON: ("ThrottlingException", 400),
        Protocol.REST_JSON: ("ThrottlingException", 400),
        Protocol.QUERY: ("Throttling", 400),
        Protocol.EC2: ("RequestLimitExceeded", 503),
        Protocol.REST_XML: ("SlowDown", 503),
    },
}
_MESSAGES = {
    "ServiceUnavailable": "The request has failed due to a temporary failure of the server.",
    "InternalFailure": "The request processing has failed because of an unknown error.",
    "InternalError": "We encountered an internal error. Please try again.",
    "ThrottlingException": "Rate exceeded",
    "Throttling": "Rate exceeded",
    "RequestLimitExceeded": "Request limit exceeded.",
    "SlowDown": "Please reduce your request rate.",
}
_DURATION_RE = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9.-]*$")


class FaultSpecError(ValueError):
    """A fault given with a bad field; the message names the field and what it takes."""


@dataclass(frozen=True)
class Caller:
    """What a fault can match of one request: where it went and who signed it."""

    service: str  # the SigV4 signing name: s3, ec2, monitoring, ...
    region: str  # from the SigV4 credential scope
    operation: str  # PutObject, DescribeInstances; "" when the gateway cannot name it
    role_arn: str = ""  # the IAM role whose assumed-role credentials signed it, if any


@dataclass(frozen=True)
class Fault:
    """One injected fault. ``service``/``region`` empty means every service/region."""

    id: str
    error: FaultKind
    service: str = ""
    region: str = ""
    operations: tuple[str, ...] = ()  # empty: every operation
    rate: float = 1.0  # the share of matching requests that fail, 0..1
    created: float = field(default_factory=time.time)
    expires: float | None = None  # epoch seconds; None: until cleared
    role_arn: str = ""  # FIS API injection: only this role's calls
    source: str = "emulator"  # "emulator" (the fault switch) or "fis"
    experiment_id: str = ""  # the FIS experiment that injected it

    def expired(self, at: float | None = None) -> bool:
        return self.expires is not None and (time.time() if at is None else at) >= self.expires

    def matches(self, caller: Caller) -> bool:
        """Whether ``caller`` is in this fault's reach (the rate is applied by the caller)."""
        if self.service and self.service != caller.service:
            return False
        if self.region and self.region != caller.region:
            return False
        if self.operations and caller.operation not in self.operations:
            return False
        return not self.role_arn or self.role_arn == caller.role_arn

    def wire_error(self, protocol: Protocol) -> WireError:
        """The error this fault answers in ``protocol``, as the service would."""
        code, status = _CODES[self.error][protocol if protocol in _PROTOCOLS else Protocol.JSON]
        reach = self.service or "every service"
        where = f" in {self.region}" if self.region else ""
        by = "AWS FIS experiment " + self.experiment_id if self.source == "fis" else "fault"
        message = f"{_MESSAGES[code]} (injected {by} {self.id}: {reach}{where})"
        return WireError(code, message, status)

    def to_dict(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["error"] = str(self.error)
        doc["operations"] = list(self.operations)
        return doc


_PROTOCOLS = frozenset(
    {Protocol.JSON, Protocol.REST_JSON, Protocol.QUERY, Protocol.EC2, Protocol.REST_XML}
)


def parse_duration(text: str) -> float:
    """Seconds in ``90s``, ``5m``, ``1h30m`` (the fault switch's ``--duration``)."""
    match = _DURATION_RE.match(text.strip().lower())
    if not text.strip() or match is None:
        raise FaultSpecError(f"duration: expected e.g. 30s, 5m or 1h30m, got {text!r}")
    hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    total = hours * 3600 + minutes * 60 + seconds
    if total <= 0:
        raise FaultSpecError(f"duration: must be longer than 0s, got {text!r}")
    return float(total)


def new_fault(doc: Mapping[str, Any], now: float | None = None) -> Fault:
    """A fault from its request document (``/_opslib/faults`` POST), every field checked."""
    created = time.time() if now is None else now
    error = _kind(doc.get("error", FaultKind.SERVICE_UNAVAILABLE.value))
    service = _name(doc.get("service"), "service")
    region = _name(doc.get("region"), "region")
    if not service and not region:
        raise FaultSpecError("service/region: give a service, a region or both")
    rate = doc.get("rate", 1.0)
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 < rate <= 1:
        raise FaultSpecError(f"rate: expected a number in (0, 1], got {rate!r}")
    duration = doc.get("duration")
    if duration is not None and not isinstance(duration, int | float | str):
        raise FaultSpecError(f"duration: expected seconds or e.g. '5m', got {duration!r}")
    seconds = parse_duration(duration) if isinstance(duration, str) else duration
    if seconds is not None and seconds <= 0:
        raise FaultSpecError(f"duration: must be longer than 0s, got {duration!r}")
    return Fault(
        id=f"fault-{uuid.uuid4().hex[:12]}",
        error=error,
        service=service,
        region=region,
        operations=_operations(doc.get("operations") or ()),
        rate=float(rate),
        created=created,
        expires=created + float(seconds) if seconds is not None else None,
    )


def fault_from_record(doc: Mapping[str, Any]) -> Fault:
    """A stored fault back (records are written by :meth:`Fault.to_dict`)."""
    values = dict(doc)
    values["error"] = FaultKind(values["error"])
    values["operations"] = tuple(values.get("operations") or ())
    return Fault(**values)


def _kind(value: Any) -> FaultKind:
    try:
        return FaultKind(value)
    except ValueError:
        kinds = ", ".join(k.value for k in FaultKind)
        raise FaultSpecError(f"error: expected one of {kinds}, got {value!r}") from None


def _name(value: Any, what: str) -> str:
    if value in (None, "", "*"):
        return ""
    if not isinstance(value, str) or not _NAME_RE.match(value):
        raise FaultSpecError(f"{what}: expected a name like 's3' or 'us-east-1', got {value!r}")
    return value


def _operations(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, Sequence) or not all(
        isinstance(v, str) and re.fullmatch(r"[A-Za-z0-9]+", v) for v in value
    ):
        raise FaultSpecError(f"operations: expected API operation names, got {value!r}")
    return tuple(value)
