"""Which resources an experiment's target resolves to, pure: match, filter, then select.

FIS resolves a target when the experiment starts (its ``initiating`` state): the resources
named by ``resourceArns``, or every resource carrying all of ``resourceTags``; then each
filter keeps those whose attribute at ``path`` (DescribeInstances' shape: ``State.Name``,
``Placement.AvailabilityZone``) has one of the filter's values; then ``selectionMode``
picks: ``ALL``, ``COUNT(n)`` at random (all of them when fewer match), ``PERCENT(n)`` at
random, rounded down (verify: FIS does not document its rounding). Terminated instances
are not resolved by tags, as tag-based discovery (the Resource Groups Tagging API) no
longer shows them.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from opslib.emulator.fis.model import selection

_GONE_STATES = ("shutting-down", "terminated")


@dataclass(frozen=True)
class Resource:
    """One resource a target can name: its ARN, tags and described attributes."""

    arn: str
    tags: Mapping[str, str]
    attributes: Mapping[str, Any]  # the service's description (DescribeInstances' Instance)


class TargetNotResolved(Exception):
    """A target named resources that do not exist."""


def instance_resource(instance: Mapping[str, Any], region: str, account: str) -> Resource:
    """A DescribeInstances ``Instance`` as a resource FIS can target."""
    arn = f"arn:aws:ec2:{region}:{account}:instance/{instance['InstanceId']}"
    tags = {t["Key"]: t["Value"] for t in instance.get("Tags") or []}
    return Resource(arn, tags, instance)


def attribute_values(attributes: Mapping[str, Any], path: str) -> list[str]:
    """The values at a dotted path; lists on the way are searched member by member."""
    found: list[Any] = [attributes]
    for part in path.split("."):
        step: list[Any] = []
        for value in found:
            items = value if isinstance(value, list) else [value]
            step.extend(item[part] for item in items if isinstance(item, Mapping) and part in item)
        found = step
    flat = [v for value in found for v in (value if isinstance(value, list) else [value])]
    return [str(v).lower() if isinstance(v, bool) else str(v) for v in flat]


def passes(resource: Resource, filters: Sequence[Mapping[str, Any]]) -> bool:
    """Every filter holds: the attribute at its path has one of its values."""
    for entry in filters:
        wanted = {str(v) for v in entry.get("values") or []}
        if not wanted & set(attribute_values(resource.attributes, str(entry.get("path", "")))):
            return False
    return True


def candidates(target: Mapping[str, Any], resources: Sequence[Resource]) -> list[Resource]:
    """The resources a target names (ARNs or tags), before filters and selection."""
    arns = target.get("resourceArns") or []
    if arns:
        known = {r.arn: r for r in resources}
        missing = [arn for arn in arns if arn not in known]
        if missing:
            raise TargetNotResolved(f"resource(s) not found: {', '.join(missing)}")
        return [known[arn] for arn in arns]
    tags: Mapping[str, str] = target.get("resourceTags") or {}
    return [
        r
        for r in resources
        if all(r.tags.get(k) == v for k, v in tags.items())
        and not set(attribute_values(r.attributes, "State.Name")) & set(_GONE_STATES)
    ]


def select(arns: Sequence[str], mode: str, rng: random.Random | None = None) -> list[str]:
    """The ARNs a selectionMode picks from those that matched (in their given order)."""
    kind, number = selection(mode)
    if kind == "ALL":
        return list(arns)
    count = number if kind == "COUNT" else math.floor(len(arns) * number / 100)
    if count >= len(arns):
        return list(arns)
    picked = set((rng or random.Random()).sample(list(arns), count))
    return [arn for arn in arns if arn in picked]


def resolve(
    target: Mapping[str, Any], resources: Sequence[Resource], rng: random.Random | None = None
) -> list[str]:
    """The ARNs one target resolves to (may be empty: the caller decides fail or skip)."""
    filters = target.get("filters") or []
    matched = [r.arn for r in candidates(target, resources) if passes(r, filters)]
    return select(matched, str(target.get("selectionMode", "ALL")), rng)
