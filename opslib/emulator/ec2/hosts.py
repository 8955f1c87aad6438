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

When the emulator starts again every instance that EC2 still shows ``running`` reboots,
as an EC2 instance does after a power cut: what is left of its processes ends, and its
boot entries (``<root>/etc/opslib/boot.d/*``, executable files, in name order) run. A
boot entry is the emulator host's stand-in for an enabled systemd unit: the deployed
app's ApplicationStart hook writes one, so a running instance serves its app again
without a new deployment, as systemd would start the unit after a reboot.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import socket
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from opslib.emulator.core.gateway import ApiRequest
from opslib.emulator.core.procs import kill_all, processes_by_env, processes_with_env
from opslib.emulator.core.runtime import INTERNAL_CREDENTIALS, Runtime
from opslib.emulator.core.telemetry import emit_event

logger = logging.getLogger(__name__)

KIND = "host"
HOST_ENV = "OPSLIB_HOST_ID"
BOOT_DIR = Path("etc/opslib/boot.d")  # under the host's root
BOOT_TIMEOUT = 60.0  # seconds one boot entry may take (it starts its service and returns)
# Where an instance left in a transition lands when EC2 finishes it.
_SETTLED = {"pending": "running", "stopping": "stopped", "shutting-down": "terminated"}
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


def processes_by_host() -> dict[str, list[int]]:
    """Pids of every host's processes, by instance id (one pass over /proc)."""
    return processes_by_env(HOST_ENV)


def kill_host_processes(instance_id: str) -> int:
    """SIGKILL every process of a host, as an instance stop does; returns how many."""
    return kill_all(host_processes(instance_id))


_INSTANCE_IDS_IN_REQUEST = re.compile(r"InstanceId\.\d+=(i-[0-9a-f]+)")


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
        gateway.after("ec2", "RebootInstances", self.on_reboot_instances)

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
        from moto.ec2.models import ec2_backends

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
            if state == "running":  # a started instance boots: its enabled services start
                self.runtime.defer(self.reboot, host)

    def on_stop_instances(self, request: ApiRequest, body: bytes) -> None:
        self._transition(request, body, "stopped", ("stopping", "stopped"))

    def on_start_instances(self, request: ApiRequest, body: bytes) -> None:
        self._transition(request, body, "running", ("pending", "running"))

    def on_terminate_instances(self, request: ApiRequest, body: bytes) -> None:
        self._transition(request, body, "terminated", ("shutting-down", "terminated"))

    def on_reboot_instances(self, request: ApiRequest, body: bytes) -> None:
        """RebootInstances (also a CloudWatch alarm's reboot action): processes end, boot
        entries run again; the instance stays running."""
        for instance_id in _INSTANCE_IDS_IN_REQUEST.findall(
            request.body.decode("utf-8", "replace")
        ):
            host = self._host(instance_id)
            if host is not None and host.state == "running":
                self.runtime.defer(self.reboot, host)

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

    # -- after a restart -------------------------------------------------------------------
    def settle(self) -> list[Host]:
        """Make the hosts agree with EC2's last acknowledged state; returns the running ones.

        moto's snapshot is what clients were told; a host record written by a request the
        crash cut short (its answer never sent) yields to it. An instance EC2 does not
        know was never acknowledged: its host goes. Call before the server listens.
        """
        running, transitions = [], 0
        for host in self.hosts():
            instance = _moto_instance(self.runtime.account_id, host)
            if instance is None:
                self.runtime.records.delete(KIND, host.instance_id)
                shutil.rmtree(Path(host.root).parent, ignore_errors=True)
                continue
            state = _SETTLED.get(instance.state, instance.state)
            if state != instance.state:
                _finish_transition(instance, state)
                transitions += 1
            if host.state != state:
                logger.info("host %s: %s -> %s as EC2 shows", host.instance_id, host.state, state)
                host.state = state
                self._save(host)
            if state == "running":
                running.append(host)
            else:
                kill_host_processes(host.instance_id)
        if transitions:
            self.runtime.gateway.snapshots.save(["ec2"])
        return running

    def reboot(self, host: Host) -> int:
        """Reboot one host: its processes end, then its boot entries run; returns how many."""
        kill_host_processes(host.instance_id)
        entries = _boot_entries(Path(host.root))
        for entry in entries:
            self._run_boot_entry(host, entry)
        logger.info("host %s rebooted: %d boot entr(ies) run", host.instance_id, len(entries))
        return len(entries)

    def _run_boot_entry(self, host: Host, entry: Path) -> None:
        log_path = Path(host.root) / "var/log/opslib-boot.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "ab") as log:
            try:
                result = subprocess.run(
                    [str(entry)], cwd=host.root, env=self._boot_env(host), stdin=subprocess.DEVNULL,
                    stdout=log, stderr=log, timeout=BOOT_TIMEOUT, check=False,
                )  # fmt: skip
            except (OSError, subprocess.TimeoutExpired) as exc:
                logger.warning("host %s: boot entry %s failed: %s", host.instance_id, entry, exc)
                return
        if result.returncode != 0:
            logger.warning("host %s: boot entry %s exited %d (see %s)", host.instance_id,
                           entry, result.returncode, log_path)  # fmt: skip

    def _boot_env(self, host: Host) -> dict[str, str]:
        """What init gives a unit: a plain environment plus the host's own variables."""
        keep = ("PATH", "HOME", "LANG", "TZ", "NODE_BIN")
        return {
            **{k: os.environ[k] for k in keep if k in os.environ},
            HOST_ENV: host.instance_id,
            "OPSLIB_HOST_ROOT": host.root,
            "OPSLIB_APP_PORT": str(host.port),
            "AWS_ENDPOINT_URL": self.runtime.endpoint,
            "AWS_REGION": host.region,
            "AWS_DEFAULT_REGION": host.region,
            "AWS_ACCESS_KEY_ID": INTERNAL_CREDENTIALS["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": INTERNAL_CREDENTIALS["aws_secret_access_key"],
        }

    def shutdown(self) -> None:
        """The emulator is going down: no host process outlives it."""
        for host in self.hosts():
            if host.state == "running":
                kill_host_processes(host.instance_id)


def _moto_instance(account_id: str, host: Host) -> Any:
    """moto's instance behind a host, or None when EC2 does not know it."""
    from moto.ec2.models import ec2_backends

    backend = ec2_backends[account_id][host.region]
    for reservation in backend.reservations.values():
        for instance in reservation.instances:
            if instance.id == host.instance_id:
                return instance
    return None


def _finish_transition(instance: Any, state: str) -> None:
    codes = {"running": 16, "stopped": 80, "terminated": 48}
    instance._state.name, instance._state.code = state, codes[state]


def _boot_entries(root: Path) -> list[Path]:
    directory = root / BOOT_DIR
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.is_file() and os.access(p, os.X_OK))
