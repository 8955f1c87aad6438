"""CodeDeploy from the operator's side: a deployment, host by host, and waiting for its end.

The same calls on both targets: GetDeployment for the whole, ListDeploymentTargets +
BatchGetDeploymentTargets for each instance's lifecycle events (status, duration, the
script's error and log tail), which is what "the deployment per host" means in the release
and rollback runbooks.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from opslib.exceptions import ExecutionError
from opslib.target import Session, aws_errors

if TYPE_CHECKING:
    import pandas

TERMINAL = frozenset({"Succeeded", "Failed", "Stopped"})
BATCH_LIMIT = 25  # BatchGetDeploymentTargets / BatchGetDeployments take at most 25 ids
_MARKS = {"Succeeded": "✓", "Failed": "✗", "Skipped": "–", "InProgress": "…", "Pending": "·"}


@dataclass(frozen=True)
class HookRun:
    """One lifecycle event on one instance."""

    event: str
    status: str
    seconds: float | None
    error_code: str = ""
    message: str = ""
    log_tail: str = ""


@dataclass(frozen=True)
class HostDeployment:
    """One instance's part of a deployment."""

    instance_id: str
    status: str
    events: tuple[HookRun, ...]

    @property
    def failed_event(self) -> HookRun | None:
        return next((e for e in self.events if e.status == "Failed"), None)

    @property
    def seconds(self) -> float:
        return round(sum(e.seconds or 0.0 for e in self.events), 3)


@dataclass
class DeploymentView:
    """A deployment: status, revision, error, rollback links and every host's events."""

    deployment_id: str
    status: str
    revision: dict[str, Any]
    description: str = ""
    created: datetime | None = None
    completed: datetime | None = None
    error: str = ""
    rollback: dict[str, str] = field(default_factory=dict)
    hosts: list[HostDeployment] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return self.status in TERMINAL

    @property
    def succeeded(self) -> bool:
        return self.status == "Succeeded"

    def frame(self) -> pandas.DataFrame:
        """One row per host: status, seconds, each event's mark, and what failed."""
        import pandas

        rows = []
        for host in self.hosts:
            failed = host.failed_event
            rows.append(
                {
                    "instance": host.instance_id,
                    "status": host.status,
                    "seconds": host.seconds,
                    "events": " ".join(
                        f"{_MARKS.get(e.status, '?')}{e.event}" for e in host.events
                    ),
                    "failed": f"{failed.event}: {failed.error_code} {failed.message}".strip()
                    if failed
                    else "",
                }
            )
        return pandas.DataFrame(rows, columns=["instance", "status", "seconds", "events", "failed"])

    def summary(self) -> dict[str, Any]:
        return {
            "deployment_id": self.deployment_id,
            "status": self.status,
            "revision": revision_key(self.revision),
            "error": self.error,
            "rollback": self.rollback,
            "hosts": {h.instance_id: h.status for h in self.hosts},
        }


def revision_key(revision: dict[str, Any]) -> str:
    """A revision as one string: ``s3://bucket/key[?versionId=..][#etag]`` or GitHub's."""
    s3 = revision.get("s3Location")
    if s3:
        key = f"s3://{s3.get('bucket', '')}/{s3.get('key', '')}"
        if s3.get("version"):
            key += f"?versionId={s3['version']}"
        if s3.get("eTag"):
            key += f"#{s3['eTag']}"
        return key
    github = revision.get("gitHubLocation")
    if github:
        return f"github:{github.get('repository', '')}@{github.get('commitId', '')}"
    return str(revision.get("revisionType", "unknown"))


def _seconds(event: dict[str, Any]) -> float | None:
    start, end = event.get("startTime"), event.get("endTime")
    if isinstance(start, datetime) and isinstance(end, datetime):
        return round((end - start).total_seconds(), 3)
    return None


def host_from_target(target: dict[str, Any]) -> HostDeployment:
    """A host's part from a BatchGetDeploymentTargets ``deploymentTarget``."""
    instance = target.get("instanceTarget") or {}
    events = []
    for event in instance.get("lifecycleEvents") or []:
        diagnostics = event.get("diagnostics") or {}
        failed = event.get("status") == "Failed"
        events.append(
            HookRun(
                event=event.get("lifecycleEventName", ""),
                status=event.get("status", ""),
                seconds=_seconds(event),
                error_code=str(diagnostics.get("errorCode", "")) if failed else "",
                message=str(diagnostics.get("message", "")) if failed else "",
                log_tail=str(diagnostics.get("logTail", "")) if failed else "",
            )
        )
    instance_id = str(instance.get("targetId", "")).rsplit("/", 1)[-1]
    return HostDeployment(instance_id, instance.get("status", ""), tuple(events))


def deployment_hosts(session: Session, deployment_id: str) -> list[HostDeployment]:
    """Every instance of a deployment with its lifecycle events."""
    client = session.client("codedeploy")
    ids: list[str] = []
    with aws_errors("codedeploy", "ListDeploymentTargets"):
        for page in client.get_paginator("list_deployment_targets").paginate(
            deploymentId=deployment_id
        ):
            ids += page.get("targetIds", [])
    hosts = []
    for offset in range(0, len(ids), BATCH_LIMIT):
        with aws_errors("codedeploy", "BatchGetDeploymentTargets"):
            found = client.batch_get_deployment_targets(
                deploymentId=deployment_id, targetIds=ids[offset : offset + BATCH_LIMIT]
            )["deploymentTargets"]
        hosts += [host_from_target(t) for t in found]
    return sorted(hosts, key=lambda h: h.instance_id)


def view_from_info(info: dict[str, Any], hosts: list[HostDeployment]) -> DeploymentView:
    """A DeploymentView from GetDeployment's ``deploymentInfo``."""
    error = info.get("errorInformation") or {}
    rollback = {
        k: str(v)
        for k, v in (info.get("rollbackInfo") or {}).items()
        if k in ("rollbackDeploymentId", "rollbackTriggeringDeploymentId", "rollbackMessage")
    }
    return DeploymentView(
        deployment_id=info["deploymentId"],
        status=info.get("status", ""),
        revision=dict(info.get("revision") or {}),
        description=info.get("description", ""),
        created=info.get("createTime"),
        completed=info.get("completeTime"),
        error=f"{error.get('code', '')}: {error.get('message', '')}" if error else "",
        rollback=rollback,
        hosts=hosts,
    )


def get_deployment(session: Session, deployment_id: str) -> dict[str, Any]:
    with aws_errors("codedeploy", "GetDeployment"):
        info = session.client("codedeploy").get_deployment(deploymentId=deployment_id)
    return dict(info["deploymentInfo"])


def describe_deployment(session: Session, deployment_id: str) -> DeploymentView:
    """A deployment with every host's lifecycle events."""
    info = get_deployment(session, deployment_id)
    return view_from_info(info, deployment_hosts(session, deployment_id))


def find_deployment(session: Session, deployment_id: str) -> DeploymentView | None:
    """:func:`describe_deployment`, or None when there is no deployment id (none was made)."""
    return describe_deployment(session, deployment_id) if deployment_id else None


def hosts_frame(view: DeploymentView | None) -> pandas.DataFrame:
    """The deployment per host (an empty table when nothing was deployed)."""
    return (view or DeploymentView("", "", {})).frame()


def wait_deployment(
    session: Session,
    deployment_id: str,
    timeout: float = 1800.0,
    poll: float = 2.0,
    on_status: Callable[[str], None] = lambda _: None,
) -> DeploymentView:
    """Poll a deployment until it ends; ``on_status`` hears every status change."""
    deadline = time.monotonic() + timeout
    last = ""
    while True:
        info = get_deployment(session, deployment_id)
        if info.get("status") != last:
            last = str(info.get("status"))
            on_status(f"{deployment_id}: {last}")
        if last in TERMINAL:
            return describe_deployment(session, deployment_id)
        if time.monotonic() > deadline:
            raise ExecutionError(f"deployment {deployment_id} still {last} after {timeout:.0f}s")
        time.sleep(poll)  # CodeDeploy offers no push for deployment progress
