"""Fake sessions for the runbook modules' unit tests: canned API answers, no network."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from opslib.target import Target, TargetKind

Answer = Callable[..., dict[str, Any]] | dict[str, Any]


class FakePaginator:
    """Pages of one operation: a list of answers, or one answer as a single page."""

    def __init__(self, client: FakeClient, operation: str) -> None:
        self.client = client
        self.operation = operation

    def paginate(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        answer = self.client.answer(self.operation, **kwargs)
        yield from answer.get("__pages__", [answer])


@dataclass
class FakeClient:
    """A boto3-like client answering from a table ``operation -> answer``."""

    answers: dict[str, Answer]
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def answer(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        self.calls.append((operation, kwargs))
        found = self.answers[operation]
        return found(**kwargs) if callable(found) else found

    def get_paginator(self, operation: str) -> FakePaginator:
        return FakePaginator(self, operation)

    def __getattr__(self, operation: str) -> Callable[..., dict[str, Any]]:
        if operation.startswith("__"):
            raise AttributeError(operation)
        return lambda **kwargs: self.answer(operation, **kwargs)


class FakeSession:
    """A Session stand-in: ``clients`` by service name, a local target."""

    def __init__(self, **clients: dict[str, Answer]) -> None:
        self.target = Target(TargetKind.LOCAL, "us-east-1", endpoint_url="http://127.0.0.1:1")
        self.clients = {name: FakeClient(answers) for name, answers in clients.items()}

    def client(self, service: str) -> FakeClient:
        return self.clients[service]
