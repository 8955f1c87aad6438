"""S3 lifecycle rules that really expire objects: moto stores the rules and nothing acts.

What is honoured (S3 User Guide, "Lifecycle configuration elements" and "Expiring
objects"), per enabled rule whose filter matches (``Prefix``, one ``Tag``, or ``And`` of a
prefix and tags; the rule's legacy top-level ``Prefix`` too):

- ``Expiration`` ``Days``/``Date`` on the current version: "Amazon S3 calculates the time
  by adding the number of days specified in the rule to the object creation time and
  rounding the resulting time to the next day midnight UTC"; a ``Date`` is that midnight.
  In a versioning-enabled (or suspended) bucket the current version becomes noncurrent
  behind a delete marker; in an unversioned bucket the object is deleted;
- ``NoncurrentVersionExpiration`` ``NoncurrentDays``: a noncurrent version is deleted that
  many days (rounded the same way) after it became noncurrent, i.e. after its successor
  was created;
- ``ExpiredObjectDeleteMarker``: a delete marker that is the only version left is removed.

AWS runs lifecycle asynchronously, roughly once a day; here a sweep runs every
``OPSLIB_S3_LIFECYCLE_INTERVAL`` seconds (default 3600) and at start. The bodies of what it
deletes leave the body store once the snapshot is saved (:mod:`s3bodies`). Not honoured:
storage-class transitions (one storage class here), the object-size filters and
``AbortIncompleteMultipartUpload``.
"""

from __future__ import annotations

import logging
import math
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

logger = logging.getLogger(__name__)

DAY = 86400.0
INTERVAL_ENV = "OPSLIB_S3_LIFECYCLE_INTERVAL"
DEFAULT_INTERVAL = 3600.0


def eligible_at(since: float, days: int) -> float:
    """``since`` plus ``days``, rounded up to the next midnight UTC (AWS's rule)."""
    return math.ceil((since + days * DAY) / DAY) * DAY


def _epoch(value: Any) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, str):
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    return float(value)


@dataclass(frozen=True)
class Version:
    """One version of a key, oldest first in a key's history."""

    version_id: str
    created: float
    delete_marker: bool
    tags: dict[str, str]


def matches(rule: Any, key: str, tags: dict[str, str]) -> bool:
    """Whether an enabled rule's filter selects this key (prefix, tag, or both)."""
    if getattr(rule, "status", "Enabled") != "Enabled":
        return False
    if rule.prefix is not None and not key.startswith(rule.prefix):
        return False
    found = rule.filter
    if found is None:
        return True
    if found.prefix is not None and not key.startswith(found.prefix):
        return False
    if found.tag_key is not None and tags.get(found.tag_key) != found.tag_value:
        return False
    both = found.and_filter
    if both is not None:
        if both.prefix is not None and not key.startswith(both.prefix):
            return False
        if any(tags.get(k) != v for k, v in both.tags.items()):
            return False
    return True


def expired_versions(rule: Any, history: list[Version], now: float) -> list[str]:
    """The versions (ids) the rule removes now; ``"*marker*"`` means add a delete marker.

    ``history`` is oldest first; its last item is the current version.
    """
    removed: list[str] = []
    current = history[-1]
    if not current.delete_marker and _current_expired(rule, current, now):
        removed.append(ADD_DELETE_MARKER)
    if rule.nve_noncurrent_days is not None:
        days = int(rule.nve_noncurrent_days)
        for older, successor in zip(history, history[1:], strict=False):
            if not older.delete_marker and now >= eligible_at(successor.created, days):
                removed.append(older.version_id)
    only_marker = len(history) - len(removed) == 1 and current.delete_marker
    if str(rule.expired_object_delete_marker).lower() == "true" and only_marker:
        removed.append(current.version_id)
    return removed


ADD_DELETE_MARKER = "*marker*"


def _current_expired(rule: Any, current: Version, now: float) -> bool:
    if rule.expiration_days is not None:
        return now >= eligible_at(current.created, int(rule.expiration_days))
    if rule.expiration_date is not None:
        return now >= _epoch(rule.expiration_date)
    return False


def _history(backend: Any, bucket: Any, name: str) -> list[Version]:
    versions = []
    for stored in bucket.keys.getlist(name) or []:  # None once the last version is gone
        marker = type(stored).__name__ == "FakeDeleteMarker"
        tags = {} if marker else dict(backend.tagger.get_tag_dict_for_resource(stored.arn))
        versions.append(Version(str(stored.version_id), _epoch(stored.last_modified), marker, tags))
    return versions


def _buckets(backends: Any) -> Iterator[tuple[Any, Any]]:
    for account_backends in backends.values():
        for backend in dict(account_backends.items()).values():
            for bucket in list(backend.buckets.values()):
                if getattr(bucket, "rules", None):
                    yield backend, bucket


def sweep(backends: Any, now: float) -> int:
    """Apply every bucket's lifecycle rules at ``now``; how many versions it removed or hid."""
    acted = 0
    for backend, bucket in _buckets(backends):
        for name in list(bucket.keys.keys()):
            history = _history(backend, bucket, name)
            if not history:
                continue
            for rule in bucket.rules:
                if not matches(rule, name, history[-1].tags):
                    continue
                for version_id in expired_versions(rule, history, now):
                    if version_id == ADD_DELETE_MARKER:  # versioned: a marker; else deleted
                        backend.delete_object(bucket.name, name)
                    else:
                        backend.delete_object(bucket.name, name, version_id=version_id)
                    acted += 1
                history = _history(backend, bucket, name)
                if not history:
                    break
    return acted


class LifecycleSweeper:
    """Runs :func:`sweep` under the state lock every interval and saves what it changed;
    a save that fails (a full disk) puts moto back to its snapshot, as a refused request."""

    def __init__(
        self,
        lock: Any,
        save: Callable[[list[str]], None],
        revert: Callable[[list[str]], None],
        stopping: threading.Event,
        interval: float | None = None,
        clock: Callable[[], float] | None = None,
        sweep_at_start: bool = True,
    ) -> None:
        env = os.environ.get(INTERVAL_ENV)
        self.interval = interval or (float(env) if env else DEFAULT_INTERVAL)
        self.lock, self.save, self.revert, self.stopping = lock, save, revert, stopping
        self.clock = clock or _now
        self.sweep_at_start = sweep_at_start  # a fresh state has nothing to expire yet
        self._thread = threading.Thread(target=self._loop, daemon=True, name="s3-lifecycle")

    def start(self) -> None:
        self._thread.start()

    def run_once(self) -> int:
        from moto.s3.models import s3_backends

        from opslib.exceptions import StateNotDurable

        with self.lock:
            acted = sweep(s3_backends, self.clock())
            if acted:
                try:
                    self.save(["s3"])
                except StateNotDurable:
                    self.revert(["s3"])  # not stored: the next sweep tries again
                    raise
        if acted:
            logger.info("S3 lifecycle expired %d object version(s)", acted)
        return acted

    def _loop(self) -> None:
        if not self.sweep_at_start and self.stopping.wait(self.interval):
            return
        while True:
            try:
                self.run_once()
            except Exception:  # noqa: BLE001 - the sweeper must outlive one bad sweep
                logger.exception("S3 lifecycle sweep failed")
            if self.stopping.wait(self.interval):
                return


def _now() -> float:
    import time

    return time.time()
