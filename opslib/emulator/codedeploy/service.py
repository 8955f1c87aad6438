"""CodeDeploy's deployment APIs, answered by the emulator so that deployments really run.

moto keeps applications and deployment groups (CreateApplication, CreateDeploymentGroup,
...); the emulator owns deployments and deployment configs. CreateDeployment selects the
group's running instances by tag and starts a worker (run.py) that runs the
revision's lifecycle on each instance's local host (agent.py). Reads come from the
persisted records (reads.py). StopDeployment stops scheduling and ends the running
hook. One deployment per group is active at a time (DeploymentLimitExceededException).

Automatic rollback mirrors CodeDeploy: when a deployment fails (DEPLOYMENT_FAILURE) or
is stopped (DEPLOYMENT_STOP_ON_REQUEST / _ON_ALARM) and the deployment's (or its group's)
autoRollbackConfiguration names that event, a *new* deployment (creator
codeDeployRollback) redeploys the group's last successful revision; each deployment's
rollbackInfo points to the other. A rollback is never rolled back itself.

On start, deployments a crash left active end Failed with INTERNAL_ERROR and whatever
their hooks left running is ended; on a graceful stop they end Stopped.
"""

from __future__ import annotations

import copy
import logging
import threading
from typing import Any

from opslib.emulator.codedeploy.configs import DeploymentConfig
from opslib.emulator.codedeploy.model import (
    IN_PLACE,
    KIND,
    Creator,
    DeploymentStatus,
    ErrorCode,
    EventStatus,
    InstanceStatus,
    RollbackEvent,
    instance_arn,
    instance_summary,
    new_deployment_id,
    now,
    overview,
    rollback_events,
)
from opslib.emulator.codedeploy.reads import DeploymentReads, config_named
from opslib.emulator.codedeploy.run import DeploymentRun, Outcome, StopCause
from opslib.emulator.codedeploy.targets import GroupInfo, read_group, select_targets
from opslib.emulator.core.gateway import ApiException, ApiRequest, ApiResponse
from opslib.emulator.core.procs import kill_all, processes_with_env
from opslib.emulator.core.runtime import Runtime
from opslib.emulator.core.telemetry import emit_event

logger = logging.getLogger(__name__)

RESTART_REASON = "the emulator stopped while this deployment ran (killed or crashed)"
SHUTDOWN_REASON = "the emulator was stopped while this deployment ran"
_BUNDLE_TYPES = ("zip", "tar", "tgz")
_BEHAVIORS = ("DISALLOW", "OVERWRITE", "RETAIN")


class DeployService:
    """The emulator's CodeDeploy: creates, runs, stops, rolls back and reports deployments."""

    def __init__(self, runtime: Runtime, timeout_scale: float = 1.0) -> None:
        self.runtime = runtime
        self.timeout_scale = timeout_scale
        self.running: dict[str, DeploymentRun] = {}
        self.reads = DeploymentReads(runtime)
        self._lock = threading.Lock()
        self._rollbacks: dict[str, DeploymentRun] = {}  # triggering id -> rollback to start

    def register(self) -> None:
        gateway = self.runtime.gateway
        gateway.handle("codedeploy", "CreateDeployment", self.create_deployment)
        gateway.handle("codedeploy", "StopDeployment", self.stop_deployment)
        for operation, handler in self.reads.handlers().items():
            gateway.handle("codedeploy", operation, handler)

    # -- CreateDeployment ---------------------------------------------------------------
    def create_deployment(self, request: ApiRequest) -> ApiResponse:
        params = request.params()
        group = read_group(
            request.account_id,
            request.region,
            params.get("applicationName", ""),
            params.get("deploymentGroupName", ""),
        )
        revision = _revision(params.get("revision"))
        _check_options(params)
        config = config_named(self.runtime, params.get("deploymentConfigName") or group.config_name)
        run = self._create(group, revision, config, params, Creator.USER)
        run.start()
        return ApiResponse.json({"deploymentId": run.id})

    def _create(
        self,
        group: GroupInfo,
        revision: dict[str, Any],
        config: DeploymentConfig,
        params: dict[str, Any],
        creator: Creator,
        replacing: DeploymentRun | None = None,
    ) -> DeploymentRun:
        """Record a new deployment and register its run (not started); one per group."""
        targets = select_targets(group, self.runtime.records)
        with self._lock:
            self._refuse_if_active(group, replacing)
            document = self._document(group, revision, config, params, creator)
            document["_instances"] = {
                t.instance_id: instance_summary(
                    document["deploymentId"],
                    t.instance_id,
                    instance_arn(group.region, group.account, t.instance_id),
                )
                for t in targets
            }
            document["deploymentOverview"] = overview(document["_instances"])
            run = DeploymentRun(self.runtime, document, targets, config, self.timeout_scale)
            run.on_finish, run.on_done = self._finish, self._done
            run.save()
            self.running[run.id] = run
        logger.info("deployment %s of %s to %d instance(s)", run.id, group.group_name, len(targets))
        return run

    def _refuse_if_active(self, group: GroupInfo, replacing: DeploymentRun | None) -> None:
        """AWS runs one deployment per group at a time (call with ``self._lock`` held)."""
        for run in self.running.values():
            if run.group_id == group.group_id and run is not replacing:
                raise ApiException(
                    "DeploymentLimitExceededException",
                    f"The Deployment Group '{group.group_name}' already has an active"
                    f" Deployment '{run.id}'",
                )

    def _document(
        self,
        group: GroupInfo,
        revision: dict[str, Any],
        config: DeploymentConfig,
        params: dict[str, Any],
        creator: Creator,
    ) -> dict[str, Any]:
        """The DeploymentInfo as GetDeployment will show it, plus the worker's context."""
        rollback = params.get("autoRollbackConfiguration") or group.auto_rollback
        document: dict[str, Any] = {
            "applicationName": group.application_name,
            "deploymentGroupName": group.group_name,
            "deploymentConfigName": config.name,
            "deploymentId": new_deployment_id(),
            "revision": revision,
            "status": str(DeploymentStatus.CREATED),
            "createTime": now(),
            "description": params.get("description", ""),
            "creator": str(creator),
            "ignoreApplicationStopFailures": bool(params.get("ignoreApplicationStopFailures")),
            "autoRollbackConfiguration": {
                "enabled": bool(rollback.get("enabled")),
                "events": list(rollback.get("events") or []),
            },
            "fileExistsBehavior": params.get("fileExistsBehavior") or "DISALLOW",
            **copy.deepcopy(IN_PLACE),
            "_context": {
                "region": group.region,
                "account": group.account,
                "groupId": group.group_id,
                "arns": group.arns,
                "alarmConfiguration": params.get("overrideAlarmConfiguration") or group.alarms,
            },
        }
        for key in ("targetInstances", "overrideAlarmConfiguration", "rollbackInfo"):
            if params.get(key):
                document[key] = params[key]
        previous = self._last_success(group.group_id)
        if previous is not None:
            document["previousRevision"] = previous["revision"]
        return document

    def _last_success(self, group_id: str, exclude: str = "") -> dict[str, Any] | None:
        """The group's most recent Succeeded deployment (its revision is 'last known good').

        A deployment simulate-history backfilled (``_simulated``) never is: its revision
        names no bundle that exists, and a rollback to it would fail.
        """
        done = [
            d for d in self.runtime.records.all(KIND)
            if d["_context"]["groupId"] == group_id and d["status"] == DeploymentStatus.SUCCEEDED
            and d["deploymentId"] != exclude and not d.get("_simulated")
        ]  # fmt: skip
        return max(done, key=lambda d: d.get("completeTime", 0), default=None)

    # -- StopDeployment -----------------------------------------------------------------
    def stop_deployment(self, request: ApiRequest) -> ApiResponse:
        params = request.params()
        deployment_id = params.get("deploymentId", "")
        document = self.runtime.records.get(KIND, deployment_id)
        if document is None:
            raise ApiException(
                "DeploymentDoesNotExistException", f"The deployment {deployment_id} does not exist"
            )
        with self._lock:
            run = self.running.get(deployment_id)
        if run is None or not DeploymentStatus(document["status"]).active:
            raise ApiException(
                "DeploymentAlreadyCompletedException",
                f"The deployment {deployment_id} has already completed",
            )
        run.request_stop(
            StopCause(
                ErrorCode.MANUAL_STOP,
                "The deployment was stopped by a StopDeployment request",
                RollbackEvent.DEPLOYMENT_STOP_ON_REQUEST,
                params.get("autoRollbackEnabled"),
            )
        )
        return ApiResponse.json(
            {
                "status": "Pending",
                "statusMessage": "Stopping Pending. Stopping to schedule commands in the"
                " deployment instances",
            }
        )

    # -- the end of a run, rollback -------------------------------------------------------
    def _finish(self, run: DeploymentRun, outcome: Outcome) -> dict[str, Any]:
        """Roll back if the deployment's rollback events ask for it; returns rollbackInfo."""
        if not _wants_rollback(run, outcome):
            return {}
        info, rollback = self._roll_back(run.document, run.config, replacing=run)
        if rollback is not None:
            with self._lock:
                self._rollbacks[run.id] = rollback
        return info

    def _roll_back(
        self,
        document: dict[str, Any],
        config: DeploymentConfig,
        replacing: DeploymentRun | None = None,
    ) -> tuple[dict[str, Any], DeploymentRun | None]:
        """Create (not start) the automatic rollback of ``document``: its rollbackInfo and run."""
        failed_id = document["deploymentId"]
        good = self._last_success(document["_context"]["groupId"], exclude=failed_id)
        if good is None:
            return {
                "rollbackMessage": "Automatic rollback was not performed: the deployment group"
                " has no earlier successful deployment to roll back to"
            }, None
        try:
            rollback = self._create_rollback(document, config, good, replacing)
        except ApiException as exc:
            return {"rollbackMessage": f"Automatic rollback could not start: {exc}"}, None
        return {
            "rollbackDeploymentId": rollback.id,
            "rollbackMessage": f"Automatic rollback to the revision of {good['deploymentId']}"
            f" started as {rollback.id}",
        }, rollback

    def _create_rollback(
        self,
        doc: dict[str, Any],
        config: DeploymentConfig,
        good: dict[str, Any],
        replacing: DeploymentRun | None,
    ) -> DeploymentRun:
        context = doc["_context"]
        failed_id = doc["deploymentId"]
        with self.runtime.gateway.lock:  # moto is read in-process; no API call inside
            group = read_group(
                context["account"], context["region"], doc["applicationName"],
                doc["deploymentGroupName"],
            )  # fmt: skip
            params = {
                "description": f"Rollback of {failed_id} to the revision of {good['deploymentId']}",
                "ignoreApplicationStopFailures": doc.get("ignoreApplicationStopFailures"),
                "fileExistsBehavior": doc.get("fileExistsBehavior"),
                "autoRollbackConfiguration": doc.get("autoRollbackConfiguration"),
                "rollbackInfo": {
                    "rollbackTriggeringDeploymentId": failed_id,
                    "rollbackMessage": f"Automatic rollback of {failed_id} ({doc['status']})",
                },
            }
            revision = good["revision"]
            return self._create(group, revision, config, params, Creator.ROLLBACK, replacing)

    def _done(self, run: DeploymentRun) -> None:
        with self._lock:
            self.running.pop(run.id, None)
            rollback = self._rollbacks.pop(run.id, None)
        if rollback is not None:
            rollback.start()

    # -- lifecycle ------------------------------------------------------------------------
    def recover(self) -> int:
        """Close deployments a crash left active as Failed (INTERNAL_ERROR); returns how many."""
        count = 0
        for document in self.runtime.records.all(KIND):
            if DeploymentStatus(document["status"]).active:
                ended = kill_all(processes_with_env("DEPLOYMENT_ID", document["deploymentId"]))
                logger.info("deployment %s was interrupted; %d process(es) ended",
                            document["deploymentId"], ended)  # fmt: skip
                _close_interrupted(document)
                self.runtime.records.put(KIND, document["deploymentId"], document)
                count += 1
        return count

    def announce_recovered(self) -> None:
        """Emit the FAILURE events of the deployments :meth:`recover` closed, then roll back.

        A deployment the crash failed counts as a DEPLOYMENT_FAILURE: where the group rolls
        back on failure, CodeDeploy's automatic rollback to the last good revision starts,
        as it would after any other failure. Runs once the server answers (deferred).
        """
        for document in self.runtime.records.all(KIND):
            if document.pop("_recovered", False):
                self._announce_failure(document)
                if _recovered_wants_rollback(document):
                    config = config_named(self.runtime, document["deploymentConfigName"])
                    info, rollback = self._roll_back(document, config)
                    document["rollbackInfo"] = {**document.get("rollbackInfo", {}), **info}
                    if rollback is not None:
                        rollback.start()
                self.runtime.records.put(KIND, document["deploymentId"], document)

    def _announce_failure(self, document: dict[str, Any]) -> None:
        context = document["_context"]
        detail = {
            "application": document["applicationName"],
            "deploymentGroup": document["deploymentGroupName"],
            "deploymentId": document["deploymentId"],
            "instanceGroupId": context["groupId"],
            "region": context["region"],
            "state": "FAILURE",
        }
        emit_event(self.runtime, context["region"], "aws.codedeploy",
                   "CodeDeploy Deployment State-change Notification", detail,
                   context["arns"])  # fmt: skip

    def shutdown(self, timeout: float = 15.0) -> None:
        """End running deployments' hooks and wait for their threads.

        Their records stay InProgress: the next start fails them and rolls them back as
        after a crash, once the hosts are back (:meth:`recover`, :meth:`announce_recovered`).
        """
        with self._lock:
            runs = list(self.running.values())
        for run in runs:
            run.abandoned.set()
            run.request_stop(StopCause(ErrorCode.INTERNAL_ERROR, SHUTDOWN_REASON))
        for run in runs:
            if run.thread.is_alive():
                run.thread.join(timeout)


def _recovered_wants_rollback(document: dict[str, Any]) -> bool:
    """A crash-failed deployment rolls back like any failed one; a rollback never does."""
    if document.get("creator") == Creator.ROLLBACK:
        return False
    return RollbackEvent.DEPLOYMENT_FAILURE in rollback_events(document)


def _wants_rollback(run: DeploymentRun, outcome: Outcome) -> bool:
    if run.document.get("creator") == Creator.ROLLBACK:
        return False
    events = rollback_events(run.document)
    if outcome.status is DeploymentStatus.FAILED:
        return RollbackEvent.DEPLOYMENT_FAILURE in events
    cause = run.cause
    if outcome.status is not DeploymentStatus.STOPPED or cause is None:
        return False
    if cause.rollback_override is not None and cause.rollback_event is not None:
        return cause.rollback_override  # StopDeployment(autoRollbackEnabled=...) decides
    return cause.rollback_event is not None and cause.rollback_event in events


def _revision(revision: Any) -> dict[str, Any]:
    """Validate CreateDeployment's revision: an S3 zip/tar/tgz bundle."""
    if not revision:
        raise ApiException("RevisionRequiredException", "The revision ID was not specified")
    if revision.get("revisionType") != "S3":
        raise ApiException(
            "InvalidRevisionException",
            f"revisionType {revision.get('revisionType')} is not supported by the emulator:"
            " use S3 (a bundle in a bucket)",
        )
    location = revision.get("s3Location") or {}
    if not location.get("bucket") or not location.get("key"):
        raise ApiException("InvalidRevisionException", "s3Location needs a bucket and a key")
    if location.get("bundleType", "zip") not in _BUNDLE_TYPES:
        raise ApiException(
            "InvalidRevisionException",
            f"bundleType {location['bundleType']} is not valid for EC2: zip, tar or tgz",
        )
    return {"revisionType": "S3", "s3Location": {"bundleType": "zip", **location}}


def _check_options(params: dict[str, Any]) -> None:
    behavior = params.get("fileExistsBehavior")
    if behavior is not None and behavior not in _BEHAVIORS:
        raise ApiException(
            "InvalidFileExistsBehaviorException",
            f"fileExistsBehavior must be DISALLOW, OVERWRITE or RETAIN: {behavior}",
        )
    rollback = params.get("autoRollbackConfiguration") or {}
    unknown = set(rollback.get("events") or []) - {str(e) for e in RollbackEvent}
    if unknown:
        raise ApiException(
            "InvalidAutoRollbackConfigException", f"unknown rollback events: {sorted(unknown)}"
        )


def _close_interrupted(document: dict[str, Any]) -> None:
    """Failed, INTERNAL_ERROR; the running event Failed, what never ran Skipped."""
    at = now()
    for summary in document["_instances"].values():
        for event in summary["lifecycleEvents"]:
            if event["status"] == EventStatus.IN_PROGRESS:
                event.update(status=str(EventStatus.FAILED), endTime=at, diagnostics={
                    "errorCode": "UnknownError", "scriptName": "", "message": RESTART_REASON,
                    "logTail": ""})  # fmt: skip
            elif event["status"] == EventStatus.PENDING:
                event["status"] = str(EventStatus.SKIPPED)
        if summary["status"] == InstanceStatus.IN_PROGRESS:
            summary.update(status=str(InstanceStatus.FAILED), lastUpdatedAt=at)
        elif summary["status"] == InstanceStatus.PENDING:
            summary.update(status=str(InstanceStatus.SKIPPED), lastUpdatedAt=at)
    document.update(
        status=str(DeploymentStatus.FAILED),
        completeTime=at,
        errorInformation={"code": str(ErrorCode.INTERNAL_ERROR), "message": RESTART_REASON},
        deploymentOverview=overview(document["_instances"]),
        _recovered=True,
    )
