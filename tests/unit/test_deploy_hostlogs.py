"""Host log shipping as the CloudWatch agent does it: its config, stream names, tailing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from opslib.emulator.hostlogs import CollectEntry, Tails, parse_config, stream_name
from opslib.emulator.hosts import Host

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
