"""Shared builders for the stack's pure tests: a context without any AWS."""

from __future__ import annotations

from typing import Any

from opslib.config import parse_config
from opslib.stack.context import Context

ACCOUNT = "123456789012"
CONNECTION_ARN = f"arn:aws:codestar-connections:us-east-1:{ACCOUNT}:connection/0000-test"


def make_context(facts: dict[str, str] | None = None, **settings: Any) -> Context:
    """A context for stack ``demo`` (or the given settings) with the usual facts known."""
    known = {
        "connection_arn": CONNECTION_ARN,
        "security_group_id": "sg-0123",
        "instance_ids": "i-1,i-2,i-3",
    }
    config = parse_config({"stack": "demo", **settings})
    return Context(config, ACCOUNT, facts=known if facts is None else facts)
