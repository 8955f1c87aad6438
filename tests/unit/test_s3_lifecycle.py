"""S3 lifecycle rules expire objects as AWS does: eligibility at the next midnight UTC."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.s3.models import s3_backends

from opslib.emulator.core import motofixes
from opslib.emulator.core.s3lifecycle import DAY, eligible_at, sweep


def _at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("created", "days", "eligible"),
    [
        ("2026-01-01T10:30:00", 3, "2026-01-05T00:00:00"),  # +3 days, up to the next midnight
        ("2026-01-01T00:00:00", 1, "2026-01-02T00:00:00"),  # already a midnight: that one
        ("2026-12-31T23:59:59", 0, "2027-01-01T00:00:00"),
    ],
)
def test_eligibility_rounds_up_to_the_next_midnight_utc(
    created: str, days: int, eligible: str
) -> None:
    assert eligible_at(_at(created), days) == _at(eligible)


@pytest.fixture
def s3() -> Iterator[Any]:
    motofixes.install()
    with mock_aws():
        yield boto3.session.Session(region_name="us-east-1").client("s3")


def _keys(s3: Any, bucket: str) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


def _rule(**rule: Any) -> dict[str, Any]:
    return {"Rules": [{"ID": "r", "Status": "Enabled", **rule}]}


def test_expiration_deletes_what_the_prefix_selects_once_due(s3: Any) -> None:
    s3.create_bucket(Bucket="plain-logs")
    s3.put_bucket_lifecycle_configuration(
        Bucket="plain-logs",
        LifecycleConfiguration=_rule(Filter={"Prefix": "logs/"}, Expiration={"Days": 1}),
    )
    s3.put_object(Bucket="plain-logs", Key="logs/old.txt", Body=b"x")
    s3.put_object(Bucket="plain-logs", Key="keep/this.txt", Body=b"y")
    now = datetime.now(UTC).timestamp()
    assert sweep(s3_backends, now) == 0  # not due yet
    assert sweep(s3_backends, now + 2 * DAY) == 1
    assert _keys(s3, "plain-logs") == ["keep/this.txt"]


def test_versions_expire_behind_a_marker_then_noncurrent_ones_go(s3: Any) -> None:
    s3.create_bucket(Bucket="versioned-artifacts")
    s3.put_bucket_versioning(
        Bucket="versioned-artifacts", VersioningConfiguration={"Status": "Enabled"}
    )
    s3.put_bucket_lifecycle_configuration(
        Bucket="versioned-artifacts",
        LifecycleConfiguration=_rule(
            Filter={}, Expiration={"Days": 30}, NoncurrentVersionExpiration={"NoncurrentDays": 7}
        ),
    )
    first = s3.put_object(Bucket="versioned-artifacts", Key="build.zip", Body=b"1")["VersionId"]
    second = s3.put_object(Bucket="versioned-artifacts", Key="build.zip", Body=b"2")["VersionId"]
    now = datetime.now(UTC).timestamp()
    assert sweep(s3_backends, now + 8 * DAY) == 1  # the noncurrent first version only
    versions = s3.list_object_versions(Bucket="versioned-artifacts")
    assert [v["VersionId"] for v in versions["Versions"]] == [second]
    assert first not in str(versions)
    assert sweep(s3_backends, now + 31 * DAY) == 1  # the current one: behind a delete marker
    versions = s3.list_object_versions(Bucket="versioned-artifacts")
    assert [m["IsLatest"] for m in versions["DeleteMarkers"]] == [True]
    assert [v["VersionId"] for v in versions["Versions"]] == [second]  # now noncurrent
    assert _keys(s3, "versioned-artifacts") == []


def test_a_disabled_rule_or_another_tag_expires_nothing(s3: Any) -> None:
    s3.create_bucket(Bucket="tagged")
    s3.put_bucket_lifecycle_configuration(
        Bucket="tagged",
        LifecycleConfiguration={"Rules": [
            {"ID": "off", "Status": "Disabled", "Filter": {}, "Expiration": {"Days": 1}},
            {"ID": "tag", "Status": "Enabled", "Filter": {"Tag": {"Key": "tier", "Value": "tmp"}},
             "Expiration": {"Days": 1}},
        ]},
    )  # fmt: skip
    s3.put_object(Bucket="tagged", Key="kept", Body=b"k", Tagging="tier=gold")
    s3.put_object(Bucket="tagged", Key="scratch", Body=b"s", Tagging="tier=tmp")
    assert sweep(s3_backends, datetime.now(UTC).timestamp() + 3 * DAY) == 1
    assert _keys(s3, "tagged") == ["kept"]
