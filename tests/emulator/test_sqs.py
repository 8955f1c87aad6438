"""SQS on the emulator: a long poll waits without holding back any other request."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from opslib.emulator import EmulatorInfo
from tests.emulator.conftest import client

pytestmark = pytest.mark.emulator


def test_a_long_poll_gets_the_message_sent_while_it_waits(running: EmulatorInfo) -> None:
    sqs = client(running, "sqs")
    url = sqs.create_queue(QueueName="waiting")["QueueUrl"]
    received: dict[str, Any] = {}

    def poll() -> None:
        received["answer"] = client(running, "sqs").receive_message(
            QueueUrl=url, WaitTimeSeconds=20
        )

    poller = threading.Thread(target=poll)
    poller.start()
    # While it waits, other calls are answered (a long poll held the emulator's lock before).
    assert client(running, "s3").list_buckets()["Buckets"] == []
    sqs.send_message(QueueUrl=url, MessageBody="while you waited")
    poller.join(timeout=30)
    assert not poller.is_alive()
    (message,) = received["answer"]["Messages"]
    assert message["Body"] == "while you waited"  # held back, the send would come after it


def test_a_long_poll_on_an_empty_queue_answers_empty_after_its_wait(
    running: EmulatorInfo,
) -> None:
    sqs = client(running, "sqs")
    url = sqs.create_queue(QueueName="quiet", Attributes={"ReceiveMessageWaitTimeSeconds": "2"})[
        "QueueUrl"
    ]
    began = time.monotonic()
    answer = sqs.receive_message(QueueUrl=url)  # the queue's own wait time applies
    assert "Messages" not in answer
    assert time.monotonic() - began >= 2
