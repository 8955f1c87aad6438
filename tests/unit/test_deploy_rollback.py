"""When a finished deployment is rolled back automatically (CodeDeploy's rollback events)."""

from __future__ import annotations

from typing import Any

import pytest

from opslib.emulator.codedeploy.configs import BUILTINS
from opslib.emulator.codedeploy.model import DeploymentStatus, ErrorCode, RollbackEvent
from opslib.emulator.codedeploy.run import DeploymentRun, Outcome, StopCause
from opslib.emulator.codedeploy.service import _wants_rollback

pytestmark = pytest.mark.unit

FAILURE = RollbackEvent.DEPLOYMENT_FAILURE
ON_REQUEST = RollbackEvent.DEPLOYMENT_STOP_ON_REQUEST
ON_ALARM = RollbackEvent.DEPLOYMENT_STOP_ON_ALARM
USER_STOP = StopCause(ErrorCode.MANUAL_STOP, "stop", ON_REQUEST)
ALARM_STOP = StopCause(ErrorCode.ALARM_ACTIVE, "alarm", ON_ALARM)
SHUTDOWN = StopCause(ErrorCode.INTERNAL_ERROR, "emulator stopping")


def _run(events: list[str], enabled: bool = True, creator: str = "user") -> DeploymentRun:
    document: dict[str, Any] = {
        "deploymentId": "d-TEST00001",
        "creator": creator,
        "autoRollbackConfiguration": {"enabled": enabled, "events": events},
        "_context": {"groupId": "g"},
    }
    return DeploymentRun(None, document, [], BUILTINS["CodeDeployDefault.OneAtATime"])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("events", "enabled", "status", "cause", "wanted"),
    [
        ([FAILURE], True, DeploymentStatus.FAILED, None, True),
        ([FAILURE], False, DeploymentStatus.FAILED, None, False),  # disabled
        ([ON_REQUEST], True, DeploymentStatus.FAILED, None, False),
        ([FAILURE], True, DeploymentStatus.SUCCEEDED, None, False),
        ([ON_REQUEST], True, DeploymentStatus.STOPPED, USER_STOP, True),
        ([FAILURE], True, DeploymentStatus.STOPPED, USER_STOP, False),
        ([ON_ALARM], True, DeploymentStatus.STOPPED, ALARM_STOP, True),
        ([ON_REQUEST], True, DeploymentStatus.STOPPED, ALARM_STOP, False),
        ([FAILURE, ON_REQUEST, ON_ALARM], True, DeploymentStatus.STOPPED, SHUTDOWN, False),
        # StopDeployment(autoRollbackEnabled=...) decides over the configuration.
        ([], False, DeploymentStatus.STOPPED,
         StopCause(ErrorCode.MANUAL_STOP, "stop", ON_REQUEST, True), True),
        ([ON_REQUEST], True, DeploymentStatus.STOPPED,
         StopCause(ErrorCode.MANUAL_STOP, "stop", ON_REQUEST, False), False),
    ],
)  # fmt: skip
def test_rollback_follows_the_events(
    events: list[str],
    enabled: bool,
    status: DeploymentStatus,
    cause: StopCause | None,
    wanted: bool,
) -> None:
    run = _run([str(e) for e in events], enabled)
    if cause is not None:
        run.request_stop(cause)
    assert _wants_rollback(run, Outcome(status)) is wanted


def test_a_rollback_is_never_rolled_back() -> None:
    run = _run([str(FAILURE)], creator="codeDeployRollback")
    assert _wants_rollback(run, Outcome(DeploymentStatus.FAILED)) is False
