"""Which deployment group, and which instances a deployment of it goes to.

moto keeps applications and deployment groups; they are read in-process, so callers must
hold the gateway's lock (a handler does; a worker takes it briefly). The instances are
moto's EC2 instances in state ``running`` whose tags match the group, each with its local
host (ec2/hosts.py). Tag matching mirrors CodeDeploy: within ``ec2TagFilters`` any filter
matching selects an instance (OR); with ``ec2TagSet`` an instance must match some filter
of *every* group in the set (AND of ORs).

Order: instances whose last deployment of this group failed, or that never had one,
first (AWS deploys to unhealthy instances first), then the others, each in launch order.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opslib.emulator.codedeploy.agent import DeployTarget
from opslib.emulator.codedeploy.model import INSTANCE_STATE_KIND
from opslib.emulator.core.gateway import ApiException
from opslib.emulator.core.store import RecordStore
from opslib.emulator.ec2.hosts import KIND as HOST_KIND


@dataclass(frozen=True)
class GroupInfo:
    """What a deployment needs of its deployment group (a copy: moto's may change)."""

    application_name: str
    group_name: str
    group_id: str
    config_name: str
    region: str
    account: str
    auto_rollback: dict[str, Any] = field(default_factory=dict)
    alarms: dict[str, Any] = field(default_factory=dict)
    tag_filters: list[dict[str, str]] = field(default_factory=list)
    tag_set: list[list[dict[str, str]]] = field(default_factory=list)

    @property
    def arns(self) -> list[str]:
        """The application and deployment group ARNs (an event's resources)."""
        base = f"arn:aws:codedeploy:{self.region}:{self.account}"
        return [
            f"{base}:application:{self.application_name}",
            f"{base}:deploymentgroup:{self.application_name}/{self.group_name}",
        ]


def read_group(account: str, region: str, application: str, group: str) -> GroupInfo:
    """The group, or the AWS error CreateDeployment answers (call under the gateway lock)."""
    if not application:
        raise ApiException("ApplicationNameRequiredException", "The application name is required")
    if not group:
        raise ApiException(
            "DeploymentGroupNameRequiredException", "The deployment group name is required"
        )
    from moto.codedeploy.models import codedeploy_backends

    backend = codedeploy_backends[account][region]
    if application not in backend.applications:
        raise ApiException(
            "ApplicationDoesNotExistException", f"No application found for name: {application}"
        )
    found = backend.deployment_groups.get(application, {}).get(group)
    if found is None:
        raise ApiException(
            "DeploymentGroupDoesNotExistException", f"No Deployment Group found for name: {group}"
        )
    return _group_info(found, application, region, account)


def _group_info(found: Any, application: str, region: str, account: str) -> GroupInfo:
    alarms = found.alarm_configuration or {}
    if not isinstance(alarms, dict):  # moto's AlarmConfiguration object
        alarms = {"enabled": alarms.enabled, "alarms": alarms.alarms,
                  "ignorePollAlarmFailure": alarms.ignore_poll_alarm_failure}  # fmt: skip
    return GroupInfo(
        application_name=application,
        group_name=found.deployment_group_name,
        group_id=found.deployment_group_id,
        config_name=str(found.deployment_config_name or "CodeDeployDefault.OneAtATime"),
        region=region,
        account=account,
        auto_rollback=dict(found.auto_rollback_configuration or {}),
        alarms=dict(alarms),
        tag_filters=list(found.ec2_tag_filters or []),
        tag_set=list((found.ec2_tag_set or {}).get("ec2TagSetList") or []),
    )


def filter_matches(tags: dict[str, str], tag_filter: dict[str, str]) -> bool:
    """One EC2TagFilter against an instance's tags (KEY_ONLY, VALUE_ONLY, KEY_AND_VALUE)."""
    kind = tag_filter.get("Type") or "KEY_AND_VALUE"
    key, value = tag_filter.get("Key"), tag_filter.get("Value")
    if kind == "KEY_ONLY":
        return key in tags
    if kind == "VALUE_ONLY":
        return value in tags.values()
    return key in tags and tags[key] == value


def selected(
    tags: dict[str, str], filters: Iterable[dict[str, str]], tag_set: list[list[dict[str, str]]]
) -> bool:
    """True if the group's filters select an instance with these tags."""
    filters = list(filters)
    if filters and any(filter_matches(tags, f) for f in filters):
        return True
    if tag_set:
        return all(any(filter_matches(tags, f) for f in group) for group in tag_set)
    return False


def select_targets(group: GroupInfo, records: RecordStore) -> list[DeployTarget]:
    """Running instances the group selects, with hosts, unhealthy first (under the lock)."""
    from moto.ec2.models import ec2_backends

    backend = ec2_backends[group.account][group.region]
    chosen = []
    for instance in backend.all_instances():
        tags = {t["key"]: t["value"] for t in instance.get_tags()}
        host = records.get(HOST_KIND, instance.id)
        if instance.state != "running" or host is None or host.get("state") != "running":
            continue
        if selected(tags, group.tag_filters, group.tag_set):
            chosen.append(DeployTarget(instance.id, Path(host["root"]), int(host["port"])))
    return sorted(chosen, key=lambda t: _healthy(records, t.instance_id, group.group_id))


def _healthy(records: RecordStore, instance_id: str, group_id: str) -> bool:
    state = records.get(INSTANCE_STATE_KIND, f"{instance_id}/{group_id}") or {}
    return bool(state.get("lastAttemptSucceeded"))
