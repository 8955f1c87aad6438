"""Rollback: redeploy a revision that worked before, through CodeDeploy, and verify the fleet.

CodeDeploy keeps every deployment of the group with its revision (the bundle in S3), so
"the last good version" is a ListDeployments query away, and rolling back is one
CreateDeployment of that revision — the same thing CodeDeploy's automatic rollback does.

What counts as *current* is the revision of the group's most recent deployment (what the
fleet was last asked to run, even if that failed); the default target is the newest
*successful* revision of another release: a re-release of the same commit builds a new
bundle (a new S3 key) but redeploying it would change nothing. Each revision's version and
commit are read from the bundle's ``app/release.json`` (written by the build), which is
also what the fleet must serve afterwards. When there is no such revision (a fresh stack,
one release so far) there is nothing to roll back: that is a verdict, not a failure.
"""

from __future__ import annotations

import dataclasses
import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from opslib.config import StackConfig
from opslib.exceptions import AwsError, ExecutionError
from opslib.ops import fleet
from opslib.ops.deployments import BATCH_LIMIT, DeploymentView, revision_key, wait_deployment
from opslib.ops.fleet import FleetReport, serves
from opslib.render import Headline, Status
from opslib.runbooks.verdict import Verdict, rerun_hint
from opslib.target import Session, aws_errors

if TYPE_CHECKING:
    import pandas

RELEASE_FILE = "app/release.json"  # written into the bundle by buildspec.yml's post_build
MAX_BUNDLE_BYTES = 200 * 1024 * 1024


@dataclass(frozen=True)
class Revision:
    """A revision the group deployed: where it is, its newest deployment, what it holds."""

    key: str
    location: dict[str, Any]
    deployment_id: str
    status: str
    deployed_at: datetime | None
    description: str = ""
    version: str = ""
    commit: str = ""

    def describe(self) -> str:
        what = self.version or self.commit[:12] or self.key
        return f"{what} ({self.deployment_id})"

    def same_release(self, other: Revision) -> bool:
        """Whether both hold the same build of the code: the same bundle, else the same
        commit, else the same version (a rebuild of one commit is a new bundle)."""
        if self.key == other.key:
            return True
        if self.commit and other.commit:
            return self.commit == other.commit
        return bool(self.version and self.version == other.version)


def group_names(config: StackConfig) -> tuple[str, str]:
    """The stack's CodeDeploy application and deployment group, as provisioning names them."""
    return f"{config.stack}-app", f"{config.stack}-fleet"


def _deployment_ids(session: Session, config: StackConfig, statuses: list[str]) -> list[str]:
    application, group = group_names(config)
    client = session.client("codedeploy")
    ids: list[str] = []
    kwargs: dict[str, Any] = {"applicationName": application, "deploymentGroupName": group}
    if statuses:
        kwargs["includeOnlyStatuses"] = statuses
    with aws_errors("codedeploy", "ListDeployments"):
        for page in client.get_paginator("list_deployments").paginate(**kwargs):
            ids += page.get("deployments", [])
    return ids


def _deployment_infos(session: Session, ids: list[str]) -> list[dict[str, Any]]:
    client = session.client("codedeploy")
    infos: list[dict[str, Any]] = []
    for offset in range(0, len(ids), BATCH_LIMIT):
        with aws_errors("codedeploy", "BatchGetDeployments"):
            infos += client.batch_get_deployments(deploymentIds=ids[offset : offset + BATCH_LIMIT])[
                "deploymentsInfo"
            ]
    return sorted(infos, key=lambda d: d.get("createTime") or datetime.min, reverse=True)


def bundle_release(session: Session, location: dict[str, Any]) -> tuple[str, str]:
    """(version, commit) from a revision's ``app/release.json``; blanks when it has none."""
    s3 = location.get("s3Location") or {}
    if not s3.get("bucket") or not s3.get("key"):
        return "", ""
    kwargs = {"Bucket": s3["bucket"], "Key": s3["key"]}
    if s3.get("version"):
        kwargs["VersionId"] = s3["version"]
    try:
        with aws_errors("s3", "GetObject"):
            body = session.client("s3").get_object(**kwargs)["Body"].read(MAX_BUNDLE_BYTES)
        with zipfile.ZipFile(io.BytesIO(body)) as bundle:
            release = json.loads(bundle.read(RELEASE_FILE))
    except (AwsError, KeyError, ValueError, zipfile.BadZipFile):
        return "", ""  # an old or foreign bundle: the revision is still listed, unlabelled
    return str(release.get("version", "")), str(release.get("commit", ""))


def revision_of(info: dict[str, Any]) -> Revision:
    """The revision a deployment (GetDeployment's ``deploymentInfo``) deployed."""
    location = dict(info.get("revision") or {})
    return Revision(
        key=revision_key(location),
        location=location,
        deployment_id=info["deploymentId"],
        status=info.get("status", ""),
        deployed_at=info.get("createTime"),
        description=info.get("description", ""),
    )


def distinct_revisions(infos: list[dict[str, Any]]) -> list[Revision]:
    """Newest first, each revision once (at its newest deployment)."""
    seen: set[str] = set()
    revisions = []
    for info in infos:
        revision = revision_of(info)
        if revision.key not in seen:
            seen.add(revision.key)
            revisions.append(revision)
    return revisions


@dataclass
class History:
    """What the group ran last, and the successful revisions to choose from (newest first)."""

    current: Revision | None
    good: list[Revision]

    def frame(self) -> pandas.DataFrame:
        import pandas

        rows = [
            {
                "revision": r.version or r.key,
                "commit": r.commit[:12],
                "deployment": r.deployment_id,
                "deployed at": r.deployed_at,
                "current": bool(self.current and r.key == self.current.key),
                "description": r.description,
            }
            for r in self.good
        ]
        columns = ["revision", "commit", "deployment", "deployed at", "current", "description"]
        return pandas.DataFrame(rows, columns=columns)

    def summary(self) -> dict[str, Any]:
        return {
            "current": self.current.describe() if self.current else None,
            "good": [r.describe() for r in self.good],
        }


def _labelled(session: Session, revision: Revision) -> Revision:
    version, commit = bundle_release(session, revision.location)
    return dataclasses.replace(revision, version=version, commit=commit)


def last_attempted(session: Session, config: StackConfig) -> str:
    """The id of the group's most recent deployment (GetDeploymentGroup), '' for none."""
    application, group = group_names(config)
    with aws_errors("codedeploy", "GetDeploymentGroup"):
        found = session.client("codedeploy").get_deployment_group(
            applicationName=application, deploymentGroupName=group
        )["deploymentGroupInfo"]
    return str((found.get("lastAttemptedDeployment") or {}).get("deploymentId") or "")


def history(session: Session, config: StackConfig, limit: int = 10) -> History:
    """The group's current revision and its recent successful ones, labelled from bundles."""
    good_infos = _deployment_infos(session, _deployment_ids(session, config, ["Succeeded"]))
    good = [_labelled(session, r) for r in distinct_revisions(good_infos)[:limit]]
    current_id = last_attempted(session, config)
    if not current_id:
        return History(None, good)
    current_info = next((i for i in good_infos if i["deploymentId"] == current_id), None)
    if current_info is None:
        current_info = _deployment_infos(session, [current_id])[0]
    current = revision_of(current_info)
    labelled = next((r for r in good if r.key == current.key), None)
    return History(labelled or _labelled(session, current), good)


@dataclass(frozen=True)
class Plan:
    """What a rollback would do: from which revision to which, or why it does not.

    Without a target, ``nothing_to_roll_back`` tells the two reasons apart: there is no
    earlier release (the fleet already runs the only one: fine), or the revision asked
    for cannot be the target (a mistake to report).
    """

    current: Revision | None
    target: Revision | None
    reason: str
    nothing_to_roll_back: bool = False

    @property
    def possible(self) -> bool:
        return self.target is not None

    def describe(self) -> str:
        if self.target is None and self.nothing_to_roll_back:
            return f"nothing to roll back: {self.reason}"
        if self.target is None:
            return f"no rollback: {self.reason}"
        now = self.current.describe() if self.current else "nothing"
        return f"redeploy {self.target.describe()}, replacing {now}: {self.reason}"

    def _repr_markdown_(self) -> str:
        return f"**Plan:** {self.describe()}"

    def summary(self) -> dict[str, Any]:
        return {
            "possible": self.possible,
            "nothing_to_roll_back": self.nothing_to_roll_back,
            "current": self.current.describe() if self.current else None,
            "target": self.target.describe() if self.target else None,
            "target_revision": self.target.key if self.target else None,
            "reason": self.reason,
        }


def _matches(revision: Revision, choice: str) -> bool:
    return choice in (revision.deployment_id, revision.key, revision.version) or bool(
        len(choice) >= 7 and revision.commit.startswith(choice)
    )


def plan_rollback(found: History, choose: str = "") -> Plan:
    """The revision to redeploy: ``choose`` (deployment id, version, commit prefix, S3 key)
    or, by default, the newest successful revision of another release than the current."""
    current = found.current
    if choose:
        target = next((r for r in found.good if _matches(r, choose)), None)
        if target is None:
            known = ", ".join(r.version or r.deployment_id for r in found.good) or "none"
            return Plan(current, None, f"{choose!r} is not a recent successful revision ({known})")
        if current is not None and target.key == current.key:
            return Plan(current, None, f"{target.describe()} is already the current revision")
        return Plan(current, target, f"chosen: {choose}")
    earlier = [r for r in found.good if not _runs_now(r, current)]
    if earlier:
        return Plan(current, earlier[0], "the previous good revision")
    reason = "no earlier successful revision to roll back to"
    if current is None:
        return Plan(None, None, f"{reason} (nothing deployed yet)", nothing_to_roll_back=True)
    if current.status != "Succeeded":
        failed = f"the last deployment {current.describe()} is {current.status or 'unknown'}"
        return Plan(current, None, f"{reason}; {failed}")
    what = current.version or current.commit[:12] or current.key
    only = f"every successful deployment so far is {what}"
    return Plan(current, None, f"{reason} ({only}, the current one)", nothing_to_roll_back=True)


def _runs_now(revision: Revision, current: Revision | None) -> bool:
    """Whether rolling back to ``revision`` would leave the fleet as it is.

    After a successful deployment the fleet runs that release, and any bundle of the same
    commit is no way back; after a failed one only its very bundle is excluded (the last
    good bundle is the way back, even of the same commit).
    """
    if current is None:
        return False
    if current.status == "Succeeded":
        return revision.same_release(current)
    return revision.key == current.key


def create_deployment(session: Session, config: StackConfig, plan: Plan) -> str:
    """CreateDeployment of the plan's target revision to the stack's group; the new id."""
    if plan.target is None:
        raise ExecutionError(f"nothing to deploy: {plan.reason}")
    application, group = group_names(config)
    with aws_errors("codedeploy", "CreateDeployment"):
        response = session.client("codedeploy").create_deployment(
            applicationName=application,
            deploymentGroupName=group,
            revision=plan.target.location,
            description=f"opslib rollback to {plan.target.describe()}"[:100],
        )
    return str(response["deploymentId"])


def execute(
    session: Session,
    config: StackConfig,
    plan: Plan,
    confirm: bool,
    echo: Callable[[str], None] = lambda _: None,
    timeout: float = 1800.0,
) -> DeploymentView | None:
    """Redeploy the plan's target and wait for the end; None for a dry run or no target."""
    if plan.target is None:
        echo(plan.describe())
        return None
    if not confirm:
        echo(f"dry run: would {plan.describe()}")
        return None
    deployment_id = create_deployment(session, config, plan)
    echo(f"created deployment {deployment_id}: {plan.describe()}")
    return wait_deployment(session, deployment_id, timeout=timeout, on_status=echo)


def verify(
    session: Session,
    config: StackConfig,
    plan: Plan,
    deployment: DeploymentView | None,
    timeout: float = 120.0,
) -> FleetReport:
    """The fleet after the rollback (polled until it serves the target), or as it is now."""
    if deployment is None or plan.target is None or not deployment.succeeded:
        return fleet.check_fleet(session, config)
    return fleet.verify(
        session, config, commit=plan.target.commit, version=plan.target.version, timeout=timeout
    )


def verdict(
    plan: Plan,
    confirm: bool,
    deployment: DeploymentView | None = None,
    fleet_report: FleetReport | None = None,
) -> Verdict:
    """✓ when there is nothing to roll back; for a dry run, ✓ when there is something to
    roll back to; otherwise ✓ when the redeploy succeeded and every instance serves the
    target's version."""
    if plan.target is None:
        return Verdict(plan.nothing_to_roll_back, plan.describe())
    if not confirm:
        hint = rerun_hint("rollback", "confirm", True)
        return Verdict(True, f"dry run: would {plan.describe()}; {hint} to redeploy")
    if deployment is None or not deployment.succeeded:
        status = deployment.status if deployment else "not started"
        error = f": {deployment.error}" if deployment and deployment.error else ""
        return Verdict(False, f"rollback deployment {status}{error}")
    if fleet_report is None:
        return Verdict(False, "the fleet was not verified")
    wrong = serves(fleet_report, commit=plan.target.commit, version=plan.target.version)
    if wrong:
        names = ", ".join(f"{i.name or i.instance_id} ({i.health}, {i.version})" for i in wrong)
        return Verdict(False, f"rolled back to {plan.target.describe()}, but not served by {names}")
    return Verdict(
        True,
        f"rolled back to {plan.target.describe()}: all {len(fleet_report.instances)} "
        "instance(s) healthy on it",
    )


def headlines(
    plan: Plan, deployment: DeploymentView | None, served: FleetReport | None
) -> tuple[Headline, ...]:
    """The rollback card: from which revision to which, the deployment, the fleet."""
    from opslib.ops.fleet import healthy_headline

    if deployment is None:
        done = Headline("deployment", "none", "a dry run" if plan.possible else plan.reason)
    else:
        ok = deployment.status == "Succeeded"
        done = Headline("deployment", deployment.status, deployment.deployment_id,
                        Status.GOOD if ok else Status.BAD)  # fmt: skip
    return (
        Headline("serving before", plan.current.describe() if plan.current else "–"),
        Headline("rolls back to", plan.target.describe() if plan.target else "–"),
        done,
        healthy_headline(served),
    )
