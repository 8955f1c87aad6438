"""Host log shipping as the CloudWatch agent does it: its config, stream names, tailing;
and the deploy agent's deployment log, a host file shipped like any other."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest

from opslib.emulator.codedeploy.agent import (
    DEPLOYMENT_LOG,
    AgentContext,
    DeployTarget,
    HostAgent,
    deployment_log_line,
)
from opslib.emulator.core.runtime import Runtime
from opslib.emulator.ec2.hosts import Host, HostService
from opslib.emulator.ec2.logagent import (
    PARAMETER,
    CollectEntry,
    HostLogShipper,
    Tails,
    parse_config,
    stream_name,
)
from opslib.stack.context import Names
from opslib.stack.hostconfig import DEPLOY_LOG, agent_config

pytestmark = pytest.mark.unit


def test_the_cloudwatch_agent_config_is_read_as_the_agent_reads_it() -> None:
    config = {
        "agent": {"run_as_user": "root"},
        "logs": {"logs_collected": {"files": {"collect_list": [
            {"file_path": "/var/log/app/*.log", "log_group_name": "/app",
             "log_stream_name": "{instance_id}/app", "retention_in_days": 7},
            {"file_path": "/var/log/messages"},
            {"log_group_name": "no file path: ignored"},
        ]}}},
    }  # fmt: skip
    assert parse_config(json.dumps(config)) == [
        CollectEntry("/var/log/app/*.log", "/app", "{instance_id}/app", 7),
        CollectEntry("/var/log/messages", "/var/log/messages", "{instance_id}"),
    ]
    assert parse_config("not json") == []
    assert parse_config(json.dumps({"metrics": {}})) == []


def test_stream_name_placeholders() -> None:
    host = Host("i-0abc", "us-east-1", "/tmp/root", 3000)
    assert stream_name("{instance_id}/app", host) == "i-0abc/app"
    assert stream_name("{ip_address}", host) == "127.0.0.1"


def test_tails_ship_complete_lines_once_and_restart_on_truncation(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    tails = Tails()
    log.write_text("one\n\ntwo\npart")
    assert tails.read("i-1", log) == ["one", "", "two"]
    assert tails.read("i-1", log) == []
    with open(log, "a") as handle:
        handle.write("ial\n")
    assert tails.read("i-1", log) == ["partial"]
    assert tails.read("i-2", log) == ["one", "", "two", "partial"]  # per host
    log.write_text("new\n")  # truncated (rotated in place)
    assert tails.read("i-1", log) == ["new"]
    assert tails.read("i-1", tmp_path / "missing.log") == []


# -- the deploy agent's deployment log ------------------------------------------------------
NAMES = Names("demo", "123456789012", "us-east-1")
INSTANCE = "i-0abc"


class _NotFound(Exception):
    pass


class _Exists(Exception):
    pass


class FakeSsm:
    class exceptions:
        ParameterNotFound = _NotFound

    def __init__(self, value: str | None) -> None:
        self.value = value

    def get_parameter(self, Name: str) -> dict[str, Any]:
        if self.value is None or Name != PARAMETER:
            raise _NotFound(Name)
        return {"Parameter": {"Value": self.value}}


class FakeLogs:
    class exceptions:
        ResourceAlreadyExistsException = _Exists
        ResourceNotFoundException = _NotFound

    def __init__(self) -> None:
        self.retention: dict[str, int] = {}
        self.streams: dict[tuple[str, str], list[str]] = {}

    def create_log_group(self, logGroupName: str) -> None:
        self.retention.setdefault(logGroupName, 0)

    def put_retention_policy(self, logGroupName: str, retentionInDays: int) -> None:
        self.retention[logGroupName] = retentionInDays

    def create_log_stream(self, logGroupName: str, logStreamName: str) -> None:
        self.streams.setdefault((logGroupName, logStreamName), [])

    def put_log_events(
        self,
        logGroupName: str,
        logStreamName: str,
        logEvents: list[dict[str, Any]],
    ) -> None:
        self.streams[(logGroupName, logStreamName)] += [e["message"] for e in logEvents]


class FakeRuntime:
    def __init__(self, ssm: FakeSsm, logs: FakeLogs) -> None:
        self.stopping = threading.Event()
        self.clients = {"ssm": ssm, "logs": logs}

    def client(self, service: str, region: str) -> Any:
        return self.clients[service]


class FakeHosts:
    def __init__(self, *hosts: Host) -> None:
        self._hosts = list(hosts)

    def hosts(self) -> list[Host]:
        return self._hosts


def _agent(root: Path) -> HostAgent:
    ctx = AgentContext(
        deployment_id="d-ABCDEF123",
        application_name="demo-app",
        group_name="demo-fleet",
        group_id="g-1",
        region="us-east-1",
        s3_location={},
        ignore_stop_failures=False,
        file_exists_behavior=None,
    )
    agent = HostAgent(
        cast(Runtime, None), ctx, DeployTarget(INSTANCE, root, 3000),
        lambda *_: None, threading.Event(),
    )  # fmt: skip
    agent.dir.mkdir(parents=True)
    return agent


def _shipper(root: Path, config: str | None) -> tuple[HostLogShipper, FakeLogs]:
    logs = FakeLogs()
    runtime = FakeRuntime(FakeSsm(config), logs)
    hosts = FakeHosts(Host(INSTANCE, "us-east-1", str(root), 3000))
    return HostLogShipper(cast(Runtime, runtime), cast(HostService, hosts), interval=60), logs


def test_the_agent_log_is_at_the_path_the_stack_config_ships() -> None:
    assert DEPLOYMENT_LOG == DEPLOY_LOG


def test_deployment_log_lines_have_the_agent_format() -> None:
    at = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    line = deployment_log_line("d-ABCDEF123", "[stdout]listening  ", at)
    assert line == "[2026-01-02 03:04:05.678] [d-ABCDEF123][stdout]listening"
    several = deployment_log_line("d-ABCDEF123", "Failed: bad appspec\n  line 3\n", at)
    assert several.splitlines() == [
        "[2026-01-02 03:04:05.678] [d-ABCDEF123]Failed: bad appspec",
        "[2026-01-02 03:04:05.678] [d-ABCDEF123]  line 3",
    ]


def test_the_agent_appends_to_its_file_on_the_host(tmp_path: Path) -> None:
    root = tmp_path / "hosts" / INSTANCE / "root"
    root.mkdir(parents=True)
    agent = _agent(root)
    agent.log("LifecycleEvent - BeforeInstall")
    agent.log("[stdout]hello")
    lines = (root / DEPLOYMENT_LOG.lstrip("/")).read_text().splitlines()
    assert [line.split("] ", 1)[1] for line in lines] == [
        "[d-ABCDEF123]LifecycleEvent - BeforeInstall",
        "[d-ABCDEF123][stdout]hello",
    ]
    assert (agent.dir / "logs" / "scripts.log").read_text().splitlines() == lines


def test_a_terminated_host_is_not_made_again_by_the_agent_log(tmp_path: Path) -> None:
    root = tmp_path / "hosts" / INSTANCE / "root"
    root.mkdir(parents=True)
    agent = _agent(root)
    root.rename(tmp_path / "gone")  # TerminateInstances removes the host's directory
    agent.log("[stdout]too late")
    assert not root.exists()


def test_the_deployment_log_is_shipped_where_the_agent_config_says(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    agent = _agent(root)
    agent.log("LifecycleEvent - ValidateService")
    agent.log("[stderr]oops")
    shipper, logs = _shipper(root, json.dumps(agent_config(NAMES, retention_days=7)))
    assert shipper.ship() == 2
    shipped = logs.streams[(NAMES.deploy_log_group, INSTANCE)]  # stream = instance id
    assert [line.split("] ", 1)[1] for line in shipped] == [
        "[d-ABCDEF123]LifecycleEvent - ValidateService",
        "[d-ABCDEF123][stderr]oops",
    ]
    assert logs.retention[NAMES.deploy_log_group] == 7
    assert set(logs.retention) == {NAMES.deploy_log_group}  # no app log yet; no bare group
    agent.log("[stdout]more")
    assert shipper.ship() == 1  # only what is new
    assert shipper.ship() == 0


def test_without_the_agent_config_nothing_is_shipped(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    _agent(root).log("LifecycleEvent - BeforeInstall")
    shipper, logs = _shipper(root, None)
    assert shipper.ship() == 0
    assert logs.streams == {} and logs.retention == {}
