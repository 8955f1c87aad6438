"""Source: the GitHub connection (CodeStar Connections) the pipeline's Source stage uses.

On AWS a new connection is PENDING until a person authorizes it in the console; locally
the emulator makes it AVAILABLE at once and reads the tag ``opslib:local-repository``
to know which git repository on this machine stands for GitHub. The tag is harmless on
AWS, so provisioning has no branch on the target here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from opslib.exceptions import ExecutionError
from opslib.stack import tags
from opslib.stack.api import Api
from opslib.stack.context import LOCAL_REPOSITORY_TAG, Context
from opslib.stack.model import Resource, State

SERVICE = "codestar-connections"
PROVIDER = "GitHub"
AVAILABLE = "AVAILABLE"
PENDING = "PENDING"


def console_url(region: str) -> str:
    """Where a person authorizes a pending connection (Update pending connection)."""
    return f"https://{region}.console.aws.amazon.com/codesuite/settings/connections?region={region}"


def find_connection(api: Api, name: str) -> dict[str, Any] | None:
    """The connection of that name (GitHub provider), or None."""
    params: dict[str, Any] = {"ProviderTypeFilter": PROVIDER}
    while True:
        page = api.call(SERVICE, "list_connections", **params)
        for connection in page.get("Connections", []):
            if connection["ConnectionName"] == name:
                return dict(connection)
        if not page.get("NextToken"):
            return None
        params["NextToken"] = page["NextToken"]


class Connection(Resource):
    """The GitHub connection; locally, the mapping to a git repository on this machine."""

    kind = "codestar connection"

    def desired(self, ctx: Context) -> State:
        return {
            "provider": PROVIDER,
            "tags": ctx.tags(self.name, **{LOCAL_REPOSITORY_TAG: ctx.local_repository()}),
        }

    def read(self, api: Api, ctx: Context) -> State | None:
        found = find_connection(api, self.name)
        if found is None:
            return None
        arn = found["ConnectionArn"]
        listed = api.call(SERVICE, "list_tags_for_resource", ResourceArn=arn)
        return {
            "provider": found["ProviderType"],
            "tags": tags.to_dict(listed.get("Tags")),
            "_arn": arn,
            "_status": found["ConnectionStatus"],
        }

    def facts(self, current: State) -> dict[str, str]:
        return {"connection_arn": current["_arn"], "connection_status": current["_status"]}

    def create(self, api: Api, ctx: Context, desired: State) -> None:
        api.call(
            SERVICE,
            "create_connection",
            ProviderType=desired["provider"],
            ConnectionName=self.name,
            Tags=tags.to_list(desired["tags"]),
        )

    def update(self, api: Api, ctx: Context, desired: State, changed: list[str]) -> None:
        arn = ctx.fact("connection_arn")
        api.call(SERVICE, "tag_resource", ResourceArn=arn, Tags=tags.to_list(desired["tags"]))

    def delete(self, api: Api, ctx: Context, current: State) -> None:
        api.call(SERVICE, "delete_connection", ConnectionArn=current["_arn"])


def wait_available(
    api: Api,
    arn: str,
    timeout: float,
    *,
    interval: float = 10.0,
    sleep: Callable[[float], None] = time.sleep,
    on_wait: Callable[[str], None] | None = None,
) -> str:
    """Poll until a person has authorized the connection; its status, or ExecutionError."""
    deadline = time.monotonic() + timeout
    while True:
        status = str(
            api.call(SERVICE, "get_connection", ConnectionArn=arn)["Connection"]["ConnectionStatus"]
        )
        if status == AVAILABLE:
            return status
        if status != PENDING or time.monotonic() + interval > deadline:
            where = console_url(api.session.target.region)
            raise ExecutionError(f"connection {arn} is {status}: authorize it at {where}")
        if on_wait:
            on_wait(status)
        sleep(interval)  # a person acts in the console; nothing to subscribe to
