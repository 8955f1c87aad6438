"""Which target opslib talks to, and the one place that builds boto3 clients.

Both targets go through the same boto3 code. ``local`` (the default) points every client
at the embedded emulator with ``endpoint_url``; ``aws`` uses the standard credential
chain (profile, environment, instance role). Library code takes a :class:`Session`
and never calls ``boto3.client()`` itself.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import boto3
import botocore.config
import botocore.exceptions

from opslib.config import StackConfig, check_state_dir
from opslib.exceptions import AwsError, NotFoundError, TargetError

logger = logging.getLogger(__name__)

# The emulator accepts any credentials; fixed ones keep a user's real keys out of it.
LOCAL_CREDENTIALS = {"aws_access_key_id": "opslib-local", "aws_secret_access_key": "opslib-local"}
LOCAL_ACCOUNT_ID = "123456789012"
_NOT_FOUND_CODES = frozenset(
    {
        "NoSuchBucket",
        "NoSuchKey",
        "NoSuchEntity",
        "ResourceNotFoundException",
        "PipelineNotFoundException",
        "PipelineExecutionNotFoundException",
        "ApplicationDoesNotExistException",
        "DeploymentGroupDoesNotExistException",
        "DeploymentDoesNotExistException",
        "InvalidInstanceID.NotFound",
        "ParameterNotFound",
    }
)


class TargetKind(StrEnum):
    """Where the pipeline lives."""

    LOCAL = "local"  # the embedded emulator on 127.0.0.1
    AWS = "aws"  # a real account through the standard credential chain


@dataclass(frozen=True)
class Target:
    """A target: its kind, region, and for ``aws`` the profile, for ``local`` the endpoint."""

    kind: TargetKind
    region: str
    profile: str | None = None
    endpoint_url: str | None = None

    @classmethod
    def from_config(cls, config: StackConfig, endpoint_url: str | None = None) -> Target:
        """The target a stack config names; ``endpoint_url`` is the local emulator's."""
        kind = TargetKind(config.target)
        if kind is TargetKind.LOCAL:
            endpoint_url = endpoint_url or f"http://127.0.0.1:{config.emulator.port}"
            return cls(kind, config.region, endpoint_url=endpoint_url)
        return cls(kind, config.region, profile=config.profile)

    @property
    def is_local(self) -> bool:
        return self.kind is TargetKind.LOCAL

    def describe(self) -> str:
        """One line for humans: ``local emulator at http://...`` or ``aws profile X in R``."""
        if self.is_local:
            return f"local emulator at {self.endpoint_url} ({self.region})"
        who = f"profile {self.profile}" if self.profile else "default credentials"
        return f"aws {who} in {self.region}"


class Session:
    """Builds and caches boto3 clients for one target (the unit of configuration)."""

    def __init__(self, target: Target, *, max_attempts: int = 5) -> None:
        self.target = target
        self._clients: dict[str, Any] = {}
        self._config = botocore.config.Config(
            retries={"mode": "standard", "max_attempts": max_attempts},
            connect_timeout=5,
            read_timeout=60,
        )
        self._boto = self._boto_session(target)

    @staticmethod
    def _boto_session(target: Target) -> boto3.session.Session:
        if target.is_local:
            return boto3.session.Session(region_name=target.region, **LOCAL_CREDENTIALS)
        try:
            return boto3.session.Session(profile_name=target.profile, region_name=target.region)
        except botocore.exceptions.ProfileNotFound as exc:
            raise TargetError(
                f"AWS profile {target.profile!r} not found: run 'aws configure --profile "
                f"{target.profile}' or pick another with --profile"
            ) from exc

    def client(self, service: str) -> Any:
        """The boto3 client for ``service`` on this target (created once, then reused)."""
        if service not in self._clients:
            self._clients[service] = self._boto.client(
                service, endpoint_url=self.target.endpoint_url, config=self._config
            )
        return self._clients[service]


def translate(exc: Exception, service: str, operation: str) -> AwsError | TargetError:
    """The opslib error for a botocore failure: the one place ClientError is translated."""
    if isinstance(exc, botocore.exceptions.NoCredentialsError):
        return TargetError("no AWS credentials found: set a profile with --profile or AWS_PROFILE")
    if isinstance(exc, botocore.exceptions.EndpointConnectionError):
        return TargetError(f"{service}: cannot reach {exc.kwargs.get('endpoint_url', 'endpoint')}")
    if isinstance(exc, botocore.exceptions.ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "Unknown"))
        detail = one_line(str(error.get("Message", "")))
        message = f"{service}.{operation} failed: {code}: {detail}".rstrip(": ")
        cls = NotFoundError if code in _NOT_FOUND_CODES else AwsError
        return cls(message, service=service, operation=operation, code=code)
    detail = one_line(str(exc))
    return AwsError(f"{service}.{operation} failed: {detail}", service=service, operation=operation)


_HTML = re.compile(r"<\s*(!doctype|html|head|body|title)\b", re.IGNORECASE)
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]+>")
MAX_MESSAGE = 300


def one_line(message: str) -> str:
    """An error message as one short line; an HTML error page becomes its title.

    A proxy, a load balancer or a crashing server answers with an HTML page where AWS
    would send ``{"__type": ..., "message": ...}``; printed raw it floods the terminal.
    """
    if _HTML.search(message):
        title = _TITLE.search(message)
        text = _TAG.sub(" ", title.group(1) if title else message)
        message = f"(HTML error page) {html.unescape(text)}"
    message = " ".join(message.split())
    return message if len(message) <= MAX_MESSAGE else message[: MAX_MESSAGE - 1] + "…"


@contextmanager
def aws_errors(service: str, operation: str) -> Iterator[None]:
    """Turn botocore errors raised inside the block into opslib errors."""
    try:
        yield
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
        raise translate(exc, service, operation) from exc


def paginate(
    session: Session, service: str, operation: str, **params: Any
) -> Generator[dict[str, Any], None, None]:
    """Every page of a paginated listing, as botocore's paginator reads them, errors translated.

    ``operation`` is the API's name (``ListActionExecutions``). Pages are asked for as they
    are read: a caller that stops early (the rest is older than it needs) sends no more
    requests.
    """
    paginator = session.client(service).get_paginator(botocore.xform_name(operation))
    with aws_errors(service, operation):
        yield from paginator.paginate(**params)


def connect(config: StackConfig) -> Session:
    """A session on the stack's target; on ``local`` the emulator starts on demand."""
    if TargetKind(config.target) is TargetKind.LOCAL:
        from opslib import emulator  # the local target's only dependency on the emulator

        check_state_dir(config)
        info = emulator.ensure_running(config)
        return Session(Target.from_config(config, info.endpoint))
    return Session(Target.from_config(config))
