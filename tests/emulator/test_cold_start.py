"""A fresh emulator imports a service's code when a request first needs it (issue 10).

Each case assembles a real :class:`~opslib.emulator.server.Emulator` in a fresh interpreter
(so what this test process imported does not count), serves one request through its
socket and reports which modules the process held before and after.
"""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
from moto import mock_aws

from opslib.emulator import EmulatorInfo
from opslib.emulator.cloudwatch.logstore import LogStore
from opslib.emulator.cloudwatch.metricstore import Datum, MetricId, MetricStore
from opslib.emulator.codepipeline.connections import SERVICES as CONNECTION_SERVICES
from opslib.emulator.core.store import RecordStore, _plain, holds_data
from opslib.emulator.server import ROOM_SERVICES
from tests.emulator.conftest import client
from tests.emulator.deploy_helpers import wait_until

ROOMS = (
    "opslib.emulator.codebuild.service",
    "opslib.emulator.codedeploy.service",
    "opslib.emulator.codepipeline.service",
    "moto.ec2.models",
)
LOGS = ("opslib.emulator.cloudwatch.logs",)
METRICS = ("opslib.emulator.cloudwatch.evaluator", "opslib.emulator.cloudwatch.metrics")

_PROBE = """
import json, sys, threading
from pathlib import Path
import boto3
from opslib.emulator.server import Emulator

WATCH = {rooms!r}
emulator = Emulator(Path(sys.argv[1]), [0], 1.0, 3600.0)
before = sorted(m for m in WATCH if m in sys.modules)
threading.Thread(target=emulator.server.serve_forever, daemon=True).start()
getattr(boto3.client(
    {service!r}, region_name="us-east-1", endpoint_url=emulator.runtime.endpoint,
    aws_access_key_id="t", aws_secret_access_key="t",
), {call!r})(**{kwargs!r})
after = sorted(m for m in WATCH if m in sys.modules)
emulator.shutdown()
print(json.dumps([before, after]))
"""


def _modules(
    state_dir: Path,
    service: str = "codebuild",
    call: str = "list_builds",
    watch: tuple[str, ...] = ROOMS,
    **kwargs: Any,
) -> tuple[list[str], list[str]]:
    """Modules of ``watch`` held after assembling the emulator, and after one call."""
    probe = _PROBE.format(rooms=watch, service=service, call=call, kwargs=kwargs)
    result = subprocess.run(
        [sys.executable, "-c", probe, str(state_dir)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    before, after = json.loads(result.stdout.splitlines()[-1])
    return before, after


def test_a_fresh_emulator_loads_a_service_at_its_first_request(tmp_path: Path) -> None:
    before, after = _modules(tmp_path / "state")
    assert before == []
    assert after == ["opslib.emulator.codebuild.service"]  # not CodeDeploy's, nor EC2's


def test_an_emulator_with_records_loads_every_service_before_serving(tmp_path: Path) -> None:
    """Interrupted work is closed before the first request: any record loads them all."""
    state = tmp_path / "state"
    records = RecordStore(state / "records.sqlite")
    records.put("build", "p:1", {"id": "p:1"})
    records.close()
    before, _ = _modules(state)
    assert before == sorted(ROOMS[:3])


def test_the_pipeline_room_is_loaded_by_the_connection_services_too() -> None:
    assert set(CONNECTION_SERVICES) <= set(ROOM_SERVICES["codepipeline"])


def test_cloudwatch_rooms_load_at_the_first_request_of_their_service(tmp_path: Path) -> None:
    watch = ROOMS + LOGS + METRICS
    assert _modules(tmp_path / "fresh", watch=watch) == ([], ["opslib.emulator.codebuild.service"])
    assert _modules(tmp_path / "logs", "logs", "describe_log_groups", watch) == ([], list(LOGS))
    assert _modules(tmp_path / "cw", "cloudwatch", "list_metrics", watch) == ([], list(METRICS))


def test_eventbridge_loads_the_logs_room_its_log_group_targets_write_to(tmp_path: Path) -> None:
    """A rule's delivery to a log group goes through the Logs room: it must be there."""
    entry = {"Source": "probe", "DetailType": "probe", "Detail": "{}"}
    before, after = _modules(tmp_path / "state", "events", "put_events", LOGS, Entries=[entry])
    assert (before, after) == ([], list(LOGS))


def test_a_store_holding_data_loads_its_room_before_serving(tmp_path: Path) -> None:
    """Alarms to evaluate, retention to sweep, queries to finish: no request needed."""
    logs_state, metrics_state = tmp_path / "logs", tmp_path / "metrics"
    LogStore(logs_state / "logs.sqlite").create_group("123456789012", "us-east-1", "/g", 0)
    store = MetricStore(metrics_state / "metrics.sqlite")
    store.put("us-east-1", [Datum(MetricId("App", "M", ()), 1.0e9, value=1.0)])
    watch = LOGS + METRICS
    assert _modules(logs_state, "s3", "list_buckets", watch) == (list(LOGS), list(LOGS))
    assert _modules(metrics_state, "s3", "list_buckets", watch) == (list(METRICS), list(METRICS))


def test_an_empty_store_does_not_count_as_data(tmp_path: Path) -> None:
    LogStore(tmp_path / "logs.sqlite")
    MetricStore(tmp_path / "metrics.sqlite")
    assert not holds_data(tmp_path / "logs.sqlite")
    assert not holds_data(tmp_path / "metrics.sqlite")
    assert not holds_data(tmp_path / "missing.sqlite")
    assert not (tmp_path / "missing.sqlite").exists()  # looking creates nothing
    assert _modules(tmp_path, "s3", "list_buckets", LOGS + METRICS) == ([], [])


def test_moto_logs_to_migrate_and_alarms_to_evaluate_load_at_start(tmp_path: Path) -> None:
    """moto's logs snapshot is imported before the first request; its alarms evaluate."""
    moto_dir = tmp_path / "moto"
    moto_dir.mkdir()
    with mock_aws():
        boto3.client("logs", region_name="us-east-1").create_log_group(logGroupName="/old")
        (moto_dir / "logs.pickle").write_bytes(pickle.dumps(_plain("logs")))
    (moto_dir / "cloudwatch.pickle").write_bytes(pickle.dumps(_plain("cloudwatch")))
    before, _ = _modules(tmp_path, "s3", "list_buckets", LOGS + METRICS)
    assert before == sorted(LOGS + METRICS)
    assert (moto_dir / "logs.pickle.imported").exists()
    assert LogStore(tmp_path / "logs.sqlite").group("123456789012", "us-east-1", "/old")


def test_an_alarm_keeps_evaluating_after_a_restart_with_no_cloudwatch_request(
    start_emulator: Callable[..., EmulatorInfo],
) -> None:
    """After a kill -9 the alarm evaluator runs from the start: only Logs is asked after it.

    The alarm's state-change events reach a log group through an EventBridge rule, so the
    evaluation after the restart is seen without a CloudWatch request (which would load
    the room by itself).
    """
    first = start_emulator(OPSLIB_ALARM_EVALUATION_INTERVAL="0.5")
    client(first, "logs").create_log_group(logGroupName="/alarms")
    events = client(first, "events")
    pattern = {"source": ["aws.cloudwatch"], "detail-type": ["CloudWatch Alarm State Change"]}
    events.put_rule(Name="alarms", EventPattern=json.dumps(pattern))
    target = "arn:aws:logs:us-east-1:123456789012:log-group:/alarms"
    events.put_targets(Rule="alarms", Targets=[{"Id": "log", "Arn": target}])
    cloudwatch = client(first, "cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName="quiet", Namespace="App", MetricName="Nothing", Statistic="Sum", Period=60,
        EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="notBreaching",
    )  # fmt: skip

    def transition(info: EmulatorInfo, old: str, new: str) -> Callable[[], bool]:
        def logged() -> bool:
            found = client(info, "logs").filter_log_events(logGroupName="/alarms")["events"]
            details = [json.loads(e["message"])["detail"] for e in found]
            return any(
                d["previousState"]["value"] == old and d["state"]["value"] == new for d in details
            )

        return logged

    wait_until(transition(first, "INSUFFICIENT_DATA", "OK"), what="the first evaluation")
    cloudwatch.set_alarm_state(AlarmName="quiet", StateValue="ALARM", StateReason="drill")
    os.kill(first.pid, signal.SIGKILL)
    second = start_emulator(OPSLIB_ALARM_EVALUATION_INTERVAL="0.5")
    wait_until(transition(second, "ALARM", "OK"), what="the evaluation after the restart")
