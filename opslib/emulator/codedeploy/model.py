"""CodeDeploy's wire vocabulary and the documents the emulator persists — pure.

A deployment is kept as one record: the DeploymentInfo document exactly as
GetDeployment returns it, plus private keys (``_instances``: the InstanceSummary of each
target, ``_context``: what the worker needs) that ``store.public`` drops. One record per
deployment means one atomic write per change, so a reader never sees an overview that
disagrees with its instances.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from opslib.specs import LifecycleEvent

KIND = "deployment"  # RecordStore kind of a deployment record
CONFIG_KIND = "deployment-config"  # custom deployment configs
INSTANCE_STATE_KIND = "deploy-instance"  # per instance + group: last successful revision


class DeploymentStatus(StrEnum):
    """DeploymentInfo.status."""

    CREATED = "Created"  # accepted, the worker has not started
    QUEUED = "Queued"  # waiting for another deployment (never used: one per group)
    IN_PROGRESS = "InProgress"  # instances are being deployed
    BAKING = "Baking"  # ECS/Lambda only
    SUCCEEDED = "Succeeded"  # the config's success condition was met
    FAILED = "Failed"  # see errorInformation
    STOPPED = "Stopped"  # StopDeployment, an alarm, or the emulator stopping
    READY = "Ready"  # blue/green only

    @property
    def active(self) -> bool:
        """True while the deployment blocks another one in its group."""
        return self in _ACTIVE


_ACTIVE = frozenset(
    {DeploymentStatus.CREATED, DeploymentStatus.QUEUED, DeploymentStatus.IN_PROGRESS}
)


class InstanceStatus(StrEnum):
    """InstanceSummary.status / InstanceTarget.status."""

    PENDING = "Pending"  # not started yet
    IN_PROGRESS = "InProgress"  # its lifecycle events run
    SUCCEEDED = "Succeeded"  # every event succeeded (or was skipped)
    FAILED = "Failed"  # an event failed, or the deployment stopped while it ran
    SKIPPED = "Skipped"  # never started: the deployment failed or stopped first
    UNKNOWN = "Unknown"  # AWS lost track of it (not used)
    READY = "Ready"  # blue/green only


class EventStatus(StrEnum):
    """LifecycleEvent.status."""

    PENDING = "Pending"  # not reached yet
    IN_PROGRESS = "InProgress"  # its scripts run
    SUCCEEDED = "Succeeded"  # done (an event without scripts succeeds at once)
    FAILED = "Failed"  # see diagnostics
    SKIPPED = "Skipped"  # not run: first deployment's ApplicationStop, or after a failure
    UNKNOWN = "Unknown"  # not used


class ScriptError(StrEnum):
    """Diagnostics.errorCode (LifecycleErrorCode)."""

    SUCCESS = "Success"  # the event succeeded
    SCRIPT_MISSING = "ScriptMissing"  # no file at the script's location in the bundle
    SCRIPT_NOT_EXECUTABLE = "ScriptNotExecutable"  # and it could not be made executable
    SCRIPT_TIMED_OUT = "ScriptTimedOut"  # ran past its timeout; its group got TERM
    SCRIPT_FAILED = "ScriptFailed"  # exited non-zero
    UNKNOWN_ERROR = "UnknownError"  # anything else: bundle, appspec, Install, a stop


class ErrorCode(StrEnum):
    """DeploymentInfo.errorInformation.code values the emulator produces."""

    NO_INSTANCES = "NO_INSTANCES"  # the group's tags select no running instance
    HEALTH_CONSTRAINTS = "HEALTH_CONSTRAINTS"  # too many instances failed
    HEALTH_CONSTRAINTS_INVALID = "HEALTH_CONSTRAINTS_INVALID"  # minimum >= fleet size
    REVISION_MISSING = "REVISION_MISSING"  # the S3 bundle does not exist
    MANUAL_STOP = "MANUAL_STOP"  # StopDeployment
    ALARM_ACTIVE = "ALARM_ACTIVE"  # a CloudWatch alarm of the group went into ALARM
    INTERNAL_ERROR = "INTERNAL_ERROR"  # the emulator stopped or crashed while it ran


class RollbackEvent(StrEnum):
    """autoRollbackConfiguration.events."""

    DEPLOYMENT_FAILURE = "DEPLOYMENT_FAILURE"  # the deployment failed
    DEPLOYMENT_STOP_ON_ALARM = "DEPLOYMENT_STOP_ON_ALARM"  # an alarm stopped it
    DEPLOYMENT_STOP_ON_REQUEST = "DEPLOYMENT_STOP_ON_REQUEST"  # StopDeployment stopped it


class Creator(StrEnum):
    """DeploymentInfo.creator."""

    USER = "user"  # CreateDeployment (a person, a pipeline)
    ROLLBACK = "codeDeployRollback"  # an automatic rollback


# In-place, no load balancer: the events an instance goes through, in order (REFERENCE.md).
IN_PLACE_EVENTS = (
    LifecycleEvent.APPLICATION_STOP,
    LifecycleEvent.DOWNLOAD_BUNDLE,
    LifecycleEvent.BEFORE_INSTALL,
    LifecycleEvent.INSTALL,
    LifecycleEvent.AFTER_INSTALL,
    LifecycleEvent.APPLICATION_START,
    LifecycleEvent.VALIDATE_SERVICE,
)
TERMINAL = frozenset(
    {DeploymentStatus.SUCCEEDED, DeploymentStatus.FAILED, DeploymentStatus.STOPPED}
)


@dataclass(frozen=True)
class Diagnostics:
    """Why a lifecycle event ended as it did (the agent's ScriptError, on the wire)."""

    error_code: ScriptError
    message: str
    script_name: str = ""
    log_tail: str = ""

    def to_wire(self) -> dict[str, str]:
        return {
            "errorCode": str(self.error_code),
            "scriptName": self.script_name,
            "message": self.message,
            "logTail": self.log_tail,
        }


SUCCESS = Diagnostics(ScriptError.SUCCESS, "Succeeded")


def now() -> float:
    return datetime.now(UTC).timestamp()


def new_deployment_id() -> str:
    """``d-`` and nine uppercase letters/digits, like AWS's ids."""
    alphabet = string.ascii_uppercase + string.digits
    return "d-" + "".join(random.choices(alphabet, k=9))


def instance_arn(region: str, account: str, instance_id: str) -> str:
    return f"arn:aws:ec2:{region}:{account}:instance/{instance_id}"


def instance_summary(deployment_id: str, instance_id: str, arn: str) -> dict[str, Any]:
    """A Pending InstanceSummary with every in-place event Pending."""
    return {
        "deploymentId": deployment_id,
        "instanceId": arn,  # GetDeploymentInstance shows the instance's ARN here
        "_instanceId": instance_id,
        "status": str(InstanceStatus.PENDING),
        "lastUpdatedAt": now(),
        "lifecycleEvents": [
            {"lifecycleEventName": str(event), "status": str(EventStatus.PENDING)}
            for event in IN_PLACE_EVENTS
        ],
    }


def overview(instances: dict[str, dict[str, Any]]) -> dict[str, int]:
    """deploymentOverview: instances per status."""
    counts = dict.fromkeys(("Pending", "InProgress", "Succeeded", "Failed", "Skipped", "Ready"), 0)
    for summary in instances.values():
        status = summary["status"]
        if status in counts:
            counts[status] += 1
    return counts


def instance_target(summary: dict[str, Any]) -> dict[str, Any]:
    """GetDeploymentTarget's shape of one instance."""
    return {
        "deploymentTargetType": "InstanceTarget",
        "instanceTarget": {
            "deploymentId": summary["deploymentId"],
            "targetId": summary["_instanceId"],
            "targetArn": summary["instanceId"],
            "status": summary["status"],
            "lastUpdatedAt": summary["lastUpdatedAt"],
            "lifecycleEvents": summary["lifecycleEvents"],
        },
    }


def rollback_events(document: dict[str, Any]) -> set[str]:
    """The rollback events in force for a deployment (none when disabled)."""
    config = document.get("autoRollbackConfiguration") or {}
    return set(config.get("events") or []) if config.get("enabled") else set()


# What every in-place deployment without a load balancer reports the same way.
IN_PLACE: dict[str, Any] = {
    "updateOutdatedInstancesOnly": False,
    "deploymentStyle": {
        "deploymentType": "IN_PLACE",
        "deploymentOption": "WITHOUT_TRAFFIC_CONTROL",
    },
    "instanceTerminationWaitTimeStarted": False,
    "deploymentStatusMessages": [],
    "computePlatform": "Server",
}
