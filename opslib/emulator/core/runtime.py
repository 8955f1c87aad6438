"""What the emulator's services share inside the server process."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import botocore.config
from moto.core.models import DEFAULT_ACCOUNT_ID

from opslib.emulator.core.gateway import Gateway
from opslib.emulator.core.store import RecordStore

INTERNAL_CREDENTIALS = {"aws_access_key_id": "opslib-emulator", "aws_secret_access_key": "x"}


@dataclass
class Runtime:
    """The server's shared parts: gateway, records, state dir and its own endpoint.

    The emulator's workers (builds, hosts, metrics) change AWS state the way AWS's own
    services do: through the API, so every change is persisted and visible like any other.
    """

    gateway: Gateway
    records: RecordStore
    state_dir: Path
    endpoint: str = ""
    account_id: str = DEFAULT_ACCOUNT_ID
    stopping: threading.Event = field(default_factory=threading.Event)
    _clients: dict[tuple[str, str], Any] = field(default_factory=dict)
    _clients_lock: threading.Lock = field(default_factory=threading.Lock)
    _deferred: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="deferred")
    )

    def client(self, service: str, region: str) -> Any:
        """A boto3 client to this emulator (thread-safe; clients are shared)."""
        key = (service, region)
        with self._clients_lock:
            if key not in self._clients:
                self._clients[key] = boto3.session.Session().client(
                    service,
                    region_name=region,
                    endpoint_url=self.endpoint,
                    config=botocore.config.Config(retries={"mode": "standard"}),
                    **INTERNAL_CREDENTIALS,
                )
            return self._clients[key]

    def defer(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn`` after the current request: for API calls made from inside a handler,
        which holds the gateway's lock and so must not call back into the emulator itself."""
        self._deferred.submit(fn, *args)

    def work_path(self, *parts: str) -> Path:
        """Where work in progress lives in the state directory; whoever writes there makes it."""
        return self.state_dir.joinpath("work", *parts)
