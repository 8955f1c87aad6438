"""One CodeBuild build, run for real in a worker thread of the emulator.

The record kept for a build is the BatchGetBuilds document itself (AWS's wire shape), so
what a client reads is exactly what was persisted. The run mirrors CodeBuild's phases:
SUBMITTED, QUEUED, PROVISIONING (a fresh work directory), DOWNLOAD_SOURCE (the S3 zip),
then the buildspec's phases, command by command (phases.py), UPLOAD_ARTIFACTS, FINALIZING and
COMPLETED. Every phase change is persisted, emitted as an EventBridge event and logged to
the build's CloudWatch Logs stream while the build runs.
"""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from opslib.emulator.codebuild.logs import BuildLog
from opslib.emulator.codebuild.phases import (
    BuildOutcome,
    BuildRequest,
    PhaseRecord,
    PhaseType,
    StatusType,
    run_build,
)
from opslib.emulator.codebuild.source import BuildInputs, prepare_inputs
from opslib.emulator.core.runtime import Runtime
from opslib.emulator.core.telemetry import emit_event, metric, put_metrics
from opslib.exceptions import OpslibError

logger = logging.getLogger(__name__)

KIND = "build"
_METRIC_PHASES = {
    PhaseType.SUBMITTED: "SubmittedDuration",
    PhaseType.QUEUED: "QueuedDuration",
    PhaseType.PROVISIONING: "ProvisioningDuration",
    PhaseType.DOWNLOAD_SOURCE: "DownloadSourceDuration",
    PhaseType.INSTALL: "InstallDuration",
    PhaseType.PRE_BUILD: "PreBuildDuration",
    PhaseType.BUILD: "BuildDuration",
    PhaseType.POST_BUILD: "PostBuildDuration",
    PhaseType.UPLOAD_ARTIFACTS: "UploadArtifactsDuration",
    PhaseType.FINALIZING: "FinalizingDuration",
}
Finisher = Callable[["BuildRun", BuildOutcome | None], list[str]]


def epoch(at: datetime) -> float:
    return at.timestamp()


def phase_document(record: PhaseRecord) -> dict[str, Any]:
    """A phase as BatchGetBuilds shows it."""
    doc: dict[str, Any] = {"phaseType": str(record.phase_type), "startTime": epoch(record.start)}
    if record.end is not None:
        doc["endTime"] = epoch(record.end)
        doc["durationInSeconds"] = record.duration_seconds
    if record.status is not None:
        doc["phaseStatus"] = str(record.status)
    if record.contexts:
        doc["contexts"] = [{"statusCode": c, "message": m} for c, m in record.contexts]
    return doc


def work_path(runtime: Runtime, build_id: str) -> Path:
    """The build's work directory (source, scratch, artifacts): the build makes it and
    removes it when it ends; recovery removes it when a crash ended the build."""
    return runtime.work_path("builds", build_id.split(":")[-1])


class BuildRun:
    """A running build: its record, its log stream and the thread that runs it."""

    def __init__(
        self,
        runtime: Runtime,
        document: dict[str, Any],
        region: str,
        inputs: dict[str, Any],
        on_done: Callable[[BuildRun], None] | None = None,
    ):
        self.on_done = on_done
        self.runtime = runtime
        self.document = document
        self.region = region
        self.inputs = inputs
        self.stop = threading.Event()
        self.stop_reason = ""
        self.lock = threading.Lock()
        self.log = BuildLog(
            runtime, region, document["logs"]["groupName"], document["logs"]["streamName"]
        )
        self.thread = threading.Thread(
            target=self._run, name=f"build-{document['id']}", daemon=True
        )
        self.finish_hook: Finisher | None = None
        self.prepared: BuildInputs | None = None

    @property
    def build_id(self) -> str:
        return str(self.document["id"])

    # -- record keeping -------------------------------------------------------------
    def save(self) -> None:
        with self.lock:
            self.runtime.records.put(KIND, self.build_id, self.document)

    def phase_started(self, phase: PhaseType, at: datetime) -> None:
        with self.lock:
            self.document["currentPhase"] = str(phase)
            self.document["phases"].append({"phaseType": str(phase), "startTime": epoch(at)})
        self.save()

    def phase_ended(self, record: PhaseRecord) -> None:
        with self.lock:
            phases = self.document["phases"]
            if phases and phases[-1]["phaseType"] == str(record.phase_type):
                phases[-1] = phase_document(record)
            else:
                phases.append(phase_document(record))
        self.save()
        self._phase_event(record)

    def output(self, lines: list[tuple[datetime, str]]) -> None:
        self.log.write(lines)

    # -- the run ----------------------------------------------------------------------
    def start(self) -> None:
        self.thread.start()

    def _simple_phase(self, phase: PhaseType, work: Callable[[], Any]) -> Any:
        start = datetime.now(UTC)
        self.phase_started(phase, start)
        try:
            result = work()
        except OpslibError as exc:
            code = getattr(exc, "code", "CLIENT_ERROR")
            end = datetime.now(UTC)
            self.phase_ended(PhaseRecord(phase, StatusType.FAILED, start, end, [(code, str(exc))]))
            raise
        self.phase_ended(PhaseRecord(phase, StatusType.SUCCEEDED, start, datetime.now(UTC), []))
        return result

    def _run(self) -> None:
        outcome: BuildOutcome | None = None
        status = StatusType.FAULT
        try:
            self._emit_state("IN_PROGRESS")
            queued = self.document["phases"][-1]
            self.phase_ended(
                PhaseRecord(
                    PhaseType.QUEUED,
                    StatusType.SUCCEEDED,
                    datetime.fromtimestamp(queued["startTime"], UTC),
                    datetime.now(UTC),
                    [],
                )
            )
            work = self._simple_phase(PhaseType.PROVISIONING, self._provision)
            inputs = self._simple_phase(PhaseType.DOWNLOAD_SOURCE, lambda: self._download(work))
            outcome = run_build(
                self._request(work, inputs), self, self.stop, lambda: self._upload(work, inputs)
            )
            status = outcome.status
            self._record_outcome(outcome)
        except OpslibError as exc:
            status = StatusType.STOPPED if self.stop.is_set() else StatusType.FAILED
            self.log.write([(datetime.now(UTC), f"[Container] {exc}")])
        except Exception as exc:  # the emulator's own fault: say so, never hang IN_PROGRESS
            logger.exception("build %s faulted", self.build_id)
            self.log.write([(datetime.now(UTC), f"[Container] emulator fault: {exc!r}")])
        finally:
            self._complete(status, outcome)
            if self.on_done is not None:
                self.on_done(self)

    def _provision(self) -> Path:
        work = work_path(self.runtime, self.build_id)
        work.mkdir(parents=True, exist_ok=True)
        self.log.write([(datetime.now(UTC), f"[Container] Work directory {work}")])
        return work

    def _download(self, work: Path) -> BuildInputs:
        inputs = prepare_inputs(self.runtime, self.region, self.document, work)
        self.prepared = inputs
        with self.lock:
            self.document["resolvedSourceVersion"] = inputs.resolved_version
        return inputs

    def _request(self, work: Path, inputs: BuildInputs) -> BuildRequest:
        env = dict(inputs.env)
        env["CODEBUILD_SRC_DIR"] = str(inputs.source_dir)
        env["CODEBUILD_RESOLVED_SOURCE_VERSION"] = inputs.resolved_version
        timeout = int(
            self.document["timeoutInMinutes"] * 60 * self.inputs.get("timeout_scale", 1.0)
        )
        return BuildRequest(
            self.build_id, inputs.source_dir, inputs.buildspec, env, max(timeout, 1),
            scratch_dir=work,
        )  # fmt: skip

    def _upload(self, work: Path, inputs: BuildInputs) -> list[tuple[str, str]]:
        from opslib.emulator.codebuild.source import upload_artifacts

        locations = upload_artifacts(self.runtime, self.region, self.document, inputs)
        with self.lock:
            for artifact_id, location in locations:
                if artifact_id == "primary":
                    self.document["artifacts"]["location"] = location
        return locations

    def _record_outcome(self, outcome: BuildOutcome) -> None:
        with self.lock:
            self.document["exportedEnvironmentVariables"] = [
                {"name": k, "value": v} for k, v in outcome.exported_variables.items()
            ]

    def _complete(self, status: StatusType, outcome: BuildOutcome | None) -> None:
        if self.finish_hook is not None:
            try:
                arns = self.finish_hook(self, outcome)
                with self.lock:
                    self.document["reportArns"] = arns
            except Exception:
                logger.exception("reports of build %s failed", self.build_id)
        now = datetime.now(UTC)
        with self.lock:
            self.document.update(
                buildStatus=str(status),
                currentPhase="COMPLETED",
                endTime=epoch(now),
                buildComplete=True,
            )
            self.document["phases"].append({"phaseType": "COMPLETED", "startTime": epoch(now)})
        self.log.write(
            [(now, f"[Container] {now:%Y/%m/%d %H:%M:%S} Phase complete: build status {status}")]
        )
        self.log.close()
        self.save()
        self._emit_state(str(status))
        self._publish_metrics(status, now)
        shutil.rmtree(work_path(self.runtime, self.build_id), ignore_errors=True)

    # -- telemetry ----------------------------------------------------------------------
    def _additional_information(self) -> dict[str, Any]:
        doc = self.document
        return {
            "build-complete": doc.get("buildComplete", False),
            "initiator": doc.get("initiator"),
            "build-start-time": _event_time(doc["startTime"]),
            "source": doc.get("source"),
            "source-version": doc.get("sourceVersion"),
            "artifact": doc.get("artifacts"),
            "environment": doc.get("environment"),
            "timeout-in-minutes": doc.get("timeoutInMinutes"),
            "logs": {
                "group-name": doc["logs"]["groupName"],
                "stream-name": doc["logs"]["streamName"],
                "deep-link": doc["logs"]["deepLink"],
            },
            "phases": [_event_phase(p) for p in doc["phases"]],
        }

    def _emit_state(self, status: str) -> None:
        detail = {
            "build-status": status,
            "project-name": self.document["projectName"],
            "build-id": self.document["arn"],
            "additional-information": self._additional_information(),
            "current-phase": self.document["currentPhase"],
            "current-phase-context": "[]",
            "version": "1",
        }
        emit_event(
            self.runtime,
            self.region,
            "aws.codebuild",
            "CodeBuild Build State Change",
            detail,
            [self.document["arn"]],
        )

    def _phase_event(self, record: PhaseRecord) -> None:
        if record.status is None or record.end is None:
            return
        detail = {
            "completed-phase": str(record.phase_type),
            "completed-phase-status": str(record.status),
            "completed-phase-duration-seconds": record.duration_seconds,
            "completed-phase-start": _event_time(epoch(record.start)),
            "completed-phase-end": _event_time(epoch(record.end)),
            "completed-phase-context": str([f"{c}: {m}" for c, m in record.contexts] or "[: ]"),
            "project-name": self.document["projectName"],
            "build-id": self.document["arn"],
            "additional-information": self._additional_information(),
            "version": "1",
        }
        emit_event(
            self.runtime,
            self.region,
            "aws.codebuild",
            "CodeBuild Build Phase Change",
            detail,
            [self.document["arn"]],
        )

    def _publish_metrics(self, status: StatusType, at: datetime) -> None:
        data = []
        for dims in ({"ProjectName": self.document["projectName"]}, {}):
            data += [
                metric("Builds", 1, "Count", dims, at),
                metric("SucceededBuilds", int(status is StatusType.SUCCEEDED), "Count", dims, at),
                metric("FailedBuilds", int(status is not StatusType.SUCCEEDED), "Count", dims, at),
                metric(
                    "Duration",
                    self.document["endTime"] - self.document["startTime"],
                    "Seconds",
                    dims,
                    at,
                ),
            ]
            for phase in self.document["phases"]:
                name = _METRIC_PHASES.get(PhaseType(phase["phaseType"]))
                if name and "endTime" in phase:
                    data.append(
                        metric(name, phase["endTime"] - phase["startTime"], "Seconds", dims, at)
                    )
        put_metrics(self.runtime, self.region, "AWS/CodeBuild", data)


def _event_time(ts: float) -> str:
    """CodeBuild's event timestamps read like 'Nov 28, 2026 2:10:01 AM'."""
    at = datetime.fromtimestamp(ts, UTC)
    return at.strftime("%b %d, %Y %I:%M:%S %p").replace(" 0", " ")


def _event_phase(phase: dict[str, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "phase-type": phase["phaseType"],
        "start-time": _event_time(phase["startTime"]),
    }
    if "endTime" in phase:
        doc["end-time"] = _event_time(phase["endTime"])
        doc["duration-in-seconds"] = phase.get("durationInSeconds", 0)
        doc["phase-status"] = phase.get("phaseStatus")
        doc["phase-context"] = [
            f"{c['statusCode']}: {c['message']}" for c in phase.get("contexts", [])
        ]
    return doc
