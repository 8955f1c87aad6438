"""Periodic measurements published as CloudWatch metrics, as AWS does for EC2 and S3.

- ``AWS/EC2 CPUUtilization`` per InstanceId: the CPU time the host's processes really
  used over the interval, as a percentage of one vCPU.
- ``AWS/S3 BucketSizeBytes`` (StandardStorage) and ``NumberOfObjects`` (AllStorageTypes)
  per bucket: the real bytes stored. AWS publishes these daily; the emulator uses the
  same interval as for EC2 so a report sees them without waiting a day.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

from opslib.emulator.core.runtime import Runtime
from opslib.emulator.core.telemetry import metric, put_metrics
from opslib.emulator.ec2.hosts import HostService, processes_by_host

logger = logging.getLogger(__name__)

DEFAULT_INTERVAL = 60.0
_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of these processes (those already gone count 0)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15 of stat)
    return total / _TICKS


class Sampler:
    """A thread that measures hosts and buckets every ``interval`` seconds."""

    def __init__(self, runtime: Runtime, hosts: HostService, interval: float = DEFAULT_INTERVAL):
        self.runtime = runtime
        self.hosts = hosts
        self.interval = interval
        self._last: dict[str, tuple[float, float]] = {}
        self._thread = threading.Thread(target=self._loop, daemon=True, name="sampler")

    def start(self) -> None:
        self._thread.start()

    def _loop(self) -> None:
        while not self.runtime.stopping.wait(self.interval):
            try:
                self.sample()
            except Exception:
                logger.exception("sampling failed")

    def sample(self) -> None:
        self._sample_hosts()
        self._sample_buckets()

    def _sample_hosts(self) -> None:
        by_region: dict[str, list[dict[str, object]]] = {}
        running = [host for host in self.hosts.hosts() if host.state == "running"]
        if not running:
            return
        processes = processes_by_host()
        now = time.monotonic()
        for host in running:
            used = cpu_seconds(processes.get(host.instance_id, []))
            last = self._last.get(host.instance_id)
            self._last[host.instance_id] = (now, used)
            if last is None or now <= last[0]:
                continue
            percent = max(0.0, min(100.0, 100 * (used - last[1]) / (now - last[0])))
            point = metric("CPUUtilization", percent, "Percent", {"InstanceId": host.instance_id})
            by_region.setdefault(host.region, []).append(point)
        for region, data in by_region.items():
            put_metrics(self.runtime, region, "AWS/EC2", data)

    def _sample_buckets(self) -> None:
        s3 = self.runtime.client("s3", "us-east-1")
        for bucket in s3.list_buckets().get("Buckets", []):
            size, count = 0, 0
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket["Name"]):
                for item in page.get("Contents", []):
                    size, count = size + item["Size"], count + 1
            name = bucket["Name"]
            put_metrics(
                self.runtime,
                "us-east-1",
                "AWS/S3",
                [
                    metric(
                        "BucketSizeBytes",
                        size,
                        "Bytes",
                        {"BucketName": name, "StorageType": "StandardStorage"},
                    ),
                    metric(
                        "NumberOfObjects",
                        count,
                        "Count",
                        {"BucketName": name, "StorageType": "AllStorageTypes"},
                    ),
                ],
            )
