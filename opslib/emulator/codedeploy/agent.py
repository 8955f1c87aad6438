"""The CodeDeploy agent of one local host: a deployment's lifecycle events, really run.

For one instance of one deployment the agent goes through the in-place events in order
(ApplicationStop, DownloadBundle, BeforeInstall, Install, AfterInstall,
ApplicationStart, ValidateService) in the host's deployment root, laid out like the
agent's ``/opt/codedeploy-agent/deployment-root``::

    <state>/hosts/<id>/deployment-root/<group id>/<deployment id>/bundle.tar
                                                                /deployment-archive/
                                                                /logs/scripts.log
    <state>/hosts/<id>/deployment-root/deployment-instructions/<group id>-cleanup

ApplicationStop runs the scripts of the last revision that *succeeded on this instance*
(kept in a record per instance and group; skipped when there is none). After a failed
event the remaining events are Skipped.

Every line the agent logs is appended, in the real agent's format
(``[YYYY-MM-DD HH:MM:SS.mmm] [<deployment id>]<message>``), to the deployment's
``logs/scripts.log`` and to the agent's deployment log at its real path on the host,
:data:`DEPLOYMENT_LOG` under the host root. The agent itself never calls CloudWatch Logs:
as on EC2, that file reaches CloudWatch only through the CloudWatch agent's config in SSM
(ec2/logagent.py ships it to the group and stream the config names; no config, no shipping).
"""

from __future__ import annotations

import getpass
import logging
import os
import shutil
import tarfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from opslib.emulator.codedeploy.hooks import ScriptCall, ScriptOutput, run_script
from opslib.emulator.codedeploy.install import HostPaths, Installer, remove_previous
from opslib.emulator.codedeploy.model import (
    IN_PLACE_EVENTS,
    INSTANCE_STATE_KIND,
    SUCCESS,
    Diagnostics,
    EventStatus,
    ScriptError,
)
from opslib.emulator.core.runtime import INTERNAL_CREDENTIALS, Runtime
from opslib.emulator.core.zips import extract_zip
from opslib.emulator.ec2.hosts import HOST_ENV
from opslib.exceptions import ExecutionError, OpslibError
from opslib.specs import Appspec, FileExistsBehavior, LifecycleEvent, load_appspec

logger = logging.getLogger(__name__)

# The agent's deployment log on the instance (the CloudWatch agent config names this path).
DEPLOYMENT_LOG = (
    "/opt/codedeploy-agent/deployment-root/deployment-logs/codedeploy-agent-deployments.log"
)
KEEP_REVISIONS = 5  # the agent's max_revisions: deployment dirs kept per group
Reporter = Callable[[str, LifecycleEvent, EventStatus, Diagnostics | None], None]


@dataclass(frozen=True)
class DeployTarget:
    """One instance of a deployment and its local host."""

    instance_id: str
    root: Path  # the host root: every absolute path of the host lies under it
    port: int  # where the host's app listens

    @property
    def deployment_root(self) -> Path:
        return self.root.parent / "deployment-root"

    @property
    def deployment_log(self) -> Path:
        """The agent's deployment log, at its real path under the host root."""
        return self.root / DEPLOYMENT_LOG.lstrip("/")


@dataclass(frozen=True)
class AgentContext:
    """What every host of one deployment shares."""

    deployment_id: str
    application_name: str
    group_name: str
    group_id: str
    region: str
    s3_location: dict[str, Any]
    ignore_stop_failures: bool
    file_exists_behavior: str | None  # the deployment's; the appspec's key wins
    timeout_scale: float = 1.0


class HostAgent:
    """Runs one deployment's lifecycle on one host; ``run`` returns True on success."""

    def __init__(
        self,
        runtime: Runtime,
        ctx: AgentContext,
        target: DeployTarget,
        report: Reporter,
        stop: threading.Event,
    ) -> None:
        self.runtime = runtime
        self.ctx = ctx
        self.target = target
        self.report = report
        self.stop = stop
        self.dir = target.deployment_root / ctx.group_id / ctx.deployment_id
        self.archive = self.dir / "deployment-archive"
        self.appspec: Appspec | None = None

    # -- the run ------------------------------------------------------------------------
    def run(self) -> bool:
        failed = False
        self.dir.mkdir(parents=True, exist_ok=True)
        for event in IN_PLACE_EVENTS:
            if failed or self.stop.is_set():
                self.report(self.target.instance_id, event, EventStatus.SKIPPED, None)
                continue
            failed = not self._event(event)
        self._remember(succeeded=not failed and not self.stop.is_set())
        return not failed and not self.stop.is_set()

    def _event(self, event: LifecycleEvent) -> bool:
        self.report(self.target.instance_id, event, EventStatus.IN_PROGRESS, None)
        self.log(f"LifecycleEvent - {event}")
        try:
            status, diagnostics = self._step(event)
        except (OpslibError, OSError) as exc:  # a bad bundle, a host terminated under us
            status, diagnostics = _failed(str(exc))
        except Exception as exc:  # the emulator's own fault: fail the event, say so
            logger.exception("%s %s on %s", self.ctx.deployment_id, event, self.target.instance_id)
            status, diagnostics = _failed(f"emulator fault: {exc!r}")
        reason = f": {diagnostics.message}" if diagnostics and status is EventStatus.FAILED else ""
        self.log(f"[opslib] LifecycleEvent - {event} {status}{reason}")
        self.report(self.target.instance_id, event, status, diagnostics)
        return status is not EventStatus.FAILED

    def _step(self, event: LifecycleEvent) -> tuple[EventStatus, Diagnostics | None]:
        if event is LifecycleEvent.APPLICATION_STOP:
            return self._application_stop()
        if event is LifecycleEvent.DOWNLOAD_BUNDLE:
            self._download_bundle()
            return EventStatus.SUCCEEDED, SUCCESS
        assert self.appspec is not None  # DownloadBundle succeeded
        if event is LifecycleEvent.INSTALL:
            self._install(self.appspec)
            return EventStatus.SUCCEEDED, SUCCESS
        return self._hooks(event, self.appspec, self.archive)

    # -- ApplicationStop ---------------------------------------------------------------
    def _application_stop(self) -> tuple[EventStatus, Diagnostics | None]:
        last = self._last_successful_dir()
        if last is None:
            self.log("[opslib] no earlier successful revision on this instance: skipped")
            return EventStatus.SKIPPED, None
        archive = last / "deployment-archive"
        status, diagnostics = self._hooks(
            LifecycleEvent.APPLICATION_STOP, _load_appspec(archive), archive
        )
        if status is EventStatus.FAILED and self.ctx.ignore_stop_failures and diagnostics:
            self.log("[opslib] ApplicationStop failed; continuing: ignoreApplicationStopFailures")
            message = f"Succeeded (failure ignored: {diagnostics.message})"
            return EventStatus.SUCCEEDED, Diagnostics(
                ScriptError.SUCCESS, message, diagnostics.script_name, diagnostics.log_tail
            )
        return status, diagnostics

    def _state_id(self) -> str:
        return f"{self.target.instance_id}/{self.ctx.group_id}"

    def _last_successful_dir(self) -> Path | None:
        state = self.runtime.records.get(INSTANCE_STATE_KIND, self._state_id()) or {}
        last = state.get("lastSuccessfulDeploymentId")
        path = self.target.deployment_root / self.ctx.group_id / last if last else None
        return path if path is not None and (path / "deployment-archive").is_dir() else None

    # -- DownloadBundle ----------------------------------------------------------------
    def _download_bundle(self) -> None:
        location = self.ctx.s3_location
        bundle = self.dir / "bundle.tar"  # the agent's name, whatever the bundle type
        extra = {"VersionId": location["version"]} if location.get("version") else {}
        s3 = self.runtime.client("s3", self.ctx.region)
        try:
            body = s3.get_object(Bucket=location["bucket"], Key=location["key"], **extra)["Body"]
            with open(bundle, "wb") as out:
                shutil.copyfileobj(body, out)
        except Exception as exc:
            raise ExecutionError(
                f"could not download s3://{location['bucket']}/{location['key']}: {exc}"
            ) from exc
        shutil.rmtree(self.archive, ignore_errors=True)
        _extract(bundle, location.get("bundleType", "zip"), self.archive)
        self.appspec = _load_appspec(self.archive)
        self.log(f"[opslib] bundle s3://{location['bucket']}/{location['key']} -> {self.archive}")

    # -- Install -------------------------------------------------------------------------
    def _install(self, appspec: Appspec) -> None:
        instructions = self.target.deployment_root / "deployment-instructions"
        instructions.mkdir(parents=True, exist_ok=True)
        cleanup = instructions / f"{self.ctx.group_id}-cleanup"
        paths = HostPaths(self.target.root)
        removed = remove_previous(cleanup, paths)
        self.log(f"[opslib] removed {removed} path(s) of the previous install")
        behavior = self._file_exists_behavior(appspec)
        with open(cleanup, "w") as record:
            installer = Installer(self.archive, paths, behavior, record, self.log)
            installer.install(appspec)
        self.log(f"[opslib] installed {len(installer.copied)} file(s) ({behavior})")

    def _file_exists_behavior(self, appspec: Appspec) -> FileExistsBehavior:
        """The appspec's file_exists_behavior wins over the deployment's (AWS docs)."""
        text = _appspec_path(self.archive).read_text()
        raw = yaml.safe_load(text)
        if isinstance(raw, dict) and "file_exists_behavior" in raw:
            return appspec.file_exists_behavior
        return FileExistsBehavior(self.ctx.file_exists_behavior or "DISALLOW")

    # -- hook scripts -----------------------------------------------------------------------
    def _hooks(
        self, event: LifecycleEvent, appspec: Appspec, archive: Path
    ) -> tuple[EventStatus, Diagnostics | None]:
        output = ScriptOutput(self.log)
        for script in appspec.scripts_for(event):
            self.log(f"Script - {script.location}")
            if script.runas and script.runas != getpass.getuser():
                self.log(f"[opslib] runas {script.runas} ignored: runs as {getpass.getuser()}")
            call = ScriptCall(
                archive,
                script.location,
                max(script.timeout * self.ctx.timeout_scale, 0.1),
                self._env(event),
                script.runas,
            )
            result = run_script(call, output, self.stop)
            if not result.ok:
                return EventStatus.FAILED, Diagnostics(
                    result.error, result.message, script.location, output.tail
                )
        return EventStatus.SUCCEEDED, SUCCESS

    def _env(self, event: LifecycleEvent) -> dict[str, str]:
        """The agent's variables, the host's (OPSLIB_*), and the instance profile's AWS."""
        location = self.ctx.s3_location
        return {
            **os.environ,
            "LIFECYCLE_EVENT": str(event),
            "DEPLOYMENT_ID": self.ctx.deployment_id,
            "APPLICATION_NAME": self.ctx.application_name,
            "DEPLOYMENT_GROUP_NAME": self.ctx.group_name,
            "DEPLOYMENT_GROUP_ID": self.ctx.group_id,
            "BUNDLE_BUCKET": location.get("bucket", ""),
            "BUNDLE_KEY": location.get("key", ""),
            "BUNDLE_VERSION": location.get("version", ""),
            "BUNDLE_ETAG": location.get("eTag", ""),
            HOST_ENV: self.target.instance_id,
            "OPSLIB_HOST_ROOT": str(self.target.root),
            "OPSLIB_APP_PORT": str(self.target.port),
            "AWS_ENDPOINT_URL": self.runtime.endpoint,
            "AWS_REGION": self.ctx.region,
            "AWS_DEFAULT_REGION": self.ctx.region,
            "AWS_ACCESS_KEY_ID": INTERNAL_CREDENTIALS["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": INTERNAL_CREDENTIALS["aws_secret_access_key"],
        }

    # -- bookkeeping ------------------------------------------------------------------------
    def _remember(self, succeeded: bool) -> None:
        state = self.runtime.records.get(INSTANCE_STATE_KIND, self._state_id()) or {
            "instanceId": self.target.instance_id,
            "deploymentGroupId": self.ctx.group_id,
        }
        state.update(
            lastAttemptedDeploymentId=self.ctx.deployment_id, lastAttemptSucceeded=succeeded
        )
        if succeeded:
            state["lastSuccessfulDeploymentId"] = self.ctx.deployment_id
            self._prune(keep=self.ctx.deployment_id)
        self.runtime.records.put(INSTANCE_STATE_KIND, self._state_id(), state)

    def _prune(self, keep: str) -> None:
        """Keep the newest KEEP_REVISIONS deployment dirs of this group (as the agent)."""
        group_dir = self.target.deployment_root / self.ctx.group_id
        dirs = sorted(
            (d for d in group_dir.iterdir() if d.is_dir() and d.name != keep),
            key=lambda d: d.stat().st_mtime,
            reverse=True,
        )
        for old in dirs[KEEP_REVISIONS - 1 :]:
            shutil.rmtree(old, ignore_errors=True)

    def log(self, line: str) -> None:
        """One line of the agent's deployment log: the host's file and scripts.log."""
        text = deployment_log_line(self.ctx.deployment_id, line)
        _append(self.target.deployment_log, text, under=self.target.root)
        _append(self.dir / "logs" / "scripts.log", text, under=self.dir)


def deployment_log_line(deployment_id: str, message: str, at: datetime | None = None) -> str:
    """A line as the agent's DeploymentLog writes it: ``[time] [d-XXXX]message``.

    The agent strips each message (a script's ``[stdout]`` line loses its newline and
    trailing blanks); times are UTC, the clock of an Amazon Linux instance. A message of
    several lines (an exception's text) gets the prefix on each, so every line shipped to
    CloudWatch still names its deployment.
    """
    at = at or datetime.now(UTC)
    prefix = f"[{at:%Y-%m-%d %H:%M:%S}.{at.microsecond // 1000:03d}] [{deployment_id}]"
    return "\n".join(prefix + part.rstrip() for part in message.rstrip().split("\n"))


def _failed(message: str) -> tuple[EventStatus, Diagnostics]:
    return EventStatus.FAILED, Diagnostics(ScriptError.UNKNOWN_ERROR, message)


def _append(path: Path, text: str, under: Path) -> None:
    """Append a line to ``path``, unless ``under`` is gone.

    A host terminated under a running agent loses its unshipped lines, as an EC2
    instance does; its root is not made again.
    """
    if not under.is_dir():
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(text + "\n")
    except OSError:
        pass


def _appspec_path(archive: Path) -> Path:
    for name in ("appspec.yml", "appspec.yaml"):
        if (archive / name).is_file():
            return archive / name
    raise ExecutionError(
        "The CodeDeploy agent did not find an AppSpec file within the unpacked revision"
        ' directory at revision-relative path "appspec.yml".'
    )


def _load_appspec(archive: Path) -> Appspec:
    return load_appspec(_appspec_path(archive), check_paths=False)


def _extract(bundle: Path, bundle_type: str, dest: Path) -> None:
    """Unpack a zip (modes kept), tar or tgz bundle."""
    if bundle_type == "zip":
        extract_zip(bundle, dest)
    elif bundle_type in ("tar", "tgz"):
        dest.mkdir(parents=True, exist_ok=True)
        try:
            with tarfile.open(bundle, "r:*") as archive:
                archive.extractall(dest, filter="data")
        except (tarfile.TarError, OSError) as exc:
            raise ExecutionError(f"{bundle} is not a valid {bundle_type} archive: {exc}") from exc
    else:
        raise ExecutionError(f"bundleType {bundle_type} is not supported on EC2 (zip, tar, tgz)")
