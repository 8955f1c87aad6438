"""CloudWatch Logs' own store: groups, streams and events in SQLite, indexed for the reads.

moto kept every event in memory and the gateway re-pickled the whole logs backend after
each write, so PutLogEvents cost what the store held (36 ms with 5k events, 261 ms with
40k). Here a write costs what it wrote: one transaction that appends the batch's rows and
updates its stream's and group's counters, whatever the table already holds.

The file is ``logs.sqlite`` in the state directory, in WAL mode:

- ``events`` rows carry their group, stream, timestamp and ingestion order (``eid``, the
  row id, which only grows); ``(sid, ts, eid)`` serves GetLogEvents and ``(gid, ts, eid)``
  FilterLogEvents and Insights, both in AWS's order (timestamp, then ingestion);
- ``groups``, ``streams``, ``filters``, ``queries``, ``policies`` hold the small
  control-plane state; filters and queries as JSON documents.

**synchronous=NORMAL, not FULL.** In WAL mode a commit has written its frames to the WAL
file (the OS page cache) before it returns; NORMAL only skips the fsync of each commit,
doing it at checkpoints. A ``kill -9`` is a process crash: the kernel still holds and
later writes every page the process wrote, so every acknowledged commit survives it
(``tests/emulator/test_logs_durability.py`` kills the server during a write burst and
counts). What NORMAL gives up is the last commits before a *power loss* or kernel
crash — never the database's consistency — which an emulator on a workstation need not
promise. Measured on this machine (``bench/log_writes.py --sync``): a 100-event
PutLogEvents transaction takes a few hundred microseconds with NORMAL and several
milliseconds with FULL (an fsync each); see docs/benchmarks.md.

Writes go through one connection under a lock; reads (GetLogEvents, FilterLogEvents,
Insights) use a connection per thread, so a long query reads a consistent snapshot
without holding up writers.
"""

from __future__ import annotations

import contextlib
import json
import queue
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS groups (
    gid INTEGER PRIMARY KEY, account TEXT NOT NULL, region TEXT NOT NULL, name TEXT NOT NULL,
    created INTEGER NOT NULL, retention INTEGER, kms_key TEXT, class TEXT NOT NULL,
    tags TEXT NOT NULL, stored_bytes INTEGER NOT NULL DEFAULT 0,
    UNIQUE (account, region, name));
CREATE TABLE IF NOT EXISTS streams (
    sid INTEGER PRIMARY KEY, gid INTEGER NOT NULL, name TEXT NOT NULL,
    created INTEGER NOT NULL, first_ts INTEGER, last_ts INTEGER, last_ingest INTEGER,
    UNIQUE (gid, name));
CREATE TABLE IF NOT EXISTS events (
    eid INTEGER PRIMARY KEY AUTOINCREMENT, gid INTEGER NOT NULL, sid INTEGER NOT NULL,
    ts INTEGER NOT NULL, ingest INTEGER NOT NULL, message TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS events_by_stream ON events (sid, ts, eid);
CREATE INDEX IF NOT EXISTS events_by_group ON events (gid, ts, eid);
CREATE TABLE IF NOT EXISTS filters (
    gid INTEGER NOT NULL, name TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (gid, name));
CREATE TABLE IF NOT EXISTS queries (
    qid TEXT PRIMARY KEY, account TEXT NOT NULL, region TEXT NOT NULL,
    created INTEGER NOT NULL, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS policies (
    account TEXT NOT NULL, region TEXT NOT NULL, name TEXT NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (account, region, name));
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

Key = tuple[int, int]  # (timestamp, eid): AWS's event order
NewEvent = tuple[int, str]  # (timestamp, message) of one accepted PutLogEvents entry


@dataclass(frozen=True)
class Group:
    """One log group row."""

    gid: int
    account: str
    region: str
    name: str
    created: int
    retention: int | None
    kms_key: str | None
    group_class: str
    tags: dict[str, str]
    stored_bytes: int


@dataclass(frozen=True)
class Stream:
    """One log stream row; the timestamps are None until it holds an event."""

    sid: int
    gid: int
    name: str
    created: int
    first_ts: int | None
    last_ts: int | None
    last_ingest: int | None


@dataclass(frozen=True)
class Event:
    """One stored event, with its stream's name."""

    eid: int
    stream: str
    timestamp: int
    ingestion: int
    message: str

    @property
    def key(self) -> Key:
        return (self.timestamp, self.eid)


_GROUP_COLUMNS = (
    "gid, account, region, name, created, retention, kms_key, class, tags, stored_bytes"
)
_STREAM_COLUMNS = "sid, gid, name, created, first_ts, last_ts, last_ingest"


def _group(row: tuple[Any, ...]) -> Group:
    return Group(*row[:8], json.loads(row[8]), row[9])  # type: ignore[call-arg]


def _event(row: tuple[Any, ...]) -> Event:
    return Event(*row)


class LogStore:
    """The SQLite file behind the Logs service; thread-safe."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = self._connect()
        self._db.executescript(SCHEMA)
        self._readers: queue.SimpleQueue[sqlite3.Connection] = queue.SimpleQueue()

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")  # why NORMAL: the module's docstring
        return db

    @contextlib.contextmanager
    def _reader(self) -> Iterator[sqlite3.Connection]:
        """A pooled read connection (its own WAL snapshot per statement)."""
        try:
            db = self._readers.get_nowait()
        except queue.Empty:
            db = self._connect()
        try:
            yield db
        finally:
            self._readers.put(db)

    def _read(self, sql: str, args: tuple[Any, ...] | list[Any] = ()) -> list[tuple[Any, ...]]:
        with self._reader() as db:
            return db.execute(sql, args).fetchall()

    def _read_one(self, sql: str, args: tuple[Any, ...] = ()) -> tuple[Any, ...] | None:
        rows = self._read(sql, args)
        return rows[0] if rows else None

    def _write(self, sql: str, args: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        with self._lock:
            return self._db.execute(sql, args)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # --- groups ------------------------------------------------------------------------

    def create_group(
        self,
        account: str,
        region: str,
        name: str,
        created: int,
        kms_key: str | None = None,
        group_class: str = "STANDARD",
        tags: dict[str, str] | None = None,
    ) -> bool:
        """Insert a group; False when it already exists."""
        try:
            self._write(
                "INSERT INTO groups (account, region, name, created, kms_key, class, tags)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (account, region, name, created, kms_key, group_class, json.dumps(tags or {})),
            )
        except sqlite3.IntegrityError:
            return False
        return True

    def group(self, account: str, region: str, name: str) -> Group | None:
        row = self._read_one(
            f"SELECT {_GROUP_COLUMNS} FROM groups WHERE account = ? AND region = ? AND name = ?",
            (account, region, name),
        )
        return None if row is None else _group(row)

    def groups(
        self, account: str, region: str, prefix: str = "", after: str = "", limit: int = -1
    ) -> list[Group]:
        """Groups by name, those whose name starts with ``prefix`` and sorts after ``after``."""
        rows = self._read(
            f"SELECT {_GROUP_COLUMNS} FROM groups WHERE account = ? AND region = ?"
            " AND substr(name, 1, ?) = ? AND name > ? ORDER BY name LIMIT ?",
            (account, region, len(prefix), prefix, after, limit),
        )
        return [_group(row) for row in rows]

    def retained_groups(self) -> list[Group]:
        """Every group with a retention policy (for the sweep)."""
        rows = self._read(f"SELECT {_GROUP_COLUMNS} FROM groups WHERE retention IS NOT NULL")
        return [_group(row) for row in rows]

    def delete_group(self, gid: int) -> None:
        with self._lock:
            self._db.execute("BEGIN")
            for table in ("events", "streams", "filters", "groups"):
                self._db.execute(f"DELETE FROM {table} WHERE gid = ?", (gid,))
            self._db.execute("COMMIT")

    def set_retention(self, gid: int, days: int | None) -> None:
        self._write("UPDATE groups SET retention = ? WHERE gid = ?", (days, gid))

    def set_tags(self, gid: int, tags: dict[str, str]) -> None:
        self._write("UPDATE groups SET tags = ? WHERE gid = ?", (json.dumps(tags), gid))

    # --- streams -----------------------------------------------------------------------

    def create_stream(self, gid: int, name: str, created: int) -> bool:
        """Insert a stream; False when the group already has one of that name."""
        try:
            self._write(
                "INSERT INTO streams (gid, name, created) VALUES (?, ?, ?)", (gid, name, created)
            )
        except sqlite3.IntegrityError:
            return False
        return True

    def stream(self, gid: int, name: str) -> Stream | None:
        row = self._read_one(
            f"SELECT {_STREAM_COLUMNS} FROM streams WHERE gid = ? AND name = ?", (gid, name)
        )
        return None if row is None else Stream(*row)

    def streams(self, gid: int, prefix: str = "") -> list[Stream]:
        """The group's streams by name (a group holds few enough to sort in memory)."""
        rows = self._read(
            f"SELECT {_STREAM_COLUMNS} FROM streams WHERE gid = ? AND substr(name, 1, ?) = ?"
            " ORDER BY name",
            (gid, len(prefix), prefix),
        )
        return [Stream(*row) for row in rows]

    def delete_stream(self, stream: Stream) -> None:
        with self._lock:
            self._db.execute("BEGIN")
            self._shrink(stream.gid, "sid = ?", (stream.sid,))
            self._db.execute("DELETE FROM events WHERE sid = ?", (stream.sid,))
            self._db.execute("DELETE FROM streams WHERE sid = ?", (stream.sid,))
            self._db.execute("COMMIT")

    # --- events ------------------------------------------------------------------------

    def append(self, stream: Stream, events: list[NewEvent], ingestion: int) -> None:
        """Store one batch (already checked and in order) in one transaction."""
        if not events:
            return
        size = sum(len(message.encode("utf-8")) for _, message in events)
        rows = [(stream.gid, stream.sid, ts, ingestion, message) for ts, message in events]
        first, last = events[0][0], events[-1][0]
        with self._lock:
            db = self._db
            db.execute("BEGIN")
            db.executemany(
                "INSERT INTO events (gid, sid, ts, ingest, message) VALUES (?, ?, ?, ?, ?)", rows
            )
            db.execute(
                "UPDATE streams SET first_ts = min(coalesce(first_ts, ?), ?),"
                " last_ts = max(coalesce(last_ts, ?), ?), last_ingest = ? WHERE sid = ?",
                (first, first, last, last, ingestion, stream.sid),
            )
            db.execute(
                "UPDATE groups SET stored_bytes = stored_bytes + ? WHERE gid = ?",
                (size, stream.gid),
            )
            db.execute("COMMIT")

    def backfill(self, gid: int, streams: list[tuple[str, list[NewEvent]]], ingestion: int) -> int:
        """Store whole streams (name, events in order) in one transaction; the events stored.

        For simulate-history: PutLogEvents refuses events older than 14 days, so history
        that old is written here, directly; a stream that already exists gets the events
        appended. The counters move as :meth:`append` moves them.
        """
        stored = 0
        with self._lock:
            db = self._db
            db.execute("BEGIN")
            try:
                for name, events in streams:
                    if events:
                        stored += self._fill(db, gid, name, events, ingestion)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return stored

    @staticmethod
    def _fill(
        db: sqlite3.Connection, gid: int, name: str, events: list[NewEvent], ingestion: int
    ) -> int:
        first, last = events[0][0], events[-1][0]
        db.execute(
            "INSERT OR IGNORE INTO streams (gid, name, created) VALUES (?, ?, ?)",
            (gid, name, first),
        )
        sid = db.execute(
            "SELECT sid FROM streams WHERE gid = ? AND name = ?", (gid, name)
        ).fetchone()[0]
        db.executemany(
            "INSERT INTO events (gid, sid, ts, ingest, message) VALUES (?, ?, ?, ?, ?)",
            [(gid, sid, ts, ingestion, message) for ts, message in events],
        )
        db.execute(
            "UPDATE streams SET first_ts = min(coalesce(first_ts, ?), ?),"
            " last_ts = max(coalesce(last_ts, ?), ?), last_ingest = ? WHERE sid = ?",
            (first, first, last, last, ingestion, sid),
        )
        size = sum(len(message.encode("utf-8")) for _, message in events)
        db.execute("UPDATE groups SET stored_bytes = stored_bytes + ? WHERE gid = ?", (size, gid))
        return len(events)

    def stream_page(
        self, stream: Stream, start: int, end: int, bound: Key, forward: bool, limit: int
    ) -> list[Event]:
        """Up to ``limit`` events of [start, end) after (forward) or before ``bound``, in order."""
        op, order = (">", "ASC") if forward else ("<", "DESC")
        rows = self._read(
            "SELECT eid, ?, ts, ingest, message FROM events WHERE sid = ? AND ts >= ?"
            f" AND ts < ? AND (ts, eid) {op} (?, ?) ORDER BY ts {order}, eid {order} LIMIT ?",
            (stream.name, stream.sid, start, end, bound[0], bound[1], limit),
        )
        events = [_event(row) for row in rows]
        return events if forward else events[::-1]

    def scan(
        self, gid: int, start: int, end: int, after: Key = (-1, -1), sids: list[int] | None = None
    ) -> Iterator[Event]:
        """The group's events in [start, end) after ``after``, in AWS's order, streamed."""
        where = "e.gid = ? AND e.ts >= ? AND e.ts < ? AND (e.ts, e.eid) > (?, ?)"
        args: list[Any] = [gid, start, end, after[0], after[1]]
        if sids is not None:
            where += f" AND e.sid IN ({','.join('?' * len(sids))})"
            args += sids
        with self._reader() as db:
            cursor = db.execute(
                "SELECT e.eid, s.name, e.ts, e.ingest, e.message FROM events e"
                f" JOIN streams s ON s.sid = e.sid WHERE {where} ORDER BY e.ts, e.eid",
                args,
            )
            try:
                while rows := cursor.fetchmany(1000):
                    yield from map(_event, rows)
            finally:
                cursor.close()

    def expire(self, gid: int, cutoff: int) -> int:
        """Delete the group's events older than ``cutoff`` (ms); the number deleted."""
        with self._lock:
            self._db.execute("BEGIN")
            self._shrink(gid, "gid = ? AND ts < ?", (gid, cutoff))
            deleted = self._db.execute(
                "DELETE FROM events WHERE gid = ? AND ts < ?", (gid, cutoff)
            ).rowcount
            self._db.execute(
                "UPDATE streams SET"
                " first_ts = (SELECT min(ts) FROM events WHERE events.sid = streams.sid),"
                " last_ts = (SELECT max(ts) FROM events WHERE events.sid = streams.sid)"
                " WHERE gid = ?",
                (gid,),
            )
            self._db.execute("COMMIT")
        return int(deleted)

    def _shrink(self, gid: int, where: str, args: tuple[Any, ...]) -> None:
        """Take the bytes of the events about to be deleted off their group (lock held)."""
        self._db.execute(
            "UPDATE groups SET stored_bytes = max(0, stored_bytes - coalesce((SELECT"
            f" sum(length(CAST(message AS BLOB))) FROM events WHERE {where}), 0)) WHERE gid = ?",
            (*args, gid),
        )

    # --- documents: metric filters, queries, resource policies, meta ---------------------

    def put_filter(self, gid: int, name: str, body: dict[str, Any]) -> None:
        self._write(
            "INSERT INTO filters (gid, name, body) VALUES (?, ?, ?)"
            " ON CONFLICT (gid, name) DO UPDATE SET body = excluded.body",
            (gid, name, json.dumps(body)),
        )

    def filters(self, gid: int | None = None) -> list[dict[str, Any]]:
        """Metric filters by name (of one group, or of all)."""
        where, args = ("WHERE gid = ?", (gid,)) if gid is not None else ("", ())
        rows = self._read(f"SELECT body FROM filters {where} ORDER BY name", args)
        return [dict(json.loads(row[0])) for row in rows]

    def filter_counts(self) -> dict[int, int]:
        rows = self._read("SELECT gid, count(*) FROM filters GROUP BY gid")
        return {int(gid): int(count) for gid, count in rows}

    def delete_filter(self, gid: int, name: str) -> bool:
        cursor = self._write("DELETE FROM filters WHERE gid = ? AND name = ?", (gid, name))
        return bool(cursor.rowcount)

    def put_query(self, qid: str, account: str, region: str, body: dict[str, Any]) -> None:
        self._write(
            "INSERT INTO queries (qid, account, region, created, body) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (qid) DO UPDATE SET body = excluded.body",
            (qid, account, region, int(body["createTime"]), json.dumps(body)),
        )

    def query(self, qid: str) -> dict[str, Any] | None:
        row = self._read_one("SELECT body FROM queries WHERE qid = ?", (qid,))
        return None if row is None else dict(json.loads(row[0]))

    def queries(self, account: str, region: str) -> list[dict[str, Any]]:
        """Queries, newest first."""
        rows = self._read(
            "SELECT body FROM queries WHERE account = ? AND region = ? ORDER BY created DESC",
            (account, region),
        )
        return [dict(json.loads(row[0])) for row in rows]

    def all_queries(self) -> list[dict[str, Any]]:
        rows = self._read("SELECT body FROM queries ORDER BY created")
        return [dict(json.loads(row[0])) for row in rows]

    def put_policy(self, account: str, region: str, name: str, body: dict[str, Any]) -> None:
        self._write(
            "INSERT INTO policies (account, region, name, body) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (account, region, name) DO UPDATE SET body = excluded.body",
            (account, region, name, json.dumps(body)),
        )

    def policies(self, account: str, region: str) -> list[dict[str, Any]]:
        rows = self._read(
            "SELECT body FROM policies WHERE account = ? AND region = ? ORDER BY name",
            (account, region),
        )
        return [dict(json.loads(row[0])) for row in rows]

    def delete_policy(self, account: str, region: str, name: str) -> bool:
        cursor = self._write(
            "DELETE FROM policies WHERE account = ? AND region = ? AND name = ?",
            (account, region, name),
        )
        return bool(cursor.rowcount)

    def meta(self, key: str) -> str | None:
        row = self._read_one("SELECT value FROM meta WHERE key = ?", (key,))
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self._write(
            "INSERT INTO meta (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def transaction(self) -> _Transaction:
        """Several writes as one (the migration): ``with store.transaction() as db: ...``."""
        return _Transaction(self)


class _Transaction:
    def __init__(self, store: LogStore) -> None:
        self.store = store

    def __enter__(self) -> sqlite3.Connection:
        self.store._lock.acquire()
        self.store._db.execute("BEGIN")
        return self.store._db

    def __exit__(self, kind: object, *_: object) -> None:
        try:
            self.store._db.execute("ROLLBACK" if kind else "COMMIT")
        finally:
            self.store._lock.release()
