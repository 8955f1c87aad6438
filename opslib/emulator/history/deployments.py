"""A simulated deployment as CodeDeploy keeps it: the record with its instances, events."""

from __future__ import annotations

import copy
from typing import Any

from opslib.emulator.codedeploy.model import IN_PLACE
from opslib.emulator.history.plan import DeploymentPlan, InstancePlan, RunPlan
from opslib.emulator.history.wire import MARK, Setting, event

HEALTH_MESSAGE = (
    "The overall deployment failed because too many individual instances failed deployment,"
    " too few healthy instances are available for deployment, or some instances in your"
    " deployment group are experiencing problems."
)
HOOK_FAILURE = "Script at specified location: scripts/validate_service.sh failed with exit code 1"


def deployment_document(
    setting: Setting, run: RunPlan, deployment: DeploymentPlan, revision_key: str
) -> dict[str, Any]:
    """The deployment record (codedeploy/service.py's document, finished)."""
    instances = {
        i.instance_id: _instance_summary(setting, deployment, i) for i in deployment.instances
    }
    counts = dict.fromkeys(("Pending", "InProgress", "Succeeded", "Failed", "Skipped", "Ready"), 0)
    for summary in instances.values():
        counts[summary["status"]] += 1
    description = MARK
    doc: dict[str, Any] = {
        "applicationName": setting.application,
        "deploymentGroupName": setting.group,
        "deploymentConfigName": setting.config_name,
        "deploymentId": deployment.deployment_id,
        "revision": {
            "revisionType": "S3",
            "s3Location": {
                "bucket": setting.artifact_bucket,
                "key": revision_key,
                "bundleType": "zip",
            },
        },
        "status": "Succeeded" if deployment.succeeded else "Failed",
        "createTime": deployment.create,
        "startTime": deployment.create + 0.5,
        "completeTime": deployment.end,
        "description": description,
        "creator": "codeDeployRollback" if deployment.rollback_of else "user",
        "ignoreApplicationStopFailures": False,
        "autoRollbackConfiguration": {
            "enabled": bool(setting.auto_rollback.get("enabled")),
            "events": list(setting.auto_rollback.get("events") or []),
        },
        "fileExistsBehavior": "DISALLOW",
        **copy.deepcopy(IN_PLACE),  # as the CodeDeploy service writes its own
        "deploymentOverview": counts,
        "_instances": instances,
        "_context": {
            "region": setting.region,
            "account": setting.account,
            "groupId": setting.group_id,
            "arns": list(setting.group_arns),
            "alarmConfiguration": {},
        },
        "_simulated": True,
    }
    if not deployment.succeeded:
        doc["errorInformation"] = {"code": "HEALTH_CONSTRAINTS", "message": HEALTH_MESSAGE}
    if deployment.rollback_of:
        doc["rollbackInfo"] = {
            "rollbackTriggeringDeploymentId": deployment.rollback_of,
            "rollbackMessage": f"Automatic rollback of {deployment.rollback_of} (Failed)",
        }
    elif deployment.rolled_back_by:
        doc["rollbackInfo"] = {
            "rollbackDeploymentId": deployment.rolled_back_by,
            "rollbackMessage": f"Automatic rollback started as {deployment.rolled_back_by}",
        }
    return doc


def _instance_summary(
    setting: Setting, deployment: DeploymentPlan, instance: InstancePlan
) -> dict[str, Any]:
    events = []
    for span in instance.events:
        entry: dict[str, Any] = {"lifecycleEventName": span.name, "status": span.status}
        if span.status != "Skipped":
            entry.update(startTime=span.start, endTime=span.end)
            failed = span.status == "Failed"
            entry["diagnostics"] = {
                "errorCode": "ScriptFailed" if failed else "Success",
                "scriptName": "scripts/validate_service.sh" if failed else "",
                "message": HOOK_FAILURE if failed else "Succeeded",
                "logTail": "",
            }
        events.append(entry)
    ended = [s.end for s in instance.events if s.status != "Skipped"]
    return {
        "deploymentId": deployment.deployment_id,
        "instanceId": setting.instance_arns.get(instance.instance_id, instance.instance_id),
        "_instanceId": instance.instance_id,
        "status": instance.status,
        "lastUpdatedAt": max(ended, default=deployment.end),
        "lifecycleEvents": events,
    }


def deployment_events(setting: Setting, deployment: DeploymentPlan) -> list[tuple[int, str]]:
    """CodeDeploy's deployment and instance state-change notifications."""
    base = {
        "application": setting.application,
        "deploymentGroup": setting.group,
        "deploymentId": deployment.deployment_id,
        "instanceGroupId": setting.group_id,
        "region": setting.region,
    }
    arns, source = list(setting.group_arns), "aws.codedeploy"
    kind, instance_kind = (
        "CodeDeploy Deployment State-change Notification",
        "CodeDeploy Instance State-change Notification",
    )
    eid = deployment.deployment_id
    found = [
        event(
            setting,
            source,
            kind,
            deployment.create + 0.5,
            {**base, "state": "START"},
            arns,
            f"{eid}-0",
        )
    ]
    for n, instance in enumerate(deployment.instances):
        ran = [s for s in instance.events if s.status != "Skipped"]
        if not ran:
            continue
        detail = {**base, "instanceId": instance.instance_id}
        arn = setting.instance_arns.get(instance.instance_id, instance.instance_id)
        end_state = "SUCCESS" if instance.status == "Succeeded" else "FAILURE"
        found.append(
            event(
                setting,
                source,
                instance_kind,
                ran[0].start,
                {**detail, "state": "START"},
                [arn, *arns],
                f"{eid}-{n}s",
            )
        )
        found.append(
            event(
                setting,
                source,
                instance_kind,
                ran[-1].end,
                {**detail, "state": end_state},
                [arn, *arns],
                f"{eid}-{n}e",
            )
        )
    state = "SUCCESS" if deployment.succeeded else "FAILURE"
    found.append(
        event(setting, source, kind, deployment.end, {**base, "state": state}, arns, f"{eid}-9")
    )
    return found
