"""The upgrade from moto's logs backend: import ``moto/logs.pickle`` into the store, once.

A state directory from before this store kept log groups, streams, events, metric
filters, tags and resource policies in moto's pickled logs backend. On the first start
with the store everything acknowledged there is copied over in one transaction that
also records that the import happened; only then is the snapshot renamed to
``logs.pickle.imported`` (kept, not deleted, for whoever wants to look). A crash between
the two leaves the mark in the store, so the next start only renames.
"""

from __future__ import annotations

import json
import logging
import pickle
import sqlite3
from pathlib import Path
from typing import Any

from moto.core.utils import unix_time_millis

from opslib.emulator.cloudwatch.logstore import LogStore

logger = logging.getLogger(__name__)

IMPORTED = "moto_logs_imported"


def import_moto_logs(store: LogStore, moto_dir: Path) -> int:
    """Import the old snapshot if there is one; the number of events imported."""
    snapshot = moto_dir / "logs.pickle"
    if not snapshot.exists():
        return 0
    imported = 0
    if store.meta(IMPORTED) is None:
        backends: dict[str, dict[str, Any]] = pickle.loads(snapshot.read_bytes())
        with store.transaction() as db:
            for account, regions in backends.items():
                for region, backend in regions.items():
                    imported += _import_backend(db, account, region, backend)
            db.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (IMPORTED, str(imported)))
        logger.info("imported %d log event(s) from moto's logs snapshot", imported)
    snapshot.rename(snapshot.with_name("logs.pickle.imported"))
    return imported


def _millis(value: Any) -> int:
    return int(value) if isinstance(value, int | float) else int(unix_time_millis(value))


def _import_backend(db: sqlite3.Connection, account: str, region: str, backend: Any) -> int:
    count = 0
    gids: dict[str, int] = {}
    for name, group in backend.groups.items():
        tags = backend.tagger.get_tag_dict_for_resource(group.arn)
        gid = db.execute(
            "INSERT INTO groups (account, region, name, created, retention, kms_key, class, tags)"
            " VALUES (?, ?, ?, ?, ?, ?, 'STANDARD', ?)",
            (account, region, name, _millis(group.creation_time), group.retention_in_days,
             group.kms_key_id, json.dumps(tags)),
        ).lastrowid  # fmt: skip
        assert gid is not None
        gids[name] = gid
        for stream_name, stream in group.streams.items():
            count += _import_stream(db, gid, stream_name, stream)
    for body in backend.filters.metric_filters:
        gid = gids.get(body["logGroupName"])
        if gid is not None:
            record = {**body, "creationTime": _millis(body.get("creationTime", 0))}
            db.execute(
                "INSERT OR REPLACE INTO filters (gid, name, body) VALUES (?, ?, ?)",
                (gid, body["filterName"], json.dumps(record, default=str)),
            )
    for name, policy in backend.resource_policies.items():
        doc = {"policyName": name, "policyDocument": policy.policy_document,
               "lastUpdatedTime": _millis(policy.last_updated_time)}  # fmt: skip
        db.execute(
            "INSERT OR REPLACE INTO policies (account, region, name, body) VALUES (?, ?, ?, ?)",
            (account, region, name, json.dumps(doc)),
        )
    return count


def _import_stream(db: sqlite3.Connection, gid: int, name: str, stream: Any) -> int:
    events = sorted(stream.events, key=lambda e: (e.timestamp, e.event_id))
    sid = db.execute(
        "INSERT INTO streams (gid, name, created, first_ts, last_ts, last_ingest)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (gid, name, _millis(stream.creation_time),
         events[0].timestamp if events else None, events[-1].timestamp if events else None,
         max(e.ingestion_time for e in events) if events else None),
    ).lastrowid  # fmt: skip
    db.executemany(
        "INSERT INTO events (gid, sid, ts, ingest, message) VALUES (?, ?, ?, ?, ?)",
        [(gid, sid, e.timestamp, e.ingestion_time, e.message) for e in events],
    )
    size = sum(len(e.message.encode("utf-8")) for e in events)
    db.execute("UPDATE groups SET stored_bytes = stored_bytes + ? WHERE gid = ?", (size, gid))
    return len(events)
