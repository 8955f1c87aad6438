"""A build's log stream in CloudWatch Logs, written while the build runs.

Lines are buffered and shipped at most about once a second (and at close), the way the
CodeBuild agent ships them; each shipment is one PutLogEvents call (or a few, within its
limits: :func:`opslib.emulator.core.limits.log_batches`), so a chatty build does not turn into
thousands of API calls and snapshots.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from typing import Any

from opslib.emulator.core.limits import log_batches
from opslib.emulator.core.runtime import Runtime

logger = logging.getLogger(__name__)

FLUSH_SECONDS = 1.0


class BuildLog:
    """Buffered writer of one log stream; thread-safe; ``close`` flushes what is left."""

    def __init__(self, runtime: Runtime, region: str, group: str, stream: str) -> None:
        self.runtime = runtime
        self.region = region
        self.group = group
        self.stream = stream
        self._pending: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._created = False
        self._closed = threading.Event()
        self._flusher = threading.Thread(target=self._flush_loop, daemon=True, name=f"log-{stream}")
        self._flusher.start()

    def write(self, lines: list[tuple[datetime, str]]) -> None:
        # CloudWatch Logs rejects empty messages; a blank line ships as one space.
        events = [
            {"timestamp": int(at.timestamp() * 1000), "message": text or " "} for at, text in lines
        ]
        with self._lock:
            self._pending.extend(events)

    def close(self) -> None:
        self._closed.set()
        self._flusher.join(timeout=30)
        self.flush()

    def _flush_loop(self) -> None:
        while not self._closed.wait(FLUSH_SECONDS):
            self.flush()

    def flush(self) -> None:
        with self._lock:
            events, self._pending = self._pending, []
        if not events:
            return
        try:
            self._ensure_stream()
            client = self.runtime.client("logs", self.region)
            for batch in log_batches(sorted(events, key=lambda e: e["timestamp"])):
                client.put_log_events(
                    logGroupName=self.group, logStreamName=self.stream, logEvents=batch
                )
        except Exception:
            logger.exception("could not ship %d log lines to %s", len(events), self.group)

    def _ensure_stream(self) -> None:
        if self._created:
            return
        client = self.runtime.client("logs", self.region)
        for call, kwargs in (
            (client.create_log_group, {"logGroupName": self.group}),
            (client.create_log_stream, {"logGroupName": self.group, "logStreamName": self.stream}),
        ):
            try:
                call(**kwargs)
            except client.exceptions.ResourceAlreadyExistsException:
                pass
        self._created = True
