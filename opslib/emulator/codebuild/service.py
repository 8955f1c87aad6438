"""CodeBuild's build APIs, answered by the emulator so that builds really run.

moto keeps the projects (CreateProject, BatchGetProjects, ...); the emulator owns the
builds: StartBuild starts a real run (run.py), BatchGetBuilds / ListBuilds /
ListBuildsForProject read the persisted records, StopBuild stops a running build. On
start, builds a crash left IN_PROGRESS are closed as FAULT with the reason, never left
hanging.
"""

from __future__ import annotations

import logging
import shutil
import threading
import uuid
from datetime import UTC, datetime
from typing import Any

from opslib.emulator.codebuild.run import KIND, BuildRun, work_path
from opslib.emulator.core.gateway import ApiException, ApiRequest, ApiResponse
from opslib.emulator.core.paging import page_of
from opslib.emulator.core.procs import kill_all, processes_with_env
from opslib.emulator.core.runtime import Runtime
from opslib.emulator.core.store import public
from opslib.emulator.core.telemetry import emit_event

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT_MINUTES = 60
PAGE = 100  # ListBuilds / ListBuildsForProject ids per page (no maxResults parameter)
RESTART_REASON = "the emulator stopped while this build ran (killed or crashed); start it again"


class BuildService:
    """The emulator's CodeBuild: starts, tracks, stops and reports builds."""

    def __init__(self, runtime: Runtime, timeout_scale: float = 1.0) -> None:
        self.runtime = runtime
        self.timeout_scale = timeout_scale
        self.running: dict[str, BuildRun] = {}
        self._lock = threading.Lock()
        self.finish_hook: Any = None

    def register(self) -> None:
        gateway = self.runtime.gateway
        for operation, handler in {
            "StartBuild": self.start_build,
            "BatchGetBuilds": self.batch_get_builds,
            "StopBuild": self.stop_build,
            "ListBuilds": self.list_builds,
            "ListBuildsForProject": self.list_builds_for_project,
            "BatchDeleteBuilds": self.batch_delete_builds,
        }.items():
            gateway.handle("codebuild", operation, handler)

    # -- StartBuild ---------------------------------------------------------------
    def start_build(self, request: ApiRequest) -> ApiResponse:
        params = request.params()
        project = self._project(request, params.get("projectName", ""))
        document = self._new_build(request, project, params)
        inputs = {"timeout_scale": self.timeout_scale}
        run = BuildRun(self.runtime, document, request.region, inputs, self._forget)
        run.finish_hook = self.finish_hook
        run.save()
        with self._lock:
            self.running[run.build_id] = run
        run.start()
        return ApiResponse.json({"build": document})

    def _forget(self, run: BuildRun) -> None:
        with self._lock:
            self.running.pop(run.build_id, None)

    def _project(self, request: ApiRequest, name: str) -> dict[str, Any]:
        from moto.codebuild.models import codebuild_backends

        backend = codebuild_backends[request.account_id][request.region]
        project = backend.codebuild_projects.get(name.split("/")[-1])
        if project is None:
            raise ApiException(
                "ResourceNotFoundException",
                f"Project cannot be found: arn:aws:codebuild:{request.region}:"
                f"{request.account_id}:project/{name}",
            )
        return dict(project.project_metadata)

    def _build_number(self, project_name: str) -> int:
        return 1 + sum(
            1 for b in self.runtime.records.all(KIND) if b["projectName"] == project_name
        )

    def _new_build(
        self, request: ApiRequest, project: dict[str, Any], params: dict[str, Any]
    ) -> dict[str, Any]:
        name = project["name"]
        build_uuid = str(uuid.uuid4())
        build_id = f"{name}:{build_uuid}"
        now = datetime.now(UTC).timestamp()
        logs = _logs_config(project, params, name, build_uuid, request)
        return {
            "id": build_id,
            "arn": f"arn:aws:codebuild:{request.region}:{request.account_id}:build/{build_id}",
            "buildNumber": self._build_number(name),
            "startTime": now,
            "currentPhase": "QUEUED",
            "buildStatus": "IN_PROGRESS",
            "sourceVersion": params.get("sourceVersion") or project.get("sourceVersion"),
            "projectName": name,
            "phases": [
                {
                    "phaseType": "SUBMITTED",
                    "phaseStatus": "SUCCEEDED",
                    "startTime": now,
                    "endTime": now,
                    "durationInSeconds": 0,
                },
                {"phaseType": "QUEUED", "startTime": now},
            ],
            "source": _source(project, params),
            "secondarySources": [],
            "artifacts": dict(params.get("artifactsOverride") or project.get("artifacts") or {}),
            "secondaryArtifacts": list(
                params.get("secondaryArtifactsOverride") or project.get("secondaryArtifacts") or []
            ),
            "environment": _environment(project, params),
            "serviceRole": params.get("serviceRoleOverride") or project.get("serviceRole"),
            "logs": logs,
            "timeoutInMinutes": int(
                params.get("timeoutInMinutesOverride")
                or project.get("timeoutInMinutes")
                or DEFAULT_TIMEOUT_MINUTES
            ),
            "queuedTimeoutInMinutes": int(project.get("queuedTimeoutInMinutes") or 480),
            "buildComplete": False,
            "initiator": "opslib-emulator",
            "reportArns": [],
            "exportedEnvironmentVariables": [],
        }

    # -- reads ------------------------------------------------------------------------
    def batch_get_builds(self, request: ApiRequest) -> ApiResponse:
        ids = request.params().get("ids", [])
        if not ids:
            raise ApiException("InvalidInputException", "ids must contain at least one build id")
        found, missing = [], []
        for build_id in ids:
            document = self.runtime.records.get(KIND, _id_of(build_id))
            (found.append(public(document)) if document else missing.append(build_id))
        return ApiResponse.json({"builds": found, "buildsNotFound": missing})

    def _ids(self, params: dict[str, Any], project: str | None = None) -> dict[str, Any]:
        """One page of build ids, newest first unless ``sortOrder`` is ASCENDING.

        "If there are more than 100 items in the list, only the first 100 items are
        returned, along with a unique string called a nextToken" (botocore's codebuild
        model). AWS sorts by build number, which grows with start time; the emulator sorts
        by start time, the same order, which stays right after simulate-history put older
        builds in with newer numbers.
        """
        page = page_of(
            params, default=PAGE, maximum=PAGE, token_error="InvalidInputException", size_key=None
        )
        where, args = ("json_extract(body, '$.projectName') = ?", (project,)) if project else (
            "", ()
        )  # fmt: skip
        found = self.runtime.records.page(
            KIND, where=where, args=args, order="json_extract(body, '$.startTime')",
            descending=params.get("sortOrder") != "ASCENDING",
            limit=page.size + 1, offset=page.offset,
        )  # fmt: skip
        found, token = page.split(found)
        answer: dict[str, Any] = {"ids": [b["id"] for b in found]}
        if token:
            answer["nextToken"] = token
        return answer

    def list_builds(self, request: ApiRequest) -> ApiResponse:
        return ApiResponse.json(self._ids(request.params()))

    def list_builds_for_project(self, request: ApiRequest) -> ApiResponse:
        params = request.params()
        self._project(request, params.get("projectName", ""))
        return ApiResponse.json(self._ids(params, params["projectName"]))

    def batch_delete_builds(self, request: ApiRequest) -> ApiResponse:
        deleted, not_deleted = [], []
        with self.runtime.records.transaction():  # a refused batch deletes none of its builds
            for build_id in request.params().get("ids", []):
                if build_id in self.running:
                    not_deleted.append({"id": build_id, "statusCode": "BUILD_IN_PROGRESS"})
                else:
                    self.runtime.records.delete(KIND, build_id)
                    deleted.append(build_id)
        return ApiResponse.json({"buildsDeleted": deleted, "buildsNotDeleted": not_deleted})

    # -- StopBuild ----------------------------------------------------------------------
    def stop_build(self, request: ApiRequest) -> ApiResponse:
        build_id = _id_of(request.params().get("id", ""))
        document = self.runtime.records.get(KIND, build_id)
        if document is None:
            raise ApiException("ResourceNotFoundException", f"Build {build_id} does not exist")
        with self._lock:
            run = self.running.get(build_id)
        if run is not None:
            run.stop_reason = "StopBuild"
            run.stop.set()
        return ApiResponse.json({"build": document})

    # -- lifecycle ------------------------------------------------------------------------
    def recover(self) -> int:
        """Close builds a crash left IN_PROGRESS as FAULT, with the reason; returns how many."""
        count = 0
        for document in self.runtime.records.all(KIND):
            if document.get("buildStatus") == "IN_PROGRESS":
                left = kill_all(processes_with_env("CODEBUILD_BUILD_ID", document["id"]))
                logger.info("build %s was interrupted; %d process(es) ended", document["id"], left)
                shutil.rmtree(work_path(self.runtime, document["id"]), ignore_errors=True)
                _close_interrupted(document)
                self.runtime.records.put(KIND, document["id"], document)
                count += 1
        return count

    def announce_recovered(self) -> None:
        """Emit the terminal state events of builds closed by :meth:`recover`."""
        for document in self.runtime.records.all(KIND):
            if document.get("_recovered"):
                region = document["arn"].split(":")[3]
                detail = {
                    "build-status": "FAULT",
                    "project-name": document["projectName"],
                    "build-id": document["arn"],
                    "current-phase": "COMPLETED",
                    "version": "1",
                }
                emit_event(
                    self.runtime,
                    region,
                    "aws.codebuild",
                    "CodeBuild Build State Change",
                    detail,
                    [document["arn"]],
                )
                document.pop("_recovered")
                self.runtime.records.put(KIND, document["id"], document)

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop running builds (the emulator is going down) and wait for them to close."""
        with self._lock:
            runs = list(self.running.values())
        for run in runs:
            run.stop_reason = "emulator stopped"
            run.stop.set()
        for run in runs:
            run.thread.join(timeout)


def _id_of(build_id_or_arn: str) -> str:
    return build_id_or_arn.split(":build/")[-1]


def _close_interrupted(document: dict[str, Any]) -> None:
    now = datetime.now(UTC).timestamp()
    for phase in document["phases"]:
        if "endTime" not in phase:
            phase.update(
                endTime=now, durationInSeconds=int(now - phase["startTime"]), phaseStatus="FAULT"
            )
            phase["contexts"] = [{"statusCode": "EMULATOR_RESTARTED", "message": RESTART_REASON}]
    document["phases"].append({"phaseType": "COMPLETED", "startTime": now})
    document.update(
        buildStatus="FAULT",
        currentPhase="COMPLETED",
        endTime=now,
        buildComplete=True,
        _recovered=True,
    )


def _source(project: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    source = dict(project.get("source") or {})
    if params.get("sourceTypeOverride"):
        source["type"] = params["sourceTypeOverride"]
    if params.get("sourceLocationOverride"):
        source["location"] = params["sourceLocationOverride"]
    if params.get("buildspecOverride"):
        source["buildspec"] = params["buildspecOverride"]
    return source


def _environment(project: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    environment = dict(project.get("environment") or {})
    variables = {v["name"]: v for v in environment.get("environmentVariables", [])}
    for override in params.get("environmentVariablesOverride", []):
        variables[override["name"]] = {"type": "PLAINTEXT", **override}
    environment["environmentVariables"] = list(variables.values())
    if params.get("imageOverride"):
        environment["image"] = params["imageOverride"]
    return environment


def _logs_config(
    project: dict[str, Any], params: dict[str, Any], name: str, build_uuid: str, request: ApiRequest
) -> dict[str, Any]:
    config = dict(
        (params.get("logsConfigOverride") or project.get("logsConfig") or {}).get("cloudWatchLogs")
        or {}
    )
    group = config.get("groupName") or f"/aws/codebuild/{name}"
    stream = f"{config['streamName']}/{build_uuid}" if config.get("streamName") else build_uuid
    region, account = request.region, request.account_id
    return {
        "groupName": group,
        "streamName": stream,
        "deepLink": f"https://console.aws.amazon.com/cloudwatch/home?region={region}"
        f"#logEvent:group={group};stream={stream}",
        "cloudWatchLogsArn": f"arn:aws:logs:{region}:{account}:log-group:{group}"
        f":log-stream:{stream}",
        "cloudWatchLogs": {"status": "ENABLED", "groupName": group, "streamName": stream},
        "s3Logs": {"status": "DISABLED", "encryptionDisabled": False},
    }
