"""The emulator acts on S3 lifecycle rules: what a rule expires is gone, body included."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from opslib import emulator
from opslib.emulator import EmulatorInfo
from tests.emulator.conftest import client
from tests.emulator.deploy_helpers import wait_until

pytestmark = pytest.mark.emulator


def test_an_expiration_date_that_has_passed_expires_the_objects_and_their_bodies(
    start_emulator: Callable[..., EmulatorInfo], state_dir: Path
) -> None:
    info = start_emulator(OPSLIB_S3_LIFECYCLE_INTERVAL="0.5")
    s3 = client(info, "s3")
    s3.create_bucket(Bucket="expiring")
    s3.put_object(Bucket="expiring", Key="tmp/old.bin", Body=b"o" * 4096)
    s3.put_object(Bucket="expiring", Key="kept.bin", Body=b"k" * 4096)
    bodies = state_dir / "moto" / "s3-bodies"
    assert len(list(bodies.iterdir())) == 2
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    s3.put_bucket_lifecycle_configuration(
        Bucket="expiring",
        LifecycleConfiguration={"Rules": [{
            "ID": "tmp", "Status": "Enabled", "Filter": {"Prefix": "tmp/"},
            "Expiration": {"Date": midnight},
        }]},
    )  # fmt: skip

    def listed() -> list[str] | None:
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket="expiring").get("Contents", [])]
        return keys if keys == ["kept.bin"] else None

    wait_until(listed, what="the lifecycle rule to expire tmp/old.bin")
    assert len(list(bodies.iterdir())) == 1  # its body left the store with the snapshot
    emulator.stop(state_dir)
    info = start_emulator()  # and it stays expired after a restart (the snapshot was saved)
    keys = [o["Key"] for o in client(info, "s3").list_objects_v2(Bucket="expiring")["Contents"]]
    assert keys == ["kept.bin"]
