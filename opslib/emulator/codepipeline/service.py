"""CodePipeline executions, answered by the emulator so that pipelines really run.

moto keeps pipeline definitions (CreatePipeline, GetPipeline, UpdatePipeline, ...). The
emulator owns executions: StartPipelineExecution, GetPipelineExecution,
ListPipelineExecutions, GetPipelineState, ListActionExecutions, StopPipelineExecution,
PutApprovalResult and RetryStageExecution. Like AWS it starts an execution when a pipeline
is created, and a poller starts one when the watched branch of a source connection gets a
new commit.

One push, one execution: the poller stands in for GitHub's push trigger, so a commit an
execution has already taken (a StartPipelineExecution that ran the branch head) is seen,
and the poll does not start a second execution for it.
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from pathlib import Path
from typing import Any

from opslib.emulator.codepipeline.connections import ConnectionService
from opslib.emulator.codepipeline.gate import StageGate
from opslib.emulator.codepipeline.gitsource import branch_head
from opslib.emulator.codepipeline.run import ACTION, EXECUTION, ExecutionRun, now
from opslib.emulator.core.gateway import ApiException, ApiRequest, ApiResponse
from opslib.emulator.core.paging import page_of
from opslib.emulator.core.runtime import Runtime
from opslib.emulator.core.store import public
from opslib.exceptions import OpslibError

logger = logging.getLogger(__name__)

HEADS = "source-head"
PAGE = 100  # ListPipelineExecutions / ListActionExecutions: maxResults default and maximum
_START = "json_extract(body, '$.startTime')"
_OF_PIPELINE = "json_extract(body, '$.pipelineName') = ?"
_ACTIONS_OF_PIPELINE = (
    f"json_extract(body, '$.pipelineExecutionId') IN (SELECT id FROM records"
    f" WHERE kind = '{EXECUTION}' AND {_OF_PIPELINE})"
)
DEFAULT_POLL_SECONDS = 10.0
INTERRUPTED = "the emulator stopped while this execution ran (killed or crashed)"


class PipelineService:
    """The emulator's CodePipeline: starts, tracks, stops and approves executions."""

    def __init__(self, runtime: Runtime, connections: ConnectionService) -> None:
        self.runtime = runtime
        self.connections = connections
        self.running: dict[str, ExecutionRun] = {}
        self._gates: dict[str, StageGate] = {}
        self._lock = threading.Lock()
        self._heads_lock = threading.Lock()  # the seen heads, between poller and starts
        self.polls = 0  # source polls done (the health document shows it)
        self.poll_seconds = float(
            os.environ.get("OPSLIB_SOURCE_POLL_INTERVAL", DEFAULT_POLL_SECONDS)
        )
        self._poller = threading.Thread(target=self._poll_loop, daemon=True, name="source-poller")

    def register(self) -> None:
        gateway = self.runtime.gateway
        for operation, handler in {
            "StartPipelineExecution": self.start_pipeline_execution,
            "GetPipelineExecution": self.get_pipeline_execution,
            "ListPipelineExecutions": self.list_pipeline_executions,
            "GetPipelineState": self.get_pipeline_state,
            "ListActionExecutions": self.list_action_executions,
            "StopPipelineExecution": self.stop_pipeline_execution,
            "PutApprovalResult": self.put_approval_result,
            "RetryStageExecution": self.retry_stage_execution,
        }.items():
            gateway.handle("codepipeline", operation, handler)
        gateway.after("codepipeline", "CreatePipeline", self.on_create_pipeline)

    def local_repository(self, connection_arn: str) -> str | None:
        return self.connections.local_repository(connection_arn)

    def gate(self, pipeline: str) -> StageGate:
        with self._lock:
            if pipeline not in self._gates:
                definition = self._definition_unlocked(pipeline)
                self._gates[pipeline] = StageGate(
                    (definition or {}).get("executionMode", "SUPERSEDED")
                )
            return self._gates[pipeline]

    def _definition_unlocked(self, name: str) -> dict[str, Any] | None:
        from moto.codepipeline.models import codepipeline_backends

        for account in codepipeline_backends.values():
            for backend in account.values():
                if name in backend.pipelines:
                    return dict(backend.pipelines[name].pipeline)
        return None

    def _definition(self, request: ApiRequest, name: str) -> dict[str, Any]:
        from moto.codepipeline.models import codepipeline_backends

        backend = codepipeline_backends[request.account_id][request.region]
        if name not in backend.pipelines:
            raise ApiException(
                "PipelineNotFoundException",
                f"Account '{request.account_id}' does not have a pipeline with name '{name}'",
            )
        return dict(backend.pipelines[name].pipeline)

    # -- starting -------------------------------------------------------------------------
    def start(
        self,
        pipeline: dict[str, Any],
        region: str,
        trigger: dict[str, str],
        variables: list[Any] | None = None,
        source_overrides: dict[str, str] | None = None,
    ) -> str:
        execution_id = str(uuid.uuid4())
        doc = {
            "pipelineName": pipeline["name"],
            "pipelineVersion": pipeline.get("version", 1),
            "pipelineExecutionId": execution_id,
            "status": "InProgress",
            "artifactRevisions": [],
            "trigger": trigger,
            "executionMode": pipeline.get("executionMode", "SUPERSEDED"),
            "executionType": "STANDARD",
            "variables": [
                {"name": v["name"], "resolvedValue": v["value"]} for v in variables or []
            ],
            "startTime": now(),
            "lastUpdateTime": now(),
            "_stages": {},
            "_sourceRevisions": [],
            "_sourceOverrides": source_overrides or {},
            "_region": region,
        }
        run = ExecutionRun(self, pipeline, doc, region)
        run.save()
        with self._lock:
            self.running[execution_id] = run
        run.start()
        return execution_id

    def forget(self, run: ExecutionRun) -> None:
        with self._lock:
            self.running.pop(run.execution_id, None)

    def start_pipeline_execution(self, request: ApiRequest) -> ApiResponse:
        params = request.params()
        pipeline = self._definition(request, params.get("name", ""))
        trigger = {
            "triggerType": "StartPipelineExecution",
            "triggerDetail": f"arn:aws:sts::{request.account_id}:assumed-role/opslib",
        }
        overrides = _source_overrides(pipeline, params.get("sourceRevisions") or [])
        with self._heads_lock:
            if not overrides:  # it takes the branch heads: the poll must not take them again
                self._remember_heads(pipeline)
            execution_id = self.start(
                pipeline, request.region, trigger, params.get("variables"), overrides
            )
        return ApiResponse.json({"pipelineExecutionId": execution_id})

    def on_create_pipeline(self, request: ApiRequest, _body: bytes) -> None:
        """AWS starts a new pipeline at once; so does the emulator (after this request).

        With ``OPSLIB_PIPELINE_START_ON_CREATE=0`` it does not, and the branch heads at
        creation still count as seen: the poller starts a run for a new commit only.
        """
        pipeline = self._definition(request, request.params()["pipeline"]["name"])
        with self._heads_lock:
            self._remember_heads(pipeline)
        if os.environ.get("OPSLIB_PIPELINE_START_ON_CREATE", "1") == "0":
            return
        trigger = {"triggerType": "CreatePipeline", "triggerDetail": pipeline["name"]}
        self.runtime.defer(self.start, pipeline, request.region, trigger)

    # -- reading ----------------------------------------------------------------------------
    def _execution(self, name: str, execution_id: str) -> dict[str, Any]:
        doc = self.runtime.records.get(EXECUTION, execution_id)
        if doc is None or doc["pipelineName"] != name:
            raise ApiException(
                "PipelineExecutionNotFoundException",
                f"Pipeline execution {execution_id} does not exist in pipeline {name}",
            )
        return doc

    def get_pipeline_execution(self, request: ApiRequest) -> ApiResponse:
        params = request.params()
        doc = self._execution(params.get("pipelineName", ""), params.get("pipelineExecutionId", ""))
        return ApiResponse.json({"pipelineExecution": public(doc)})

    def _executions(self, name: str) -> list[dict[str, Any]]:
        """The pipeline's executions, newest start first."""
        return self.runtime.records.page(EXECUTION, where=_OF_PIPELINE, args=(name,), order=_START)

    def list_pipeline_executions(self, request: ApiRequest) -> ApiResponse:
        # "maxResults: ... Default value is 100" (1-100), newest first, nextToken for the
        # rest (botocore's codepipeline model; REFERENCE-aws.md, CodePipeline history).
        params = request.params()
        name = params.get("pipelineName", "")
        self._definition(request, name)
        page = page_of(params, default=PAGE, maximum=PAGE)
        found = self.runtime.records.page(
            EXECUTION, where=_OF_PIPELINE, args=(name,), order=_START,
            limit=page.size + 1, offset=page.offset,
        )  # fmt: skip
        found, token = page.split(found)
        answer: dict[str, Any] = {"pipelineExecutionSummaries": [_summary(d) for d in found]}
        if token:
            answer["nextToken"] = token
        return ApiResponse.json(answer)

    def list_action_executions(self, request: ApiRequest) -> ApiResponse:
        # Same paging as ListPipelineExecutions: maxResults 1-100, default 100, nextToken.
        params = request.params()
        name = params.get("pipelineName", "")
        self._definition(request, name)
        page = page_of(params, default=PAGE, maximum=PAGE)
        wanted = (params.get("filter") or {}).get("pipelineExecutionId")
        where, args = _ACTIONS_OF_PIPELINE, [name]
        if wanted:
            where += " AND json_extract(body, '$.pipelineExecutionId') = ?"
            args.append(wanted)
        found = self.runtime.records.page(
            ACTION,
            where=where,
            args=tuple(args),
            order=_START,
            limit=page.size + 1,
            offset=page.offset,
        )
        found, token = page.split(found)
        answer: dict[str, Any] = {"actionExecutionDetails": [public(a) for a in found]}
        if token:
            answer["nextToken"] = token
        return ApiResponse.json(answer)

    def get_pipeline_state(self, request: ApiRequest) -> ApiResponse:
        name = request.params().get("name", "")
        pipeline = self._definition(request, name)
        executions = self._executions(name)
        stages = [self._stage_state(stage, executions) for stage in pipeline["stages"]]
        return ApiResponse.json(
            {
                "pipelineName": name,
                "pipelineVersion": pipeline.get("version", 1),
                "stageStates": stages,
                "created": now(),
                "updated": now(),
            }
        )

    def _stage_state(
        self, stage: dict[str, Any], executions: list[dict[str, Any]]
    ) -> dict[str, Any]:
        latest = next((d for d in executions if stage["name"] in d["_stages"]), None)
        state: dict[str, Any] = {
            "stageName": stage["name"],
            "inboundTransitionState": {"enabled": True},
            "actionStates": [],
        }
        if latest is None:
            state["actionStates"] = [{"actionName": a["name"]} for a in stage["actions"]]
            return state
        entry = latest["_stages"][stage["name"]]
        state["latestExecution"] = {
            "pipelineExecutionId": latest["pipelineExecutionId"],
            "status": entry["status"],
        }
        for action in stage["actions"]:
            record = self.runtime.records.get(ACTION, entry["actions"].get(action["name"], ""))
            state["actionStates"].append(_action_state(action["name"], record))
        return state

    # -- changing ----------------------------------------------------------------------------
    def stop_pipeline_execution(self, request: ApiRequest) -> ApiResponse:
        params = request.params()
        doc = self._execution(params.get("pipelineName", ""), params.get("pipelineExecutionId", ""))
        with self._lock:
            run = self.running.get(doc["pipelineExecutionId"])
        if run is None or doc["status"] != "InProgress":
            raise ApiException(
                "PipelineExecutionNotStoppableException",
                f"Pipeline execution {doc['pipelineExecutionId']} is {doc['status']}",
            )
        with run.lock:
            run.doc["status"] = "Stopping"
            run.doc["stopTrigger"] = {"reason": params.get("reason", "")}
        run.abandon = bool(params.get("abandon"))
        run.stop_requested.set()
        run.save()
        return ApiResponse.json({"pipelineExecutionId": doc["pipelineExecutionId"]})

    def retry_stage_execution(self, request: ApiRequest) -> ApiResponse:
        """Run a failed stage of an execution again, then the stages after it.

        AWS's rules (API reference, RetryStageExecution): only the stage's latest
        execution (``NotLatestPipelineExecutionException``), only a stage whose actions
        failed, or some failed and some succeeded (``StageNotRetryableException``), and
        not while the execution is still busy (``ConflictException``). FAILED_ACTIONS
        runs the failed actions again; ALL_ACTIONS the whole stage from its first action.
        The execution is InProgress again under the same id, and goes on to later stages.
        """
        params = request.params()
        name, stage = params.get("pipelineName", ""), params.get("stageName", "")
        pipeline = self._definition(request, name)
        if stage not in [s["name"] for s in pipeline["stages"]]:
            raise ApiException(
                "StageNotFoundException", f"Stage {stage} does not exist in pipeline {name}"
            )
        doc = self._retryable(name, stage, params.get("pipelineExecutionId", ""), pipeline)
        run = ExecutionRun(self, pipeline, doc, doc.get("_region", request.region))
        with self._lock:
            self.running[run.execution_id] = run
        run.retry(stage, params.get("retryMode", "FAILED_ACTIONS"))
        return ApiResponse.json({"pipelineExecutionId": run.execution_id})

    def _retryable(
        self, name: str, stage: str, execution_id: str, pipeline: dict[str, Any]
    ) -> dict[str, Any]:
        """The execution to retry, after AWS's checks."""
        with self._lock:
            busy = execution_id in self.running
        doc = self.runtime.records.get(EXECUTION, execution_id)
        if doc is None or doc["pipelineName"] != name or stage not in doc["_stages"]:
            raise ApiException(
                "StageNotRetryableException",
                f"Stage {stage} of pipeline {name} has no execution {execution_id} to retry",
            )
        if busy or doc["status"] in ("InProgress", "Stopping"):
            raise ApiException(
                "ConflictException",
                f"Pipeline execution {execution_id} is {doc['status']}: "
                "it cannot be retried until it ends",
            )
        latest = next(d for d in self._executions(name) if stage in d["_stages"])
        if latest["pipelineExecutionId"] != execution_id:
            raise ApiException(
                "NotLatestPipelineExecutionException",
                f"Stage {stage} ran in a later execution ({latest['pipelineExecutionId']}); "
                f"{execution_id} is out of date",
            )
        if doc["_stages"][stage]["status"] not in ("Failed", "Stopped"):
            raise ApiException(
                "StageNotRetryableException",
                f"Stage {stage} of execution {execution_id} is "
                f"{doc['_stages'][stage]['status']}: only a failed stage can be retried",
            )
        if doc.get("pipelineVersion") != pipeline.get("version", 1):
            raise ApiException(
                "StageNotRetryableException",
                f"Pipeline {name} changed (version {doc.get('pipelineVersion')} -> "
                f"{pipeline.get('version', 1)}) since execution {execution_id} ran",
            )
        return doc

    def put_approval_result(self, request: ApiRequest) -> ApiResponse:
        params = request.params()
        run = self._approval_run(params)
        result = params.get("result", {})
        event, slot = run.approvals[params["actionName"]]
        slot[:] = [result.get("status", ""), result.get("summary", "")]
        event.set()
        return ApiResponse.json({"approvedAt": now()})

    def _approval_run(self, params: dict[str, Any]) -> ExecutionRun:
        with self._lock:
            runs = [
                r for r in self.running.values() if r.pipeline["name"] == params.get("pipelineName")
            ]
        for run in runs:
            state = run.doc["_stages"].get(params.get("stageName", ""), {})
            record = self.runtime.records.get(
                ACTION, state.get("actions", {}).get(params.get("actionName", ""), "")
            )
            if (
                record
                and record["status"] == "InProgress"
                and record["_token"] == params.get("token")
            ):
                return run
        raise ApiException(
            "ApprovalAlreadyCompletedException" if runs else "InvalidApprovalTokenException",
            "no approval is waiting for that token",
        )

    # -- source polling --------------------------------------------------------------------------
    def _source_heads(self, pipeline: dict[str, Any]) -> dict[str, str]:
        heads = {}
        for stage in pipeline["stages"]:
            for action in stage["actions"]:
                config = action.get("configuration", {})
                if (
                    action["actionTypeId"]["provider"] != "CodeStarSourceConnection"
                    or str(config.get("DetectChanges", "true")).lower() == "false"
                ):
                    continue
                repo = self.local_repository(config.get("ConnectionArn", ""))
                try:
                    heads[action["name"]] = (
                        branch_head(Path(repo), config.get("BranchName", "main")).sha
                        if repo
                        else ""
                    )
                except OpslibError:
                    heads[action["name"]] = ""
        return heads

    def _remember_heads(self, pipeline: dict[str, Any]) -> dict[str, str]:
        heads = self._source_heads(pipeline)
        self.runtime.records.put(HEADS, pipeline["name"], heads)
        return heads

    def source_taken(self, pipeline: dict[str, Any], action: str, sha: str) -> None:
        """An execution's source action took ``sha``: if it is the head, it counts as seen."""
        with self._heads_lock:
            heads = self._source_heads(pipeline)
            if not sha or heads.get(action) != sha:
                return  # an older commit (sourceRevisions): the head is still to be released
            seen = self.runtime.records.get(HEADS, pipeline["name"]) or {}
            if seen.get(action) != sha:
                self.runtime.records.put(HEADS, pipeline["name"], {**seen, action: sha})

    def start_poller(self) -> None:
        self._poller.start()

    def _poll_loop(self) -> None:
        while not self.runtime.stopping.wait(self.poll_seconds):
            try:
                self.poll_once()
            except Exception:
                logger.exception("source polling failed")

    def poll_once(self) -> None:
        """Start an execution for each pipeline whose watched branch has a new commit."""
        from moto.codepipeline.models import codepipeline_backends

        with self.runtime.gateway.lock:
            pipelines = [
                (region, dict(b.pipelines[n].pipeline))
                for a in codepipeline_backends.values()
                for region, b in a.items()
                for n in list(b.pipelines)
            ]
        for region, pipeline in pipelines:
            with self._heads_lock:
                seen = self.runtime.records.get(HEADS, pipeline["name"]) or {}
                heads = self._source_heads(pipeline)
                if any(sha and sha != seen.get(name) for name, sha in heads.items()):
                    self.runtime.records.put(HEADS, pipeline["name"], heads)
                    self.start(
                        pipeline,
                        region,
                        {
                            "triggerType": "PollForSourceChanges",
                            "triggerDetail": ",".join(heads.values()),
                        },
                    )
        self.polls += 1

    # -- lifecycle --------------------------------------------------------------------------------
    def recover(self) -> int:
        """Close executions a crash left running as Failed, with the reason."""
        count = 0
        for doc in self.runtime.records.all(EXECUTION):
            if doc["status"] in ("InProgress", "Stopping"):
                doc.update(status="Failed", statusSummary=INTERRUPTED, lastUpdateTime=now())
                for stage in doc["_stages"].values():
                    stage["status"] = (
                        "Failed" if stage["status"] == "InProgress" else stage["status"]
                    )
                self.runtime.records.put(EXECUTION, doc["pipelineExecutionId"], doc)
                count += 1
        for record in self.runtime.records.all(ACTION):
            if record["status"] == "InProgress":
                record.update(status="Failed", lastUpdateTime=now())
                record["output"] = {
                    "executionResult": {
                        "errorDetails": {"code": "JobFailed", "message": INTERRUPTED}
                    }
                }
                self.runtime.records.put(ACTION, record["actionExecutionId"], record)
        return count

    def shutdown(self, timeout: float = 10.0) -> None:
        with self._lock:
            runs = list(self.running.values())
        for run in runs:
            run.doc["stopTrigger"] = {"reason": "emulator stopped"}
            run.abandon = True
            run.stop_requested.set()
        for run in runs:
            run.thread.join(timeout)


def _source_overrides(pipeline: dict[str, Any], revisions: list[dict[str, str]]) -> dict[str, str]:
    """sourceRevisions of StartPipelineExecution, checked against the pipeline's actions."""
    sources = {
        a["name"] for stage in pipeline["stages"] for a in stage["actions"]
        if a["actionTypeId"]["category"] == "Source"
    }  # fmt: skip
    overrides = {}
    for revision in revisions:
        if revision.get("actionName") not in sources:
            raise ApiException(
                "ValidationException",
                f"sourceRevisions: {revision.get('actionName')!r} is not a source action",
            )
        if revision.get("revisionType") != "COMMIT_ID":
            raise ApiException(
                "ValidationException",
                "sourceRevisions: the emulator's git sources take revisionType COMMIT_ID",
            )
        overrides[revision["actionName"]] = revision["revisionValue"]
    return overrides


def _summary(doc: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "pipelineExecutionId",
        "status",
        "statusSummary",
        "startTime",
        "lastUpdateTime",
        "trigger",
        "stopTrigger",
        "executionMode",
        "executionType",
    )
    summary = {k: doc[k] for k in keys if k in doc}
    summary["sourceRevisions"] = doc.get("_sourceRevisions", [])
    return summary


def _action_state(name: str, record: dict[str, Any] | None) -> dict[str, Any]:
    if record is None:
        return {"actionName": name}
    result = record.get("output", {}).get("executionResult", {})
    latest = {
        "actionExecutionId": record["actionExecutionId"],
        "status": record["status"],
        "summary": result.get("externalExecutionSummary", ""),
        "lastStatusChange": record["lastUpdateTime"],
        "externalExecutionId": result.get("externalExecutionId", ""),
        "externalExecutionUrl": result.get("externalExecutionUrl", ""),
    }
    if record["status"] == "InProgress":
        latest["token"] = record["_token"]
    if "errorDetails" in result:
        latest["errorDetails"] = result["errorDetails"]
    return {"actionName": name, "latestExecution": latest}
