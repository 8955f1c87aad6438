"""SQS long polling that waits outside the state lock.

moto's ReceiveMessage waits for a message *inside* the request (``Condition.wait_for`` up to
WaitTimeSeconds), and the gateway serves every request under one state lock: a 20-second
long poll held back every other call, the SendMessage it was waiting for included. Here a
long poll is asked of moto as short polls (WaitTimeSeconds 0), each under the lock, and
between them the waiting happens outside it, woken by any write the gateway stores (an SNS
delivery to the queue, a SendMessage) or after a quarter second (a message whose visibility
timeout ended, a delay that passed), until a message is there or the wait time is up.
What the client sees is AWS's long poll: the messages as soon as there are any, else an
empty answer after WaitTimeSeconds (the request's, else the queue's
ReceiveMessageWaitTimeSeconds attribute).
"""

from __future__ import annotations

import io
import json
import threading
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

from opslib.emulator.core.awserrors import Protocol

RECHECK_SECONDS = 0.25  # messages that become visible by time alone are seen this soon
_ANY_WRITE = threading.Condition()


def stored_a_write() -> None:
    """A mutating request was answered: waiting long polls look again."""
    with _ANY_WRITE:
        _ANY_WRITE.notify_all()


def is_long_poll_candidate(service: str, operation: str) -> bool:
    return service == "sqs" and operation == "ReceiveMessage"


def _form(body: bytes) -> dict[str, list[str]]:
    return urllib.parse.parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)


def requested_wait(wire: Protocol, body: bytes) -> tuple[float | None, str]:
    """The request's WaitTimeSeconds (None when absent) and its QueueUrl."""
    if wire is Protocol.JSON:
        data = json.loads(body or b"{}")
        wait = data.get("WaitTimeSeconds")
        return (None if wait is None else float(wait)), str(data.get("QueueUrl", ""))
    form = _form(body)
    wait_values = form.get("WaitTimeSeconds")
    url = (form.get("QueueUrl") or [""])[0]
    return (float(wait_values[0]) if wait_values else None), url


def short_poll_body(wire: Protocol, body: bytes) -> bytes:
    """The same request with WaitTimeSeconds 0: moto answers at once."""
    if wire is Protocol.JSON:
        data = json.loads(body or b"{}")
        data["WaitTimeSeconds"] = 0
        return json.dumps(data).encode()
    form = _form(body)
    form["WaitTimeSeconds"] = ["0"]
    return urllib.parse.urlencode(form, doseq=True).encode()


def queue_wait_seconds(queue_url: str, account: str, region: str) -> float:
    """The queue's ReceiveMessageWaitTimeSeconds (0 when the queue is unknown)."""
    from moto.sqs.models import sqs_backends

    name = queue_url.rstrip("/").rsplit("/", 1)[-1]
    queue = sqs_backends[account][region].queues.get(name)
    return float(getattr(queue, "receive_message_wait_time_seconds", 0) or 0) if queue else 0.0


def has_messages(body: bytes, wire: Protocol) -> bool:
    """Whether a ReceiveMessage answer carries any message."""
    if wire is Protocol.JSON:
        return bool(json.loads(body or b"{}").get("Messages"))
    return b"<Message>" in body


def with_body(environ: dict[str, Any], body: bytes) -> dict[str, Any]:
    """A copy of the WSGI environ that carries ``body`` instead."""
    copy = dict(environ)
    copy["wsgi.input"] = io.BytesIO(body)
    copy["CONTENT_LENGTH"] = str(len(body))
    return copy


def long_poll(
    wait_seconds: float,
    ask: Callable[[], tuple[bytes, bool]],
    clock: Callable[[], float] = time.monotonic,
) -> bytes:
    """Ask (a short poll under the lock) until it has messages or ``wait_seconds`` pass.

    ``ask`` returns the answer's body and whether it is final (messages, or an error).
    """
    deadline = clock() + wait_seconds
    while True:
        body, final = ask()
        remaining = deadline - clock()
        if final or remaining <= 0:
            return body
        with _ANY_WRITE:
            _ANY_WRITE.wait(min(RECHECK_SECONDS, remaining))
