"""Ship the hosts' log files to CloudWatch Logs, as the CloudWatch agent does on EC2.

The configuration is the CloudWatch agent's own JSON, read from the SSM parameter
``AmazonCloudWatch-linux`` (the name the agent's ``fetch-config`` uses), so one parameter
serves a real fleet and the emulator alike. Its ``logs.logs_collected.files.collect_list``
entries are honoured: ``file_path`` (glob allowed, resolved under each host's root),
``log_group_name`` (default: the file path), ``log_stream_name`` (default
``{instance_id}``; ``{instance_id}``, ``{hostname}``, ``{local_hostname}`` and
``{ip_address}`` are replaced) and ``retention_in_days``. Without the parameter nothing
is shipped, as on an instance whose CloudWatch agent has no config.

Files written by the emulator itself are no exception: the deploy agent's
``/opt/codedeploy-agent/deployment-root/deployment-logs/codedeploy-agent-deployments.log``
(codedeploy/agent.py) reaches CloudWatch only if a ``collect_list`` entry names it, in the group
and stream that entry says (the stack's config: ``/<stack>/codedeploy-agent-deployments``,
stream ``{instance_id}``).

Every ``OPSLIB_LOGS_INTERVAL`` seconds (default 5) new complete lines of every matching
file of every running host are shipped; a new file is read from its beginning, a file
that shrank (rotated or truncated) from its start again. Offsets live in memory only: after
an emulator restart, files are shipped again from the start (the agent keeps a state
file; duplicates after a restart are the accepted cost here).
"""

from __future__ import annotations

import glob
import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opslib.emulator.core.limits import log_batches
from opslib.emulator.core.runtime import Runtime
from opslib.emulator.ec2.hosts import Host, HostService

logger = logging.getLogger(__name__)

PARAMETER = "AmazonCloudWatch-linux"
DEFAULT_INTERVAL = 5.0
MAX_READ = 1 << 20  # bytes read from one file per pass


@dataclass(frozen=True)
class CollectEntry:
    """One ``collect_list`` entry of the CloudWatch agent's config."""

    file_path: str
    group: str
    stream: str
    retention_days: int | None = None


def parse_config(text: str) -> list[CollectEntry]:
    """The file entries of a CloudWatch agent config (malformed parts are ignored)."""
    try:
        config = json.loads(text)
        entries = config["logs"]["logs_collected"]["files"]["collect_list"]
    except (ValueError, KeyError, TypeError):
        return []
    found = []
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict) and entry.get("file_path"):
            retention = entry.get("retention_in_days")
            found.append(
                CollectEntry(
                    str(entry["file_path"]),
                    str(entry.get("log_group_name") or entry["file_path"]),
                    str(entry.get("log_stream_name") or "{instance_id}"),
                    int(retention) if isinstance(retention, int) and retention > 0 else None,
                )
            )
    return found


def stream_name(template: str, host: Host) -> str:
    """A log_stream_name with the agent's placeholders filled for this host."""
    return (
        template.replace("{instance_id}", host.instance_id)
        .replace("{hostname}", f"ip-127-0-0-1.{host.instance_id}")
        .replace("{local_hostname}", f"ip-127-0-0-1.{host.instance_id}")
        .replace("{ip_address}", "127.0.0.1")
    )


@dataclass
class _Cursor:
    """How far one file has been shipped."""

    inode: int
    offset: int


class Tails:
    """New complete lines of files, remembered by key (in memory, like ``tail -F``)."""

    def __init__(self) -> None:
        self._cursors: dict[tuple[str, str], _Cursor] = {}

    def read(self, owner: str, path: Path) -> list[str]:
        """Lines appended since the last read (a partial last line waits for its end).

        A new file is read from its beginning; a replaced (other inode) or truncated
        file from its beginning again.
        """
        try:
            stat = path.stat()
        except OSError:
            return []
        key = (owner, str(path))
        cursor = self._cursors.get(key)
        if cursor is None or cursor.inode != stat.st_ino or stat.st_size < cursor.offset:
            cursor = self._cursors[key] = _Cursor(stat.st_ino, 0)
        if stat.st_size == cursor.offset:
            return []
        with open(path, "rb") as handle:
            handle.seek(cursor.offset)
            data = handle.read(MAX_READ)
        end = data.rfind(b"\n") + 1 or (len(data) if len(data) == MAX_READ else 0)
        if not end:
            return []
        cursor.offset += end  # a line longer than MAX_READ ships in pieces
        return [
            line.decode("utf-8", "replace") for line in data[:end].removesuffix(b"\n").split(b"\n")
        ]


class HostLogShipper:
    """A thread that tails the configured files of every running host."""

    def __init__(self, runtime: Runtime, hosts: HostService, interval: float | None = None):
        self.runtime = runtime
        self.hosts = hosts
        self.interval = interval or float(os.environ.get("OPSLIB_LOGS_INTERVAL", DEFAULT_INTERVAL))
        self._tails = Tails()
        self._streams: set[tuple[str, str, str]] = set()  # (region, group, stream) created
        self._thread = threading.Thread(target=self._loop, daemon=True, name="hostlogs")

    def start(self) -> None:
        self._thread.start()

    def _loop(self) -> None:
        while not self.runtime.stopping.wait(self.interval):
            try:
                self.ship()
            except Exception:
                logger.exception("shipping host logs failed")

    def ship(self) -> int:
        """One pass over every running host; returns the number of lines shipped."""
        shipped = 0
        configs: dict[str, list[CollectEntry]] = {}
        for host in self.hosts.hosts():
            if host.state != "running":
                continue
            if host.region not in configs:
                configs[host.region] = self._config(host.region)
            for entry in configs[host.region]:
                shipped += self._ship_entry(host, entry)
        return shipped

    def _config(self, region: str) -> list[CollectEntry]:
        ssm = self.runtime.client("ssm", region)
        try:
            value = ssm.get_parameter(Name=PARAMETER)["Parameter"]["Value"]
        except ssm.exceptions.ParameterNotFound:
            return []
        return parse_config(value)

    def _ship_entry(self, host: Host, entry: CollectEntry) -> int:
        pattern = glob.escape(host.root.rstrip("/")) + "/" + entry.file_path.lstrip("/")
        lines: list[str] = []
        for path in sorted(glob.glob(pattern, recursive=True)):
            lines += self._tails.read(host.instance_id, Path(path))
        if lines:
            self._put(host.region, entry, stream_name(entry.stream, host), lines)
        return len(lines)

    def _put(self, region: str, entry: CollectEntry, stream: str, lines: list[str]) -> None:
        logs = self.runtime.client("logs", region)
        stamp = int(time.time() * 1000)
        # CloudWatch Logs rejects empty messages: a blank line ships as one space.
        events = [{"timestamp": stamp, "message": line or " "} for line in lines]
        for batch in log_batches(events):  # PutLogEvents' size and count limits
            self._ensure(logs, region, entry, stream)
            try:
                logs.put_log_events(logGroupName=entry.group, logStreamName=stream, logEvents=batch)
            except logs.exceptions.ResourceNotFoundException:  # deleted since: create again
                self._streams.discard((region, entry.group, stream))
                self._ensure(logs, region, entry, stream)
                logs.put_log_events(logGroupName=entry.group, logStreamName=stream, logEvents=batch)

    def _ensure(self, logs: Any, region: str, entry: CollectEntry, stream: str) -> None:
        if (region, entry.group, stream) in self._streams:
            return
        try:
            logs.create_log_group(logGroupName=entry.group)
            if entry.retention_days:
                logs.put_retention_policy(
                    logGroupName=entry.group, retentionInDays=entry.retention_days
                )
        except logs.exceptions.ResourceAlreadyExistsException:
            pass
        try:
            logs.create_log_stream(logGroupName=entry.group, logStreamName=stream)
        except logs.exceptions.ResourceAlreadyExistsException:
            pass
        self._streams.add((region, entry.group, stream))
