"""The stack's calls to AWS: clients from the one Session, errors translated, calls counted.

Every call goes through :class:`Api`, which gets its clients from the
:class:`~opslib.target.Session` and registers a botocore ``before-call`` hook on each, so
a run knows exactly which operations it issued (``up`` twice must issue no mutating call
the second time — that is measured, not assumed). IAM's eventual consistency (a role
just created is not yet assumable by a service) is retried here, not failed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from opslib.exceptions import AwsError
from opslib.target import Session, aws_errors

logger = logging.getLogger(__name__)

# Operation-name prefixes that only read (the emulator's gateway uses the same rule).
READ_PREFIXES = (
    "Get", "List", "Describe", "BatchGet", "Head", "Filter", "Lookup", "Search", "Query",
    "Test", "Simulate", "Select", "Scan", "Check", "Validate",
)  # fmt: skip
# How AWS says "the role (or instance profile) you just created is not usable yet".
_IAM_PROPAGATION = (
    ("InvalidInputException", "AssumeRole"),  # CodeBuild CreateProject
    ("InvalidStructureException", "AssumeRole"),  # CodePipeline CreatePipeline
    ("InvalidRoleException", "assume"),  # CodeDeploy CreateDeploymentGroup
    ("InvalidParameterValue", "iamInstanceProfile"),  # EC2 RunInstances
    ("InvalidParameterValue", "Instance Profile"),
)
IAM_WAIT_SECONDS = 120.0


@dataclass(frozen=True)
class Call:
    """One API call as issued: service and operation name."""

    service: str
    operation: str

    @property
    def mutating(self) -> bool:
        return not self.operation.startswith(READ_PREFIXES)


@dataclass
class CallLog:
    """The calls of one run, in order."""

    calls: list[Call] = field(default_factory=list)

    def record(self, event_name: str, **kwargs: Any) -> None:
        """botocore ``before-call.<service>.<Operation>`` handler."""
        _, service, operation = event_name.split(".", 2)
        self.calls.append(Call(service, operation))

    @property
    def mutating(self) -> list[Call]:
        return [c for c in self.calls if c.mutating]


def is_iam_propagation(error: AwsError) -> bool:
    """Whether an error is IAM's eventual consistency (retry) rather than a real failure."""
    return any(error.code == code and text in str(error) for code, text in _IAM_PROPAGATION)


class Api:
    """Clients of one session with call logging, error translation and IAM retries."""

    def __init__(
        self,
        session: Session,
        log: CallLog | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        iam_wait: float = IAM_WAIT_SECONDS,
    ) -> None:
        self.session = session
        self.log = log if log is not None else CallLog()
        self.sleep = sleep
        self.iam_wait = iam_wait
        self._hooked: set[str] = set()

    @property
    def is_local(self) -> bool:
        return self.session.target.is_local

    def client(self, service: str) -> Any:
        client = self.session.client(service)
        if service not in self._hooked:
            client.meta.events.register("before-call", self.log.record)
            self._hooked.add(service)
        return client

    def call(self, service: str, method: str, **params: Any) -> Any:
        """``client.<method>(**params)`` with botocore errors as opslib errors."""
        client = self.client(service)
        operation = client.meta.method_to_api_mapping.get(method, method)
        with aws_errors(service, operation):
            return getattr(client, method)(**params)

    def find(self, service: str, method: str, missing: tuple[str, ...] = (), **params: Any) -> Any:
        """Like :meth:`call`, but None when the thing does not exist (NotFound or ``missing``)."""
        from opslib.exceptions import NotFoundError

        try:
            return self.call(service, method, **params)
        except NotFoundError:
            return None
        except AwsError as exc:
            if exc.code in missing:
                return None
            raise

    def call_after_iam(self, service: str, method: str, **params: Any) -> Any:
        """:meth:`call`, retried while IAM has not yet propagated a fresh role or profile."""
        deadline = time.monotonic() + self.iam_wait
        delay = 2.0
        while True:
            try:
                return self.call(service, method, **params)
            except AwsError as exc:
                if not is_iam_propagation(exc) or time.monotonic() + delay > deadline:
                    raise
                logger.info("%s: IAM not propagated yet, retrying in %.0fs", exc.operation, delay)
                self.sleep(delay)  # IAM offers no event to wait on: back off and retry
                delay = min(delay * 2, 20.0)

    def pages(self, service: str, method: str, key: str, **params: Any) -> list[Any]:
        """Every item under ``key`` across all pages of a paginated list/describe call."""
        client = self.client(service)
        operation = client.meta.method_to_api_mapping.get(method, method)
        items: list[Any] = []
        with aws_errors(service, operation):
            for page in client.get_paginator(method).paginate(**params):
                items.extend(page.get(key, []))
        return items
