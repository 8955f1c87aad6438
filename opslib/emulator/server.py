"""The emulator process: moto behind the gateway, plus the services that really run work.

Started by :func:`opslib.emulator.core.lifecycle.start` as ``python -m opslib.emulator.server``.
Order matters: state is restored into moto and interrupted work is closed *before* the
socket accepts requests; ``emulator.json`` is written only once it listens, so a client
that reads it can connect, and then one line on ``--ready-fd`` tells the starter so.
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
from typing import TYPE_CHECKING, Any

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import BaseWSGIServer, make_server

from opslib import __version__
from opslib.emulator.core import backfill, limits, motofixes
from opslib.emulator.core.faults import FaultSwitch
from opslib.emulator.core.gateway import ApiRequest, ApiResponse, Gateway
from opslib.emulator.core.lifecycle import EXIT_NO_SPACE, INFO_FILE, PORT_FILE
from opslib.emulator.core.runtime import Runtime
from opslib.emulator.core.s3lifecycle import LifecycleSweeper
from opslib.emulator.core.store import (
    MotoSnapshots,
    RecordStore,
    holds_data,
    no_space,
    remove_stale_temp_files,
    write_atomically,
)
from opslib.emulator.ec2.hosts import HostService
from opslib.emulator.ec2.logagent import HostLogShipper
from opslib.emulator.ec2.sampler import DEFAULT_INTERVAL, Sampler

if TYPE_CHECKING:  # imported when a request first needs them (see Emulator.__init__)
    from opslib.emulator.cloudwatch.evaluator import AlarmEvaluator
    from opslib.emulator.cloudwatch.logs import LogService
    from opslib.emulator.cloudwatch.metrics import MetricService
    from opslib.emulator.codebuild.service import BuildService
    from opslib.emulator.codedeploy.service import DeployService
    from opslib.emulator.codepipeline.service import PipelineService
    from opslib.emulator.fis.service import FisService
    from opslib.emulator.scheduler.service import SchedulerService

logger = logging.getLogger("opslib.emulator")

# The SigV4 signing names each lazily loaded room answers (some of) the operations of.
ROOM_SERVICES = {
    "codebuild": ("codebuild",),
    "codedeploy": ("codedeploy",),
    "codepipeline": ("codepipeline", "codestar-connections", "codeconnections"),
    "fis": ("fis",),
    "scheduler": ("scheduler",),
    # EventBridge delivers to log-group targets through the Logs room (motofixes).
    "logs": ("logs", "events"),
    "monitoring": ("monitoring",),  # metrics and the alarms that evaluate over them
}


class Emulator:
    """The assembled emulator: runtime, services and the HTTP server."""

    def __init__(
        self, state_dir: Path, ports: list[int], timeout_scale: float, interval: float
    ) -> None:
        self.state_dir = state_dir
        self.started = time.time()
        snapshots = MotoSnapshots(state_dir / "moto")
        motofixes.install()
        snapshots.restore()
        gateway = Gateway(DomainDispatcherApplication(create_backend_app), snapshots, self.health)
        limits.register(gateway)
        self.runtime = Runtime(gateway, RecordStore(state_dir / "records.sqlite"), state_dir)
        self.faults = FaultSwitch(self.runtime)  # /_opslib/faults, before every request
        self.faults.register()
        self.timeout_scale = timeout_scale
        self.builds: BuildService | None = None
        self.deploys: DeployService | None = None
        self.pipelines: PipelineService | None = None
        self.logs: LogService | None = None
        self.metrics: MetricService | None = None
        self.alarms: AlarmEvaluator | None = None
        self.fis: FisService | None = None
        self.schedules: SchedulerService | None = None
        self._history: Any = None
        self.hosts = HostService(self.runtime)
        self.hosts.register()
        rooms = {  # room -> (its loader, whether it has work to do before the first request)
            "codebuild": (self._load_builds, self._has_state),
            "codedeploy": (self._load_deploys, self._has_state),
            "codepipeline": (self._load_pipelines, self._has_state),
            "logs": (self._load_logs, self._has_logs),
            "monitoring": (self._load_metrics, self._has_metrics),
            "fis": (self._load_fis, self._has_state),
            "scheduler": (self._load_schedules, self._has_schedules),
        }
        for room, (load, needed) in rooms.items():
            if needed():  # work to recover, pipelines to poll, alarms to evaluate: now
                load()
            else:  # a fresh state: the room's code is imported by its first request
                for service in ROOM_SERVICES[room]:
                    gateway.load_before(service, load)
        gateway.endpoint(backfill.PATH, gateway.locked_post(self._simulate_history))  # not AWS
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
        self.lifecycle = LifecycleSweeper(  # S3 lifecycle rules that really expire objects
            gateway.lock, snapshots.save, snapshots.revert, self.runtime.stopping,
            sweep_at_start=(state_dir / "moto" / "s3.pickle").exists(),
        )  # fmt: skip
        self.hostlogs = HostLogShipper(self.runtime, self.hosts)

    def _has_state(self) -> bool:
        """Whether any service may have work to recover (a record) or a pipeline to poll."""
        pipelines = self.state_dir / "moto" / "codepipeline.pickle"
        return not self.runtime.records.empty() or pipelines.exists()

    def _has_logs(self) -> bool:
        """Log data (retention to sweep, queries to finish) or moto's logs to migrate."""
        moto_logs = self.state_dir / "moto" / "logs.pickle"
        return holds_data(self.state_dir / "logs.sqlite") or moto_logs.exists()

    def _has_metrics(self) -> bool:
        """Datapoints or alarms (moto's cloudwatch snapshot) that must keep evaluating."""
        alarms = self.state_dir / "moto" / "cloudwatch.pickle"
        return holds_data(self.state_dir / "metrics.sqlite") or alarms.exists()

    def _has_schedules(self) -> bool:
        """Stored schedules, which fire with no request after a restart."""
        return (self.state_dir / "moto" / "scheduler.pickle").exists()

    def _load_logs(self) -> None:
        """CloudWatch Logs' room, and EventBridge's deliveries to log-group targets."""
        if self.logs is not None:
            return
        from opslib.emulator.cloudwatch.logmigrate import import_moto_logs
        from opslib.emulator.cloudwatch.logs import LogService
        from opslib.emulator.cloudwatch.logstore import LogStore

        store = LogStore(self.state_dir / "logs.sqlite")
        import_moto_logs(store, self.state_dir / "moto")
        logs = LogService(self.runtime, store)
        logs.register()
        motofixes.route_event_log_targets(logs.deliver_event)
        self.logs = logs
        if self.runtime.endpoint:  # loaded by a request: the server listens already
            logs.start()

    def _load_metrics(self) -> None:
        """CloudWatch's metrics and the alarm evaluator over them."""
        if self.metrics is not None:
            return
        from opslib.emulator.cloudwatch.evaluator import AlarmEvaluator
        from opslib.emulator.cloudwatch.metrics import MetricService

        metrics = MetricService(self.runtime)
        metrics.register()
        alarms = AlarmEvaluator(self.runtime, metrics.store)
        alarms.register()
        self.metrics, self.alarms = metrics, alarms
        if self.runtime.endpoint:
            alarms.start()

    def _load_builds(self) -> None:
        """CodeBuild's room: builds and reports; closes builds a stop interrupted."""
        if self.builds is not None:
            return
        from opslib.emulator.codebuild.reports import ReportService
        from opslib.emulator.codebuild.service import BuildService

        builds = BuildService(self.runtime, self.timeout_scale)
        reports = ReportService(self.runtime)
        builds.finish_hook = reports.process_build
        builds.register()
        reports.register()
        logger.info("closed %d build(s) interrupted by the last stop", builds.recover())
        self.builds = builds

    def _load_deploys(self) -> None:
        if self.deploys is not None:
            return
        from opslib.emulator.codedeploy.service import DeployService

        deploys = DeployService(self.runtime, self.timeout_scale)
        deploys.register()
        logger.info("closed %d deployment(s) interrupted", deploys.recover())
        self.deploys = deploys

    def _load_pipelines(self) -> None:
        """CodePipeline's room, with the connections its sources name."""
        if self.pipelines is not None:
            return
        from opslib.emulator.codepipeline.connections import ConnectionService
        from opslib.emulator.codepipeline.service import PipelineService

        connections = ConnectionService(self.runtime)
        pipelines = PipelineService(self.runtime, connections)
        pipelines.register()
        connections.register()
        logger.info("closed %d pipeline execution(s) interrupted", pipelines.recover())
        self.pipelines = pipelines
        if self.runtime.endpoint:  # loaded by a request: the server listens already
            pipelines.start_poller()

    def _load_fis(self) -> None:
        """FIS's room: experiments with their effects; fails those a crash interrupted."""
        if self.fis is not None:
            return
        from opslib.emulator.fis.service import FisService

        fis = FisService(self.runtime, self.faults, self.timeout_scale)
        fis.register()
        logger.info("closed %d FIS experiment(s) interrupted", fis.recover())
        self.fis = fis

    def _load_schedules(self) -> None:
        """EventBridge Scheduler's room: checks schedules, fires them when due."""
        if self.schedules is not None:
            return
        from opslib.emulator.scheduler.service import SchedulerService

        self.schedules = SchedulerService(self.runtime)
        self.schedules.register()
        if self.runtime.endpoint:  # loaded by a request: the server listens already
            self.schedules.start()

    def _simulate_history(self, request: ApiRequest) -> ApiResponse:
        """simulate-history's day (its room is imported by the first such request)."""
        if self._history is None:
            from opslib.emulator.history.service import HistoryService

            self._load_logs()  # it writes into their stores: their rooms first
            self._load_metrics()
            assert self.logs is not None and self.metrics is not None
            self._history = HistoryService(self.runtime, self.logs.store, self.metrics.store)
        response: ApiResponse = self._history.handle(request)
        return response

    def health(self) -> dict[str, Any]:
        return {
            "status": "ok",
            "version": __version__,
            "pid": os.getpid(),
            "port": self.port,
            "started": self.started,
            "state_dir": str(self.state_dir),
            "builds_running": len(self.builds.running) if self.builds else 0,
            "hosts_running": sum(h.state == "running" for h in self.hosts.hosts()),
            "source_polls": self.pipelines.polls if self.pipelines else 0,
        }

    def serve(self, ready_fd: int | None = None) -> None:
        info = {"pid": os.getpid(), "port": self.port, "started": self.started}
        write_atomically(self.state_dir / INFO_FILE, json.dumps(info).encode())
        write_atomically(self.state_dir / PORT_FILE, str(self.port).encode())
        if ready_fd is not None:
            _say_ready(ready_fd)
        logger.info("opslib emulator %s listening on %s", __version__, self.runtime.endpoint)
        self.sampler.start()
        self.lifecycle.start()
        if self.logs:  # loaded at start (a room a request loads starts its own)
            self.logs.start()
        if self.pipelines:  # loaded at start (a room a request loads starts its own)
            self.pipelines.start_poller()
        if self.schedules:
            self.schedules.start()
        if self.builds:
            self.runtime.defer(self.builds.announce_recovered)
        # In this order (one deferred worker): the hosts come back, then rollbacks reach them.
        for host in self.rebooting:
            self.runtime.defer(self.hosts.reboot, host)
        if self.deploys:
            self.runtime.defer(self.deploys.announce_recovered)
        self.hostlogs.start()
        if self.alarms:
            self.alarms.start()
        self.server.serve_forever()

    def shutdown(self) -> None:
        """Graceful stop: running builds end STOPPED, host processes end, then the server."""
        logger.info("stopping")
        self.runtime.stopping.set()
        with self.runtime.gateway.lock:  # no room is loaded while we stop the loaded ones
            rooms = (self.schedules, self.fis, self.pipelines, self.builds, self.deploys)
            alarms, logs = self.alarms, self.logs
            self.runtime.gateway.loaders.clear()
        if alarms is not None:
            alarms.stop()
        for room in rooms:
            if room is not None:
                room.shutdown()
        self.hosts.shutdown()
        if logs is not None:
            logs.shutdown()
        self.server.shutdown()


def _say_ready(fd: int) -> None:
    """Tell the process that started us that we listen (it waits on the pipe's other end)."""
    try:
        os.write(fd, b"ready\n")
    except OSError as exc:  # the starter is gone (killed, timed out): nobody to tell
        logger.info("nobody waits for the ready signal: %s", exc.strerror)
    finally:
        os.close(fd)


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
        "--ready-fd",
        type=int,
        help="a pipe's write end: one line is written to it once the server listens",
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
        emulator.serve(args.ready_fd)
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
