"""CodeBuild from the user's side: package a source, read a build and its log.

Works the same on both targets; the emulator runs the build for real on this machine,
AWS runs it in CodeBuild.
"""

from __future__ import annotations

import io
import logging
import subprocess
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from opslib.exceptions import ConfigError, ExecutionError, NotFoundError
from opslib.target import Session, aws_errors

logger = logging.getLogger(__name__)


@dataclass
class BuildView:
    """What a user wants to know about a build, read from BatchGetBuilds."""

    build_id: str
    status: str
    current_phase: str
    phases: list[dict[str, Any]]
    log_group: str
    log_stream: str
    artifact: str | None
    report_arns: list[str] = field(default_factory=list)
    started: datetime | None = None

    @classmethod
    def from_api(cls, doc: dict[str, Any]) -> BuildView:
        logs = doc.get("logs") or {}
        started = doc.get("startTime")
        return cls(
            build_id=doc["id"],
            status=doc["buildStatus"],
            current_phase=doc.get("currentPhase", ""),
            phases=list(doc.get("phases") or []),
            log_group=logs.get("groupName", ""),
            log_stream=logs.get("streamName", ""),
            artifact=(doc.get("artifacts") or {}).get("location"),
            report_arns=list(doc.get("reportArns") or []),
            started=started if isinstance(started, datetime) else None,
        )


def source_files(repo: Path) -> list[Path]:
    """The files git would ship: tracked plus untracked-but-not-ignored, as they are now."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=repo,
            capture_output=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise ConfigError(f"{repo}: not a git repository (the build source is its files)") from exc
    names = sorted({name for name in out.decode().split("\0") if name})
    return [repo / name for name in names if (repo / name).is_file()]


def package_source(repo: Path) -> bytes:
    """A zip of the repository's working tree, file modes kept (scripts stay executable)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in source_files(repo):
            info = zipfile.ZipInfo.from_file(path, path.relative_to(repo).as_posix())
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def get_build(session: Session, build_id: str) -> BuildView:
    with aws_errors("codebuild", "BatchGetBuilds"):
        builds = session.client("codebuild").batch_get_builds(ids=[build_id])["builds"]
    if not builds:
        raise ExecutionError(f"build {build_id} not found")
    return BuildView.from_api(builds[0])


def log_events(session: Session, group: str, stream: str) -> Iterator[str]:
    """Every line of a build's CloudWatch Logs stream, oldest first."""
    client = session.client("logs")
    kwargs: dict[str, Any] = {"logGroupName": group, "logStreamName": stream, "startFromHead": True}
    with aws_errors("logs", "GetLogEvents"):
        while True:
            page = client.get_log_events(**kwargs)
            yield from (event["message"] for event in page["events"])
            if not page["events"] or page["nextForwardToken"] == kwargs.get("nextToken"):
                return
            kwargs["nextToken"] = page["nextForwardToken"]


@dataclass
class LogCursor:
    """Reads a log stream as it grows: each :meth:`read` returns only the lines that are new.

    GetLogEvents' forward token marks where the last read ended; a stream that does not
    exist yet (the build has not written to it) reads as no lines.
    """

    group: str
    stream: str
    token: str | None = None

    def read(self, session: Session) -> list[str]:
        client = session.client("logs")
        lines: list[str] = []
        while True:
            kwargs: dict[str, Any] = {"logGroupName": self.group, "logStreamName": self.stream}
            kwargs.update({"nextToken": self.token} if self.token else {"startFromHead": True})
            try:
                with aws_errors("logs", "GetLogEvents"):
                    page = client.get_log_events(**kwargs)
            except NotFoundError:
                return lines
            lines += [event["message"] for event in page["events"]]
            done = not page["events"] or page["nextForwardToken"] == self.token
            self.token = page["nextForwardToken"]
            if done:
                return lines
