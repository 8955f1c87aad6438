"""The fault switch: injected faults, kept durable and applied at the gateway's front door.

Emulator-only, and plainly not an AWS API: ``/_opslib/faults`` (a path no S3 bucket can
have, bucket names never start with ``_``) lists (GET), adds (POST, a JSON fault) and
clears (DELETE; ``?id=`` one) the faults. AWS FIS's API fault injection keeps its faults
here too (:meth:`FaultSwitch.add`), each tied to its experiment.

Every request is checked before any service code runs, as an outage sits in front of a
service: a matching fault answers its error in the request's own protocol (see
:mod:`opslib.emulator.core.faultspec`). The emulator's own workers (builds uploading
artifacts, the alarm evaluator, the agents on the hosts) sign with the internal key and
are never refused: the switch stands for what clients see of an endpoint, and AWS's
internals are not its clients.

Faults are records, so they survive a restart until cleared or expired; the switch keeps
a copy in memory so that a request with no fault costs one empty-list check.
"""

from __future__ import annotations

import json
import logging
import random
import re
import threading
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

from opslib.emulator.core.apimodel import error_protocol
from opslib.emulator.core.awserrors import Protocol, WireError
from opslib.emulator.core.faultspec import (
    Caller,
    Fault,
    FaultSpecError,
    fault_from_record,
    new_fault,
)
from opslib.emulator.core.gateway import ApiRequest, ApiResponse
from opslib.emulator.core.restops import rest_call
from opslib.emulator.core.runtime import INTERNAL_CREDENTIALS, Runtime

logger = logging.getLogger(__name__)

KIND = "fault"
PATH = "/_opslib/faults"
_ACCESS_KEY_RE = re.compile(r"Credential=([^/,\s]+)/")
NOTICE = "emulator-only fault switch: not an AWS API"


class FaultSwitch:
    """The faults in force: added, listed, cleared, and matched against every request."""

    def __init__(self, runtime: Runtime, chance: Callable[[], float] = random.random) -> None:
        self.runtime = runtime
        self._chance = chance
        self._lock = threading.Lock()
        self._faults = [fault_from_record(doc) for doc in runtime.records.all(KIND)]

    def register(self) -> None:
        self.runtime.gateway.endpoint(PATH, self.answer)
        self.runtime.gateway.intercept(self.check)

    # -- the switch ---------------------------------------------------------------------
    def faults(self) -> list[Fault]:
        """The faults in force (expired ones are removed on the way)."""
        now = time.time()
        with self._lock:
            expired = [f for f in self._faults if f.expired(now)]
            for fault in expired:
                self._faults.remove(fault)
                self.runtime.records.delete(KIND, fault.id)
            return list(self._faults)

    def add(self, fault: Fault) -> Fault:
        self.runtime.records.put(KIND, fault.id, fault.to_dict())  # durable first
        with self._lock:
            self._faults.append(fault)
        logger.info("fault %s injected: %s", fault.id, fault.to_dict())
        return fault

    def clear(
        self, fault_id: str = "", *, source: str = "", experiment_id: str = ""
    ) -> list[Fault]:
        """Remove one fault (by id), or all of a source/experiment, or all; returns them."""
        with self._lock:
            gone = [
                f
                for f in self._faults
                if (not fault_id or f.id == fault_id)
                and (not source or f.source == source)
                and (not experiment_id or f.experiment_id == experiment_id)
            ]
            for fault in gone:
                self.runtime.records.delete(KIND, fault.id)
                self._faults.remove(fault)
        if gone:
            logger.info("fault(s) cleared: %s", ", ".join(f.id for f in gone))
        return gone

    # -- the front door -----------------------------------------------------------------
    def check(self, request: ApiRequest, environ: dict[str, Any]) -> WireError | None:
        """The error a fault answers ``request`` with, or None to let it through."""
        if not self._faults:
            return None
        key = access_key(request)
        if key == INTERNAL_CREDENTIALS["aws_access_key_id"]:
            return None
        faults = self.faults()
        caller = Caller(
            request.service,
            request.region,
            operation_name(request, environ),
            _role_of(key) if any(f.role_arn for f in faults) else "",
        )
        for fault in faults:
            if fault.matches(caller) and self._chance() < fault.rate:
                protocol = error_protocol(request.service, request.wire)
                logger.info("fault %s refused %s %s", fault.id, caller.service, caller.operation)
                return fault.wire_error(protocol)
        return None

    # -- /_opslib/faults ----------------------------------------------------------------
    def answer(self, request: ApiRequest, environ: dict[str, Any]) -> ApiResponse:
        """GET lists, POST adds one, DELETE clears (all, or ``?id=``)."""
        if request.method == "GET":
            return _listing(self.faults())
        if request.method == "POST":
            try:
                doc = json.loads(request.body or b"{}")
                if not isinstance(doc, dict):
                    raise FaultSpecError("body: expected a JSON object")
                fault = self.add(new_fault(doc))
            except ValueError as exc:  # FaultSpecError is one; so is bad JSON
                return _refusal(str(exc))
            return ApiResponse.json({"notice": NOTICE, "fault": fault.to_dict()}, 201)
        if request.method == "DELETE":
            query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
            fault_id = query.get("id", [""])[0]
            if fault_id and fault_id not in {f.id for f in self.faults()}:
                return _refusal(f"id: no fault {fault_id!r} is in force", 404)
            return _listing(self.clear(fault_id), key="cleared")
        return _refusal(f"method: {request.method} is not one of GET, POST, DELETE", 405)


def _listing(faults: list[Fault], key: str = "faults") -> ApiResponse:
    return ApiResponse.json({"notice": NOTICE, key: [f.to_dict() for f in faults]})


def _refusal(message: str, status: int = 400) -> ApiResponse:
    return ApiResponse.json({"notice": NOTICE, "error": message}, status)


def access_key(request: ApiRequest) -> str:
    """The access key id that signed a request ('' when unsigned)."""
    match = _ACCESS_KEY_RE.search(request.headers.get("authorization", ""))
    return match.group(1) if match else ""


def operation_name(request: ApiRequest, environ: dict[str, Any]) -> str:
    """The AWS operation a request calls: PutObject rather than ``PUT /bucket/key``."""
    if request.wire is not Protocol.REST:
        return request.operation
    call = rest_call(
        request.service,
        request.method,
        request.path,
        str(environ.get("QUERY_STRING", "")),
        request.headers,
    )
    return call.operation if call else ""


def _role_of(access_key_id: str) -> str:
    """The IAM role whose AssumeRole credentials these are ('' for any other key).

    moto's STS keeps every session it issued with its access key; a role's calls are the
    ones signed with such a key (FIS injects API errors for a role this way).
    """
    if not access_key_id:
        return ""
    from moto.sts.models import sts_backends

    for regions in sts_backends.values():
        for backend in regions.values():
            assumed = backend.get_assumed_role_from_access_key(access_key_id)
            if assumed is not None:
                return str(assumed.role_arn)
    return ""
