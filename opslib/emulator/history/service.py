"""simulate-history's endpoint: one day of a planned window written into the stores.

``POST /opslib/simulate-history`` (no AWS API: AWS has no backfill). The stack's
resources say what the runs look like (the pipeline's actions, the project, the
deployment group and its running instances); :mod:`.plan` draws the window;
:mod:`.records` spells a day of it out; this module writes it in bulk, each store in one
transaction: the records (executions, actions, builds, deployments), the Logs store (the
builds' streams and the events log group, directly: PutLogEvents refuses events older
than 14 days) and the metric store (AWS/CodeBuild datapoints at their past times).

What a store would no longer hold is not written: events and log lines older than their
group's retention (AWS would have deleted them), as reads would hide them anyway.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

from opslib.emulator.cloudwatch.logstore import LogStore
from opslib.emulator.cloudwatch.metricstore import Datum, MetricId, MetricStore
from opslib.emulator.codebuild.run import KIND as BUILD
from opslib.emulator.codedeploy.model import KIND as DEPLOYMENT
from opslib.emulator.codedeploy.targets import read_group, select_targets
from opslib.emulator.codepipeline.run import ACTION, EXECUTION
from opslib.emulator.core.backfill import DayWritten, HistorySpec
from opslib.emulator.core.gateway import ApiException, ApiRequest, ApiResponse
from opslib.emulator.core.runtime import Runtime
from opslib.emulator.history.plan import ActionShape, Fleet, RunPlan, plan
from opslib.emulator.history.records import MARK, Setting, Written, written
from opslib.exceptions import ConfigError

logger = logging.getLogger(__name__)

DAY_MS = 86_400_000


class HistoryService:
    """Backfills the stack's history, a day per request."""

    def __init__(self, runtime: Runtime, logs: LogStore, metrics: MetricStore) -> None:
        self.runtime = runtime
        self.logs = logs
        self.metrics = metrics
        self._plans: dict[Any, list[RunPlan]] = {}  # the last window planned (days ask again)
        self._lock = threading.Lock()

    def handle(self, request: ApiRequest) -> ApiResponse:
        """One day: the counts stored, or 400 with the one-line reason."""
        try:
            spec, day, region = _parse(request.body)
            counts = self.simulate_day(spec, day, region)
        except ConfigError as exc:
            return ApiResponse.json({"message": str(exc)}, 400)
        except ApiException as exc:  # a resource the stack lacks, in AWS's words
            return ApiResponse.json({"message": f"simulate-history: {exc}"}, 400)
        return ApiResponse.json(counts.__dict__)

    def simulate_day(self, spec: HistorySpec, day: int, region: str) -> DayWritten:
        setting, actions, fleet = self._setting(spec, region)
        if day == 0:
            self._refuse_overlap(spec)
        runs = [r for r in self._plan(spec, actions, fleet) if r.day == day]
        docs = written(setting, runs, self._next_build_number(setting))
        self._store_records(docs)
        events = self._store_events(spec, region, docs)
        lines = self._store_build_logs(setting, docs)
        points = self._store_metrics(region, docs)
        logger.info(
            "simulated day %d/%d of %s: %d executions",
            day + 1,
            spec.days,
            spec.pipeline,
            len(docs.executions),
        )
        return DayWritten(
            day,
            len(docs.executions),
            len(docs.builds),
            len(docs.deployments),
            events,
            lines,
            points,
        )

    # -- what the stack says ---------------------------------------------------------------
    def _setting(
        self, spec: HistorySpec, region: str
    ) -> tuple[Setting, tuple[ActionShape, ...], Fleet]:
        account = self.runtime.account_id
        pipeline = _pipeline(account, region, spec.pipeline)
        actions = tuple(
            ActionShape(
                stage["name"],
                a["name"],
                a["actionTypeId"]["category"],
                a["actionTypeId"]["provider"],
            )
            for stage in pipeline["stages"]
            for a in sorted(stage["actions"], key=lambda a: a.get("runOrder", 1))
        )
        config = {a.category: _configuration(pipeline, a) for a in actions}
        project = _project(account, region, config.get("Build", {}).get("ProjectName", ""))
        store: dict[str, Any] = pipeline.get("artifactStore") or next(
            iter((pipeline.get("artifactStores") or {}).values()), {}
        )
        setting = Setting(region, account, pipeline, str(store.get("location", "")), project)
        fleet = Fleet(())
        if "Deploy" in config:
            setting, fleet = self._deploy_setting(setting, config["Deploy"])
        return setting, actions, fleet

    def _deploy_setting(self, setting: Setting, config: dict[str, Any]) -> tuple[Setting, Fleet]:
        group = read_group(
            setting.account,
            setting.region,
            config.get("ApplicationName", ""),
            config.get("DeploymentGroupName", ""),
        )
        targets = select_targets(group, self.runtime.records)
        if not targets:
            raise ConfigError(
                f"simulate-history: deployment group {group.group_name} selects no running "
                "instance to have deployed to (run 'opslib up' first)"
            )
        ids = tuple(sorted(t.instance_id for t in targets))
        arns = {i: f"arn:aws:ec2:{setting.region}:{setting.account}:instance/{i}" for i in ids}
        rollback = group.auto_rollback
        rolls_back = bool(rollback.get("enabled")) and "DEPLOYMENT_FAILURE" in (
            rollback.get("events") or []
        )
        from dataclasses import replace

        setting = replace(
            setting,
            application=group.application_name,
            group=group.group_name,
            group_id=group.group_id,
            config_name=group.config_name,
            group_arns=tuple(group.arns),
            auto_rollback=dict(rollback),
            instance_arns=arns,
        )
        one_at_a_time = group.config_name.endswith("OneAtATime")
        return setting, Fleet(ids, one_at_a_time=one_at_a_time, rolls_back=rolls_back)

    def _plan(
        self, spec: HistorySpec, actions: tuple[ActionShape, ...], fleet: Fleet
    ) -> list[RunPlan]:
        key = (spec, actions, fleet)
        with self._lock:
            if key not in self._plans:
                self._plans = {key: plan(spec, actions, fleet)}  # keep one window
            return self._plans[key]

    def _refuse_overlap(self, spec: HistorySpec) -> None:
        """A second backfill over simulated history would count every run twice."""
        overlapping = self.runtime.records.count(
            EXECUTION,
            where="json_extract(body, '$.pipelineName') = ? AND json_extract(body,"
            " '$.trigger.triggerDetail') = ? AND json_extract(body, '$.startTime') BETWEEN ? AND ?",
            args=(spec.pipeline, MARK, spec.since, spec.until),
        )
        if overlapping:
            raise ConfigError(
                f"simulate-history: {spec.pipeline} already has {overlapping} simulated "
                "execution(s) in that window; reset the emulator ('opslib emulator reset') first"
            )

    def _next_build_number(self, setting: Setting) -> int:
        return 1 + self.runtime.records.count(
            BUILD, where="json_extract(body, '$.projectName') = ?", args=(setting.project["name"],)
        )

    # -- writing -------------------------------------------------------------------------------
    def _store_records(self, docs: Written) -> None:
        records = self.runtime.records
        with records.transaction():
            for kind, key, items in (
                (EXECUTION, "pipelineExecutionId", docs.executions),
                (ACTION, "actionExecutionId", docs.actions),
                (BUILD, "id", docs.builds),
                (DEPLOYMENT, "deploymentId", docs.deployments),
            ):
                for item in items:
                    records.put(kind, str(item[key]), item)

    def _store_events(self, spec: HistorySpec, region: str, docs: Written) -> int:
        """The events log group: a stream per event, as EventBridge's target writes them."""
        group = self.logs.group(self.runtime.account_id, region, spec.events_log_group)
        if group is None:
            logger.info("no log group %s: no events backfilled", spec.events_log_group)
            return 0
        floor = _retained_from(group.retention)
        streams = [
            (json.loads(message)["id"], [(ts, message)])
            for ts, message in sorted(docs.events)
            if ts >= floor
        ]
        return self.logs.backfill(group.gid, streams, _now_ms())

    def _store_build_logs(self, setting: Setting, docs: Written) -> int:
        stored = 0
        by_group: dict[str, list[tuple[str, list[tuple[int, str]]]]] = {}
        for build in docs.builds:
            logs = build["logs"]
            by_group.setdefault(logs["groupName"], []).append(
                (logs["streamName"], docs.log_lines.get(logs["streamName"], []))
            )
        for name, streams in by_group.items():
            self.logs.create_group(setting.account, setting.region, name, _now_ms())  # CodeBuild's
            group = self.logs.group(setting.account, setting.region, name)
            assert group is not None
            floor = _retained_from(group.retention)
            kept = [(s, [e for e in lines if e[0] >= floor]) for s, lines in streams]
            stored += self.logs.backfill(group.gid, kept, _now_ms())
        return stored

    def _store_metrics(self, region: str, docs: Written) -> int:
        data = [
            Datum(
                MetricId("AWS/CodeBuild", name, tuple(sorted(dims.items()))), at, value, unit=unit
            )
            for name, value, unit, dims, at in docs.metrics
        ]
        if data:
            self.metrics.put(region, data)
        return len(data)


def _parse(body: bytes) -> tuple[HistorySpec, int, str]:
    try:
        document = json.loads(body or b"{}")
    except ValueError as exc:
        raise ConfigError(f"simulate-history: the request is not JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise ConfigError("simulate-history: the request must be a JSON object")
    spec, day = HistorySpec.from_wire(document)
    return spec, day, str(document.get("region") or "us-east-1")


def _pipeline(account: str, region: str, name: str) -> dict[str, Any]:
    from moto.codepipeline.models import codepipeline_backends

    backend = codepipeline_backends[account][region]
    if name not in backend.pipelines:
        raise ConfigError(
            f"simulate-history: no pipeline {name} in {region} (run 'opslib up' first)"
        )
    return dict(backend.pipelines[name].pipeline)


def _configuration(pipeline: dict[str, Any], action: ActionShape) -> dict[str, Any]:
    for stage in pipeline["stages"]:
        for found in stage["actions"]:
            if stage["name"] == action.stage and found["name"] == action.name:
                return dict(found.get("configuration") or {})
    return {}


def _project(account: str, region: str, name: str) -> dict[str, Any]:
    from moto.codebuild.models import codebuild_backends

    project = codebuild_backends[account][region].codebuild_projects.get(name)
    if project is None:
        return {"name": name or "unknown", "environment": {}}
    return dict(project.project_metadata)


def _now_ms() -> int:
    import time

    return int(time.time() * 1000)


def _retained_from(retention_days: int | None) -> int:
    return _now_ms() - retention_days * DAY_MS if retention_days else 0
