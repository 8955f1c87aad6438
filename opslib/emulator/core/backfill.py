"""simulate-history's request: what to backfill, checked, and the client of its endpoint.

AWS has no backfill, so this is no AWS API: the emulator answers it at its own path,
``POST /opslib/simulate-history``, one day of the window per request (the caller draws
progress between days, and no request holds the emulator for long). The server side is
``opslib.emulator.history``; this module is what both sides share and imports no service.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from typing import Any

from opslib.exceptions import ConfigError, EmulatorError

PATH = "/opslib/simulate-history"
MAX_DAYS = 365  # CodePipeline keeps 12 months of executions: older ones AWS would not show
MAX_RUNS_PER_DAY = 288  # one every five minutes


@dataclass(frozen=True)
class HistorySpec:
    """The window to backfill and how its runs turn out (same spec, same history)."""

    pipeline: str
    events_log_group: str
    days: int
    runs_per_day: int
    until: float  # epoch seconds: the window is the ``days`` before it
    failure_rate: float = 0.1
    seed: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.days <= MAX_DAYS:
            raise ConfigError(f"--days: expected 1 to {MAX_DAYS} days, got {self.days}")
        if not 1 <= self.runs_per_day <= MAX_RUNS_PER_DAY:
            raise ConfigError(
                f"--runs-per-day: expected 1 to {MAX_RUNS_PER_DAY}, got {self.runs_per_day}"
            )
        if not 0.0 <= self.failure_rate <= 1.0:
            raise ConfigError(f"--failure-rate: expected 0 to 1, got {self.failure_rate}")

    @property
    def since(self) -> float:
        return self.until - self.days * 86400.0

    def to_wire(self, day: int) -> dict[str, Any]:
        return {**asdict(self), "day": day}

    @classmethod
    def from_wire(cls, body: dict[str, Any]) -> tuple[HistorySpec, int]:
        """The spec and the day a request asks for; ConfigError naming a bad field."""
        fields = ("pipeline", "events_log_group", "days", "runs_per_day", "until")
        missing = [f for f in fields if f not in body]
        if missing:
            raise ConfigError(f"simulate-history: missing field(s) {', '.join(missing)}")
        try:
            spec = cls(
                str(body["pipeline"]), str(body["events_log_group"]), int(body["days"]),
                int(body["runs_per_day"]), float(body["until"]),
                float(body.get("failure_rate", 0.1)), int(body.get("seed", 0)),
            )  # fmt: skip
            day = int(body.get("day", 0))
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"simulate-history: a field is not a number: {exc}") from exc
        if not 0 <= day < spec.days:
            raise ConfigError(f"simulate-history: day must be 0 to {spec.days - 1}, got {day}")
        return spec, day


@dataclass(frozen=True)
class DayWritten:
    """What one day's request stored."""

    day: int
    executions: int
    builds: int
    deployments: int
    events: int
    log_lines: int
    datapoints: int

    @classmethod
    def from_wire(cls, body: dict[str, Any]) -> DayWritten:
        return cls(**{k: int(body[k]) for k in cls.__dataclass_fields__})


def post_day(
    endpoint: str, spec: HistorySpec, day: int, region: str, timeout: float = 120.0
) -> DayWritten:
    """Ask the emulator at ``endpoint`` to backfill one day; its refusal as one line."""
    request = urllib.request.Request(
        endpoint + PATH,
        data=json.dumps({**spec.to_wire(day), "region": region}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return DayWritten.from_wire(json.loads(response.read()))
    except urllib.error.HTTPError as exc:
        message = _message(exc.read())
        if exc.code == 400:
            raise ConfigError(message) from exc
        raise EmulatorError(f"simulate-history failed: {message}") from exc
    except OSError as exc:
        raise EmulatorError(
            f"simulate-history: the emulator at {endpoint} is unreachable: {exc}"
        ) from exc


def _message(body: bytes) -> str:
    try:
        return str(json.loads(body).get("message") or body.decode(errors="replace"))
    except (ValueError, AttributeError):
        return body.decode(errors="replace")[:200]
