"""kill -9 during a burst of PutLogEvents: every acknowledged event is there after restart."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import BotoCoreError, ClientError

from opslib.emulator import EmulatorInfo
from tests.emulator.conftest import client
from tests.emulator.deploy_helpers import wait_until

pytestmark = pytest.mark.emulator

GROUP = "/t/burst"
WRITERS = 3
BATCH = 20


def _write(info: EmulatorInfo, stream: str, acked: list[str], stop: threading.Event) -> None:
    logs = client(info, "logs")
    for batch in range(100_000):
        if stop.is_set():
            return
        now = int(time.time() * 1000)
        messages = [f"{stream} {batch} {i}" for i in range(BATCH)]
        try:
            logs.put_log_events(
                logGroupName=GROUP,
                logStreamName=stream,
                logEvents=[{"timestamp": now, "message": m} for m in messages],
            )
        except (BotoCoreError, ClientError):
            return
        acked.extend(messages)


def _all_messages(logs: Any, stream: str) -> set[str]:
    found: set[str] = set()
    answer = logs.get_log_events(logGroupName=GROUP, logStreamName=stream, startFromHead=True)
    while answer["events"]:
        found.update(e["message"] for e in answer["events"])
        answer = logs.get_log_events(
            logGroupName=GROUP, logStreamName=stream, nextToken=answer["nextForwardToken"]
        )
    return found


def test_kill_9_during_a_write_burst_keeps_every_acknowledged_event(
    start_emulator: Callable[..., EmulatorInfo],
) -> None:
    info = start_emulator()
    logs = client(info, "logs")
    logs.create_log_group(logGroupName=GROUP)
    streams = [f"w{n}" for n in range(WRITERS)]
    for stream in streams:
        logs.create_log_stream(logGroupName=GROUP, logStreamName=stream)
    acked: list[str] = []
    stop = threading.Event()
    threads = [threading.Thread(target=_write, args=(info, s, acked, stop)) for s in streams]
    for thread in threads:
        thread.start()
    wait_until(lambda: len(acked) >= 30 * BATCH, what="writes under way")
    os.kill(info.pid, signal.SIGKILL)
    stop.set()
    for thread in threads:
        thread.join(30)
    info = start_emulator()
    logs = client(info, "logs")
    stored = set().union(*(_all_messages(logs, s) for s in streams))
    lost = [m for m in acked if m not in stored]
    assert not lost, f"{len(lost)} of {len(acked)} acknowledged event(s) lost: {lost[:5]}"
