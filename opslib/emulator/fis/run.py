"""One FIS experiment, carried out in a worker thread: targets, actions, stop conditions.

The experiment goes ``pending`` -> ``initiating`` (targets resolved, stop conditions
checked) -> ``running`` -> ``completed``; a StopExperiment or a stop-condition alarm in
ALARM makes it ``stopping`` -> ``stopped``; an action that fails, or a target that resolves
to nothing (unless ``emptyTargetResolutionMode`` is ``skip``), makes it ``failed`` with
``state.error.code`` as FIS reports it (``InvalidTarget``, ``ConfigurationFailure``,
``InternalFailure``). Actions start when the experiment runs, or once every action in
their ``startAfter`` completed; when the experiment ends early the ones never started are
``cancelled`` and the running ones ``stopped``.

Every effect goes through the API, as FIS's own calls do: EC2's Stop/Terminate/Reboot
(so the hosts really stop and EC2's state-change events go out), CloudWatch's
DescribeAlarms for the stop conditions. API fault injection puts a fault on the gateway's
fault switch for the target roles, taken off when the action ends however it ends. The
record is saved at every change, so GetExperiment shows the real progress.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from opslib.emulator.core.faults import FaultSwitch
from opslib.emulator.core.faultspec import Fault, FaultKind
from opslib.emulator.core.runtime import Runtime
from opslib.emulator.core.telemetry import emit_event
from opslib.emulator.fis.model import (
    ACTION_ENDED,
    ALARM_SOURCE,
    INSTANCE,
    ActionStatus,
    ExperimentStatus,
    alarm_name,
    duration_seconds,
)
from opslib.emulator.fis.targets import Resource, TargetNotResolved, instance_resource, resolve

logger = logging.getLogger(__name__)

EXPERIMENT = "fis-experiment"
TICK = 0.25  # seconds between looks at the actions, the stop request and the alarms
_API_FAULTS = {
    "aws:fis:inject-api-internal-error": FaultKind.INTERNAL_ERROR,
    "aws:fis:inject-api-throttle-error": FaultKind.THROTTLING,
    "aws:fis:inject-api-unavailable-error": FaultKind.SERVICE_UNAVAILABLE,
}


def now() -> float:
    return datetime.now(UTC).timestamp()


class ActionFailed(Exception):
    """An action could not do its work; the experiment fails with this reason."""


class Host(Protocol):
    """What an experiment needs of the service that started it."""

    @property
    def runtime(self) -> Runtime: ...

    @property
    def faults(self) -> FaultSwitch: ...

    @property
    def time_scale(self) -> float: ...

    def forget(self, run: ExperimentRun) -> None: ...


class ExperimentRun:
    """A running experiment: its record, its thread, and how to stop it."""

    def __init__(self, host: Host, doc: dict[str, Any]) -> None:
        self.host = host
        self.runtime = host.runtime
        self.doc = doc
        self.experiment_id: str = doc["id"]
        self.region: str = doc["_region"]
        self.lock = threading.RLock()
        self.stop_requested = threading.Event()  # the experiment is to stop
        self.actions_stop = threading.Event()  # running actions are to stop
        self.stop_reason = ""
        self._threads: dict[str, threading.Thread] = {}
        self._failures: dict[str, str] = {}
        self.thread = threading.Thread(
            target=self.run, daemon=True, name=f"fis-{self.experiment_id}"
        )

    # -- records ----------------------------------------------------------------------
    def save(self) -> None:
        with self.lock:
            self.runtime.records.put(EXPERIMENT, self.experiment_id, self.doc)

    def status(self) -> ExperimentStatus:
        return ExperimentStatus(self.doc["state"]["status"])

    def _set_state(
        self, status: ExperimentStatus, reason: str, error: Mapping[str, str] | None = None
    ) -> None:
        with self.lock:
            old = dict(self.doc["state"])
            state: dict[str, Any] = {"status": str(status), "reason": reason}
            if error:
                state["error"] = {"accountId": self.runtime.account_id, **error}
            self.doc["state"] = state
            if status == ExperimentStatus.INITIATING:
                self.doc["startTime"] = now()
            if status in (ExperimentStatus.COMPLETED, ExperimentStatus.STOPPED,
                          ExperimentStatus.FAILED):  # fmt: skip
                self.doc["endTime"] = now()
        self.save()
        logger.info("experiment %s: %s (%s)", self.experiment_id, status, reason)
        self._emit(old, state)

    def _emit(self, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
        """FIS's "FIS Experiment State Change" event (best effort, as FIS's own)."""
        arn = self.doc["arn"]
        detail = {
            "experiment-id": self.experiment_id,
            "experiment-template-id": self.doc["experimentTemplateId"],
            "new-state": {"status": new["status"], "reason": new.get("reason", "")},
            "old-state": {"status": old.get("status"), "reason": old.get("reason", "")},
        }
        self.runtime.defer(
            emit_event, self.runtime, self.region, "aws.fis", "FIS Experiment State Change",
            detail, [arn],
        )  # fmt: skip

    def _set_action(self, name: str, status: ActionStatus, reason: str) -> None:
        with self.lock:
            action = self.doc["actions"][name]
            action["state"] = {"status": str(status), "reason": reason}
            if status == ActionStatus.INITIATING:
                action["startTime"] = now()
            if status in ACTION_ENDED and "startTime" in action:
                action["endTime"] = now()
        self.save()

    def _action_status(self, name: str) -> ActionStatus:
        return ActionStatus(self.doc["actions"][name]["state"]["status"])

    # -- the run ----------------------------------------------------------------------
    def initiate(self) -> None:
        """pending -> initiating: the thread then resolves its targets."""
        self._set_state(ExperimentStatus.INITIATING, "Experiment is initiating.")

    def start(self) -> None:
        self.thread.start()

    def run(self) -> None:
        try:
            if self._initiate():
                self._set_state(ExperimentStatus.RUNNING, "Experiment is running.")
                self._run_actions()
        except Exception as exc:  # the emulator's own fault: never leave it running
            logger.exception("experiment %s faulted", self.experiment_id)
            self._end_actions(ActionStatus.FAILED, f"emulator fault: {exc!r}")
            self._set_state(
                ExperimentStatus.FAILED, f"emulator fault: {exc!r}", {"code": "InternalFailure"}
            )
        finally:
            self.host.faults.clear(source="fis", experiment_id=self.experiment_id)
            self.host.forget(self)

    def _initiate(self) -> bool:
        """Resolve the targets and check the stop conditions; False when it failed."""
        try:
            resolved = self._resolve_targets()
        except TargetNotResolved as exc:
            return self._fail_initiation(str(exc), "InvalidTarget")
        with self.lock:
            self.doc["_resolved"] = resolved
        empty = [name for name, arns in resolved.items() if not arns]
        skip = self.doc.get("experimentOptions", {}).get("emptyTargetResolutionMode") == "skip"
        if empty and not skip:
            return self._fail_initiation(
                f"Target {empty[0]} did not resolve to any resources.", "InvalidTarget", empty[0]
            )
        for name, action in self.doc["actions"].items():
            if any(t in empty for t in (action.get("targets") or {}).values()):
                self._set_action(name, ActionStatus.SKIPPED, "Target resolved to no resources.")
        alarm = self._alarm_in_alarm()
        if alarm:  # FIS does not start an experiment whose stop condition already fired
            return self._fail_initiation(
                f"Stop condition {alarm} is in ALARM state.", "ConfigurationFailure"
            )
        return True

    def _fail_initiation(self, reason: str, code: str, location: str = "") -> bool:
        self._end_actions(ActionStatus.CANCELLED, "Experiment failed.")
        error = {"code": code, **({"location": location} if location else {})}
        self._set_state(ExperimentStatus.FAILED, reason, error)
        return False

    def _resolve_targets(self) -> dict[str, list[str]]:
        resolved: dict[str, list[str]] = {}
        targets: dict[str, Any] = self.doc.get("targets") or {}
        instances: list[Resource] | None = None
        for name, target in targets.items():
            if target["resourceType"] == INSTANCE:
                instances = self._instances() if instances is None else instances
                resolved[name] = resolve(target, instances)
            else:  # aws:iam:role, by ARN: they must exist
                resolved[name] = resolve(target, self._roles(target.get("resourceArns") or []))
        return resolved

    def _instances(self) -> list[Resource]:
        ec2 = self.runtime.client("ec2", self.region)
        found = []
        for page in ec2.get_paginator("describe_instances").paginate():
            for reservation in page["Reservations"]:
                for instance in reservation["Instances"]:
                    found.append(instance_resource(instance, self.region, self.runtime.account_id))
        return found

    def _roles(self, arns: list[str]) -> list[Resource]:
        iam = self.runtime.client("iam", self.region)
        roles = []
        for arn in arns:
            try:
                role = iam.get_role(RoleName=arn.rsplit("/", 1)[-1])["Role"]
            except iam.exceptions.NoSuchEntityException:
                continue
            if role["Arn"] == arn:
                roles.append(Resource(arn, {}, role))
        return roles

    def _run_actions(self) -> None:
        while True:
            if not self.stop_requested.is_set():
                alarm = self._alarm_in_alarm()
                if alarm:
                    self.request_stop(f"Stop condition {alarm} triggered.")
            if self.stop_requested.is_set():
                self._stop(self.stop_reason)
                return
            if self._failures:
                self._fail()
                return
            self._start_ready()
            if all(self._action_status(n) in ACTION_ENDED for n in self.doc["actions"]):
                self._set_state(ExperimentStatus.COMPLETED, "Experiment completed.")
                return
            self.stop_requested.wait(TICK)

    def _start_ready(self) -> None:
        for name, action in self.doc["actions"].items():
            if self._action_status(name) != ActionStatus.PENDING:
                continue
            after = action.get("startAfter") or []
            if all(self._action_status(a) == ActionStatus.COMPLETED for a in after):
                self._set_action(name, ActionStatus.INITIATING, "Action is initiating.")
                thread = threading.Thread(
                    target=self._run_action, args=(name,), daemon=True, name=f"fis-action-{name}"
                )
                self._threads[name] = thread
                thread.start()
            elif any(self._action_status(a) == ActionStatus.SKIPPED for a in after):
                self._set_action(name, ActionStatus.SKIPPED, "A preceding action was skipped.")

    def _run_action(self, name: str) -> None:
        action = self.doc["actions"][name]
        runner = _RUNNERS.get(action["actionId"], _inject_api_fault)
        self._set_action(name, ActionStatus.RUNNING, "Action is running.")
        try:
            runner(self, name, action)
        except ActionFailed as exc:
            self._failures[name] = str(exc)
            self._set_action(name, ActionStatus.FAILED, str(exc))
            return
        except Exception as exc:
            logger.exception("FIS action %s of %s faulted", name, self.experiment_id)
            self._failures[name] = f"emulator fault: {exc!r}"
            self._set_action(name, ActionStatus.FAILED, self._failures[name])
            return
        if self.actions_stop.is_set():
            self._set_action(name, ActionStatus.STOPPED, "Action was stopped.")
        else:
            self._set_action(name, ActionStatus.COMPLETED, "Action completed.")

    def _stop(self, reason: str) -> None:
        self._set_state(ExperimentStatus.STOPPING, "Stopping Experiment.")
        self._halt_actions()
        self._set_state(ExperimentStatus.STOPPED, reason or "Experiment stopped.")

    def _fail(self) -> None:
        self._halt_actions()
        name, reason = next(iter(self._failures.items()))
        self._set_state(
            ExperimentStatus.FAILED,
            f"Action {name} failed: {reason}",
            {"code": "ConfigurationFailure", "location": name},
        )

    def _halt_actions(self) -> None:
        """Running actions are stopped (and waited for); pending ones are cancelled."""
        self.actions_stop.set()
        for name in self.doc["actions"]:
            if self._action_status(name) in (ActionStatus.INITIATING, ActionStatus.RUNNING):
                self._set_action(name, ActionStatus.STOPPING, "Action is stopping.")
        for thread in list(self._threads.values()):
            thread.join()
        self._end_actions(ActionStatus.CANCELLED, "Experiment ended before the action started.")

    def _end_actions(self, status: ActionStatus, reason: str) -> None:
        for name in self.doc["actions"]:
            if self._action_status(name) == ActionStatus.PENDING:
                self._set_action(name, status, reason)

    def request_stop(self, reason: str) -> None:
        self.stop_reason = reason
        self.stop_requested.set()

    # -- stop conditions --------------------------------------------------------------
    def _alarm_in_alarm(self) -> str:
        """The ARN of a stop-condition alarm now in ALARM, or ''."""
        for condition in self.doc.get("stopConditions") or []:
            if condition.get("source") != ALARM_SOURCE:
                continue
            arn = str(condition["value"])
            region = arn.split(":")[3] or self.region
            try:
                alarms = self.runtime.client("cloudwatch", region).describe_alarms(
                    AlarmNames=[alarm_name(arn)]
                )["MetricAlarms"]
            except Exception:  # CloudWatch not answering: FIS keeps going, so do we
                logger.warning("experiment %s: cannot read alarm %s", self.experiment_id, arn)
                continue
            if any(a["StateValue"] == "ALARM" for a in alarms):
                return arn
        return ""

    # -- what actions ask ---------------------------------------------------------------
    def wait(self, seconds: float) -> bool:
        """Wait the (scaled) duration; False when the experiment stops it first."""
        return not self.actions_stop.wait(seconds * self.host.time_scale)

    def targets_of(self, action: Mapping[str, Any]) -> list[str]:
        resolved: dict[str, list[str]] = self.doc.get("_resolved") or {}
        return [arn for t in (action.get("targets") or {}).values() for arn in resolved.get(t, [])]


# -- the actions --------------------------------------------------------------------------
def _instance_ids(run: ExperimentRun, action: Mapping[str, Any]) -> list[str]:
    return [arn.rsplit("/", 1)[-1] for arn in run.targets_of(action)]


def _ec2_call(run: ExperimentRun, operation: str, ids: list[str]) -> None:
    ec2 = run.runtime.client("ec2", run.region)
    try:
        getattr(ec2, operation)(InstanceIds=ids)
    except Exception as exc:  # EC2 refused (an instance gone, a fault): the action fails
        raise ActionFailed(f"{operation} failed: {exc}") from exc


def _terminate(run: ExperimentRun, name: str, action: Mapping[str, Any]) -> None:
    _ec2_call(run, "terminate_instances", _instance_ids(run, action))


def _reboot(run: ExperimentRun, name: str, action: Mapping[str, Any]) -> None:
    _ec2_call(run, "reboot_instances", _instance_ids(run, action))


def _stop_instances(run: ExperimentRun, name: str, action: Mapping[str, Any]) -> None:
    """Stop; with startInstancesAfterDuration, start them again then (also when stopped
    early: FIS restarts the instances it stopped when the experiment stops)."""
    ids = _instance_ids(run, action)
    _ec2_call(run, "stop_instances", ids)
    after = (action.get("parameters") or {}).get("startInstancesAfterDuration")
    if not after:
        return
    with run.lock:
        run.doc.setdefault("_restart", {})[name] = ids  # started again after a crash too
    run.save()
    run.wait(duration_seconds(after))
    alive = _not_terminated(run, ids)
    if alive:
        _ec2_call(run, "start_instances", alive)
    with run.lock:
        run.doc.get("_restart", {}).pop(name, None)
    run.save()


def _not_terminated(run: ExperimentRun, ids: list[str]) -> list[str]:
    ec2 = run.runtime.client("ec2", run.region)
    described = ec2.describe_instances(InstanceIds=ids)["Reservations"]
    return [
        i["InstanceId"]
        for r in described
        for i in r["Instances"]
        if i["State"]["Name"] not in ("shutting-down", "terminated")
    ]


def _wait(run: ExperimentRun, name: str, action: Mapping[str, Any]) -> None:
    run.wait(duration_seconds(action["parameters"]["duration"]))


def _inject_api_fault(run: ExperimentRun, name: str, action: Mapping[str, Any]) -> None:
    """A fault for each target role, for the action's duration (removed however it ends)."""
    params = action["parameters"]
    operations = tuple(o.strip() for o in str(params["operations"]).split(",") if o.strip())
    faults = [
        Fault(
            id=f"fis-{run.experiment_id}-{name}-{position}",
            error=_API_FAULTS[action["actionId"]],
            service=str(params["service"]),
            region=run.region,
            operations=operations,
            rate=int(params["percentage"]) / 100,
            role_arn=arn,
            source="fis",
            experiment_id=run.experiment_id,
        )
        for position, arn in enumerate(run.targets_of(action))
    ]
    try:
        for fault in faults:
            run.host.faults.add(fault)
        run.wait(duration_seconds(params["duration"]))
    finally:
        for fault in faults:
            run.host.faults.clear(fault.id)


_RUNNERS: dict[str, Callable[[ExperimentRun, str, Mapping[str, Any]], None]] = {
    "aws:ec2:terminate-instances": _terminate,
    "aws:ec2:stop-instances": _stop_instances,
    "aws:ec2:reboot-instances": _reboot,
    "aws:fis:wait": _wait,
}
