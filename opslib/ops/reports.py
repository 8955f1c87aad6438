"""Scheduled report runs in S3: upload one (from the build), list, fetch and index them.

The reports build (``opslib/data/reports-buildspec.yml``) runs a runbook into a folder and
then calls :func:`upload_run`, which puts the run's notebook, HTML and JSON summary under a
folder of its own::

    s3://<reports bucket>/reports/<runbook>/<YYYY-MM-DD>/<HHMMSS>-<build id>/<runbook>.<ext>

so two firings never write over each other (the build id is unique). A run that left no
summary — the runbook failed before it wrote one, or wrote no notebook at all — still gets
a failed summary saying so: a scheduled run is never silent. A ✗ verdict is published to
the stack's SNS topic with the link to the report.
"""

from __future__ import annotations

import html
import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from opslib.config import StackConfig
from opslib.exceptions import ConfigError, NotFoundError
from opslib.stack.context import Names
from opslib.stack.policies import REPORTS_PREFIX
from opslib.target import Session, aws_errors

logger = logging.getLogger(__name__)

SUFFIXES = (".ipynb", ".html", ".json")
CONTENT_TYPES = {
    ".ipynb": "application/x-ipynb+json",
    ".html": "text/html; charset=utf-8",
    ".json": "application/json",
}
SCHEDULED_FOLDER = "scheduled"  # reports/<stack>/scheduled/: what `reports fetch` brings home
SUBJECT_MAX = 100  # SNS Subject: at most 100 characters


@dataclass(frozen=True)
class ReportRun:
    """One report run found in S3: where, when, which runbook, its verdict and headline."""

    bucket: str
    folder: str  # the run's key prefix, ending in "/"
    runbook: str
    started: datetime
    ok: bool
    verdict: str
    headline: str = ""
    schedule: str = ""
    files: tuple[str, ...] = ()

    @property
    def html_key(self) -> str:
        return f"{self.folder}{self.runbook}.html"

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.html_key}"


@dataclass
class UploadResult:
    """What :func:`upload_run` did: the keys written and whether it notified."""

    run: ReportRun
    keys: list[str] = field(default_factory=list)
    notified: bool = False


def reports_bucket(session: Session, config: StackConfig) -> str:
    """The stack's reports bucket (its name carries the account, asked of STS)."""
    with aws_errors("sts", "GetCallerIdentity"):
        account = str(session.client("sts").get_caller_identity()["Account"])
    return Names(config.stack, account, config.region).reports_bucket


# --- the build's side: upload one run ----------------------------------------------------------


def _run_files(out: Path, runbook: str) -> dict[str, Path]:
    """The newest run of ``runbook`` under the runner's folder: suffix -> file."""
    summaries = sorted(out.rglob(f"{runbook}-*.json")) if out.is_dir() else []
    notebooks = sorted(out.rglob(f"{runbook}-*.ipynb")) if out.is_dir() else []
    newest = (summaries or notebooks)[-1:] if (summaries or notebooks) else []
    if not newest:
        return {}
    base = newest[0].with_suffix("")
    return {s: base.with_suffix(s) for s in SUFFIXES if base.with_suffix(s).is_file()}


def _summary(files: dict[str, Path], runbook: str, now: datetime) -> dict[str, Any]:
    """The run's summary, made whole: a run without one (or without a verdict) failed."""
    summary: dict[str, Any] = {}
    if ".json" in files:
        try:
            summary = json.loads(files[".json"].read_text(encoding="utf-8"))
        except ValueError:
            summary = {}
    failed = summary.get("status") == "failed" or not summary
    summary.setdefault("runbook", runbook)
    summary.setdefault("started", now.isoformat())
    summary["ok"] = bool(summary.get("ok", not failed)) and not failed
    if not summary.get("verdict"):
        reason = summary.get("error") or (
            "the runbook left no notebook (see the build log)"
            if ".ipynb" not in files
            else "the runbook stopped before its verdict"
        )
        summary["verdict"] = f"{'✓' if summary['ok'] else '✗'} {reason}"
    return summary


def run_folder(prefix: str, runbook: str, started: datetime, run_id: str) -> str:
    """``reports/<runbook>/<date>/<HHMMSS>-<run id>/``: one folder per run, never shared."""
    when = started.astimezone(UTC)
    return f"{prefix}{runbook}/{when:%Y-%m-%d}/{when:%H%M%S}-{run_id}/"


def _started(summary: dict[str, Any], now: datetime) -> datetime:
    try:
        return datetime.fromisoformat(str(summary.get("started"))).astimezone(UTC)
    except ValueError:
        return now


def upload_run(
    session: Session,
    out: Path,
    *,
    runbook: str,
    run_id: str,
    bucket: str,
    prefix: str = REPORTS_PREFIX,
    topic: str = "",
    schedule: str = "",
) -> UploadResult:
    """Upload the newest run of ``runbook`` under ``out``; publish a ✗ verdict to ``topic``."""
    if not run_id or "/" in run_id:
        raise ConfigError(f"run id {run_id!r}: expected the build's id (no '/')")
    now = datetime.now(UTC)
    files = _run_files(out, runbook)
    summary = _summary(files, runbook, now)
    summary["schedule"] = schedule
    summary["run_id"] = run_id
    started = _started(summary, now)
    folder = run_folder(prefix, runbook, started, run_id)
    s3 = session.client("s3")
    keys = []
    bodies: dict[str, bytes] = {s: p.read_bytes() for s, p in files.items() if s != ".json"}
    bodies[".json"] = (json.dumps(summary, indent=2, ensure_ascii=False) + "\n").encode()
    for suffix, body in sorted(bodies.items()):
        key = f"{folder}{runbook}{suffix}"
        with aws_errors("s3", "PutObject"):
            s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=CONTENT_TYPES[suffix])
        keys.append(key)
        logger.info("uploaded s3://%s/%s", bucket, key)
    run = ReportRun(
        bucket, folder, runbook, started, summary["ok"], str(summary["verdict"]),
        str(summary.get("headline") or ""), schedule, tuple(keys),
    )  # fmt: skip
    result = UploadResult(run, keys)
    if not run.ok and topic:
        notify(session, topic, run, session.target.region)
        result.notified = True
    return result


def console_url(run: ReportRun, region: str) -> str:
    """The S3 console's page of the run's HTML report."""
    return (
        f"https://{region}.console.aws.amazon.com/s3/object/{run.bucket}"
        f"?region={region}&prefix={run.html_key}"
    )


def notification(run: ReportRun, region: str) -> tuple[str, str]:
    """The SNS subject and message of a red run: what, the verdict, where the report is."""
    subject = f"opslib report {run.runbook}: failed"
    when = run.started.strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"{run.runbook} ({run.schedule or 'run by hand'}) at {when}:",
        run.verdict,
        "",
        f"report: {run.uri}",
        f"console: {console_url(run, region)}",
    ]
    return subject[:SUBJECT_MAX], "\n".join(lines)


def notify(session: Session, topic: str, run: ReportRun, region: str) -> None:
    subject, message = notification(run, region)
    with aws_errors("sns", "Publish"):
        session.client("sns").publish(TopicArn=topic, Subject=subject, Message=message)
    logger.info("published the red verdict of %s to %s", run.runbook, topic)


# --- the operator's side: list, fetch, index --------------------------------------------------


def _folders(session: Session, bucket: str, prefix: str) -> dict[str, list[str]]:
    """Run folder -> its keys, from the bucket listing."""
    found: dict[str, list[str]] = {}
    paginator = session.client("s3").get_paginator("list_objects_v2")
    with aws_errors("s3", "ListObjectsV2"):
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                key = str(item["Key"])
                folder, _, name = key.rpartition("/")
                if name.endswith(SUFFIXES):
                    found.setdefault(folder + "/", []).append(key)
    return found


def _read_summary(session: Session, bucket: str, key: str) -> dict[str, Any]:
    try:
        with aws_errors("s3", "GetObject"):
            body = session.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
        document = json.loads(body)
    except (NotFoundError, ValueError):
        return {}
    return document if isinstance(document, dict) else {}


def _run_of(session: Session, bucket: str, folder: str, keys: list[str]) -> ReportRun | None:
    runbook = (
        folder[len(REPORTS_PREFIX) :].split("/", 1)[0] if folder.startswith(REPORTS_PREFIX) else ""
    )
    summary_key = next((k for k in keys if k.endswith(".json")), None)
    if not runbook or summary_key is None:
        return None
    summary = _read_summary(session, bucket, summary_key)
    started = _started(summary, datetime.fromtimestamp(0, UTC))
    ok = summary.get("ok") is True
    verdict = str(summary.get("verdict") or "✗ no verdict in the summary")
    return ReportRun(
        bucket, folder, runbook, started, ok, verdict, str(summary.get("headline") or ""),
        str(summary.get("schedule") or ""), tuple(sorted(keys)),
    )  # fmt: skip


def list_runs(session: Session, bucket: str, runbook: str = "", limit: int = 20) -> list[ReportRun]:
    """The newest ``limit`` runs (of one runbook, or all), newest first."""
    prefix = f"{REPORTS_PREFIX}{runbook}/" if runbook else REPORTS_PREFIX
    folders = _folders(session, bucket, prefix)

    def when(folder: str) -> str:  # reports/<runbook>/<date>/<time>-<id>/ sorts by date, time
        return "/".join(folder.rstrip("/").split("/")[-2:])

    newest = sorted(folders, key=when, reverse=True)[:limit]
    runs = [_run_of(session, bucket, f, folders[f]) for f in newest]
    return [r for r in runs if r is not None]


def find_run(session: Session, bucket: str, runbook: str, run_id: str) -> ReportRun | None:
    """The run a build left (its folder ends in the build's id), or None."""
    folders = _folders(session, bucket, f"{REPORTS_PREFIX}{runbook}/")
    match = [f for f in folders if f.rstrip("/").endswith(f"-{run_id}")]
    return _run_of(session, bucket, match[0], folders[match[0]]) if match else None


def local_folder(root: Path, stack: str, run: ReportRun) -> Path:
    """Where ``reports fetch`` puts a run: reports/<stack>/scheduled/<runbook>/<date>/<run>/."""
    return root / stack / SCHEDULED_FOLDER / run.folder[len(REPORTS_PREFIX) :]


def fetch_runs(session: Session, runs: list[ReportRun], root: Path, stack: str) -> list[Path]:
    """Download the runs' files (those not already here); returns every local file."""
    s3 = session.client("s3")
    paths = []
    for run in runs:
        folder = local_folder(root, stack, run)
        folder.mkdir(parents=True, exist_ok=True)
        for key in run.files:
            path = folder / key.rsplit("/", 1)[1]
            if not path.exists():
                with aws_errors("s3", "GetObject"):
                    s3.download_file(run.bucket, key, str(path))
            paths.append(path)
    return paths


def index_html(runs: list[ReportRun], root: Path, stack: str) -> str:
    """The index page: per runbook, the history of verdicts and headline figures."""
    by_runbook: dict[str, list[ReportRun]] = {}
    for run in sorted(runs, key=lambda r: r.started, reverse=True):
        by_runbook.setdefault(run.runbook, []).append(run)
    index_dir = root / stack / SCHEDULED_FOLDER
    sections = []
    for runbook, history in sorted(by_runbook.items()):
        green = sum(r.ok for r in history)
        rows = []
        for run in history:
            target = local_folder(root, stack, run) / f"{run.runbook}.html"
            link = target.relative_to(index_dir).as_posix()
            mark = "✓" if run.ok else "✗"
            rows.append(
                f'<tr class="{"ok" if run.ok else "failed"}"><td>{run.started:%Y-%m-%d %H:%M}</td>'
                f"<td>{mark}</td><td>{html.escape(run.headline or '—')}</td>"
                f"<td>{html.escape(run.verdict.lstrip('✓✗ '))}</td>"
                f"<td>{html.escape(run.schedule or 'by hand')}</td>"
                f'<td><a href="{html.escape(link)}">report</a></td></tr>'
            )
        sections.append(
            f"<h2>{html.escape(runbook)}</h2><p>{green} of {len(history)} run(s) green</p>"
            "<table><tr><th>when (UTC)</th><th>verdict</th><th>headline</th><th>detail</th>"
            "<th>schedule</th><th></th></tr>" + "".join(rows) + "</table>"
        )
    body = "".join(sections) or "<p>No report runs yet.</p>"
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>Scheduled reports: {html.escape(stack)}</title><style>"
        "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{padding:4px 10px;border-bottom:1px solid #ddd;text-align:left}"
        "tr.failed td:nth-child(2){color:#b00020}tr.ok td:nth-child(2){color:#1b7f3a}"
        f"</style></head><body><h1>Scheduled reports: {html.escape(stack)}</h1>{body}"
        "</body></html>"
    )


def write_index(runs: list[ReportRun], root: Path, stack: str) -> Path:
    """Write ``reports/<stack>/scheduled/index.html`` and return its path."""
    path = root / stack / SCHEDULED_FOLDER / "index.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(index_html(runs, root, stack), encoding="utf-8")
    return path
