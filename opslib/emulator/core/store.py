"""The emulator's durable state: moto's backends as snapshots, our own records in SQLite.

Design (why not moto's recorder): replaying recorded requests would re-run every build
and would mint new random ids, so what a client was told (a build id, an instance id)
would not survive a restart. Instead every mutating request is answered only after the
state it changed is on disk:

- moto's in-memory backends are pickled per service into ``moto/<service>.pickle``,
  written to a temp file, fsynced and renamed, so a ``kill -9`` leaves either the old or
  the new snapshot, never half of one;
- what the emulator itself owns (builds, reports, hosts) lives in ``records.sqlite``
  (WAL, synchronous=FULL): one JSON document per record, written as it changes.

On start the snapshots are loaded back into moto's module-level backends before the first
request is served.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from moto.backends import get_backend

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
    "logs",
    "events",
    "sns",
    "resourcegroupstaggingapi",
)


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


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` so that a crash leaves either the old file or the new one."""
    tmp = path.with_name(f".{path.name}.{threading.get_ident()}.tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


class MotoSnapshots:
    """Pickled snapshots of moto's backends, one file per service."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    def _path(self, service: str) -> Path:
        return self.directory / f"{service}.pickle"

    def save(self, services: Iterable[str]) -> None:
        """Snapshot these services now (call with the state lock held)."""
        for service in services:
            if service in SNAPSHOT_SERVICES:
                write_atomically(self._path(service), pickle.dumps(_plain(service)))

    def restore(self) -> list[str]:
        """Load every snapshot found back into moto; returns the services restored."""
        restored = []
        for service in SNAPSHOT_SERVICES:
            path = self._path(service)
            if path.exists():
                _load_into(service, pickle.loads(path.read_bytes()))
                restored.append(service)
        logger.info("restored moto state of %s", ", ".join(restored) or "no service")
        return restored


class RecordStore:
    """JSON records of what the emulator itself owns (builds, reports, hosts), in SQLite."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS records (kind TEXT NOT NULL, id TEXT NOT NULL,"
            " seq INTEGER NOT NULL, body TEXT NOT NULL, PRIMARY KEY (kind, id))"
        )

    def put(self, kind: str, record_id: str, body: dict[str, Any]) -> None:
        """Insert or replace a record; durable when this returns."""
        text = json.dumps(body, default=str)
        with self._lock:
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

    def empty(self) -> bool:
        """Whether no record of any kind is stored (nothing any service could recover)."""
        with self._lock:
            return self._db.execute("SELECT 1 FROM records LIMIT 1").fetchone() is None

    def delete(self, kind: str, record_id: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM records WHERE kind = ? AND id = ?", (kind, record_id))

    def close(self) -> None:
        with self._lock:
            self._db.close()


def public(record: dict[str, Any]) -> dict[str, Any]:
    """A record as the API shows it: keys starting with ``_`` are the emulator's own."""
    return {k: v for k, v in record.items() if not k.startswith("_")}
