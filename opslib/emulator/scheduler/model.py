"""A schedule as the firing service reads it from moto's backend (copied under the lock)."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from opslib.emulator.scheduler.expressions import At, parse
from opslib.emulator.scheduler.timing import Timing
from opslib.emulator.scheduler.validate import instant, zone

ENABLED = "ENABLED"
DELETE = "DELETE"  # ActionAfterCompletion: delete the schedule once it has completed


@dataclass(frozen=True)
class Schedule:
    """What one invocation and the next fire time need of a stored schedule."""

    arn: str
    name: str
    group: str
    region: str
    state: str
    timing: Timing
    target: dict[str, Any]
    action_after_completion: str
    modified: float  # LastModificationDate: a change restarts the schedule's reckoning

    @property
    def one_time(self) -> bool:
        return isinstance(self.timing.expression, At)

    @classmethod
    def from_moto(cls, schedule: Any, region: str) -> Schedule:
        """From moto's ``Schedule``; ValueError if what it stored cannot be read."""
        window = schedule.flexible_time_window or {}
        flexible = window.get("Mode") == "FLEXIBLE"
        timing = Timing(
            expression=parse(schedule.schedule_expression),
            zone=zone(schedule.schedule_expression_timezone),
            created=float(schedule.creation_date),
            start=instant(schedule.start_date),
            end=instant(schedule.end_date),
            window_minutes=int(window.get("MaximumWindowInMinutes") or 0) if flexible else 0,
        )
        return cls(
            arn=schedule.arn,
            name=schedule.name,
            group=schedule.group_name,
            region=region,
            state=schedule.state or ENABLED,
            timing=timing,
            target=copy.deepcopy(schedule.target or {}),
            action_after_completion=schedule.action_after_completion or "NONE",
            modified=float(schedule.last_modified_date),
        )
