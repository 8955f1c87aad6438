"""The emulator's durable state: moto's backends as snapshots, our own records in SQLite.

Design (why not moto's recorder): replaying recorded requests would re-run every build
and would mint new random ids, so what a client was told (a build id, an instance id)
would not survive a restart. Instead every mutating request is answered only after the
state it changed is on disk:

- moto's in-memory backends are pickled per service into ``moto/<service>.pickle``,
  written to a temp file, fsynced and renamed, so a ``kill -9`` leaves either the old or
  the new snapshot, never half of one; a snapshot whose pickle did not change is not
  written again;
- what the emulator itself owns (builds, reports, hosts) lives in ``records.sqlite``
  (WAL, synchronous=FULL): one JSON document per record, written as it changes;
- services with a store of their own (:data:`OWN_STORES`: CloudWatch Logs in
  ``logs.sqlite``) are durable when their handler returns and are not snapshotted.

A write that cannot be stored (a full disk, an I/O error) raises
:class:`~opslib.exceptions.StateNotDurable` and keeps nothing: SQLite rolls the statement
back, a failed snapshot leaves no temp file and :meth:`MotoSnapshots.revert` puts moto's
memory back to what the disk holds, so nothing is listed that was not stored (the
gateway then answers AWS's 500, which SDKs retry).

On start, temp files a crash left behind are removed and the snapshots are loaded back
into moto's module-level backends before the first request is served.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import pickle
import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from moto.backends import get_backend

from opslib.emulator.core import s3bodies
from opslib.exceptions import StateNotDurable

logger = logging.getLogger(__name__)

# Services whose backends the emulator snapshots (moto's backend names).
SNAPSHOT_SERVICES = (
    "s3",
    "iam",
    "sts",
    "ec2",
    "ssm",
    "codebuild",
    "codepipeline",
    "codedeploy",
    "cloudwatch",
    "events",
    "sns",
    "sqs",  # queues and their messages (SNS subscriptions, dead-letter queues)
    "scheduler",
    "resourcegroupstaggingapi",
    "fis",  # experiment templates (experiments are the emulator's records)
)

# Services the emulator serves over a durable store of their own: nothing to snapshot
# after their writes (CloudWatch Logs: ``cloudwatch/logstore.py``; its old snapshot,
# ``moto/logs.pickle``, is imported once by ``cloudwatch/logmigrate.py``).
OWN_STORES = frozenset({"logs"})


def _plain(service: str) -> dict[str, dict[str, Any]]:
    """moto's BackendDict as plain nested dicts: {account: {region: backend}}."""
    backends = get_backend(service)  # type: ignore[call-overload]
    return {account: dict(regions.items()) for account, regions in backends.items()}


def _load_into(service: str, data: dict[str, dict[str, Any]]) -> None:
    backends = get_backend(service)  # type: ignore[call-overload]
    for account, regions in data.items():
        account_backends = backends[account]
        for region, backend in regions.items():
            # dict.__setitem__: AccountSpecificBackend.__setitem__ is fine too, but its
            # __getitem__ would create a fresh backend; we replace, never create.
            dict.__setitem__(account_backends, region, backend)
    _reindex(service)


def _clear(service: str) -> None:
    """Drop every backend of a service; moto makes a fresh, empty one on the next access."""
    for account_backends in get_backend(service).values():  # type: ignore[call-overload]
        dict.clear(account_backends)
    _reindex(service)


def _reindex(service: str) -> None:
    """Rebuild what moto keeps beside the backends: S3's owner of each bucket name.

    moto fills ``s3_backends.bucket_accounts`` when a bucket object is constructed, which
    unpickling does not do; CreateBucket consults it (BucketAlreadyExists), so it must
    name exactly the buckets the backends hold.
    """
    if service != "s3":
        return
    from moto.s3.models import s3_backends

    owners = s3_backends.bucket_accounts
    owners.clear()
    for account, partitions in s3_backends.items():
        for partition, backend in partitions.items():
            for name in [*backend.buckets, *getattr(backend, "table_buckets", {})]:
                owners[name] = (partition, account)


# SQLite's codes for a full device: SQLITE_FULL, and SQLITE_IOERR_SHMSIZE, which "may
# indicate that the underlying filesystem volume is out of space" (the WAL's -shm file
# could not be extended when the database was opened).
_SQLITE_NO_SPACE = (sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR_SHMSIZE)


def no_space(exc: BaseException) -> bool:
    """Whether an error says the device is full: ENOSPC/EDQUOT, SQLite's codes, or ours."""
    if isinstance(exc, StateNotDurable):
        return exc.no_space
    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, errno.EDQUOT)
    return isinstance(exc, sqlite3.Error) and exc.sqlite_errorcode in _SQLITE_NO_SPACE


@contextmanager
def _storing(what: str) -> Iterator[None]:
    """Translate a failed write of ``what`` (OS or SQLite error) into StateNotDurable."""
    try:
        yield
    except (OSError, sqlite3.DatabaseError) as exc:
        message = f"{what} could not be stored: {exc}"
        raise StateNotDurable(message, no_space=no_space(exc)) from exc


# The temp files write_atomically makes: ".<name>.<thread id>.tmp" beside the target.
_TEMP_FILE = re.compile(r"^\..+\.\d+\.tmp$")


def _stage(path: Path, data: bytes) -> Path:
    """Write ``data`` to a temp file beside ``path``, fsynced; removed again if that fails."""
    tmp = path.with_name(f".{path.name}.{threading.get_ident()}.tmp")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)  # a half-written temp file only keeps the disk full
        raise
    return tmp


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` so that a crash leaves either the old file or the new one."""
    os.replace(_stage(path, data), path)


def remove_stale_temp_files(directory: Path) -> list[Path]:
    """Delete the temp files of writes a crash interrupted (call at start, before writing).

    A ``kill -9`` between a temp file's write and its rename leaves it behind; nothing
    will ever rename it, and a large one (a 23 MB S3 snapshot) can keep a disk full.
    """
    stale = [p for p in directory.glob(".*.tmp") if _TEMP_FILE.match(p.name) and p.is_file()]
    for path in stale:
        path.unlink(missing_ok=True)
    if stale:
        logger.info("removed %d stale temp file(s) from %s", len(stale), directory)
    return stale


def _digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


class MotoSnapshots:
    """Pickled snapshots of moto's backends, one file per service."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        remove_stale_temp_files(directory)
        self._digests: dict[str, bytes] = {}  # what each snapshot on disk holds
        self.bodies = directory / "s3-bodies"  # S3 object bodies, outside the snapshot
        if self.bodies.is_dir():
            s3bodies.remove_stale(self.bodies)
        self._bodies_named: set[str] | None = None  # those the S3 snapshot on disk names
        self._bodies_pickled: set[str] = set()  # those the last S3 pickle names

    def _path(self, service: str) -> Path:
        return self.directory / f"{service}.pickle"

    def save(self, services: Iterable[str]) -> None:
        """Snapshot these services now, all or none (call with the state lock held).

        Every changed snapshot is written to its temp file and fsynced first; only when
        all are on disk are they renamed into place. A write that fails (a full disk)
        changes no snapshot, leaves no temp file and raises StateNotDurable; the caller
        then puts moto back with :meth:`revert`.
        """
        changed = self._changed(services)
        staged: dict[str, Path] = {}
        try:
            with _storing(f"the moto state of {', '.join(changed)}"):
                for service, data in changed.items():
                    staged[service] = _stage(self._path(service), data)
                for service, tmp in staged.items():
                    os.replace(tmp, self._path(service))
                    self._digests[service] = _digest(changed[service])
        finally:
            for tmp in staged.values():
                tmp.unlink(missing_ok=True)  # only those a failure left unrenamed exist
        if "s3" in changed:
            self._drop_unnamed_bodies(self._bodies_pickled)

    def _drop_unnamed_bodies(self, named: set[str]) -> None:
        """The S3 snapshot on disk names ``named``: remove the bodies it no longer names."""
        if named != self._bodies_named:
            s3bodies.collect_garbage(self.bodies, named)
            self._bodies_named = set(named)

    def _changed(self, services: Iterable[str]) -> dict[str, bytes]:
        """The pickles of those services whose state differs from their snapshot."""
        changed = {}
        for service in dict.fromkeys(services):
            if service in SNAPSHOT_SERVICES:
                data = self._pickle(service)
                if _digest(data) != self._digests.get(service):
                    changed[service] = data
        return changed

    def _pickle(self, service: str) -> bytes:
        try:
            if service != "s3":
                return pickle.dumps(_plain(service))
            with _storing("the bodies of S3 objects"), s3bodies.bodies_in(self.bodies) as named:
                data = pickle.dumps(_plain(service))  # writes the bodies not stored yet
                self._bodies_pickled = set(named)
            return data
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            raise StateNotDurable(f"the moto state of {service} cannot be pickled: {exc}") from exc

    def revert(self, services: Iterable[str]) -> None:
        """Put these services' backends back to their last durable snapshot.

        After a failed :meth:`save` moto's memory holds what the disk does not; reloading
        the snapshot (or, where there is none yet, a fresh empty backend) makes sure no
        listing shows what a restart would lose.
        """
        reverted = [s for s in dict.fromkeys(services) if s in SNAPSHOT_SERVICES]
        for service in reverted:
            _clear(service)
            self._load(service)
        logger.warning("moto state of %s put back to its last snapshot", ", ".join(reverted))

    def restore(self) -> list[str]:
        """Load every snapshot found back into moto; returns the services restored."""
        restored = [service for service in SNAPSHOT_SERVICES if self._load(service)]
        logger.info("restored moto state of %s", ", ".join(restored) or "no service")
        return restored

    def _load(self, service: str) -> bool:
        path = self._path(service)
        if not path.exists():
            self._digests.pop(service, None)
            return False
        data = path.read_bytes()
        if service == "s3":
            with s3bodies.bodies_in(self.bodies) as named:
                _load_into(service, pickle.loads(data))
            self._bodies_named = set(named)
        else:
            _load_into(service, pickle.loads(data))
        self._digests[service] = _digest(data)
        return True


# Fields of the records' bodies the listing APIs filter or order by (index name: path).
_INDEXED = {
    "start": "startTime",
    "create": "createTime",
    "pipeline": "pipelineName",
    "project": "projectName",
}


class RecordStore:
    """JSON records of what the emulator itself owns (builds, reports, hosts), in SQLite."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()  # re-entered by put/delete inside a transaction
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS records (kind TEXT NOT NULL, id TEXT NOT NULL,"
            " seq INTEGER NOT NULL, body TEXT NOT NULL, PRIMARY KEY (kind, id))"
        )
        # Each put numbers its record MAX(seq) + 1: without an index that is a scan of the
        # table per write, which a backfill of thousands of records would feel.
        self._db.execute("CREATE INDEX IF NOT EXISTS records_by_seq ON records (seq)")
        # What the history listings filter and order by (page()): JSON is parsed once, at
        # the write, instead of for every record at every page (0.3 s a page at 5k records).
        for name, field_path in _INDEXED.items():
            self._db.execute(
                f"CREATE INDEX IF NOT EXISTS records_by_{name} ON records"
                f" (kind, json_extract(body, '$.{field_path}'))"
            )

    def put(self, kind: str, record_id: str, body: dict[str, Any]) -> None:
        """Insert or replace a record; durable when this returns (else StateNotDurable)."""
        text = json.dumps(body, default=str)
        with self._lock, _storing(f"record {kind}/{record_id}"):
            self._db.execute(
                "INSERT INTO records (kind, id, seq, body) VALUES (?, ?,"
                " (SELECT COALESCE(MAX(seq), 0) + 1 FROM records), ?)"
                " ON CONFLICT(kind, id) DO UPDATE SET body = excluded.body",
                (kind, record_id, text),
            )

    def get(self, kind: str, record_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT body FROM records WHERE kind = ? AND id = ?", (kind, record_id)
            ).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def all(self, kind: str) -> Iterator[dict[str, Any]]:
        """Every record of a kind, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT body FROM records WHERE kind = ? ORDER BY seq", (kind,)
            ).fetchall()
        return (dict(json.loads(row[0])) for row in rows)

    def page(
        self,
        kind: str,
        *,
        where: str = "",
        args: tuple[Any, ...] = (),
        order: str = "seq",
        descending: bool = True,
        limit: int = -1,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Records of a kind filtered and ordered in SQL, ``limit`` of them from ``offset``.

        ``where`` and ``order`` are SQL over the ``body`` column (``json_extract(body,
        '$.startTime')``), written by the emulator's own code, never taken from a request;
        ``args`` fill its ``?``. A listing API answers one page without parsing every record
        (the history APIs' pages over 90 days of history), ties broken by insertion order
        (the rowid, which an update keeps, as it keeps ``seq``). Filter and order by the
        fields in ``_INDEXED`` to read through an index.
        """
        direction = "DESC" if descending else "ASC"
        condition = f" AND ({where})" if where else ""
        sql = (
            f"SELECT body FROM records WHERE kind = ?{condition}"
            f" ORDER BY {order} {direction}, rowid {direction} LIMIT ? OFFSET ?"
        )
        with self._lock:
            rows = self._db.execute(sql, (kind, *args, limit, offset)).fetchall()
        return [dict(json.loads(row[0])) for row in rows]

    def count(self, kind: str, *, where: str = "", args: tuple[Any, ...] = ()) -> int:
        """How many records of a kind ``where`` holds for (SQL as in :meth:`page`)."""
        condition = f" AND ({where})" if where else ""
        with self._lock:
            row = self._db.execute(
                f"SELECT count(*) FROM records WHERE kind = ?{condition}", (kind, *args)
            ).fetchone()
        return int(row[0])

    def empty(self) -> bool:
        """Whether no record of any kind is stored (nothing any service could recover)."""
        with self._lock:
            return self._db.execute("SELECT 1 FROM records LIMIT 1").fetchone() is None

    def delete(self, kind: str, record_id: str) -> None:
        with self._lock, _storing(f"the deletion of record {kind}/{record_id}"):
            self._db.execute("DELETE FROM records WHERE kind = ? AND id = ?", (kind, record_id))

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Several puts and deletes that are stored together or not at all.

        Holds the store's lock until COMMIT: put only record calls inside, never a wait
        on another lock. On any failure (StateNotDurable from a full disk) it rolls back.
        """
        with self._lock:
            with _storing("a transaction of records"):
                self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
                with _storing("a transaction of records"):
                    self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise

    def close(self) -> None:
        with self._lock:
            self._db.close()


def public(record: dict[str, Any]) -> dict[str, Any]:
    """A record as the API shows it: keys starting with ``_`` are the emulator's own."""
    return {k: v for k, v in record.items() if not k.startswith("_")}


def holds_data(path: Path) -> bool:
    """Whether the SQLite store at ``path`` holds any row (a lazy service loads at start then).

    Read only: a missing file is not created. A file that cannot be read this way (a WAL
    without its index, a damaged file) counts as holding data: the store's own opening
    decides what it holds.
    """
    if not path.exists():
        return False
    try:
        db = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
        try:
            tables = [
                row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")
            ]
            return any(db.execute(f'SELECT 1 FROM "{t}" LIMIT 1').fetchone() for t in tables)
        finally:
            db.close()
    except sqlite3.Error:
        return True
