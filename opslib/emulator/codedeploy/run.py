"""One CodeDeploy deployment, carried out by a worker thread of the emulator.

The worker owns the deployment's record (model.py) and persists it at every change:
the deployment's status and overview, each instance's status and lifecycle events. It
schedules instances with the deployment config's Fleet (configs.py), runs each on
its own thread through the host's agent (agent.py), polls the group's CloudWatch
alarms while it runs, and emits AWS's EventBridge notifications:

- "CodeDeploy Deployment State-change Notification", state START / SUCCESS / FAILURE / STOP
- "CodeDeploy Instance State-change Notification", state START / SUCCESS / FAILURE

The worker never holds the gateway's lock while it calls the emulator's API.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from opslib.emulator.codedeploy.agent import AgentContext, DeployTarget, HostAgent
from opslib.emulator.codedeploy.configs import DeploymentConfig, Fleet, health_plan
from opslib.emulator.codedeploy.model import (
    KIND,
    DeploymentStatus,
    Diagnostics,
    ErrorCode,
    EventStatus,
    InstanceStatus,
    RollbackEvent,
    now,
    overview,
)
from opslib.emulator.core.runtime import Runtime
from opslib.emulator.core.telemetry import emit_event
from opslib.specs import LifecycleEvent

logger = logging.getLogger(__name__)

ALARM_POLL_SECONDS = 1.0
ALARM_POLL_FAILURES = 3  # consecutive DescribeAlarms failures that stop a deployment
_EVENT_STATES = {
    DeploymentStatus.SUCCEEDED: "SUCCESS",
    DeploymentStatus.FAILED: "FAILURE",
    DeploymentStatus.STOPPED: "STOP",
}
_ALARM_MESSAGE = (
    "One or more alarms have been activated according to the Amazon CloudWatch metrics you"
    " selected, and the affected deployments have been stopped. Activated alarms: "
)
_HEALTH_MESSAGE = (
    "The overall deployment failed because too many individual instances failed deployment,"
    " too few healthy instances are available for deployment, or some instances in your"
    " deployment group are experiencing problems."
)


@dataclass(frozen=True)
class StopCause:
    """Why a deployment stops before its end, and whether that asks for a rollback."""

    code: ErrorCode
    message: str
    rollback_event: RollbackEvent | None = None  # the autoRollback event it counts as
    rollback_override: bool | None = None  # StopDeployment(autoRollbackEnabled=...)


@dataclass(frozen=True)
class Outcome:
    """How a deployment ended."""

    status: DeploymentStatus
    code: ErrorCode | None = None
    message: str = ""


class DeploymentRun:
    """A running deployment: its record, its hosts' agents and the thread that drives them."""

    def __init__(
        self,
        runtime: Runtime,
        document: dict[str, Any],
        targets: list[DeployTarget],
        config: DeploymentConfig,
        timeout_scale: float = 1.0,
    ) -> None:
        self.runtime = runtime
        self.document = document
        self.targets = {t.instance_id: t for t in targets}
        self.order = [t.instance_id for t in targets]
        self.config = config
        self.timeout_scale = timeout_scale
        self.context: dict[str, Any] = document["_context"]
        self.stop = threading.Event()
        # Set when the emulator stops: the record stays InProgress, and the next start closes
        # it as a crash would (Failed, then the automatic rollback), not as a user's stop.
        self.abandoned = threading.Event()
        self.cause: StopCause | None = None
        self.lock = threading.Lock()
        self.finished: queue.Queue[tuple[str, bool]] = queue.Queue()
        self.thread = threading.Thread(target=self._run, name=f"deploy-{self.id}", daemon=True)
        # Set by the service: decides the rollback (returns rollbackInfo), then forgets us.
        self.on_finish: Callable[[DeploymentRun, Outcome], dict[str, Any]] = lambda r, o: {}
        self.on_done: Callable[[DeploymentRun], None] = lambda r: None
        self._alarm_polled = 0.0
        self._alarm_failures = 0

    @property
    def id(self) -> str:
        return str(self.document["deploymentId"])

    @property
    def group_id(self) -> str:
        return str(self.context["groupId"])

    def start(self) -> None:
        self.thread.start()

    def request_stop(self, cause: StopCause) -> None:
        """Stop scheduling, end the running hooks; the first cause wins."""
        with self.lock:
            if self.cause is None:
                self.cause = cause
        self.stop.set()

    # -- record keeping -------------------------------------------------------------------
    def save(self) -> None:
        with self.lock:
            self.runtime.records.put(KIND, self.id, self.document)

    def _instance(self, instance_id: str, status: InstanceStatus) -> None:
        with self.lock:
            summary = self.document["_instances"][instance_id]
            summary.update(status=str(status), lastUpdatedAt=now())
            if status is InstanceStatus.SKIPPED:
                for event in summary["lifecycleEvents"]:
                    if event["status"] == EventStatus.PENDING:
                        event["status"] = str(EventStatus.SKIPPED)
            self.document["deploymentOverview"] = overview(self.document["_instances"])
        self.save()

    def event_changed(
        self,
        instance_id: str,
        event: LifecycleEvent,
        status: EventStatus,
        diagnostics: Diagnostics | None,
    ) -> None:
        """The agent's report of one lifecycle event (HostAgent's Reporter)."""
        at = now()
        with self.lock:
            summary = self.document["_instances"][instance_id]
            entry = next(e for e in summary["lifecycleEvents"] if e["lifecycleEventName"] == event)
            if status is EventStatus.IN_PROGRESS:
                entry["startTime"] = at
            elif "startTime" in entry:
                entry["endTime"] = at
            entry["status"] = str(status)
            if diagnostics is not None:
                entry["diagnostics"] = diagnostics.to_wire()
            summary["lastUpdatedAt"] = at
        self.save()

    # -- the run --------------------------------------------------------------------------
    def _run(self) -> None:
        outcome = Outcome(DeploymentStatus.FAILED, ErrorCode.INTERNAL_ERROR, "not started")
        try:
            self._begin()
            outcome = self._deploy()
        except Exception as exc:  # the emulator's own fault: say so, never hang InProgress
            logger.exception("deployment %s faulted", self.id)
            outcome = Outcome(DeploymentStatus.FAILED, ErrorCode.INTERNAL_ERROR, f"{exc!r}")
        finally:
            if self.abandoned.is_set():
                logger.info("deployment %s left InProgress: the emulator is stopping", self.id)
                self.on_done(self)
            else:
                try:
                    self._complete(outcome, self._safe_finish(outcome))
                finally:
                    self.on_done(self)  # never leave the group blocked by a dead run

    def _begin(self) -> None:
        with self.lock:
            self.document.update(status=str(DeploymentStatus.IN_PROGRESS), startTime=now())
        self.save()
        self._emit_deployment("START")

    def _deploy(self) -> Outcome:
        if not self.order:
            return Outcome(DeploymentStatus.FAILED, ErrorCode.NO_INSTANCES, _no_instances())
        plan = health_plan(self.config, len(self.order))
        if plan.infeasible:
            message = (
                f"The deployment failed because a minimum of {plan.min_healthy} healthy instances"
                f" were requested, but only {plan.total} healthy instances are available for"
                " deployment"
            )
            return Outcome(DeploymentStatus.FAILED, ErrorCode.HEALTH_CONSTRAINTS_INVALID, message)
        missing = self._revision_missing()
        if missing:
            return Outcome(DeploymentStatus.FAILED, ErrorCode.REVISION_MISSING, missing)
        fleet = Fleet(plan, self.order)
        self._drive(fleet)
        if self.cause is not None:
            return Outcome(DeploymentStatus.STOPPED, self.cause.code, self.cause.message)
        if fleet.succeeded_overall:
            return Outcome(DeploymentStatus.SUCCEEDED)
        return Outcome(DeploymentStatus.FAILED, ErrorCode.HEALTH_CONSTRAINTS, _HEALTH_MESSAGE)

    def _drive(self, fleet: Fleet) -> None:
        """Start instances as the fleet allows, collect outcomes, until all are done."""
        marked: set[str] = set()
        while not fleet.done:
            self._poll_alarms()
            if self.stop.is_set():
                fleet.skip_pending()
            else:
                for instance_id in fleet.startable():
                    self._start_agent(instance_id)
            for instance_id in set(fleet.skipped) - marked:
                self._instance(instance_id, InstanceStatus.SKIPPED)
                marked.add(instance_id)
            if fleet.in_flight:
                try:
                    fleet.finished(*self.finished.get(timeout=ALARM_POLL_SECONDS / 2))
                except queue.Empty:
                    pass

    def _start_agent(self, instance_id: str) -> None:
        threading.Thread(
            target=self._agent, args=(instance_id,), name=f"{self.id}-{instance_id}", daemon=True
        ).start()

    def _agent(self, instance_id: str) -> None:
        ok = False
        self._instance(instance_id, InstanceStatus.IN_PROGRESS)
        self._emit_instance(instance_id, "START")
        try:
            agent = HostAgent(
                self.runtime, self._agent_context(), self.targets[instance_id],
                self.event_changed, self.stop,
            )  # fmt: skip
            ok = agent.run()
        except Exception:
            logger.exception("agent of %s on %s faulted", self.id, instance_id)
        finally:
            self._instance(instance_id, InstanceStatus.SUCCEEDED if ok else InstanceStatus.FAILED)
            self._emit_instance(instance_id, "SUCCESS" if ok else "FAILURE")
            self.finished.put((instance_id, ok))

    def _agent_context(self) -> AgentContext:
        doc = self.document
        return AgentContext(
            deployment_id=self.id,
            application_name=doc["applicationName"],
            group_name=doc["deploymentGroupName"],
            group_id=self.group_id,
            region=self.context["region"],
            s3_location=dict(doc["revision"].get("s3Location") or {}),
            ignore_stop_failures=bool(doc.get("ignoreApplicationStopFailures")),
            file_exists_behavior=doc.get("fileExistsBehavior"),
            timeout_scale=self.timeout_scale,
        )

    def _revision_missing(self) -> str:
        """A message when the S3 bundle cannot be found ('' when it is there)."""
        location = self.document["revision"].get("s3Location") or {}
        extra = {"VersionId": location["version"]} if location.get("version") else {}
        s3 = self.runtime.client("s3", self.context["region"])
        try:
            s3.head_object(Bucket=location["bucket"], Key=location["key"], **extra)
        except Exception as exc:
            where = f"s3://{location.get('bucket')}/{location.get('key')}"
            return f"The revision {where} is missing: {exc}"
        return ""

    # -- alarms -----------------------------------------------------------------------------
    def _poll_alarms(self) -> None:
        """Stop the deployment when one of its alarms is in ALARM (AWS: ALARM_ACTIVE)."""
        config = self.context.get("alarmConfiguration") or {}
        names = [a["name"] for a in config.get("alarms") or [] if a.get("name")]
        if not config.get("enabled") or not names or self.stop.is_set():
            return
        if time.monotonic() - self._alarm_polled < ALARM_POLL_SECONDS:
            return
        self._alarm_polled = time.monotonic()
        try:
            found = self.runtime.client("cloudwatch", self.context["region"]).describe_alarms(
                AlarmNames=names
            )
        except Exception as exc:
            self._alarm_poll_failed(config, exc)
            return
        self._alarm_failures = 0
        alarms = found.get("MetricAlarms", []) + found.get("CompositeAlarms", [])
        active = [a["AlarmName"] for a in alarms if a.get("StateValue") == "ALARM"]
        if active:
            self.request_stop(
                StopCause(
                    ErrorCode.ALARM_ACTIVE,
                    _ALARM_MESSAGE + ", ".join(active),
                    RollbackEvent.DEPLOYMENT_STOP_ON_ALARM,
                )
            )

    def _alarm_poll_failed(self, config: dict[str, Any], exc: Exception) -> None:
        self._alarm_failures += 1
        logger.warning("deployment %s: DescribeAlarms failed: %s", self.id, exc)
        if not config.get("ignorePollAlarmFailure") and self._alarm_failures >= ALARM_POLL_FAILURES:
            message = f"The state of the deployment group's alarms cannot be retrieved: {exc}"
            self.request_stop(StopCause(ErrorCode.ALARM_ACTIVE, message))

    # -- the end ------------------------------------------------------------------------------
    def _safe_finish(self, outcome: Outcome) -> dict[str, Any]:
        try:
            return self.on_finish(self, outcome)
        except Exception:
            logger.exception("rollback decision for %s failed", self.id)
            return {}

    def _complete(self, outcome: Outcome, rollback_info: dict[str, Any]) -> None:
        with self.lock:
            for summary in self.document["_instances"].values():
                if summary["status"] == InstanceStatus.PENDING:
                    summary["status"] = str(InstanceStatus.SKIPPED)
                    for event in summary["lifecycleEvents"]:
                        event["status"] = str(EventStatus.SKIPPED)
            self.document["deploymentOverview"] = overview(self.document["_instances"])
            self.document.update(status=str(outcome.status), completeTime=now())
            if outcome.code is not None:
                self.document["errorInformation"] = {
                    "code": str(outcome.code),
                    "message": outcome.message,
                }
            if rollback_info:
                self.document["rollbackInfo"] = {
                    **self.document.get("rollbackInfo", {}),
                    **rollback_info,
                }
        self.save()
        logger.info("deployment %s %s %s", self.id, outcome.status, outcome.message)
        self._emit_deployment(_EVENT_STATES[outcome.status])

    # -- telemetry -------------------------------------------------------------------------
    def _detail(self, state: str) -> dict[str, Any]:
        return {
            "application": self.document["applicationName"],
            "deploymentGroup": self.document["deploymentGroupName"],
            "deploymentId": self.id,
            "instanceGroupId": self.group_id,
            "region": self.context["region"],
            "state": state,
        }

    def _emit_deployment(self, state: str) -> None:
        emit_event(
            self.runtime,
            self.context["region"],
            "aws.codedeploy",
            "CodeDeploy Deployment State-change Notification",
            self._detail(state),
            self.context["arns"],
        )

    def _emit_instance(self, instance_id: str, state: str) -> None:
        arn = self.document["_instances"][instance_id]["instanceId"]
        emit_event(
            self.runtime,
            self.context["region"],
            "aws.codedeploy",
            "CodeDeploy Instance State-change Notification",
            {**self._detail(state), "instanceId": instance_id},
            [arn, *self.context["arns"]],
        )


def _no_instances() -> str:
    return (
        "The deployment failed because no instances were found for your deployment group."
        " Check your deployment group settings to make sure the tags for your Amazon EC2"
        " instances or Auto Scaling groups correctly identify the instances you want to"
        " deploy to, and then try again."
    )
