"""stack-rebuild: a twin of the stack built from nothing, released, verified, torn down.

"Infrastructure as code for rapid rebuild", rehearsed: the production config under the
twin's name, in the DR region (:mod:`opslib.drills.twins` says why not beside production),
goes through ``opslib up`` — every resource from nothing — then the release runbook's
steps release the last good commit through the twin's own pipeline (source, build,
deploy) and the twin's fleet must serve it, every instance healthy. RTO is nothing →
serving: from the first resource created to the verified fleet.

Production is never touched, let alone torn down: the rollback destroys the twin only
after :func:`~opslib.drills.twins.require_twin` said it is one. The dry run refuses when a
stack of the twin's name already exists (a crashed drill's leftovers: ``opslib down`` it).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from opslib.config import StackConfig
from opslib.drills import twins
from opslib.drills.common import Configuration, require_serving
from opslib.drills.context import DrillRun, run_of, step_of
from opslib.drills.plan import Preparation
from opslib.exceptions import DrillRefused, ExecutionError
from opslib.ops import rollback
from opslib.target import Session


def _twin(run: DrillRun) -> StackConfig:
    return twins.twin_config(run.config, twins.REBUILD_SUFFIX, region=run.config.dr_region())


def _session(run: DrillRun) -> Session:
    return twins.session_in(run.session, run.config.dr_region())


def prepare(run: DrillRun, params: dict[str, Any]) -> Preparation:
    """The good commit and the twin's name; refused when the twin's name is taken."""
    current = rollback.history(run.session, run.config, limit=5).current
    if current is None or current.status != "Succeeded" or not current.commit:
        raise DrillRefused("stack-rebuild needs a good release first: release, then drill")
    twin = _twin(run)
    twins.require_twin(run.config, twin)
    twins.require_free(_session(run), twin)
    return Preparation(
        targets=[],  # nothing of production's is acted on; the twin is created from nothing
        values={"twin": twin.stack, "good_commit": current.commit},
        fault=(
            f"nothing of stack {twin.stack} exists in {twin.region}; it is built from "
            f"{run.config.stack}'s config (fleet of {twin.fleet.size}, tag "
            f"{twin.fleet.tag_key}={twin.fleet.tag_value}) and {current.describe()} "
            "released to it"
        ),
        notes=[
            f"production stack {run.config.stack} is only read; the rollback tears down "
            f"{twin.stack} and refuses any other name",
            f"the twin is built in drills.dr_region ({twin.region}): a stack owns one "
            "resource per region (the CloudWatch agent's config parameter), so two stacks "
            "never share one",
            "on AWS the twin's GitHub connection is created PENDING: approve it in the "
            "console while the drill waits for its pipeline's source",
        ],
    )


def build_twin(twin: str, configuration: Configuration = None) -> dict[str, Any]:
    """From nothing: ``opslib up`` of the twin (impact and recovery start together)."""
    run = step_of(configuration)
    config = _twin(run)
    if config.stack != twin:
        raise ExecutionError(f"the twin is {config.stack}, the plan said {twin}")
    started = datetime.now(UTC)
    run.state["twin_built"] = True  # from here on the rollback has something to tear down
    result = twins.build(_session(run), run.config, config)
    run.say(f"built {twin} from nothing: {result.counts()} in {result.seconds:.0f} s")
    return {"changes": result.counts(), "seconds": round(result.seconds, 1),
            "marks": {"injected": started.isoformat(),
                      "recovery_started": started.isoformat()}}  # fmt: skip


def release_to_twin(commit: str, configuration: Configuration = None) -> dict[str, Any]:
    """The last good commit through the twin's pipeline (the release runbook's steps)."""
    run = step_of(configuration)
    report = twins.release(_session(run), _twin(run), commit)
    if not report.succeeded:
        failed = report.failed_action
        why = f" at {failed.stage}/{failed.action}: {failed.error}" if failed else ""
        raise ExecutionError(f"release to the twin {report.status}{why}")
    run.say(f"released {commit[:12]} to the twin with execution {report.execution_id}")
    return {"execution_id": report.execution_id, "revision": report.revision}


def await_twin_serving(
    commit: str, timeout: float = 300.0, configuration: Configuration = None
) -> dict[str, Any]:
    """The twin's fleet at its size, every instance healthy on the commit: serving."""
    run = step_of(configuration)
    config = _twin(run)
    report = require_serving(_session(run), config, commit, timeout, f"twin {config.stack}")
    run.say(f"twin {config.stack} serves {commit[:12]} on {len(report.instances)} instance(s)")
    return {"instances": len(report.instances), "versions": report.versions}


def tear_down_twin(configuration: Configuration = None) -> str:
    """Rollback: ``opslib down`` of the twin — only the twin, never production."""
    run = run_of(configuration)
    config = _twin(run)
    session = _session(run)
    if not run.state.get("twin_built") and not twins.existing(session, config):
        return f"{config.stack} was never built"
    result = twins.tear_down(session, run.config, config)
    if result.leftovers:
        raise ExecutionError(f"{config.stack} torn down, but still tagged: "
                             + ", ".join(result.leftovers[:5]))  # fmt: skip
    return f"tore down {config.stack}: {len(result.changes)} resource(s) in {result.seconds:.0f} s"
