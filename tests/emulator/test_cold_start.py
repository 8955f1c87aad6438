"""A fresh emulator imports a service's code when a request first needs it (issue 10).

Each case assembles a real :class:`~opslib.emulator.server.Emulator` in a fresh interpreter
(so what this test process imported does not count), serves one request through its
socket and reports which modules the process held before and after.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from opslib.emulator.codepipeline.connections import SERVICES as CONNECTION_SERVICES
from opslib.emulator.core.store import RecordStore
from opslib.emulator.server import ROOM_SERVICES

ROOMS = (
    "opslib.emulator.codebuild.service",
    "opslib.emulator.codedeploy.service",
    "opslib.emulator.codepipeline.service",
    "moto.ec2.models",
)

_PROBE = """
import json, sys, threading
from pathlib import Path
import boto3
from opslib.emulator.server import Emulator

WATCH = {rooms!r}
emulator = Emulator(Path(sys.argv[1]), [0], 1.0, 3600.0)
before = sorted(m for m in WATCH if m in sys.modules)
threading.Thread(target=emulator.server.serve_forever, daemon=True).start()
boto3.client(
    "codebuild", region_name="us-east-1", endpoint_url=emulator.runtime.endpoint,
    aws_access_key_id="t", aws_secret_access_key="t",
).list_builds()
after = sorted(m for m in WATCH if m in sys.modules)
emulator.shutdown()
print(json.dumps([before, after]))
"""


def _modules(state_dir: Path) -> tuple[list[str], list[str]]:
    """Modules of ROOMS held after assembling the emulator, and after one ListBuilds."""
    result = subprocess.run(
        [sys.executable, "-c", _PROBE.format(rooms=ROOMS), str(state_dir)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    before, after = json.loads(result.stdout.splitlines()[-1])
    return before, after


def test_a_fresh_emulator_loads_a_service_at_its_first_request(tmp_path: Path) -> None:
    before, after = _modules(tmp_path / "state")
    assert before == []
    assert after == ["opslib.emulator.codebuild.service"]  # not CodeDeploy's, nor EC2's


def test_an_emulator_with_records_loads_every_service_before_serving(tmp_path: Path) -> None:
    """Interrupted work is closed before the first request: any record loads them all."""
    state = tmp_path / "state"
    records = RecordStore(state / "records.sqlite")
    records.put("build", "p:1", {"id": "p:1"})
    records.close()
    before, _ = _modules(state)
    assert before == sorted(ROOMS[:3])


def test_the_pipeline_room_is_loaded_by_the_connection_services_too() -> None:
    assert set(CONNECTION_SERVICES) <= set(ROOM_SERVICES["codepipeline"])
