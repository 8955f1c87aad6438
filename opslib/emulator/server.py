"""The emulator process: moto behind the gateway, plus the services that really run work.

Started by :func:`opslib.emulator.core.lifecycle.start` as ``python -m opslib.emulator.server``.
Order matters: state is restored into moto and interrupted work is closed *before* the
socket accepts requests; ``emulator.json`` is written only once it listens, so a client
that reads it can connect.
"""

from __future__ import annotations

import argparse
import errno
import json
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import BaseWSGIServer, make_server

from opslib import __version__
from opslib.emulator.cloudwatch.evaluator import AlarmEvaluator
from opslib.emulator.cloudwatch.metrics import MetricService
from opslib.emulator.codebuild.reports import ReportService
from opslib.emulator.codebuild.service import BuildService
from opslib.emulator.codedeploy.service import DeployService
from opslib.emulator.codepipeline.connections import ConnectionService
from opslib.emulator.codepipeline.service import PipelineService
from opslib.emulator.core import limits, motofixes
from opslib.emulator.core.gateway import Gateway
from opslib.emulator.core.lifecycle import EXIT_NO_SPACE, INFO_FILE, PORT_FILE
from opslib.emulator.core.runtime import Runtime
from opslib.emulator.core.store import (
    MotoSnapshots,
    RecordStore,
    no_space,
    remove_stale_temp_files,
    write_atomically,
)
from opslib.emulator.ec2.hosts import HostService
from opslib.emulator.ec2.logagent import HostLogShipper
from opslib.emulator.ec2.sampler import DEFAULT_INTERVAL, Sampler

logger = logging.getLogger("opslib.emulator")


class Emulator:
    """The assembled emulator: runtime, services and the HTTP server."""

    def __init__(
        self, state_dir: Path, ports: list[int], timeout_scale: float, interval: float
    ) -> None:
        self.state_dir = state_dir
        self.started = time.time()
        snapshots = MotoSnapshots(state_dir / "moto")
        motofixes.apply()
        snapshots.restore()
        gateway = Gateway(DomainDispatcherApplication(create_backend_app), snapshots, self.health)
        limits.register(gateway)
        self.runtime = Runtime(gateway, RecordStore(state_dir / "records.sqlite"), state_dir)
        self.builds = BuildService(self.runtime, timeout_scale)
        self.reports = ReportService(self.runtime)
        self.builds.finish_hook = self.reports.process_build
        self.hosts = HostService(self.runtime)
        self.connections = ConnectionService(self.runtime)
        self.pipelines = PipelineService(self.runtime, self.connections)
        self.pipelines.register()
        for service in (self.builds, self.reports, self.hosts, self.connections):
            service.register()
        recovered = self.builds.recover()
        logger.info("closed %d build(s) interrupted by the last stop", recovered)
        self.deploys = DeployService(self.runtime, timeout_scale)
        self.deploys.register()
        logger.info("closed %d deployment(s) interrupted", self.deploys.recover())
        logger.info("closed %d pipeline execution(s) interrupted", self.pipelines.recover())
        self.metrics = MetricService(self.runtime)  # CloudWatch metrics and alarms
        self.metrics.register()
        self.alarms = AlarmEvaluator(self.runtime, self.metrics.store)
        self.alarms.register()
        self.rebooting = self.hosts.settle()
        listener = bind_first(ports)
        self.server: BaseWSGIServer = make_server(
            "127.0.0.1",
            listener.getsockname()[1],
            gateway,
            threaded=True,
            request_handler=MotoRequestHandler,
            fd=listener.fileno(),
        )
        listener.close()  # werkzeug serves a duplicate of the descriptor
        self.port = int(self.server.server_address[1])
        self.runtime.endpoint = f"http://127.0.0.1:{self.port}"
        self.sampler = Sampler(self.runtime, self.hosts, interval)
        self.hostlogs = HostLogShipper(self.runtime, self.hosts)

    def health(self) -> dict[str, Any]:
        return {
            "status": "ok",
            "version": __version__,
            "pid": os.getpid(),
            "port": self.port,
            "started": self.started,
            "state_dir": str(self.state_dir),
            "builds_running": len(self.builds.running),
            "hosts_running": sum(h.state == "running" for h in self.hosts.hosts()),
            "source_polls": self.pipelines.polls,
        }

    def serve(self) -> None:
        info = {"pid": os.getpid(), "port": self.port, "started": self.started}
        write_atomically(self.state_dir / INFO_FILE, json.dumps(info).encode())
        write_atomically(self.state_dir / PORT_FILE, str(self.port).encode())
        logger.info("opslib emulator %s listening on %s", __version__, self.runtime.endpoint)
        self.sampler.start()
        self.pipelines.start_poller()
        self.runtime.defer(self.builds.announce_recovered)
        # In this order (one deferred worker): the hosts come back, then rollbacks reach them.
        for host in self.rebooting:
            self.runtime.defer(self.hosts.reboot, host)
        self.runtime.defer(self.deploys.announce_recovered)
        self.hostlogs.start()
        self.alarms.start()
        self.server.serve_forever()

    def shutdown(self) -> None:
        """Graceful stop: running builds end STOPPED, host processes end, then the server."""
        logger.info("stopping")
        self.runtime.stopping.set()
        self.alarms.stop()
        self.pipelines.shutdown()
        self.builds.shutdown()
        self.deploys.shutdown()
        self.hosts.shutdown()
        self.server.shutdown()


def bind_first(ports: list[int]) -> socket.socket:
    """A listening socket on 127.0.0.1 at the first of ``ports`` that is free (0: any).

    Binding here, not in werkzeug, lets a taken port fall through to the next one: werkzeug
    prints "Port N is in use by another program" and exits.
    """
    for position, port in enumerate(ports):
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as werkzeug does
        try:
            listener.bind(("127.0.0.1", port))
            listener.listen(128)
            return listener
        except OSError as exc:
            listener.close()
            if exc.errno != errno.EADDRINUSE or position == len(ports) - 1:
                raise SystemExit(f"cannot listen on 127.0.0.1:{port}: {exc.strerror}") from exc
            logger.info("port %d is in use by another program; trying the next", port)
    raise SystemExit("no port to listen on")


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="opslib-emulator")
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument(
        "--fallback-port",
        type=int,
        action="append",
        default=[],
        help="tried in order when --port is taken by another program (0: any free port)",
    )
    parser.add_argument(
        "--timeout-scale",
        type=float,
        default=float(os.environ.get("OPSLIB_TIMEOUT_SCALE", "1")),
        help="multiply build timeouts (rehearse a timeout in seconds instead of minutes)",
    )
    parser.add_argument(
        "--metrics-interval",
        type=float,
        default=float(os.environ.get("OPSLIB_METRICS_INTERVAL", DEFAULT_INTERVAL)),
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = _parse(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    state_dir = args.state_dir.resolve()
    ports = [args.port, *args.fallback_port]
    try:
        remove_stale_temp_files(state_dir)  # before anything writes: they may fill the disk
        emulator = Emulator(state_dir, ports, args.timeout_scale, args.metrics_interval)
        signal.signal(signal.SIGTERM, lambda *_: _in_background(emulator.shutdown))
        signal.signal(signal.SIGINT, lambda *_: _in_background(emulator.shutdown))
        emulator.serve()
    except Exception as exc:
        if not no_space(exc):
            raise
        # lifecycle turns this exit status into its one-line error; the log may not take
        # even this line when the disk is full.
        logger.error("cannot start: no space left on device in %s: %s", state_dir, exc)
        sys.exit(EXIT_NO_SPACE)
    (args.state_dir / INFO_FILE).unlink(missing_ok=True)
    logger.info("stopped")


def _in_background(fn: Callable[[], None]) -> None:
    threading.Thread(target=fn, daemon=True).start()


if __name__ == "__main__":
    main()
