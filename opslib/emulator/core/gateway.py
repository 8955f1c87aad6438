"""The emulator's front door: one WSGI app that speaks the AWS wire protocols.

Every request is identified as (service, operation) the way AWS routes it: the SigV4
credential scope names the service, ``X-Amz-Target`` (JSON protocols) or ``Action``
(query protocols) names the operation, and S3 is REST. An operation the emulator runs
itself (StartBuild, BatchGetBuilds, ...) goes to its registered handler; everything else
goes to moto. Mutating requests are serialized under one lock and answered only after
the state they changed is snapshotted, which is what makes "acknowledged" mean "durable".

Whatever goes wrong is answered as AWS answers it, in the request's protocol (see
:mod:`opslib.emulator.core.awserrors`), and the emulator stays up:

- what AWS's front end refuses before any service code runs, from botocore's models:
  ``UnknownOperationException``, ``SerializationException``, ``ValidationException``,
  ``InvalidAction`` (400; see :mod:`opslib.emulator.core.apimodel`);
- a change that cannot be stored (a full disk): moto is put back to its last snapshot, so
  nothing is listed that was not stored, and the answer is ``InternalFailure`` (S3:
  ``InternalError``), 500, which SDKs retry; a retry then starts from a clean state;
- an exception escaping moto or a handler: ``InternalFailure`` 500, its traceback in
  ``emulator.log`` (moto's Flask apps run with ``debug=True``, so Flask propagates the
  exception here instead of answering its own HTML page); an operation AWS has and moto
  does not implement: ``NotImplemented`` 501, which SDKs do not retry.
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import re
import threading
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from moto.core.models import DEFAULT_ACCOUNT_ID

from opslib.emulator.core import longpoll
from opslib.emulator.core.apimodel import (
    check_json,
    check_query,
    error_protocol,
    xml_namespace,
)
from opslib.emulator.core.awserrors import (
    Protocol,
    WireError,
    internal_error,
    not_implemented,
    render,
)
from opslib.emulator.core.restops import rest_json_operation
from opslib.emulator.core.store import OWN_STORES, SNAPSHOT_SERVICES, MotoSnapshots
from opslib.exceptions import StateNotDurable

logger = logging.getLogger(__name__)

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
_SCOPE_RE = re.compile(r"Credential=[^/]+/\d{8}/([^/]+)/([^/]+)/aws4_request")
_READ_PREFIXES = (
    "Get", "List", "Describe", "BatchGet", "Head", "Filter", "Lookup", "Search", "Query",
    "Test", "Simulate", "Select", "Scan", "Check", "Validate",
)  # fmt: skip
# moto's backend name where it differs from the SigV4 signing name.
_BACKEND_NAMES = {"monitoring": "cloudwatch", "tagging": "resourcegroupstaggingapi"}
# Operations of one service that also change another's state (EventBridge targets; the
# tagging API writes the tags into the tagged resource's own service).
_SIDE_EFFECTS = {
    "events": ("sns",),  # its log-group targets write to the Logs store (OWN_STORES)
    "cloudwatch": ("sns",),
    "resourcegroupstaggingapi": SNAPSHOT_SERVICES,
}


@dataclass
class ApiRequest:
    """One AWS API call as the gateway saw it."""

    service: str  # the SigV4 signing name: codebuild, s3, monitoring, ...
    operation: str  # StartBuild, CreateSchedule; S3's PutObject is "PUT /bucket/key"
    region: str
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    account_id: str = DEFAULT_ACCOUNT_ID
    wire: Protocol = Protocol.REST  # how the operation was named: X-Amz-Target, Action, path

    @property
    def is_mutating(self) -> bool:
        if self.service == "s3" or " " in self.operation:
            return self.method not in ("GET", "HEAD", "OPTIONS")
        return not self.operation.startswith(_READ_PREFIXES)

    def params(self) -> dict[str, Any]:
        """The JSON body of a JSON-protocol request ({} when empty)."""
        if not self.body:
            return {}
        data = json.loads(self.body)
        return data if isinstance(data, dict) else {}


@dataclass
class ApiResponse:
    """What a handler answers; JSON helpers follow AWS's JSON-protocol error shape."""

    status: int
    body: bytes
    headers: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def json(cls, data: Any, status: int = 200) -> ApiResponse:
        body = json.dumps(data, default=str).encode()
        return cls(status, body, [("Content-Type", "application/x-amz-json-1.1")])

    @classmethod
    def error(cls, code: str, message: str, status: int = 400, **fields: Any) -> ApiResponse:
        response = cls.json({"__type": code, "message": message, **fields}, status)
        response.headers.append(("x-amzn-ErrorType", code))
        return response


class ApiException(Exception):
    """Raised by a handler to answer with an AWS error code (e.g. ResourceNotFoundException)."""

    def __init__(self, code: str, message: str, status: int = 400, **fields: Any) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.fields = fields  # further members of the error body (queryCompileError, ...)


Handler = Callable[[ApiRequest], ApiResponse]
AfterHook = Callable[[ApiRequest, bytes], None]
Check = Callable[[ApiRequest], ApiResponse | None]  # an error answer, or None to go on
# Emulator-only: a path's handler (not an AWS API), and a check before every request.
Endpoint = Callable[[ApiRequest, dict[str, Any]], ApiResponse]
Intercept = Callable[[ApiRequest, dict[str, Any]], WireError | None]
Router = Callable[[ApiRequest, dict[str, Any]], Handler | None]  # a REST service's handlers


def _scope(environ: dict[str, Any]) -> tuple[str, str]:
    """(region, service) from the Authorization header or a presigned URL's credential."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
    credential = (
        "Credential=" + query["X-Amz-Credential"][0] if "X-Amz-Credential" in query else auth
    )
    match = _SCOPE_RE.search(credential)
    return (match.group(1), match.group(2)) if match else ("us-east-1", "unknown")


def _operation(environ: dict[str, Any], body: bytes) -> tuple[str, Protocol]:
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return str(target).rsplit(".", 1)[-1], Protocol.JSON
    path = environ.get("PATH_INFO", "")
    cbor = re.match(r"^/service/[^/]+/operation/(\w+)$", path)
    if cbor:  # Smithy RPC v2 CBOR; its errors are answered in the JSON shape
        return cbor.group(1), Protocol.JSON
    form = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
    if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        form.update(urllib.parse.parse_qs(body.decode("utf-8", "replace")))
    if "Action" in form:
        return str(form["Action"][0]), Protocol.QUERY
    return f"{environ.get('REQUEST_METHOD', 'GET')} {path}", Protocol.REST


def read_request(environ: dict[str, Any]) -> ApiRequest:
    """Read the body once and put it back, so moto can read it again."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    region, service = _scope(environ)
    headers = {
        k[5:].replace("_", "-").lower(): str(v) for k, v in environ.items() if k.startswith("HTTP_")
    }
    operation, wire = _operation(environ, body)
    if wire is Protocol.REST:  # a REST-JSON path names its operation (Scheduler, FIS)
        method, path = environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO", "")
        query = str(environ.get("QUERY_STRING", ""))
        operation = rest_json_operation(service, method, path, query) or operation
    return ApiRequest(
        service=service,
        operation=operation,
        region=region,
        method=environ.get("REQUEST_METHOD", "GET"),
        path=environ.get("PATH_INFO", ""),
        headers=headers,
        body=body,
        wire=wire,
    )


MAX_LONG_POLL_SECONDS = 20  # SQS's WaitTimeSeconds maximum


class Gateway:
    """WSGI app: routes each request to an emulator handler or to moto, then persists."""

    def __init__(self, moto_app: WsgiApp, snapshots: MotoSnapshots, health: Callable[[], Any]):
        self.moto_app = moto_app
        self.snapshots = snapshots
        self.health = health
        self.lock = threading.RLock()
        self.handlers: dict[tuple[str, str], Handler] = {}
        self.after_hooks: dict[tuple[str, str], list[AfterHook]] = {}
        self.checks: dict[tuple[str, str], Check] = {}
        self.loaders: dict[str, Callable[[], None]] = {}
        self.endpoints: dict[str, Endpoint] = {}
        self.intercepts: list[Intercept] = []
        self.routers: dict[str, Router] = {}

    def load_before(self, service: str, loader: Callable[[], None]) -> None:
        """Call ``loader`` before the first request of ``service`` is dispatched.

        A service's code is imported and registered when a request first needs it; the
        loader runs under the state lock, once (again only if it raised).
        """
        self.loaders[service] = loader

    def handle(self, service: str, operation: str, handler: Handler) -> None:
        """Let the emulator answer ``operation`` of ``service`` instead of moto."""
        self.handlers[(service, operation)] = handler

    def check(self, service: str, operation: str, check: Check) -> None:
        """Refuse ``operation`` requests that ``check`` answers for (AWS's input limits)."""
        self.checks[(service, operation)] = check

    def endpoint(self, path: str, handler: Endpoint) -> None:
        """Serve an emulator-only path (``/_opslib/...``): not an AWS API, not under the lock."""
        self.endpoints[path] = handler

    def intercept(self, check: Intercept) -> None:
        """Run ``check`` before every AWS request; an error it returns is the answer."""
        self.intercepts.append(check)

    def route(self, service: str, router: Router) -> None:
        """Let ``router`` pick the handler of a REST service's request (its paths carry ids)."""
        self.routers[service] = router

    def after(self, service: str, operation: str, hook: AfterHook) -> None:
        """Run ``hook`` after moto answered ``operation`` successfully (e.g. start a host)."""
        self.after_hooks.setdefault((service, operation), []).append(hook)

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/opslib/health":
            response = ApiResponse.json(self.health())
        elif environ.get("PATH_INFO") in self.endpoints:
            response = self.endpoints[environ["PATH_INFO"]](read_request(environ), environ)
        else:
            request = read_request(environ)
            if longpoll.is_long_poll_candidate(request.service, request.operation):
                response = self._long_poll(request, environ)
            else:
                with self.lock:
                    response = self._dispatch(request, environ)
            if request.is_mutating:
                longpoll.stored_a_write()
        start_response(f"{response.status} {_reason(response.status)}", response.headers)
        return [response.body]

    def _long_poll(self, request: ApiRequest, environ: dict[str, Any]) -> ApiResponse:
        """SQS ReceiveMessage with a wait: short polls under the lock, the waits outside it
        (:mod:`longpoll`), so a long poll holds back no other request."""
        try:
            wait, url = longpoll.requested_wait(request.wire, request.body)
        except (ValueError, TypeError, AttributeError):
            wait, url = 0.0, ""  # moto answers the malformed request as AWS would
        with self.lock:
            if wait is None:
                wait = longpoll.queue_wait_seconds(url, request.account_id, request.region)
            if not 0 < wait <= MAX_LONG_POLL_SECONDS:  # none, or invalid: moto's own answer
                return self._dispatch(request, environ)
        short = dataclasses.replace(
            request, body=longpoll.short_poll_body(request.wire, request.body)
        )
        answers: list[ApiResponse] = []

        def ask() -> tuple[bytes, bool]:
            with self.lock:
                answer = self._dispatch(short, longpoll.with_body(environ, short.body))
            answers.append(answer)
            final = answer.status >= 300 or longpoll.has_messages(answer.body, request.wire)
            return answer.body, final

        longpoll.long_poll(wait, ask)
        return answers[-1]

    def locked_post(self, handler: Handler) -> Endpoint:
        """An :meth:`endpoint` that takes POSTs only and runs ``handler`` under the state
        lock, answering a failure as one message (simulate-history's backfill)."""

        def answer(request: ApiRequest, environ: dict[str, Any]) -> ApiResponse:
            if request.method != "POST":
                return ApiResponse.json({"message": f"{request.path} takes POST"}, 405)
            try:
                with self.lock:
                    return handler(request)
            except StateNotDurable as exc:
                logger.error("refused %s: %s", request.path, exc)
                return ApiResponse.json({"message": str(exc)}, 500)
            except Exception as exc:
                logger.exception("%s failed", request.path)
                return ApiResponse.json({"message": f"{request.path} failed: {exc!r}"}, 500)

        return answer

    def _load(self, service: str) -> None:
        loader = self.loaders.get(service)
        if loader is not None:
            loader()
            del self.loaders[service]

    def _dispatch(self, request: ApiRequest, environ: dict[str, Any]) -> ApiResponse:
        """Answer one request; whatever fails inside is AWS's error, never an HTML page."""
        try:
            return self._answer(request, environ)
        except StateNotDurable as exc:  # a full disk is one line; anything else its traceback
            logger.error("refused %s %s: %s", *_name(request), exc, exc_info=not exc.no_space)
            return self._error(request, internal_error(self._protocol(request)))
        except NotImplementedError as exc:
            logger.warning("%s %s is not implemented: %s", *_name(request), exc)
            return self._error(request, not_implemented(request.operation, str(exc)))
        except Exception:
            logger.exception("%s %s failed", *_name(request))
            return self._error(request, internal_error(self._protocol(request)))

    def _answer(self, request: ApiRequest, environ: dict[str, Any]) -> ApiResponse:
        for intercept in self.intercepts:  # an injected fault: before any service code
            fault = intercept(request, environ)
            if fault is not None:
                return self._error(request, fault)
        self._load(request.service)  # the service's code, before anything reads its shape
        rejected = self._rejection(request)  # the shape first, as AWS's front end does
        if rejected is not None:
            return self._error(request, rejected)
        check = self.checks.get((request.service, request.operation))
        refused = check(request) if check is not None else None  # then the limits
        if refused is not None:
            return refused
        handler = self.handlers.get((request.service, request.operation))
        router = self.routers.get(request.service)
        if handler is None and router is not None:
            handler = router(request, environ)
        if handler is not None:
            return self._run_handler(handler, request)
        return self._run_moto(request, environ)

    @staticmethod
    def _rejection(request: ApiRequest) -> WireError | None:
        """What AWS's front end refuses before any service code runs (400)."""
        if request.wire is Protocol.JSON:
            target = request.headers.get("x-amz-target", "")
            return check_json(request.service, target, request.body) if target else None
        if request.wire is Protocol.QUERY:
            return check_query(request.service, request.operation)
        return None

    def _run_handler(self, handler: Handler, request: ApiRequest) -> ApiResponse:
        try:
            response = handler(request)
        except ApiException as exc:
            error = WireError(exc.code, str(exc), exc.status, exc.fields)
            return self._error(request, error)
        except (ValueError, KeyError, TypeError) as exc:
            logger.warning("bad %s.%s request: %r", request.service, request.operation, exc)
            return self._error(
                request, WireError("InvalidInputException", f"invalid request: {exc}")
            )
        if request.is_mutating:
            dirty = self._dirty(request, handled=True)
            try:
                self.snapshots.save(dirty)
            except StateNotDurable:
                self.snapshots.revert(dirty)
                raise
        return response

    def _run_moto(self, request: ApiRequest, environ: dict[str, Any]) -> ApiResponse:
        """moto answers; a change it made is on disk before the answer, or it is undone."""
        try:
            response = self._call_moto(environ)
            if request.is_mutating and response.status < 300:
                self._store(request, response.body)
        except Exception:
            if request.is_mutating:  # what moto changed before it failed, or what was not stored
                self.snapshots.revert(self._dirty(request))
            raise
        return response

    def _store(self, request: ApiRequest, body: bytes) -> None:
        """Snapshot what the request changed; its after-hooks run only once that is stored,
        so a refused RunInstances never started a host (their own changes are saved too)."""
        dirty = self._dirty(request)
        self.snapshots.save(dirty)
        hooks = self.after_hooks.get((request.service, request.operation), [])
        for hook in hooks:
            hook(request, body)
        if hooks:
            self.snapshots.save(dirty)

    def _call_moto(self, environ: dict[str, Any]) -> ApiResponse:
        captured: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]], *_: Any) -> None:
            captured["status"], captured["headers"] = int(status.split()[0]), headers

        chunks = self.moto_app(environ, start_response)
        try:
            body = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close:
                close()
        return ApiResponse(captured["status"], body, list(captured["headers"]))

    @staticmethod
    def _protocol(request: ApiRequest) -> Protocol:
        return error_protocol(request.service, request.wire)

    def _error(self, request: ApiRequest, error: WireError) -> ApiResponse:
        """``error`` in the shape of the request's protocol (no body for a HEAD)."""
        body, headers = render(error, self._protocol(request), xml_namespace(request.service))
        return ApiResponse(error.status, b"" if request.method == "HEAD" else body, headers)

    @staticmethod
    def _dirty(request: ApiRequest, handled: bool = False) -> list[str]:
        backend = _BACKEND_NAMES.get(request.service, request.service)
        if backend in OWN_STORES:
            return []  # durable in its own store when the handler returned
        if backend not in SNAPSHOT_SERVICES:
            # A handler keeps its own state in records; a change of unknown origin could be
            # anywhere in moto: be safe, save everything.
            return [] if handled else list(SNAPSHOT_SERVICES)
        return list(dict.fromkeys([backend, *_SIDE_EFFECTS.get(backend, ())]))


def _name(request: ApiRequest) -> tuple[str, str]:
    return request.service, request.operation


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"
