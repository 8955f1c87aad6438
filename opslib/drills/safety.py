"""A drill touches only what is the stack's: every target must carry the stack's tag.

Each check reads the resource's tags through its own service's API (the tag shapes differ:
S3 ``TagSet``, EC2 ``Tags``, CodeDeploy and CodePipeline ``Key/Value`` lists, CodeBuild's
``key/value``) and refuses, naming the resource, when ``opslib:stack`` is not the stack's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from opslib.exceptions import DrillRefused, NotFoundError
from opslib.stack import tags
from opslib.stack.tags import STACK_TAG
from opslib.target import Session, aws_errors


@dataclass(frozen=True)
class Target:
    """One resource a drill acts on: what kind, its name or id, and the stack's tag check."""

    kind: str  # "s3 bucket", "ec2 instance", "codedeploy application", ...
    name: str
    arn: str = ""

    def describe(self) -> str:
        return f"{self.kind} {self.name}"


def require_stack_tag(target: Target, found: Mapping[str, str], stack: str) -> None:
    """Refuse unless the resource's tags say it belongs to ``stack`` (pure)."""
    value = found.get(STACK_TAG)
    if value == stack:
        return
    has = f"is tagged {STACK_TAG}={value}" if value else f"has no {STACK_TAG} tag"
    raise DrillRefused(
        f"{target.describe()} {has}: a drill on stack {stack} acts only on resources "
        f"tagged {STACK_TAG}={stack}"
    )


def _bucket(session: Session, target: Target) -> dict[str, str]:
    try:
        with aws_errors("s3", "GetBucketTagging"):
            found = session.client("s3").get_bucket_tagging(Bucket=target.name)["TagSet"]
    except NotFoundError:
        return {}
    return tags.to_dict(found)


def _instance(session: Session, target: Target) -> dict[str, str]:
    with aws_errors("ec2", "DescribeInstances"):
        found = session.client("ec2").describe_instances(InstanceIds=[target.name])
    instances = [i for r in found["Reservations"] for i in r["Instances"]]
    return tags.to_dict(instances[0].get("Tags")) if instances else {}


def _by_arn(service: str, key: str, value: str) -> Callable[[Session, Target], dict[str, str]]:
    def read(session: Session, target: Target) -> dict[str, str]:
        with aws_errors(service, "ListTagsForResource"):
            found = session.client(service).list_tags_for_resource(
                **{("ResourceArn" if service == "codedeploy" else "resourceArn"): target.arn}
            )
        return tags.to_dict(found.get("Tags") or found.get("tags"), key, value)

    return read


def _project(session: Session, target: Target) -> dict[str, str]:
    with aws_errors("codebuild", "BatchGetProjects"):
        found = session.client("codebuild").batch_get_projects(names=[target.name])["projects"]
    return tags.to_dict(found[0].get("tags"), "key", "value") if found else {}


_READERS: dict[str, Callable[[Session, Target], dict[str, str]]] = {
    "s3 bucket": _bucket,
    "ec2 instance": _instance,
    "codedeploy application": _by_arn("codedeploy", "Key", "Value"),
    "codepipeline pipeline": _by_arn("codepipeline", "key", "value"),
    "codebuild project": _project,
}


def tags_of(session: Session, target: Target) -> dict[str, str]:
    """The target's tags, read through its service."""
    reader = _READERS.get(target.kind)
    if reader is None:
        raise DrillRefused(f"{target.describe()}: opslib cannot check the tags of a {target.kind}")
    return reader(session, target)


def check_targets(session: Session, stack: str, targets: list[Target]) -> list[Target]:
    """Every target, once each is sure to be the stack's; DrillRefused for the first not."""
    for target in targets:
        require_stack_tag(target, tags_of(session, target), stack)
    return targets


def summary(targets: list[Target]) -> list[dict[str, Any]]:
    return [{"kind": t.kind, "name": t.name} for t in targets]
