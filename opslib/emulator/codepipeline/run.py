"""One CodePipeline execution, run stage by stage in a worker thread of the emulator.

Records are kept in AWS's wire shape (GetPipelineExecution, ListActionExecutions) and
persisted at every change. Stages run in order; within a stage, actions run by runOrder.
A stage holds one execution at a time: how a newer execution catches up with an older one
(supersede, queue, or run in parallel) is the pipeline's executionMode, decided by the
pipeline's :class:`~opslib.emulator.codepipeline.gate.StageGate`.
"""

from __future__ import annotations

import logging
import re
import threading
import uuid
from datetime import UTC, datetime
from typing import Any, Protocol

from opslib.emulator.codepipeline.actions import ActionResult, runner_for
from opslib.emulator.codepipeline.gate import StageGate
from opslib.emulator.core.runtime import Runtime
from opslib.emulator.core.telemetry import emit_event
from opslib.exceptions import OpslibError

logger = logging.getLogger(__name__)

EXECUTION, ACTION = "pipeline-execution", "action-execution"
_VARIABLE_RE = re.compile(r"#\{([A-Za-z0-9_@\-]+)\.([A-Za-z0-9_@\-]+)\}")


def now() -> float:
    return datetime.now(UTC).timestamp()


class Conductor(Protocol):
    """What an execution asks of the service that started it (the PipelineService)."""

    @property
    def runtime(self) -> Runtime: ...

    def local_repository(self, connection_arn: str) -> str | None: ...

    def gate(self, pipeline: str) -> StageGate: ...

    def forget(self, run: ExecutionRun) -> None: ...

    def source_taken(self, pipeline: dict[str, Any], action: str, sha: str) -> None: ...


class ExecutionRun:
    """A running execution: its record, its thread, and how to stop or approve it."""

    def __init__(
        self, service: Conductor, pipeline: dict[str, Any], doc: dict[str, Any], region: str
    ):
        self.service = service
        self.runtime = service.runtime
        self.pipeline = pipeline
        self.doc = doc
        self.region = region
        self.execution_id: str = doc["pipelineExecutionId"]
        self.stop_requested = threading.Event()
        self.abandon = False
        self.superseded = False
        self.lock = threading.Lock()
        self.approvals: dict[str, tuple[threading.Event, list[str]]] = {}
        self.current_action: dict[str, Any] | None = None
        # RetryStageExecution: (stage, actions kept from the failed attempt, artifacts)
        self._resume: tuple[str, frozenset[str], dict[str, dict[str, str]]] | None = None
        self.variables: dict[str, dict[str, str]] = {
            "codepipeline": {"PipelineExecutionId": self.execution_id}
        }
        self.thread = threading.Thread(
            target=self.run, daemon=True, name=f"pipeline-{self.execution_id}"
        )

    # -- ActionContext ----------------------------------------------------------------
    def artifact_bucket(self) -> str:
        store: dict[str, Any] = self.pipeline.get("artifactStore") or next(
            iter((self.pipeline.get("artifactStores") or {}).values()), {}
        )
        return str(store["location"])

    def stopping(self) -> bool:
        return self.stop_requested.is_set()

    def abandoning(self) -> bool:
        return self.stop_requested.is_set() and self.abandon

    def local_repository(self, connection_arn: str) -> str | None:
        return self.service.local_repository(connection_arn)

    def wait_for_approval(self, action: dict[str, Any]) -> tuple[str, str]:
        event, result = self.approvals[action["name"]]
        while not event.wait(0.5):
            if self.stop_requested.is_set():
                return "Abandoned", ""
        return result[0], result[1]

    def source_override(self, action_name: str) -> str | None:
        """The revision StartPipelineExecution's sourceRevisions gave this source action."""
        overrides: dict[str, str] = self.doc.get("_sourceOverrides", {})
        return overrides.get(action_name)

    def report_external(self, external_id: str, url: str = "") -> None:
        """The job an action started (a build, a deployment), visible while it runs."""
        record = self.current_action
        if record is not None:
            result = {"externalExecutionId": external_id, "externalExecutionUrl": url}
            record["output"] = {"executionResult": result}
            self.runtime.records.put(ACTION, record["actionExecutionId"], record)

    # -- records ------------------------------------------------------------------------
    def save(self) -> None:
        with self.lock:
            self.doc["lastUpdateTime"] = now()
            self.runtime.records.put(EXECUTION, self.execution_id, self.doc)

    def _stage_state(self, stage: str) -> dict[str, Any]:
        stages: dict[str, dict[str, Any]] = self.doc["_stages"]
        return stages.setdefault(stage, {"status": "InProgress", "actions": {}})

    def _emit(self, detail_type: str, state: str, **extra: Any) -> None:
        detail = {"pipeline": self.pipeline["name"], "version": self.doc["pipelineVersion"],
                  "execution-id": self.execution_id, "state": state, **extra}  # fmt: skip
        arn = (
            f"arn:aws:codepipeline:{self.region}:{self.runtime.account_id}:{self.pipeline['name']}"
        )
        emit_event(self.runtime, self.region, "aws.codepipeline", detail_type, detail, [arn])

    # -- the run ----------------------------------------------------------------------------
    def start(self) -> None:
        self.thread.start()

    def retry(self, stage: str, mode: str) -> None:
        """Run ``stage`` again (RetryStageExecution), then the stages after it.

        FAILED_ACTIONS keeps the actions that succeeded (their artifacts and variables
        stand); ALL_ACTIONS runs the stage from its first action. Earlier stages' outputs
        are read back from the execution's action records.
        """
        records = [
            r for r in self.runtime.records.all(ACTION)
            if r["pipelineExecutionId"] == self.execution_id
        ]  # fmt: skip
        latest = {r["actionExecutionId"]: r for r in records}
        in_stage = self._stage_state(stage)["actions"]
        keep = frozenset(
            n for n, action_id in in_stage.items()
            if mode == "FAILED_ACTIONS" and latest.get(action_id, {}).get("status") == "Succeeded"
        )  # fmt: skip
        artifacts: dict[str, dict[str, str]] = {}
        # A git source's artifact carries its commit, which a Build passes on as
        # sourceVersion; the records keep bucket and key only, the execution the revision.
        commits = {r["name"]: r["revisionId"] for r in self.doc.get("artifactRevisions") or []}
        for record in records:  # oldest first: a later attempt's outputs win
            if record["status"] != "Succeeded":
                continue
            git = record["input"]["actionTypeId"]["provider"] == "CodeStarSourceConnection"
            for output in record.get("output", {}).get("outputArtifacts", []):
                artifacts[output["name"]] = dict(output["s3location"])
                if git and commits.get(output["name"]):
                    artifacts[output["name"]]["revision"] = commits[output["name"]]
            namespace = record.get("input", {}).get("namespace")
            if namespace:
                self.variables[namespace] = record["output"].get("outputVariables", {})
        with self.lock:
            self.doc["status"] = "InProgress"
            self.doc.pop("statusSummary", None)
            self.doc.pop("stopTrigger", None)
        self.save()
        self._resume = (stage, keep, artifacts)
        self.thread.start()

    def run(self) -> None:
        status, summary = "Failed", ""
        try:
            if self._resume is not None:  # AWS's event state for a retried execution
                self._emit("CodePipeline Pipeline Execution State Change", "RESUMED")
                status, summary = self._run_stages(*self._resume)
                return
            self._emit(
                "CodePipeline Pipeline Execution State Change", "STARTED", **self._trigger_detail()
            )
            status, summary = self._run_stages("", frozenset(), {})
        except Exception as exc:  # the emulator's own fault: record it, never hang InProgress
            logger.exception("pipeline execution %s faulted", self.execution_id)
            summary = f"emulator fault: {exc!r}"
        finally:
            self.service.gate(self.pipeline["name"]).leave(self)
            self._finish(status, summary)

    def _trigger_detail(self) -> dict[str, Any]:
        trigger = self.doc.get("trigger", {})
        return {
            "execution-trigger": {
                "trigger-type": trigger.get("triggerType"),
                "trigger-detail": trigger.get("triggerDetail"),
            }
        }

    def _run_stages(
        self, first: str, keep: frozenset[str], artifacts: dict[str, dict[str, str]]
    ) -> tuple[str, str]:
        """The stages in order, from ``first`` ('' the first), ``keep`` not run again."""
        gate = self.service.gate(self.pipeline["name"])
        stages = self.pipeline["stages"]
        names = [s["name"] for s in stages]
        for stage in stages[names.index(first) if first else 0 :]:
            if not gate.enter(self, stage["name"]):
                return (
                    ("Superseded", "a newer execution caught up")
                    if self.superseded
                    else ("Stopped", self._stop_reason())
                )
            if not self._run_stage(stage, artifacts, keep if stage["name"] == first else None):
                return (
                    ("Stopped", self._stop_reason())
                    if self.stopping()
                    else ("Failed", self.doc.get("statusSummary", ""))
                )
            if self.stopping():
                return "Stopped", self._stop_reason()
        return "Succeeded", ""

    def _stop_reason(self) -> str:
        return str(self.doc.get("stopTrigger", {}).get("reason", "stopped"))

    def _run_stage(
        self,
        stage: dict[str, Any],
        artifacts: dict[str, dict[str, str]],
        keep: frozenset[str] | None = None,
    ) -> bool:
        """One stage's actions by runOrder; a retry (``keep`` given) skips the kept ones."""
        name = stage["name"]
        with self.lock:
            self._stage_state(name)["status"] = "InProgress"
        self.save()
        state = "RESUMED" if keep is not None else "STARTED"
        self._emit("CodePipeline Stage Execution State Change", state, stage=name)
        ok = True
        for action in sorted(stage["actions"], key=lambda a: a.get("runOrder", 1)):
            if not ok or self.stopping():
                break
            if keep and action["name"] in keep:
                continue
            ok = self._run_action(name, action, artifacts)
        status = "Succeeded" if ok else ("Stopped" if self.stopping() else "Failed")
        with self.lock:
            self._stage_state(name)["status"] = status
        self.save()
        self._emit("CodePipeline Stage Execution State Change", _EVENT_STATES[status], stage=name)
        return ok

    def _run_action(
        self, stage: str, action: dict[str, Any], artifacts: dict[str, dict[str, str]]
    ) -> bool:
        record = self._start_action(stage, action, artifacts)
        try:
            result = runner_for(action)(self, self._resolved(action), artifacts)
        except OpslibError as exc:
            result = ActionResult("Failed", str(exc), error=str(exc))
        except Exception as exc:
            logger.exception("action %s failed in the emulator", action["name"])
            result = ActionResult("Failed", f"emulator fault: {exc!r}", error=repr(exc))
        artifacts.update(result.outputs)
        if action.get("namespace"):
            self.variables[action["namespace"]] = result.variables
        self._end_action(record, stage, action, result)
        return result.status == "Succeeded"

    def _resolved(self, action: dict[str, Any]) -> dict[str, Any]:
        """The action with ``#{Namespace.Variable}`` references in its configuration resolved."""

        def resolve(value: Any) -> Any:
            if not isinstance(value, str):
                return value
            return _VARIABLE_RE.sub(
                lambda m: self.variables.get(m.group(1), {}).get(m.group(2), m.group(0)), value
            )

        return {
            **action,
            "configuration": {k: resolve(v) for k, v in action.get("configuration", {}).items()},
        }

    def _start_action(
        self, stage: str, action: dict[str, Any], artifacts: dict[str, dict[str, str]]
    ) -> dict[str, Any]:
        action_id = str(uuid.uuid4())
        inputs = [
            {
                "name": a["name"],
                "s3location": {
                    k: v for k, v in artifacts.get(a["name"], {}).items() if k in ("bucket", "key")
                },
            }
            for a in action["inputArtifacts"]
        ]
        record = {
            "pipelineExecutionId": self.execution_id,
            "actionExecutionId": action_id,
            "pipelineVersion": self.doc["pipelineVersion"],
            "stageName": stage,
            "actionName": action["name"],
            "startTime": now(),
            "lastUpdateTime": now(),
            "status": "InProgress",
            "input": {
                "actionTypeId": action["actionTypeId"],
                "configuration": action.get("configuration", {}),
                "resolvedConfiguration": self._resolved(action)["configuration"],
                "roleArn": action.get("roleArn", self.pipeline.get("roleArn", "")),
                "region": action.get("region", self.region),
                "inputArtifacts": inputs,
                "namespace": action.get("namespace", ""),
            },  # fmt: skip
            "output": {},
            "_token": str(uuid.uuid4()),
        }
        if action["actionTypeId"]["category"] == "Approval":
            self.approvals[action["name"]] = (threading.Event(), ["", ""])
        self.runtime.records.put(ACTION, action_id, record)
        self.current_action = record
        with self.lock:
            self._stage_state(stage)["actions"][action["name"]] = action_id
        self.save()
        self._emit_action(stage, action, "STARTED")
        return record

    def _end_action(
        self, record: dict[str, Any], stage: str, action: dict[str, Any], result: ActionResult
    ) -> None:
        record.update(status=result.status, lastUpdateTime=now())
        execution_result: dict[str, Any] = {
            "externalExecutionId": result.external_id,
            "externalExecutionSummary": result.summary,
            "externalExecutionUrl": result.external_url,
        }
        if result.error:
            execution_result["errorDetails"] = {"code": "JobFailed", "message": result.error}
            with self.lock:
                self.doc["statusSummary"] = f"{stage}/{action['name']}: {result.error}"
        outputs = [
            {"name": n, "s3location": {"bucket": v["bucket"], "key": v["key"]}}
            for n, v in result.outputs.items()
        ]
        record["output"] = {
            "outputArtifacts": outputs,
            "executionResult": execution_result,
            "outputVariables": result.variables,
        }
        self.runtime.records.put(ACTION, record["actionExecutionId"], record)
        if result.revision:
            with self.lock:
                revisions = [{"name": n, **result.revision} for n in result.outputs]
                self.doc["artifactRevisions"].extend(revisions)
                self.doc["_sourceRevisions"].append(
                    {"actionName": action["name"], **result.revision}
                )
        self.save()
        if result.revision and action["actionTypeId"]["provider"] == "CodeStarSourceConnection":
            sha = str(result.revision.get("revisionId", ""))
            self.service.source_taken(self.pipeline, action["name"], sha)
        self._emit_action(stage, action, _EVENT_STATES[result.status])

    def _emit_action(self, stage: str, action: dict[str, Any], state: str) -> None:
        kind = action["actionTypeId"]
        kind_detail = {k: kind[k] for k in ("owner", "category", "provider", "version")}
        detail = {
            "stage": stage,
            "action": action["name"],
            "region": self.region,
            "type": kind_detail,
        }
        self._emit("CodePipeline Action Execution State Change", state, **detail)

    def _finish(self, status: str, summary: str) -> None:
        with self.lock:
            self.doc["status"] = status
            if summary and not self.doc.get("statusSummary"):
                self.doc["statusSummary"] = summary
        self.save()
        self._emit("CodePipeline Pipeline Execution State Change", _EVENT_STATES[status])
        self.service.forget(self)


_EVENT_STATES = {
    "Succeeded": "SUCCEEDED",
    "Failed": "FAILED",
    "Stopped": "STOPPED",
    "Superseded": "SUPERSEDED",
    "Abandoned": "ABANDONED",
    "InProgress": "STARTED",
}
