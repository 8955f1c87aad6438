"""AWS FIS, answered by the emulator so that experiments have their effects.

moto 5.2.5 keeps experiment templates (Create, Delete, tags) and nothing else: no
GetExperimentTemplate, no experiments at all. The emulator answers FIS's REST API itself
(its paths carry ids, so a router names each request's operation from botocore's model):

- templates stay in moto's backend (snapshotted as ``fis``), created only after FIS's
  checks (:func:`~opslib.emulator.fis.model.check_template`), read and updated here;
- experiments are the emulator's records, carried out by
  :class:`~opslib.emulator.fis.run.ExperimentRun`: StartExperiment, GetExperiment,
  ListExperiments, StopExperiment, ListExperimentResolvedTargets; ListActions/GetAction
  describe the actions it carries out.

Errors are FIS's: ``ValidationException`` 400, ``ResourceNotFoundException`` 404,
``ConflictException`` 409. An experiment a crash interrupted ends ``failed`` on the next
start, with the reason; instances its stop action had stopped are started again, as FIS
does when an experiment with ``startInstancesAfterDuration`` ends early.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from opslib.emulator.core.apimodel import check_input, service_model
from opslib.emulator.core.faults import FaultSwitch
from opslib.emulator.core.gateway import ApiException, ApiRequest, ApiResponse, Handler
from opslib.emulator.core.restops import rest_call
from opslib.emulator.core.runtime import Runtime
from opslib.emulator.core.store import public
from opslib.emulator.fis.model import (
    ACTIONS,
    ENDED,
    RESOURCE_TYPES,
    ActionStatus,
    ExperimentStatus,
    FisValidationError,
    check_template,
)
from opslib.emulator.fis.run import EXPERIMENT, ExperimentRun, now

logger = logging.getLogger(__name__)

INTERRUPTED = "the emulator stopped while this experiment ran (killed or crashed)"
_TEMPLATE_FIELDS = (
    *("description", "stopConditions", "targets", "actions", "roleArn"),
    *("logConfiguration", "experimentOptions", "experimentReportConfiguration"),
)


class FisService:
    """The emulator's FIS: templates checked, experiments carried out."""

    def __init__(self, runtime: Runtime, faults: FaultSwitch, time_scale: float = 1.0) -> None:
        self.runtime = runtime
        self.faults = faults
        self.time_scale = time_scale  # OPSLIB_TIMEOUT_SCALE: rehearse PT5M in seconds
        self.running: dict[str, ExperimentRun] = {}
        self._lock = threading.Lock()
        self._restarts: list[tuple[str, list[str]]] = []
        self._handlers: dict[str, Callable[[ApiRequest, dict[str, Any]], ApiResponse]] = {
            "CreateExperimentTemplate": self.create_experiment_template,
            "GetExperimentTemplate": self.get_experiment_template,
            "ListExperimentTemplates": self.list_experiment_templates,
            "UpdateExperimentTemplate": self.update_experiment_template,
            "StartExperiment": self.start_experiment,
            "GetExperiment": self.get_experiment,
            "ListExperiments": self.list_experiments,
            "StopExperiment": self.stop_experiment,
            "ListExperimentResolvedTargets": self.list_experiment_resolved_targets,
            "ListActions": self.list_actions,
            "GetAction": self.get_action,
            "ListTargetResourceTypes": self.list_target_resource_types,
        }

    def register(self) -> None:
        self.runtime.gateway.route("fis", self.route)

    def route(self, request: ApiRequest, environ: dict[str, Any]) -> Handler | None:
        """The handler of a FIS request (None: moto answers, e.g. DeleteExperimentTemplate)."""
        query = str(environ.get("QUERY_STRING", ""))
        call = rest_call("fis", request.method, request.path, query)
        if call is None or call.operation not in self._handlers:
            return None
        handler = self._handlers[call.operation]
        labels = call.labels
        return lambda r: self._checked(call.operation, handler, r, {**_query(query), **labels})

    def _checked(
        self,
        operation: str,
        handler: Callable[[ApiRequest, dict[str, Any]], ApiResponse],
        request: ApiRequest,
        labels: dict[str, Any],
    ) -> ApiResponse:
        model = service_model("fis")
        shape = model.operation_model(operation).input_shape if model is not None else None
        params = {**request.params(), **_members(shape, labels)}
        refused = check_input(params, shape)
        if refused is not None:
            raise ApiException(refused.code, refused.message, 400)
        try:
            return handler(request, params)
        except FisValidationError as exc:
            raise ApiException("ValidationException", str(exc), 400) from exc

    # -- templates (moto's backend) -------------------------------------------------------
    @staticmethod
    def _backend(request: ApiRequest) -> Any:
        from moto.fis.models import fis_backends

        return fis_backends[request.account_id][request.region]

    def _template(self, request: ApiRequest, template_id: str) -> Any:
        template = self._backend(request).experiment_templates.get(template_id)
        if template is None:
            raise ApiException(
                "ResourceNotFoundException", f"Experiment template {template_id} not found.", 404
            )
        return template

    def _template_dict(self, request: ApiRequest, template: Any) -> dict[str, Any]:
        tags = self._backend(request).tagger.get_tag_dict_for_resource(template.arn)
        return dict(template.to_dict(tags=tags))

    def create_experiment_template(
        self, request: ApiRequest, params: dict[str, Any]
    ) -> ApiResponse:
        check_template(params)
        created = self._backend(request).create_experiment_template(
            client_token=params.get("clientToken"),
            description=params["description"],
            stop_conditions=params["stopConditions"],
            targets=params.get("targets"),
            actions=params["actions"],
            role_arn=params["roleArn"],
            tags=params.get("tags"),
            log_configuration=params.get("logConfiguration"),
            experiment_options=_options(params.get("experimentOptions")),
            experiment_report_configuration=params.get("experimentReportConfiguration"),
        )
        return ApiResponse.json({"experimentTemplate": created})

    def get_experiment_template(self, request: ApiRequest, params: dict[str, Any]) -> ApiResponse:
        template = self._template(request, params["id"])
        return ApiResponse.json({"experimentTemplate": self._template_dict(request, template)})

    def list_experiment_templates(self, request: ApiRequest, params: dict[str, Any]) -> ApiResponse:
        keys = ("id", "arn", "description", "creationTime", "lastUpdateTime", "tags")
        summaries = [
            {k: v for k, v in self._template_dict(request, t).items() if k in keys}
            for t in self._backend(request).experiment_templates.values()
        ]
        return ApiResponse.json({"experimentTemplates": summaries})

    def update_experiment_template(
        self, request: ApiRequest, params: dict[str, Any]
    ) -> ApiResponse:
        template = self._template(request, params["id"])
        current = self._template_dict(request, template)
        merged = {**current, **{k: params[k] for k in _TEMPLATE_FIELDS if k in params}}
        check_template(merged)  # all or nothing: a refused update changes nothing
        template.description = merged.get("description", "")
        template.stop_conditions = merged["stopConditions"]
        template.targets = merged.get("targets") or {}
        template.actions = merged["actions"]
        template.role_arn = merged["roleArn"]
        template.log_configuration = merged.get("logConfiguration")
        template.experiment_options = _options(merged.get("experimentOptions"))
        template.last_update_time = time.time()
        return ApiResponse.json({"experimentTemplate": self._template_dict(request, template)})

    # -- experiments (our records) --------------------------------------------------------
    def start_experiment(self, request: ApiRequest, params: dict[str, Any]) -> ApiResponse:
        token = params.get("clientToken") or ""
        earlier = next(
            (d for d in self.runtime.records.all(EXPERIMENT) if token and d.get("_token") == token),
            None,
        )
        if earlier is not None:  # the same clientToken: the same experiment (idempotent)
            return ApiResponse.json({"experiment": public(earlier)})
        template_id = params["experimentTemplateId"]
        template = self._template_dict(request, self._template(request, template_id))
        doc = self._new_experiment(request, template, params.get("tags") or {}, token)
        run = ExperimentRun(self, doc)
        run.save()  # pending: accepted
        run.initiate()  # as the AWS CLI's samples show, StartExperiment answers initiating
        answer = public(copy.deepcopy(doc))
        with self._lock:
            self.running[run.experiment_id] = run
        run.start()
        return ApiResponse.json({"experiment": answer})

    def _new_experiment(
        self, request: ApiRequest, template: dict[str, Any], tags: dict[str, str], token: str
    ) -> dict[str, Any]:
        experiment_id = "EXP" + uuid.uuid4().hex[:17].upper()
        actions = {
            name: {
                **action,
                "startAfter": action.get("startAfter") or [],
                "state": {"status": "pending", "reason": "Initial state"},
            }
            for name, action in template["actions"].items()
        }
        return {
            "id": experiment_id,
            "arn": f"arn:aws:fis:{request.region}:{request.account_id}:experiment/{experiment_id}",
            "experimentTemplateId": template["id"],
            "roleArn": template["roleArn"],
            "state": {"status": "pending", "reason": "Experiment is pending."},
            "targets": {
                n: {**t, "selectionMode": t.get("selectionMode", "ALL")}
                for n, t in template.get("targets", {}).items()
            },
            "actions": actions,
            "stopConditions": template["stopConditions"],
            "creationTime": now(),
            "tags": tags,
            "experimentOptions": _options(template.get("experimentOptions")),
            "targetAccountConfigurationsCount": 0,
            "_region": request.region,
            "_token": token,
        }

    def _experiment(self, experiment_id: str) -> dict[str, Any]:
        doc = self.runtime.records.get(EXPERIMENT, experiment_id)
        if doc is None:
            raise ApiException(
                "ResourceNotFoundException", f"Experiment {experiment_id} not found.", 404
            )
        return doc

    def get_experiment(self, request: ApiRequest, params: dict[str, Any]) -> ApiResponse:
        return ApiResponse.json({"experiment": public(self._experiment(params["id"]))})

    def list_experiments(self, request: ApiRequest, params: dict[str, Any]) -> ApiResponse:
        wanted = params.get("experimentTemplateId")
        keys = ("id", "arn", "experimentTemplateId", "state", "creationTime", "tags",
                "experimentOptions")  # fmt: skip
        summaries = [
            {k: d[k] for k in keys if k in d}
            for d in self.runtime.records.all(EXPERIMENT)
            if d.get("_region") == request.region
            and (not wanted or d["experimentTemplateId"] == wanted)
        ][::-1]
        limit = int(params.get("maxResults") or 100)
        return ApiResponse.json({"experiments": summaries[:limit]})

    def stop_experiment(self, request: ApiRequest, params: dict[str, Any]) -> ApiResponse:
        doc = self._experiment(params["id"])
        with self._lock:
            run = self.running.get(doc["id"])
        if run is None or ExperimentStatus(doc["state"]["status"]) in ENDED:
            # Stopping an ended experiment changes nothing; FIS answers its state.
            return ApiResponse.json({"experiment": public(doc)})
        run.request_stop("Experiment stopped.")
        with run.lock:
            stopping = {"status": "stopping", "reason": "Stopping Experiment."}
            shown = public({**run.doc, "state": stopping})
        return ApiResponse.json({"experiment": shown})

    def list_experiment_resolved_targets(
        self, request: ApiRequest, params: dict[str, Any]
    ) -> ApiResponse:
        doc = self._experiment(params["experimentId"])
        wanted = params.get("targetName")
        resolved = [
            {"resourceType": doc["targets"][name]["resourceType"], "targetName": name,
             "targetInformation": {"arn": arn}}
            for name, arns in (doc.get("_resolved") or {}).items()
            if not wanted or name == wanted
            for arn in arns
        ]  # fmt: skip
        return ApiResponse.json({"resolvedTargets": resolved})

    def forget(self, run: ExperimentRun) -> None:
        with self._lock:
            self.running.pop(run.experiment_id, None)

    # -- the catalog ------------------------------------------------------------------------
    def list_actions(self, request: ApiRequest, params: dict[str, Any]) -> ApiResponse:
        return ApiResponse.json({"actions": [_action_summary(request, a) for a in ACTIONS]})

    def get_action(self, request: ApiRequest, params: dict[str, Any]) -> ApiResponse:
        if params["id"] not in ACTIONS:
            message = f"Action {params['id']} not found."
            raise ApiException("ResourceNotFoundException", message, 404)
        return ApiResponse.json({"action": _action_summary(request, params["id"])})

    def list_target_resource_types(
        self, request: ApiRequest, params: dict[str, Any]
    ) -> ApiResponse:
        types = [{"resourceType": k, "description": v} for k, v in RESOURCE_TYPES.items()]
        return ApiResponse.json({"targetResourceTypes": types})

    # -- lifecycle ------------------------------------------------------------------------
    def recover(self) -> int:
        """End experiments a crash interrupted as failed, with the reason; returns how many."""
        count = 0
        for doc in self.runtime.records.all(EXPERIMENT):
            if ExperimentStatus(doc["state"]["status"]) in ENDED:
                continue
            for action in doc["actions"].values():
                status = ActionStatus(action["state"]["status"])
                if status == ActionStatus.PENDING:
                    action["state"] = {"status": "cancelled", "reason": "Experiment failed."}
                elif status in (ActionStatus.INITIATING, ActionStatus.RUNNING,
                                ActionStatus.STOPPING):  # fmt: skip
                    action["state"] = {"status": "failed", "reason": INTERRUPTED}
                    action["endTime"] = now()
            error = {"accountId": self.runtime.account_id, "code": "InternalFailure"}
            doc["state"] = {"status": "failed", "reason": INTERRUPTED, "error": error}
            doc["endTime"] = now()
            self._restarts.extend((doc["_region"], ids) for ids in doc.pop("_restart", {}).values())
            self.runtime.records.put(EXPERIMENT, doc["id"], doc)
            count += 1
        self.faults.clear(source="fis")  # no experiment runs: none of its faults stays
        if self._restarts:
            self.runtime.defer(self._restart_stopped)
        return count

    def _restart_stopped(self, timeout: float = 60.0) -> None:
        """Start the instances an interrupted stop action was to start (once we listen)."""
        deadline = time.monotonic() + timeout
        while not self.runtime.endpoint and time.monotonic() < deadline:
            if self.runtime.stopping.wait(0.1):
                return
        for region, ids in self._restarts:
            try:
                self.runtime.client("ec2", region).start_instances(InstanceIds=ids)
            except Exception:
                logger.exception("could not start instances %s again", ids)
        self._restarts.clear()

    def shutdown(self, timeout: float = 10.0) -> None:
        """The emulator stops: running experiments stop (their faults go, instances restart)."""
        with self._lock:
            runs = list(self.running.values())
        for run in runs:
            run.request_stop("The emulator stopped.")
        for run in runs:
            run.thread.join(timeout)


def _options(options: dict[str, Any] | None) -> dict[str, Any]:
    """experimentOptions with FIS's defaults filled in."""
    return {
        "accountTargeting": "single-account",
        "emptyTargetResolutionMode": "fail",
        **(options or {}),
    }


def _members(shape: Any, wire: dict[str, Any]) -> dict[str, Any]:
    """Path labels and query words under their members' names (``{id}`` is experimentId)."""
    if shape is None:
        return wire
    names = {
        str(member.serialization.get("name", name)): name
        for name, member in shape.members.items()
        if member.serialization.get("location") in ("uri", "querystring")
    }
    return {names[k]: v for k, v in wire.items() if k in names}


def _query(query: str) -> dict[str, Any]:
    """Query members (ListExperiments' maxResults is a number on the wire's model)."""
    import urllib.parse

    values = {k: v[0] for k, v in urllib.parse.parse_qs(query).items()}
    return {k: int(v) if v.isdigit() and k == "maxResults" else v for k, v in values.items()}


def _action_summary(request: ApiRequest, action_id: str) -> dict[str, Any]:
    kind = ACTIONS[action_id]
    targets = {kind.target_key: {"resourceType": kind.resource_type}} if kind.target_key else {}
    return {
        "id": kind.id,
        "arn": f"arn:aws:fis:{request.region}:{request.account_id}:action/{kind.id}",
        "description": kind.description,
        "parameters": {
            name: {"description": f"{spec.kind} parameter", "required": spec.required}
            for name, spec in kind.parameters.items()
        },
        "targets": targets,
    }
