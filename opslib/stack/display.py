"""Text for people: plan lines, progress lines, status tables (pure; CLI and notebooks)."""

from __future__ import annotations

from opslib.stack.engine import RunResult, StepStatus
from opslib.stack.model import Action, Change, Plan
from opslib.stack.source import PENDING, console_url
from opslib.stack.status import StackStatus

SYMBOLS = {
    Action.CREATE: "+",
    Action.UPDATE: "~",
    Action.DELETE: "-",
    Action.NOOP: "=",
    Action.CONFLICT: "!",
}
MARKS = {StepStatus.DONE: "✓", StepStatus.FAILED: "✗", StepStatus.SKIPPED: "·"}


def plan_line(change: Change) -> str:
    """``+ create s3 bucket x`` or ``~ update iam role y (policy)``."""
    return f"{SYMBOLS[change.action]} {change.summary()}"


def plan_lines(plan: Plan, *, show_noop: bool = False) -> list[str]:
    """The plan, one line per resource, and a summary line."""
    lines = [plan_line(c) for c in plan.changes if show_noop or c.action is not Action.NOOP]
    counts = plan.counts()
    if not plan.has_changes:
        lines.append(f"No changes: all {counts['no-op']} resources are up to date.")
    else:
        parts = [f"{n} to {a}" for a, n in counts.items() if n and a != Action.NOOP.value]
        lines.append(f"Plan: {', '.join(parts)} ({counts['no-op']} unchanged).")
    return lines


def progress_line(change: Change, status: StepStatus) -> str | None:
    """One line per finished step (``✓ create ...``); None for steps still starting."""
    mark = MARKS.get(status)
    if mark is None:
        return None
    return f"  {mark} {change.summary()}"


def run_summary(result: RunResult, verb: str) -> str:
    """``up: 32 created, 0 updated, 0 unchanged in 2.5 s (53 mutating calls)``."""
    counts = result.counts()
    if verb == "down":
        done = f"{counts['delete']} deleted, {counts['conflict']} left (not this stack's)"
    else:
        done = (
            f"{counts['create']} created, {counts['update']} updated, {counts['no-op']} unchanged"
        )
    return f"{verb}: {done} in {result.seconds:.1f} s ({result.mutating_calls} mutating calls)"


def connection_notice(status: str, region: str) -> str | None:
    """What to do about a GitHub connection that a person has not authorized yet."""
    if status != PENDING:
        return None
    return (
        "The GitHub connection is PENDING: a person must authorize it once in the AWS console "
        f"({console_url(region)} → the connection → Update pending connection). The pipeline's "
        "Source stage fails until then; 'opslib up --wait-connection' waits for it."
    )


def status_lines(status: StackStatus) -> list[str]:
    """Resources (exists/drift), outputs, endpoints and console links."""
    lines = [f"stack {status.stack} on {status.target}"]
    for item in status.resources:
        state = (
            "missing"
            if not item.exists
            else "drift: " + ", ".join(item.drift)
            if item.drift
            else "ok"
        )
        lines.append(
            f"  {'✓' if item.exists and not item.drift else '✗'} {item.kind} {item.name}: {state}"
        )
    lines.append("outputs:")
    lines += [f"  {key}: {value}" for key, value in status.outputs.items()]
    if status.endpoints:
        lines.append("instance endpoints:")
        lines += [f"  {iid}: {url}" for iid, url in status.endpoints.items()]
    if status.console:
        lines.append("AWS console:")
        lines += [f"  {key}: {url}" for key, url in status.console.items()]
    return lines
