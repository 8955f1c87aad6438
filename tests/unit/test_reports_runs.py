"""Report runs in S3 (moto in-process): upload never overwrites, a run without a summary
still leaves a failed one, a red verdict reaches the topic, list and index read them back."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from moto import mock_aws

from opslib.ops import reports
from opslib.target import Session, Target, TargetKind

pytestmark = pytest.mark.unit

BUCKET = "demo-reports-123456789012-us-east-1"


@pytest.fixture
def session(monkeypatch: pytest.MonkeyPatch) -> Iterator[Session]:
    for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        session = Session(Target(TargetKind.AWS, "us-east-1"))
        session.client("s3").create_bucket(Bucket=BUCKET)
        yield session


def _run(out: Path, when: str, ok: bool, headline: str = "1/2 healthy") -> None:
    """What the runner leaves: <out>/<stack>/<date>/<runbook>-<HHMMSS>.{ipynb,html,json}."""
    folder = out / "demo" / "2030-01-30"
    folder.mkdir(parents=True, exist_ok=True)
    base = folder / f"fleet-health-{when}"
    base.with_suffix(".ipynb").write_text("{}")
    base.with_suffix(".html").write_text("<html></html>")
    summary = {
        "runbook": "fleet-health",
        "status": "succeeded" if ok else "failed",
        "started": f"2030-01-30T{when[:2]}:{when[2:4]}:{when[4:]}+00:00",
        "ok": ok,
        "verdict": "✓ all fine" if ok else "✗ 1 of 2 instance(s) not healthy",
        "headline": headline,
    }
    base.with_suffix(".json").write_text(json.dumps(summary))


def _queue_on_topic(session: Session) -> tuple[str, str]:
    topic = session.client("sns").create_topic(Name="demo-notifications")["TopicArn"]
    sqs = session.client("sqs")
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    session.client("sns").subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn["QueueArn"])
    return topic, url


def test_a_red_run_is_uploaded_under_its_own_folder_and_published(
    session: Session, tmp_path: Path
) -> None:
    topic, queue = _queue_on_topic(session)
    _run(tmp_path, "120000", ok=False)
    result = reports.upload_run(
        session, tmp_path, runbook="fleet-health", run_id="b1", bucket=BUCKET, topic=topic,
        schedule="fleet-hourly",
    )  # fmt: skip
    folder = "reports/fleet-health/2030-01-30/120000-b1/"
    assert result.keys == [f"{folder}fleet-health{s}" for s in (".html", ".ipynb", ".json")]
    assert result.notified
    (message,) = session.client("sqs").receive_message(QueueUrl=queue)["Messages"]
    body = json.loads(message["Body"])
    assert body["Subject"] == "opslib report fleet-health: failed"
    assert f"s3://{BUCKET}/{folder}fleet-health.html" in body["Message"]
    assert "not healthy" in body["Message"] and "fleet-hourly" in body["Message"]


def test_a_green_run_notifies_no_one(session: Session, tmp_path: Path) -> None:
    topic, queue = _queue_on_topic(session)
    _run(tmp_path, "120000", ok=True)
    result = reports.upload_run(
        session, tmp_path, runbook="fleet-health", run_id="b1", bucket=BUCKET, topic=topic
    )
    assert not result.notified
    assert "Messages" not in session.client("sqs").receive_message(QueueUrl=queue)


def test_a_run_that_left_nothing_still_leaves_a_failed_summary(
    session: Session, tmp_path: Path
) -> None:
    result = reports.upload_run(
        session, tmp_path / "missing", runbook="triage", run_id="b9", bucket=BUCKET
    )
    (key,) = result.keys
    assert key.endswith("-b9/triage.json")
    summary = json.loads(session.client("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read())
    assert summary["ok"] is False
    assert summary["verdict"] == "✗ the runbook left no notebook (see the build log)"


def test_two_firings_never_overwrite_and_list_shows_the_newest_first(
    session: Session, tmp_path: Path
) -> None:
    _run(tmp_path / "a", "120000", ok=False, headline="1/2 healthy")
    _run(tmp_path / "b", "120000", ok=True, headline="2/2 healthy")  # the same second
    reports.upload_run(session, tmp_path / "a", runbook="fleet-health", run_id="b1", bucket=BUCKET)
    reports.upload_run(session, tmp_path / "b", runbook="fleet-health", run_id="b2", bucket=BUCKET)
    runs = reports.list_runs(session, BUCKET)
    assert [r.folder.rsplit("-", 1)[1] for r in runs] == ["b2/", "b1/"]
    assert [(r.ok, r.headline) for r in runs] == [(True, "2/2 healthy"), (False, "1/2 healthy")]
    assert reports.find_run(session, BUCKET, "fleet-health", "b1") == runs[1]


def test_fetch_and_index_link_each_run_with_its_verdict(session: Session, tmp_path: Path) -> None:
    _run(tmp_path / "out", "120000", ok=False)
    reports.upload_run(
        session, tmp_path / "out", runbook="fleet-health", run_id="b1", bucket=BUCKET
    )
    runs = reports.list_runs(session, BUCKET)
    root = tmp_path / "reports"
    paths = reports.fetch_runs(session, runs, root, "demo")
    assert sorted(p.name for p in paths) == [
        "fleet-health.html",
        "fleet-health.ipynb",
        "fleet-health.json",
    ]
    index = reports.write_index(runs, root, "demo")
    page = index.read_text()
    assert "<h2>fleet-health</h2>" in page and "0 of 1 run(s) green" in page
    assert 'href="fleet-health/2030-01-30/120000-b1/fleet-health.html"' in page
    assert (index.parent / "fleet-health/2030-01-30/120000-b1/fleet-health.html").is_file()
    assert "1/2 healthy" in page and "✗" in page
