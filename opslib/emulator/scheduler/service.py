"""EventBridge Scheduler that fires: moto stores the schedules, this service invokes them.

- **The API**: CreateSchedule and UpdateSchedule are checked before moto stores them
  (:mod:`validate`: what AWS refuses, as ``ValidationException``); after moto answers, an
  UpdateSchedule keeps what moto 5.2 drops (``ActionAfterCompletion``; ``State`` back to
  ENABLED when omitted, as UpdateSchedule replaces every member), and every change wakes
  the firing thread at once.
- **The firing thread** sleeps until the next due invocation of any schedule (an event
  wait with that deadline, woken early by any change), then hands each due occurrence to a
  worker (:class:`run.Invocation`). Only ENABLED schedules fire.
- **No catch-up**: each schedule is reckoned from the later of its last change and this
  service's start. An occurrence that fell while the emulator was stopped (or while the
  schedule was disabled) is not invoked afterwards — AWS does not replay missed
  invocations either — and one already invoked is never invoked again after a restart, so
  no fire record needs storing: after a restart the next invocation is the next future one.
- **After completion** (managing-schedule-delete.html): with ``ActionAfterCompletion``
  DELETE a one-time schedule is deleted after its invocation (retries included); a
  recurring one after its last invocation before EndDate, and never without an EndDate.
"""

from __future__ import annotations

import logging
import threading
import time
import urllib.parse
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from opslib.emulator.core import limits
from opslib.emulator.core.gateway import ApiRequest, ApiResponse
from opslib.emulator.core.runtime import Runtime
from opslib.emulator.scheduler.model import DELETE, ENABLED, Schedule
from opslib.emulator.scheduler.run import Invocation, RoleSessions
from opslib.emulator.scheduler.timing import Occurrence, next_occurrence, next_time
from opslib.emulator.scheduler.validate import schedule_problem

logger = logging.getLogger(__name__)

SERVICE = "scheduler"
CHANGES = ("CreateSchedule", "UpdateSchedule", "DeleteSchedule", "DeleteScheduleGroup")
LONGEST_WAIT = 3600.0  # seconds: wake at least hourly (a clock stepped by hand, say)
WORKERS = 4


@dataclass
class Reckoning:
    """Where one schedule stands: the version reckoned, and the last occurrence handled."""

    version: float  # the schedule's LastModificationDate
    cursor: float  # occurrences after this instant are still to come


class SchedulerService:
    """Validates schedules on the way in and invokes them when they are due."""

    def __init__(self, runtime: Runtime, clock: Callable[[], float] = time.time) -> None:
        self.runtime = runtime
        self.clock = clock
        self.started = clock()
        self.roles = RoleSessions(runtime, clock)
        self.invocations = 0  # occurrences handed to a worker since start
        self._wake = threading.Event()
        self._reckonings: dict[str, Reckoning] = {}
        self._unreadable: set[tuple[str, float]] = set()
        self._workers = ThreadPoolExecutor(WORKERS, thread_name_prefix="schedule")
        self._thread = threading.Thread(target=self._loop, daemon=True, name="scheduler")

    def register(self) -> None:
        gateway = self.runtime.gateway
        for operation in ("CreateSchedule", "UpdateSchedule"):
            gateway.check(SERVICE, operation, self.refusal)
        gateway.after(SERVICE, "UpdateSchedule", self._keep_update)
        for operation in CHANGES:
            gateway.after(SERVICE, operation, lambda _request, _body: self._wake.set())

    def start(self) -> None:
        """Start firing (once the server listens: invocations call its endpoint)."""
        if not self._thread.is_alive():
            self._thread.start()

    def shutdown(self) -> None:
        self._wake.set()  # runtime.stopping is set: the loop ends
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self._workers.shutdown(wait=False, cancel_futures=True)

    # -- the API --------------------------------------------------------------------------
    def refusal(self, request: ApiRequest) -> ApiResponse | None:
        """AWS's ValidationException for a schedule it would not store, else None."""
        try:
            params = request.params()
        except ValueError:
            return None  # not JSON: moto answers
        name = urllib.parse.unquote(request.path.rstrip("/").rsplit("/", 1)[-1])
        problems = limits.model_violations(SERVICE, request.operation, {**params, "Name": name})
        if problems:
            noun = "error" if len(problems) == 1 else "errors"
            message = f"{len(problems)} validation {noun} detected: " + "; ".join(problems)
            return ApiResponse.error("ValidationException", message)
        problem = schedule_problem(params, self.clock())
        return ApiResponse.error("ValidationException", problem) if problem else None

    def _keep_update(self, request: ApiRequest, body: bytes) -> None:
        """What moto's UpdateSchedule forgets: ActionAfterCompletion, State's default."""
        from moto.scheduler.models import scheduler_backends

        params = request.params()
        name = urllib.parse.unquote(request.path.rstrip("/").rsplit("/", 1)[-1])
        backend = scheduler_backends[request.account_id][request.region]
        schedule = backend.get_schedule(params.get("GroupName"), name)
        schedule.action_after_completion = params.get("ActionAfterCompletion")
        schedule.state = params.get("State") or ENABLED

    # -- firing ---------------------------------------------------------------------------
    def _loop(self) -> None:
        stopping = self.runtime.stopping
        while not stopping.is_set():
            self._wake.clear()  # before reading: a change from now on wakes the wait
            try:
                deadline = self.round(self.clock())
            except Exception:  # noqa: BLE001 - the thread must outlive one bad round
                logger.exception("scheduler round failed")
                deadline = self.clock() + 60
            wait = LONGEST_WAIT if deadline is None else deadline - self.clock()
            if wait > 0:
                self._wake.wait(min(wait, LONGEST_WAIT))

    def round(self, now: float) -> float | None:
        """Dispatch every occurrence due by ``now``; the next instant one falls due."""
        schedules = self._schedules()
        for arn in set(self._reckonings) - {s.arn for s in schedules}:
            del self._reckonings[arn]  # deleted
        deadline: float | None = None
        for schedule in schedules:
            upcoming = self._due(schedule, now)
            if upcoming is not None and (deadline is None or upcoming < deadline):
                deadline = upcoming
        return deadline

    def _due(self, schedule: Schedule, now: float) -> float | None:
        """Dispatch the schedule's due occurrences; when its next one falls due."""
        reckoning = self._reckon(schedule)
        if schedule.state != ENABLED:
            return None
        while True:
            occurrence = next_occurrence(schedule.timing, reckoning.cursor, schedule.arn)
            if occurrence is None:
                return None
            if occurrence.fire_at > now:
                return occurrence.fire_at
            reckoning.cursor = occurrence.scheduled
            self.invocations += 1
            self._workers.submit(self._invoke, schedule, occurrence)

    def _reckon(self, schedule: Schedule) -> Reckoning:
        """The schedule's reckoning; a new or changed schedule counts from that change."""
        reckoning = self._reckonings.get(schedule.arn)
        since = _since(schedule)
        if reckoning is None:
            # Stored before this start: what fell due while the emulator was down is not
            # replayed. Made since (the request that loaded this room, too): from its change.
            restored = schedule.modified < self.started
            reckoning = Reckoning(
                schedule.modified, max(self.started, since) if restored else since
            )
            self._reckonings[schedule.arn] = reckoning
        elif reckoning.version != schedule.modified:
            reckoning.version = schedule.modified
            reckoning.cursor = max(reckoning.cursor, since)
        return reckoning

    def _schedules(self) -> list[Schedule]:
        """Every stored schedule, copied under the state lock."""
        from moto.scheduler.models import scheduler_backends

        out: list[Schedule | None] = []
        with self.runtime.gateway.lock:
            for regions in scheduler_backends.values():
                for region, backend in dict(regions.items()).items():
                    for group in backend.schedule_groups.values():
                        out.extend(self._readable(s, region) for s in group.schedules.values())
        return [s for s in out if s is not None]

    def _readable(self, stored: Any, region: str) -> Schedule | None:
        try:
            return Schedule.from_moto(stored, region)
        except ValueError as exc:  # stored before the emulator checked it: never fires
            key = (stored.arn, float(stored.last_modified_date))
            if key not in self._unreadable:
                self._unreadable.add(key)
                logger.warning("schedule %s cannot fire: %s", stored.arn, exc)
            return None

    def _invoke(self, schedule: Schedule, occurrence: Occurrence) -> None:
        try:
            Invocation(schedule, occurrence, self.roles, self.runtime.stopping, self.clock).run()
            if schedule.action_after_completion == DELETE and _completed(schedule, occurrence):
                self._delete(schedule)
        except Exception:  # noqa: BLE001 - a worker's failure is logged, never lost
            logger.exception("schedule %s: invocation failed", schedule.arn)

    def _delete(self, schedule: Schedule) -> None:
        """Delete a completed schedule through the API, unless it was changed meanwhile."""
        scheduler = self.runtime.client(SERVICE, schedule.region)
        try:
            current = scheduler.get_schedule(Name=schedule.name, GroupName=schedule.group)
            if abs(current["LastModificationDate"].timestamp() - schedule.modified) > 0.001:
                return  # updated since this occurrence: it is a new schedule now
            scheduler.delete_schedule(Name=schedule.name, GroupName=schedule.group)
            logger.info("schedule %s completed and was deleted", schedule.arn)
        except scheduler.exceptions.ResourceNotFoundException:
            return


def _since(schedule: Schedule) -> float:
    """From when a schedule's occurrences count: its last change.

    A one-time schedule counts from the start of that minute: an ``at()`` earlier in the
    minute it was made in is accepted (60-second precision, :mod:`validate`) and runs at once.
    """
    if schedule.one_time:
        return schedule.modified - schedule.modified % 60 - 1e-6
    return schedule.modified


def _completed(schedule: Schedule, occurrence: Occurrence) -> bool:
    """Whether this was the schedule's last invocation (recurring: only with an EndDate)."""
    if schedule.one_time:
        return True
    if schedule.timing.end is None:
        return False
    return next_time(schedule.timing, occurrence.scheduled) is None
