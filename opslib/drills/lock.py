"""One drill per stack at a time: a lease in SSM Parameter Store.

The lock is the parameter ``/opslib/<stack>/drill-lock``, created with ``Overwrite=False``
— PutParameter then fails with ``ParameterAlreadyExists`` for everyone but the first, on
AWS and on the emulator alike, so two drills cannot both believe they hold it. Its value
says who holds it (drill, host, pid, a random token) and until when (the lease).

A crashed drill cannot leave the lock forever: a lease that has expired, or whose holder
was a process on this very host that no longer runs, is stale; the next drill deletes it
and takes the lock (and says so). A live holder is never overridden: the refusal names the
drill, the host, the pid and when its lease ends.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from opslib.exceptions import AwsError, DrillRefused, NotFoundError
from opslib.stack.tags import STACK_TAG
from opslib.target import Session, aws_errors

logger = logging.getLogger(__name__)

DEFAULT_LEASE = timedelta(hours=2)  # longer than any drill's objective; a crash frees it after


def parameter_name(stack: str) -> str:
    return f"/opslib/{stack}/drill-lock"


@dataclass(frozen=True)
class Lease:
    """Who holds the stack's drill lock, and until when."""

    drill: str
    host: str
    pid: int
    token: str
    acquired: datetime
    expires: datetime

    def to_json(self) -> str:
        data = asdict(self)
        data["acquired"], data["expires"] = self.acquired.isoformat(), self.expires.isoformat()
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Lease | None:
        """The lease a parameter holds; None when it is not one (a broken value is stale)."""
        try:
            data = json.loads(text)
            return cls(
                drill=str(data["drill"]),
                host=str(data["host"]),
                pid=int(data["pid"]),
                token=str(data["token"]),
                acquired=datetime.fromisoformat(data["acquired"]),
                expires=datetime.fromisoformat(data["expires"]),
            )
        except (ValueError, KeyError, TypeError):
            return None

    def describe(self) -> str:
        return (
            f"drill {self.drill} (pid {self.pid} on {self.host}, since "
            f"{self.acquired:%Y-%m-%d %H:%M:%S} UTC, lease until {self.expires:%H:%M:%S} UTC)"
        )


def pid_alive(pid: int) -> bool:
    """Whether a process of this host runs with that pid (signal 0 checks, sends nothing)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, as another user's
    return True


def stale_reason(
    lease: Lease | None,
    now: datetime,
    host: str,
    alive: Callable[[int], bool] = pid_alive,
) -> str:
    """Why a held lock may be taken over ('' when its holder may still be running)."""
    if lease is None:
        return "its value is not a lease"
    if lease.expires <= now:
        return f"the lease of {lease.describe()} has expired"
    if lease.host == host and not alive(lease.pid):
        return f"{lease.describe()} no longer runs"
    return ""


class DrillLock:
    """The stack's drill lock: :meth:`acquire` or refuse, :meth:`release` only one's own."""

    def __init__(
        self,
        session: Session,
        stack: str,
        lease: timedelta = DEFAULT_LEASE,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.session = session
        self.stack = stack
        self.lease = lease
        self.clock = clock
        self.name = parameter_name(stack)
        self.held: Lease | None = None

    def _ssm(self) -> Any:
        return self.session.client("ssm")

    def current(self) -> Lease | None | str:
        """The lease held now; '' when the lock is free (None: a value that is no lease)."""
        try:
            with aws_errors("ssm", "GetParameter"):
                value = self._ssm().get_parameter(Name=self.name)["Parameter"]["Value"]
        except NotFoundError:
            return ""
        return Lease.from_json(str(value))

    def _put(self, lease: Lease) -> bool:
        """Create the parameter; False when it already exists (someone holds the lock)."""
        try:
            with aws_errors("ssm", "PutParameter"):
                self._ssm().put_parameter(
                    Name=self.name,
                    Value=lease.to_json(),
                    Type="String",
                    Overwrite=False,
                    Description=f"opslib: the drill running on stack {self.stack}",
                    Tags=[{"Key": STACK_TAG, "Value": self.stack}],
                )
        except AwsError as exc:
            if exc.code == "ParameterAlreadyExists":
                return False
            raise
        return True

    def acquire(self, drill: str) -> Lease:
        """Take the lock for ``drill``, taking over a stale one; DrillRefused when held."""
        now = self.clock()
        lease = Lease(drill, socket.gethostname(), os.getpid(), uuid.uuid4().hex, now,
                      now + self.lease)  # fmt: skip
        if self._put(lease):
            self.held = lease
            return lease
        holder = self.current()
        if holder != "":
            held = holder if isinstance(holder, Lease) else None
            reason = stale_reason(held, now, lease.host)
            if not reason:
                assert held is not None
                raise DrillRefused(
                    f"stack {self.stack}: {held.describe()} holds the drill lock "
                    f"(SSM parameter {self.name}); one drill per stack at a time"
                )
            logger.warning("drill lock of %s: taking over, %s", self.stack, reason)
            self._delete()
        if not self._put(lease):
            raise DrillRefused(f"stack {self.stack}: another drill took the lock just now")
        self.held = lease
        return lease

    def _delete(self) -> None:
        try:
            with aws_errors("ssm", "DeleteParameter"):
                self._ssm().delete_parameter(Name=self.name)
        except NotFoundError:
            pass

    def release(self) -> None:
        """Free the lock if it is still ours (a lock taken over after expiry is not)."""
        if self.held is None:
            return
        holder = self.current()
        if isinstance(holder, Lease) and holder.token == self.held.token:
            self._delete()
        self.held = None

    @contextmanager
    def hold(self, drill: str) -> Iterator[Lease]:
        lease = self.acquire(drill)
        try:
            yield lease
        finally:
            self.release()
