"""Local hosts for EC2 instances: a root directory and a port per instance.

moto keeps the instances; after RunInstances the emulator gives each one a host: its own
root directory (every absolute path a deployment writes is prefixed with it) and its own
port on 127.0.0.1 (where its app must listen). Both are published as instance tags, so a
runbook finds an instance's endpoint through DescribeInstances like any other fact:

    opslib:endpoint   http://127.0.0.1:<port>   (on AWS: public DNS/IP + the app port)
    opslib:host-root  the host's root directory
    opslib:app-port   the port

Processes started on a host carry ``OPSLIB_HOST_ID=<instance id>`` in their environment
(the deploy agent sets it for hook scripts; children inherit it); Stop/Terminate end them
all, which is what lets "terminating an instance takes its app down" hold.
"""

from __future__ import annotations

import logging
import re
import shutil
import socket
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from moto.ec2.models import ec2_backends

from opslib.emulator.core.gateway import ApiRequest
from opslib.emulator.core.procs import kill_all, processes_with_env
from opslib.emulator.core.runtime import Runtime
from opslib.emulator.core.telemetry import emit_event

logger = logging.getLogger(__name__)

KIND = "host"
HOST_ENV = "OPSLIB_HOST_ID"
_INSTANCE_ID_RE = re.compile(rb"<instanceId>(i-[0-9a-f]+)</instanceId>")


@dataclass
class Host:
    """The local stand-in of one EC2 instance."""

    instance_id: str
    region: str
    root: str
    port: int
    state: str = "running"

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def free_port() -> int:
    """A port nothing listens on now (the host keeps it for its whole life)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def host_processes(instance_id: str) -> list[int]:
    """Pids of the processes started on a host (found by their OPSLIB_HOST_ID)."""
    return processes_with_env(HOST_ENV, instance_id)


def kill_host_processes(instance_id: str) -> int:
    """SIGKILL every process of a host, as an instance stop does; returns how many."""
    return kill_all(host_processes(instance_id))


class HostService:
    """Creates, stops and removes hosts as moto's EC2 instances change state."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def register(self) -> None:
        gateway = self.runtime.gateway
        gateway.after("ec2", "RunInstances", self.on_run_instances)
        gateway.after("ec2", "StopInstances", self.on_stop_instances)
        gateway.after("ec2", "StartInstances", self.on_start_instances)
        gateway.after("ec2", "TerminateInstances", self.on_terminate_instances)

    def hosts(self) -> list[Host]:
        return [Host(**doc) for doc in self.runtime.records.all(KIND)]

    def _save(self, host: Host) -> None:
        self.runtime.records.put(KIND, host.instance_id, asdict(host))

    def _host(self, instance_id: str) -> Host | None:
        doc = self.runtime.records.get(KIND, instance_id)
        return Host(**doc) if doc else None

    def on_run_instances(self, request: ApiRequest, body: bytes) -> None:
        for raw in dict.fromkeys(_INSTANCE_ID_RE.findall(body)):
            host = self._create(raw.decode(), request)
            self._tag(request, host)
            self._state_events(request.region, host.instance_id, ("pending", "running"))

    def _create(self, instance_id: str, request: ApiRequest) -> Host:
        root = self.runtime.state_dir / "hosts" / instance_id / "root"
        root.mkdir(parents=True, exist_ok=True)
        host = Host(instance_id, request.region, str(root), free_port())
        self._save(host)
        logger.info("host %s: root %s, port %d", instance_id, root, host.port)
        return host

    @staticmethod
    def _tag(request: ApiRequest, host: Host) -> None:
        # In-process: we hold the gateway's lock, so no API call back into ourselves here.
        backend = ec2_backends[request.account_id][request.region]
        tags = {
            "opslib:endpoint": host.endpoint,
            "opslib:host-root": host.root,
            "opslib:app-port": str(host.port),
        }
        backend.create_tags([host.instance_id], tags)

    def _transition(
        self, request: ApiRequest, body: bytes, state: str, events: tuple[str, ...]
    ) -> None:
        for raw in dict.fromkeys(_INSTANCE_ID_RE.findall(body)):
            host = self._host(raw.decode())
            if host is None:
                continue
            if state != "running":
                killed = kill_host_processes(host.instance_id)
                logger.info("host %s %s: %d process(es) ended", host.instance_id, state, killed)
            if state == "terminated":
                shutil.rmtree(Path(host.root).parent, ignore_errors=True)
            host.state = state
            self._save(host)
            self._state_events(request.region, host.instance_id, events)

    def on_stop_instances(self, request: ApiRequest, body: bytes) -> None:
        self._transition(request, body, "stopped", ("stopping", "stopped"))

    def on_start_instances(self, request: ApiRequest, body: bytes) -> None:
        self._transition(request, body, "running", ("pending", "running"))

    def on_terminate_instances(self, request: ApiRequest, body: bytes) -> None:
        self._transition(request, body, "terminated", ("shutting-down", "terminated"))

    def _state_events(self, region: str, instance_id: str, states: tuple[str, ...]) -> None:
        arn = f"arn:aws:ec2:{region}:{self.runtime.account_id}:instance/{instance_id}"
        for state in states:
            detail: dict[str, Any] = {"instance-id": instance_id, "state": state}
            self.runtime.defer(
                emit_event,
                self.runtime,
                region,
                "aws.ec2",
                "EC2 Instance State-change Notification",
                detail,
                [arn],
            )

    def shutdown(self) -> None:
        """The emulator is going down: no host process outlives it."""
        for host in self.hosts():
            if host.state == "running":
                kill_host_processes(host.instance_id)
