"""What every simulated document shares: the stack's setting, the mark, event envelopes."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

MARK = "opslib:simulated"  # what telemetry/parse.py's SIMULATED_MARK reads


@dataclass(frozen=True)
class Setting:
    """What the stack's resources say about the runs: names, ids, definitions."""

    region: str
    account: str
    pipeline: dict[str, Any]  # the definition, as GetPipeline shows it
    artifact_bucket: str
    project: dict[str, Any]  # the CodeBuild project (moto's project_metadata)
    application: str = ""
    group: str = ""
    group_id: str = ""
    config_name: str = "CodeDeployDefault.OneAtATime"
    group_arns: tuple[str, ...] = ()
    auto_rollback: dict[str, Any] = field(default_factory=dict)
    instance_arns: dict[str, str] = field(default_factory=dict)


@dataclass
class Written:
    """The documents of some runs, by where they go."""

    executions: list[dict[str, Any]] = field(default_factory=list)
    actions: list[dict[str, Any]] = field(default_factory=list)
    builds: list[dict[str, Any]] = field(default_factory=list)
    deployments: list[dict[str, Any]] = field(default_factory=list)
    events: list[tuple[int, str]] = field(default_factory=list)  # (ms, message)
    log_lines: dict[str, list[tuple[int, str]]] = field(default_factory=dict)  # stream -> lines
    metrics: list[tuple[str, float, str, dict[str, str], float]] = field(default_factory=list)


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def event(
    setting: Setting,
    source: str,
    kind: str,
    at: float,
    detail: dict[str, Any],
    resources: list[str],
    event_id: str,
) -> tuple[int, str]:
    """One EventBridge event as the rule's log-group target writes it."""
    body = {
        "version": "0",
        "id": event_id,
        "detail-type": kind,
        "source": source,
        "account": setting.account,
        "time": iso(at),
        "region": setting.region,
        "resources": resources,
        "detail": detail,
    }
    return int(at * 1000), json.dumps(body)
