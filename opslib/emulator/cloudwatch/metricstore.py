"""The emulator's metric datapoints and alarm history, in their own SQLite file.

``metrics.sqlite`` in the state directory (WAL, ``synchronous=FULL``): a PutMetricData is
one transaction that inserts the rows it carries and nothing else, committed before the
request is answered, so an acknowledged write survives ``kill -9`` and costs what it wrote
(moto never sees the datapoints, so its CloudWatch snapshot stays the size of the alarms).

- ``metrics``: one row per metric (namespace, name, dimensions as a canonical key: the
  ``Name=Value`` pairs sorted by name, JSON), with the time of its last datapoint for
  ListMetrics' RecentlyActive.
- ``points``: one row per sample, indexed by (metric, timestamp) for range reads: a value
  with its count (``Value``, or each of ``Values``/``Counts``), or a statistic set; its
  unit and storage resolution. Standard-resolution samples are stamped at the start of
  their minute, as CloudWatch aggregates them to one-minute resolution.
- ``history``: DescribeAlarmHistory items; they outlive the alarm, as on AWS.

Alarm definitions stay in moto (small control-plane state, snapshotted with it).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from opslib.emulator.cloudwatch.notifications import HistoryItem
from opslib.emulator.cloudwatch.statistics import Sample, StatisticSet
from opslib.exceptions import StateNotDurable

Dimensions = tuple[tuple[str, str], ...]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS metrics (
    id INTEGER PRIMARY KEY,
    region TEXT NOT NULL,
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    dims TEXT NOT NULL,
    last_put REAL NOT NULL,
    UNIQUE (region, namespace, name, dims)
);
CREATE TABLE IF NOT EXISTS points (
    metric INTEGER NOT NULL,
    ts REAL NOT NULL,
    value REAL,
    count REAL,
    s_count REAL,
    s_sum REAL,
    s_min REAL,
    s_max REAL,
    unit TEXT,
    resolution INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS points_by_time ON points (metric, ts);
CREATE TABLE IF NOT EXISTS history (
    seq INTEGER PRIMARY KEY,
    region TEXT NOT NULL,
    alarm TEXT NOT NULL,
    ts REAL NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS history_by_alarm ON history (region, alarm, ts);
"""


def dimension_key(dimensions: Dimensions) -> str:
    """The canonical key of a dimension set: pairs sorted by name, as JSON."""
    return json.dumps(sorted(dimensions), separators=(",", ":"))


@dataclass(frozen=True)
class MetricId:
    """One metric: namespace, name and its (sorted) dimensions."""

    namespace: str
    name: str
    dimensions: Dimensions = ()


@dataclass(frozen=True)
class Datum:
    """One sample to store (a value and its count, or a statistic set)."""

    metric: MetricId
    timestamp: float
    value: float = 0.0
    count: float = 1.0
    statistic_set: StatisticSet | None = None
    unit: str | None = None
    resolution: int = 60


@dataclass(frozen=True)
class ListedMetric:
    metric: MetricId
    last_put: float


class MetricStore:
    """Datapoints and alarm history; thread-safe (one connection behind a lock)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()
        self._ids: dict[tuple[str, str, str, str], int] = {}

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                self._ids.clear()  # ids minted in a rolled-back transaction are gone
                raise StateNotDurable(f"cannot store metric data: {exc}") from exc

    def put(self, region: str, data: Sequence[Datum]) -> None:
        """Store ``data`` in one transaction (all or nothing)."""
        with self._write() as db:
            rows = []
            latest: dict[int, float] = {}
            for datum in data:
                metric = self._metric_id(db, region, datum.metric, datum.timestamp)
                latest[metric] = max(latest.get(metric, 0.0), datum.timestamp)
                rows.append(_row(metric, datum))
            db.executemany("INSERT INTO points VALUES (?,?,?,?,?,?,?,?,?,?)", rows)
            db.executemany(
                "UPDATE metrics SET last_put = max(last_put, ?) WHERE id = ?",
                [(ts, metric) for metric, ts in latest.items()],
            )

    def _metric_id(self, db: sqlite3.Connection, region: str, metric: MetricId, ts: float) -> int:
        key = (region, metric.namespace, metric.name, dimension_key(metric.dimensions))
        found = self._ids.get(key)
        if found is not None:
            return found
        row = db.execute(
            "SELECT id FROM metrics WHERE region=? AND namespace=? AND name=? AND dims=?", key
        ).fetchone()
        if row is None:
            row = db.execute(
                "INSERT INTO metrics (region, namespace, name, dims, last_put) "
                "VALUES (?,?,?,?,?) RETURNING id",
                (*key, ts),
            ).fetchone()
        self._ids[key] = int(row[0])
        return int(row[0])

    def samples(
        self, region: str, metric: MetricId, start: float, end: float, unit: str | None = None
    ) -> list[Sample]:
        """The samples of one metric with ``start <= timestamp < end`` (of ``unit`` if set)."""
        key = (region, metric.namespace, metric.name, dimension_key(metric.dimensions))
        sql = (
            "SELECT p.ts, p.value, p.count, p.s_count, p.s_sum, p.s_min, p.s_max FROM points p "
            "JOIN metrics m ON m.id = p.metric WHERE m.region=? AND m.namespace=? AND m.name=? "
            "AND m.dims=? AND p.ts >= ? AND p.ts < ?"
        )
        args: list[object] = [*key, start, end]
        if unit is not None:
            sql += " AND p.unit IS ?"
            args.append(unit)
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        return [_sample(row) for row in rows]

    def units(self, region: str, metric: MetricId, start: float, end: float) -> list[str | None]:
        """The units the metric's samples in the range were published with."""
        key = (region, metric.namespace, metric.name, dimension_key(metric.dimensions))
        with self._lock:
            rows = self._db.execute(
                "SELECT DISTINCT p.unit FROM points p JOIN metrics m ON m.id = p.metric "
                "WHERE m.region=? AND m.namespace=? AND m.name=? AND m.dims=? "
                "AND p.ts >= ? AND p.ts < ?",
                (*key, start, end),
            ).fetchall()
        return [row[0] for row in rows]

    def metrics(
        self, region: str, namespace: str | None = None, name: str | None = None
    ) -> list[ListedMetric]:
        """The metrics of a region (optionally of one namespace and name), sorted."""
        sql = "SELECT namespace, name, dims, last_put FROM metrics WHERE region=?"
        args: list[object] = [region]
        if namespace is not None:
            sql += " AND namespace=?"
            args.append(namespace)
        if name is not None:
            sql += " AND name=?"
            args.append(name)
        sql += " ORDER BY namespace, name, dims"
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        return [
            ListedMetric(MetricId(ns, n, tuple(tuple(p) for p in json.loads(d))), last)
            for ns, n, d, last in rows
        ]

    # -- alarm history -----------------------------------------------------------------------
    def add_history(self, region: str, items: Sequence[HistoryItem]) -> None:
        with self._write() as db:
            db.executemany(
                "INSERT INTO history (region, alarm, ts, body) VALUES (?,?,?,?)",
                [
                    (region, i.alarm_name, i.timestamp, json.dumps(i.to_wire(), default=str))
                    for i in items
                ],
            )

    def history(
        self, region: str, alarm: str | None, start: float, end: float, ascending: bool
    ) -> list[dict[str, object]]:
        """History items of ``alarm`` (or all) with ``start <= Timestamp <= end``."""
        sql = "SELECT body FROM history WHERE region=? AND ts >= ? AND ts <= ?"
        args: list[object] = [region, start, end]
        if alarm is not None:
            sql += " AND alarm=?"
            args.append(alarm)
        sql += " ORDER BY ts " + ("ASC" if ascending else "DESC") + ", seq"
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        return [json.loads(row[0]) for row in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _row(metric: int, datum: Datum) -> tuple[object, ...]:
    ts = datum.timestamp if datum.resolution == 1 else datum.timestamp // 60 * 60
    s = datum.statistic_set
    if s is not None:
        return (metric, ts, None, None, s.sample_count, s.sum, s.minimum, s.maximum,
                datum.unit, datum.resolution)  # fmt: skip
    return (metric, ts, datum.value, datum.count, None, None, None, None,
            datum.unit, datum.resolution)  # fmt: skip


def _sample(row: tuple[float, float | None, float | None, float, float, float, float]) -> Sample:
    ts, value, count, s_count, s_sum, s_min, s_max = row
    if value is None:
        return Sample(ts, statistic_set=StatisticSet(s_count, s_sum, s_min, s_max))
    return Sample(ts, value, count if count is not None else 1.0)
