"""CodeDeploy's read APIs over the emulator's deployment records, and deployment configs.

Every read answers from the persisted records, so a client sees exactly what survives a
restart: GetDeployment, BatchGetDeployments, ListDeployments, ListDeploymentInstances,
ListDeploymentTargets, GetDeploymentInstance, GetDeploymentTarget,
BatchGetDeploymentInstances, BatchGetDeploymentTargets. Deployment configs:
GetDeploymentConfig, ListDeploymentConfigs, CreateDeploymentConfig,
DeleteDeploymentConfig — the three CodeDeployDefault Server configs always exist and
cannot be deleted. GetDeploymentGroup is moto's answer completed with what moto leaves
empty (alarmConfiguration, last successful/attempted deployment, target revision).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from opslib.emulator.codedeploy.configs import (
    BUILTINS,
    DeploymentConfig,
    validate_minimum_healthy_hosts,
)
from opslib.emulator.codedeploy.model import (
    CONFIG_KIND,
    KIND,
    instance_target,
    now,
)
from opslib.emulator.codedeploy.targets import read_group
from opslib.emulator.core.gateway import ApiException, ApiRequest, ApiResponse
from opslib.emulator.core.paging import page_of
from opslib.emulator.core.runtime import Runtime
from opslib.emulator.core.store import public

PAGE = 100  # list page size (AWS pages these APIs; 100 is the CLI's usual page)
BATCH_LIMIT = 25  # BatchGetDeployments / ...Instances / ...Targets


def config_named(runtime: Runtime, name: str) -> DeploymentConfig:
    """A built-in or custom config; DeploymentConfigDoesNotExistException otherwise."""
    if name in BUILTINS:
        return BUILTINS[name]
    doc = runtime.records.get(CONFIG_KIND, name)
    if doc is None:
        raise ApiException(
            "DeploymentConfigDoesNotExistException",
            f"The deployment configuration {name} does not exist with the user or AWS account",
        )
    return DeploymentConfig.from_wire(doc)


def _page(items: list[Any], params: dict[str, Any], key: str) -> dict[str, Any]:
    """One page of ``items`` under ``key``, with a nextToken when more follow."""
    token = params.get("nextToken") or "0"
    if not token.isdigit():
        raise ApiException(
            "InvalidNextTokenException", "The next token was specified in an invalid format"
        )
    start = int(token)
    page: dict[str, Any] = {key: items[start : start + PAGE]}
    if start + PAGE < len(items):
        page["nextToken"] = str(start + PAGE)
    return page


class DeploymentReads:
    """Read handlers over deployment records; config CRUD; GetDeploymentGroup."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def handlers(self) -> dict[str, Callable[[ApiRequest], ApiResponse]]:
        return {
            "GetDeployment": self.get_deployment,
            "BatchGetDeployments": self.batch_get_deployments,
            "ListDeployments": self.list_deployments,
            "ListDeploymentInstances": self.list_deployment_instances,
            "ListDeploymentTargets": self.list_deployment_targets,
            "GetDeploymentInstance": self.get_deployment_instance,
            "GetDeploymentTarget": self.get_deployment_target,
            "BatchGetDeploymentInstances": self.batch_get_deployment_instances,
            "BatchGetDeploymentTargets": self.batch_get_deployment_targets,
            "GetDeploymentConfig": self.get_deployment_config,
            "ListDeploymentConfigs": self.list_deployment_configs,
            "CreateDeploymentConfig": self.create_deployment_config,
            "DeleteDeploymentConfig": self.delete_deployment_config,
            "GetDeploymentGroup": self.get_deployment_group,
        }

    # -- deployments ------------------------------------------------------------------------
    def _deployment(self, deployment_id: str) -> dict[str, Any]:
        if not deployment_id:
            raise ApiException(
                "DeploymentIdRequiredException", "At least one deployment ID must be specified"
            )
        document = self.runtime.records.get(KIND, deployment_id)
        if document is None:
            raise ApiException(
                "DeploymentDoesNotExistException",
                f"The deployment {deployment_id} does not exist with the user or AWS account",
            )
        return document

    def get_deployment(self, request: ApiRequest) -> ApiResponse:
        document = self._deployment(request.params().get("deploymentId", ""))
        return ApiResponse.json({"deploymentInfo": public(document)})

    def batch_get_deployments(self, request: ApiRequest) -> ApiResponse:
        ids = request.params().get("deploymentIds") or []
        if len(ids) > BATCH_LIMIT:
            raise ApiException(
                "BatchLimitExceededException", f"at most {BATCH_LIMIT} deployment IDs"
            )
        found = [self.runtime.records.get(KIND, i) for i in ids]
        return ApiResponse.json({"deploymentsInfo": [public(d) for d in found if d]})

    def list_deployments(self, request: ApiRequest) -> ApiResponse:
        """Deployment ids newest first, 100 to a page (filters applied in the store)."""
        params = request.params()
        group_id = self._group_filter(request, params)
        statuses = list(params.get("includeOnlyStatuses") or [])
        start, end = _time_range(params.get("createTimeRange") or {})
        where = ["json_extract(body, '$.createTime') BETWEEN ? AND ?"]
        args: list[Any] = [start, end if end != float("inf") else 1e18]
        if group_id is not None:
            where.append("json_extract(body, '$._context.groupId') = ?")
            args.append(group_id)
        if statuses:
            where.append(f"json_extract(body, '$.status') IN ({','.join('?' * len(statuses))})")
            args += statuses
        page = page_of(params, default=PAGE, maximum=PAGE, size_key=None)
        found = self.runtime.records.page(
            KIND, where=" AND ".join(where), args=tuple(args),
            order="json_extract(body, '$.createTime')", limit=page.size + 1, offset=page.offset,
        )  # fmt: skip
        found, token = page.split(found)
        answer: dict[str, Any] = {"deployments": [d["deploymentId"] for d in found]}
        if token:
            answer["nextToken"] = token
        return ApiResponse.json(answer)

    @staticmethod
    def _group_filter(request: ApiRequest, params: dict[str, Any]) -> str | None:
        application, group = params.get("applicationName"), params.get("deploymentGroupName")
        if application and not group:
            raise ApiException(
                "DeploymentGroupNameRequiredException",
                "If applicationName is specified, then deploymentGroupName must be specified.",
            )
        if group and not application:
            raise ApiException(
                "ApplicationNameRequiredException",
                "If deploymentGroupName is specified, applicationName must be specified.",
            )
        if not application:
            return None
        return read_group(request.account_id, request.region, application, group or "").group_id

    # -- instances / targets ----------------------------------------------------------------
    def _summaries(self, params: dict[str, Any]) -> dict[str, dict[str, Any]]:
        return dict(self._deployment(params.get("deploymentId", ""))["_instances"])

    def _summary(self, params: dict[str, Any], instance_id: str, code: str) -> dict[str, Any]:
        summaries = self._summaries(params)
        summary = summaries.get(instance_id.split("/")[-1])
        if summary is None:
            raise ApiException(code, f"The instance {instance_id} is not part of the deployment")
        return summary

    def list_deployment_instances(self, request: ApiRequest) -> ApiResponse:
        params = request.params()
        wanted = set(params.get("instanceStatusFilter") or [])
        ids = [i for i, s in self._summaries(params).items() if not wanted or s["status"] in wanted]
        return ApiResponse.json(_page(ids, params, "instancesList"))

    def list_deployment_targets(self, request: ApiRequest) -> ApiResponse:
        params = request.params()
        wanted = set((params.get("targetFilters") or {}).get("TargetStatus") or [])
        ids = [i for i, s in self._summaries(params).items() if not wanted or s["status"] in wanted]
        return ApiResponse.json(_page(ids, params, "targetIds"))

    def get_deployment_instance(self, request: ApiRequest) -> ApiResponse:
        params = request.params()
        summary = self._summary(
            params, params.get("instanceId", ""), "InstanceDoesNotExistException"
        )
        return ApiResponse.json({"instanceSummary": public(summary)})

    def get_deployment_target(self, request: ApiRequest) -> ApiResponse:
        params = request.params()
        summary = self._summary(
            params, params.get("targetId", ""), "DeploymentTargetDoesNotExistException"
        )
        return ApiResponse.json({"deploymentTarget": instance_target(summary)})

    def batch_get_deployment_instances(self, request: ApiRequest) -> ApiResponse:
        params = request.params()
        ids = params.get("instanceIds") or []
        if len(ids) > BATCH_LIMIT:
            raise ApiException("BatchLimitExceededException", f"at most {BATCH_LIMIT} instance IDs")
        summaries = self._summaries(params)
        found = [public(summaries[i]) for i in ids if i in summaries]
        answer: dict[str, Any] = {"instancesSummary": found}
        missing = [i for i in ids if i not in summaries]
        if missing:
            answer["errorMessage"] = f"Instances not part of the deployment: {', '.join(missing)}"
        return ApiResponse.json(answer)

    def batch_get_deployment_targets(self, request: ApiRequest) -> ApiResponse:
        params = request.params()
        ids = params.get("targetIds") or []
        if len(ids) > BATCH_LIMIT:
            raise ApiException(
                "DeploymentTargetListSizeExceededException", f"at most {BATCH_LIMIT} target IDs"
            )
        targets = [
            instance_target(self._summary(params, i, "DeploymentTargetDoesNotExistException"))
            for i in ids
        ]
        return ApiResponse.json({"deploymentTargets": targets})

    # -- deployment configs -------------------------------------------------------------------
    def get_deployment_config(self, request: ApiRequest) -> ApiResponse:
        name = request.params().get("deploymentConfigName", "")
        if not name:
            raise ApiException(
                "DeploymentConfigNameRequiredException",
                "A deployment configuration name is required",
            )
        return ApiResponse.json(
            {"deploymentConfigInfo": config_named(self.runtime, name).to_wire()}
        )

    def list_deployment_configs(self, request: ApiRequest) -> ApiResponse:
        names = [
            *BUILTINS,
            *(d["deploymentConfigName"] for d in self.runtime.records.all(CONFIG_KIND)),
        ]
        return ApiResponse.json(_page(names, request.params(), "deploymentConfigsList"))

    def create_deployment_config(self, request: ApiRequest) -> ApiResponse:
        params = request.params()
        name = params.get("deploymentConfigName", "")
        if not name:
            raise ApiException(
                "DeploymentConfigNameRequiredException",
                "A deployment configuration name is required",
            )
        if name in BUILTINS or self.runtime.records.get(CONFIG_KIND, name):
            raise ApiException(
                "DeploymentConfigAlreadyExistsException",
                f"A deployment configuration named {name} already exists",
            )
        if params.get("computePlatform", "Server") != "Server":
            raise ApiException(
                "InvalidComputePlatformException", "only the Server compute platform is emulated"
            )
        try:
            kind, value = validate_minimum_healthy_hosts(params.get("minimumHealthyHosts"))
        except ValueError as exc:
            raise ApiException("InvalidMinimumHealthyHostValueException", str(exc)) from exc
        config = DeploymentConfig(name, kind, value, create_time=now())
        self.runtime.records.put(CONFIG_KIND, name, config.to_wire())
        return ApiResponse.json({"deploymentConfigId": config.config_id})

    def delete_deployment_config(self, request: ApiRequest) -> ApiResponse:
        name = request.params().get("deploymentConfigName", "")
        if not name:
            raise ApiException(
                "DeploymentConfigNameRequiredException",
                "A deployment configuration name is required",
            )
        if name in BUILTINS:
            raise ApiException(
                "InvalidOperationException", f"{name} is predefined and cannot be deleted"
            )
        if self._config_in_use(request, name):
            raise ApiException(
                "DeploymentConfigInUseException",
                f"The deployment configuration {name} is in use by a deployment group",
            )
        self.runtime.records.delete(CONFIG_KIND, name)  # an unknown name is no error on AWS
        return ApiResponse.json({})

    @staticmethod
    def _config_in_use(request: ApiRequest, name: str) -> bool:
        from moto.codedeploy.models import codedeploy_backends

        backend = codedeploy_backends[request.account_id][request.region]
        groups = (g for app in backend.deployment_groups.values() for g in app.values())
        return any(str(g.deployment_config_name) == name for g in groups)

    # -- GetDeploymentGroup ----------------------------------------------------------------------
    def get_deployment_group(self, request: ApiRequest) -> ApiResponse:
        from moto.codedeploy import responses as moto_responses
        from moto.codedeploy.models import codedeploy_backends

        params = request.params()
        info = read_group(
            request.account_id, request.region,
            params.get("applicationName", ""), params.get("deploymentGroupName", ""),
        )  # fmt: skip
        backend = codedeploy_backends[request.account_id][request.region]
        found = backend.deployment_groups[info.application_name][info.group_name]
        document = moto_responses._deployment_group_info(found)
        document["alarmConfiguration"] = info.alarms
        document.update(self._group_history(info.group_id))
        return ApiResponse.json({"deploymentGroupInfo": document})

    def _group_history(self, group_id: str) -> dict[str, Any]:
        """lastAttemptedDeployment, lastSuccessfulDeployment and targetRevision."""
        mine = [d for d in self.runtime.records.all(KIND) if d["_context"]["groupId"] == group_id]
        history: dict[str, Any] = {}
        if mine:
            history["lastAttemptedDeployment"] = _deployment_summary(mine[-1])
        good = [d for d in mine if d["status"] == "Succeeded"]
        if good:
            history["lastSuccessfulDeployment"] = _deployment_summary(good[-1])
            history["targetRevision"] = good[-1]["revision"]
        return history


def _deployment_summary(document: dict[str, Any]) -> dict[str, Any]:
    """LastDeploymentInfo."""
    summary = {
        "deploymentId": document["deploymentId"],
        "status": document["status"],
        "createTime": document["createTime"],
    }
    if "completeTime" in document:
        summary["endTime"] = document["completeTime"]
    return summary


def _time_range(spec: dict[str, Any]) -> tuple[float, float]:
    start, end = (_epoch(spec.get(k)) for k in ("start", "end"))
    if start is not None and end is not None and start > end:
        raise ApiException(
            "InvalidTimeRangeException", "The start time must be earlier than the end time."
        )
    return (start if start is not None else 0.0, end if end is not None else float("inf"))


def _epoch(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(UTC).timestamp()
