"""The setup walkthrough's logic: choose, validate, plan, apply, run, see the app answer.

``notebooks/setup-walkthrough.ipynb`` shows this with ipywidgets. Widget callbacks never
fire under papermill or nbval, so every step is a plain function here (tested on its
own), the widgets only call them, and the notebook's cells call them too.

The provision and teardown runbooks (``runbooks/provision.ipynb``, ``teardown.ipynb``)
call the functions at the end: the plan first, the change only when asked
(``dry_run=False``/``confirm=True``), then a verdict and the JSON summary's data.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd

from opslib.config import StackConfig, override, parse_config
from opslib.exceptions import ConfigError, OpslibError
from opslib.ops import pipeline
from opslib.runbooks.context import RunbookContext
from opslib.runbooks.schedules import check_schedules
from opslib.runbooks.verdict import Verdict, rerun_hint
from opslib.stack import display
from opslib.stack import runbook as stack_runbook
from opslib.stack.context import Context
from opslib.stack.engine import Progress, RunResult, StepStatus, apply, destroy, plan
from opslib.stack.model import Action, Change, Plan
from opslib.stack.registry import resources
from opslib.stack.source import PENDING
from opslib.stack.status import status
from opslib.target import Session, connect

Step = Callable[[int, int, str], None]
Echo = Callable[[str], None]


@dataclass(frozen=True)
class Choices:
    """What the walkthrough asks for; empty strings keep the base config's values."""

    target: str = "local"
    profile: str = ""
    region: str = "us-east-1"
    stack: str = "opslib-demo"
    fleet_size: int = 0  # 0: keep the base config's


def make_config(choices: Choices, base: StackConfig | None = None) -> StackConfig:
    """Validate the choices into a config (ConfigError naming the first bad one)."""
    data = (base or StackConfig()).to_dict()
    data.update({k: v for k, v in _top_level(choices).items() if v})
    if choices.fleet_size:
        data["fleet"] = {**data["fleet"], "size": choices.fleet_size}
    config = parse_config(data, "walkthrough")
    if base is not None and base.source_file:
        from dataclasses import replace

        config = replace(config, source_file=base.source_file)
    return config


def _top_level(choices: Choices) -> dict[str, Any]:
    profile = choices.profile or None
    if choices.target == "local" and profile:
        raise ConfigError("walkthrough: profile: only the aws target uses a profile")
    return {
        "target": choices.target,
        "profile": profile,
        "region": choices.region,
        "stack": choices.stack,
    }


def validate(choices: Choices, base: StackConfig | None = None) -> str | None:
    """The problem with the choices as one line, or None when they are valid."""
    try:
        make_config(choices, base)
    except ConfigError as exc:
        return str(exc)
    return None


def add_schedule(
    config: StackConfig,
    name: str,
    runbook: str,
    expression: str,
    timezone: str = "UTC",
    parameters: dict[str, Any] | None = None,
) -> StackConfig:
    """The config with one more scheduled report, checked as ``opslib up`` checks it."""
    from dataclasses import replace

    entry = {"name": name, "runbook": runbook, "expression": expression, "timezone": timezone,
             "parameters": dict(parameters or {})}  # fmt: skip
    data = config.to_dict()
    data["schedules"] = [*data["schedules"], entry]
    added = replace(parse_config(data, "walkthrough"), source_file=config.source_file)
    check_schedules(added)
    return added


def schedules_yaml(config: StackConfig) -> str:
    """The ``schedules:`` section to paste into opslib.yml."""
    import yaml

    return yaml.safe_dump({"schedules": config.to_dict()["schedules"]}, sort_keys=False)


def plan_table(config: StackConfig, session: Session | None = None) -> pd.DataFrame:
    """The plan as a table: kind, name, action, changed fields."""
    return pd.DataFrame(plan(session or connect(config), config).rows())


def resource_count(config: StackConfig) -> int:
    """How many steps ``up`` takes (for a progress bar's maximum)."""
    ctx = Context(config, "0")
    return sum(r.wanted(ctx) for r in resources(ctx.names))


def apply_with_progress(
    config: StackConfig, on_step: Step, session: Session | None = None
) -> RunResult:
    """``opslib up``, calling ``on_step(done, total, line)`` after each resource."""
    total = resource_count(config)
    done = 0

    def progress(change: Change, state: StepStatus) -> None:
        nonlocal done
        if state is StepStatus.STARTED:
            return
        done += 1
        on_step(done, total, f"{state.value}: {change.summary()}")

    return apply(session or connect(config), config, progress)


def run_pipeline(
    config: StackConfig, on_update: Callable[[str], None] = lambda _: None, timeout: float = 1800
) -> pipeline.ExecutionReport:
    """Start (or attach to) the pipeline's execution and follow it to its end."""
    session = connect(config)
    name = pipeline.pipeline_name(config.stack)
    execution_id, _ = pipeline.start_or_attach(session, name)
    return pipeline.follow(
        session,
        name,
        execution_id,
        lambda u: on_update(f"{u.stage}/{u.action}: {u.status} {u.summary}".rstrip()),
        timeout=timeout,
    )


def app_answers(config: StackConfig, path: str = "/health", timeout: float = 5.0) -> pd.DataFrame:
    """Ask each instance's app: instance, endpoint, HTTP status, body or error."""
    endpoints = status(connect(config), config).endpoints
    rows = [_ask(instance, url, path, timeout) for instance, url in endpoints.items()]
    return pd.DataFrame(rows, columns=["instance", "endpoint", "status", "answer"])


def _ask(instance: str, url: str, path: str, timeout: float) -> dict[str, Any]:
    try:
        with urllib.request.urlopen(url + path, timeout=timeout) as response:
            body = response.read().decode("utf-8", "replace")
            return {
                "instance": instance,
                "endpoint": url,
                "status": response.status,
                "answer": _short(body),
            }
    except (OSError, urllib.error.URLError) as exc:
        return {"instance": instance, "endpoint": url, "status": None, "answer": str(exc)}


def _short(body: str) -> str:
    try:
        return json.dumps(json.loads(body), sort_keys=True)[:200]
    except ValueError:
        return body[:200]


def widgets(base: StackConfig | None = None) -> Any:
    """The interactive walkthrough: choose → validate → plan → apply → run → ask the app."""
    import ipywidgets as w
    from IPython.display import display

    show: Callable[[Any], None] = display  # IPython is untyped

    defaults = base or StackConfig()
    target = w.Dropdown(options=["local", "aws"], value=defaults.target, description="target")
    profile = w.Text(value=defaults.profile or "", description="profile")
    region = w.Text(value=defaults.region, description="region")
    stack = w.Text(value=defaults.stack, description="stack")
    size = w.BoundedIntText(value=defaults.fleet.size, min=1, max=100, description="fleet size")
    buttons = {
        n: w.Button(description=n)
        for n in ("Validate", "Plan", "Apply", "Run pipeline", "Ask the app")
    }
    bar = w.IntProgress(min=0, max=1, description="up")
    out = w.Output()

    def choices() -> Choices:
        return Choices(target.value, profile.value, region.value, stack.value, size.value)

    def guarded(action: Callable[[StackConfig], None]) -> Callable[[Any], None]:
        def handler(_: Any) -> None:
            with out:
                out.clear_output()
                try:
                    action(make_config(choices(), base))
                except OpslibError as exc:
                    print(f"Error: {exc}")

        return handler

    def on_step(done: int, total: int, line: str) -> None:
        bar.max, bar.value = total, done
        print(line)

    buttons["Validate"].on_click(guarded(lambda c: print(f"ok: stack {c.stack} on {c.target}")))
    buttons["Plan"].on_click(guarded(lambda c: show(plan_table(c))))
    buttons["Apply"].on_click(guarded(lambda c: print(apply_with_progress(c, on_step).counts())))
    buttons["Run pipeline"].on_click(guarded(lambda c: print(run_pipeline(c, print).status)))
    buttons["Ask the app"].on_click(guarded(lambda c: show(app_answers(c))))
    form = w.VBox([target, profile, region, stack, size])
    return w.VBox([form, w.HBox(list(buttons.values())), bar, out])


# The provision and teardown runbooks: one call per cell.

STACK_PARAMETERS = ("profile", "region", "stack")


@dataclass(frozen=True)
class Setting:
    """A runbook parameter naming a top-level config setting (an opslib.params rule):
    empty keeps the config file's value, anything else must be valid for the setting."""

    key: str

    def check(self, value: Any) -> str | None:
        if not value:
            return None
        try:
            override(StackConfig(), **{self.key: value})
        except ConfigError as exc:
            problem = str(exc).split(f"{self.key}: ", 1)[-1]
            return problem.removesuffix(f", got {value!r}")
        return None


def setting(key: str) -> Setting:
    return Setting(key)


def with_stack_parameters(
    rb: RunbookContext, open_session: Callable[[StackConfig], Session] = connect
) -> RunbookContext:
    """The runbook's context with its non-empty profile, region and stack applied.

    ``runbooks.begin`` applies ``config`` and ``target``; provision and teardown may also
    name another stack, region or profile than the config file's. The session is opened
    again only when the region or profile changed (the target depends on them).
    """
    config = override(rb.config, **{k: rb.params.get(k) or None for k in STACK_PARAMETERS})
    if config == rb.config:
        return rb
    same = (config.region, config.profile) == (rb.config.region, rb.config.profile)
    return replace(rb, config=config, session=rb.session if same else open_session(config))


def _progress(echo: Echo) -> Progress:
    def progress(change: Change, state: StepStatus) -> None:
        line = display.progress_line(change, state)
        if line:
            echo(line)

    return progress


def _named(changes: list[Change], action: Action) -> list[str]:
    return [f"{c.kind} {c.name}" for c in changes if c.action is action]


def provision_plan(rb: RunbookContext, echo: Echo = lambda _: None) -> Plan:
    """What ``opslib up`` would do to the stack (reads only), echoed one line per change."""
    check_schedules(rb.config)
    shown = plan(rb.session, rb.config)
    for line in display.plan_lines(shown):
        echo(line)
    return shown


def provision_apply(
    rb: RunbookContext, dry_run: bool = True, echo: Echo = lambda _: None
) -> RunResult | None:
    """Unless ``dry_run``, ``opslib up`` (one line per resource); None when nothing ran."""
    if dry_run:
        echo("dry run: nothing changed (set dry_run=False to apply)")
        return None
    result = apply(rb.session, rb.config, _progress(echo))
    echo(display.run_summary(result, "up"))
    notice = display.connection_notice(result.context.fact("connection_status"), rb.config.region)
    echo(notice or "source connection ready")
    return result


def provision_verdict(stack: str, shown: Plan, result: RunResult | None) -> Verdict:
    """Dry run: ✓ unless ``up`` would stop at another stack's resource; applied: ✓ with
    the counts (a failed ``up`` raises in the apply cell, saying how to resume)."""
    if result is None:
        conflicts = _named(shown.changes, Action.CONFLICT)
        if conflicts:
            return Verdict(
                False, f"dry run: up would stop, another stack owns {', '.join(conflicts)}"
            )
        if not shown.has_changes:
            return Verdict(True, f"dry run: stack {stack} is up to date, nothing to apply")
        counts = shown.counts()
        return Verdict(
            True,
            f"dry run: stack {stack} would get {counts['create']} created, "
            f"{counts['update']} updated; {rerun_hint('provision', 'dry_run', False)} to apply",
        )
    counts = result.counts()
    pending = result.context.fact("connection_status") == PENDING
    return Verdict(
        True,
        f"stack {stack} is up: {counts['create']} created, {counts['update']} updated, "
        f"{counts['no-op']} unchanged"
        + ("; authorize the GitHub connection in the AWS console" if pending else ""),
    )


def provision_summary(shown: Plan, result: RunResult | None) -> dict[str, Any]:
    """The JSON summary's data: the plan (counts, pending changes) and what ``up`` did."""
    data: dict[str, Any] = {
        "dry_run": result is None,
        "plan": {"counts": shown.counts(), "changes": [c.summary() for c in shown.pending()]},
        "result": None,
    }
    if result is not None:
        data["result"] = {
            "counts": result.counts(),
            "created": _named(result.changes, Action.CREATE),
            "updated": _named(result.changes, Action.UPDATE),
            "seconds": round(result.seconds, 1),
            "mutating_calls": result.mutating_calls,
            "connection": result.context.fact("connection_status"),
        }
    return data


def teardown_plan(rb: RunbookContext, echo: Echo = lambda _: None) -> Plan:
    """What ``opslib down`` would delete: what carries the stack's tag (reads only)."""
    shown = stack_runbook.teardown(rb.config, confirm=False, session=rb.session).plan
    for change in shown.changes:
        echo(display.plan_line(change))
    if not shown.changes:
        echo("nothing carries this stack's tag")
    return shown


def teardown_delete(
    rb: RunbookContext, confirm: bool = False, echo: Echo = lambda _: None
) -> RunResult | None:
    """Only with ``confirm``, ``opslib down`` (one line per resource); None otherwise."""
    if not confirm:
        echo("not confirmed: nothing deleted (set confirm=True to delete)")
        return None
    result = destroy(rb.session, rb.config, _progress(echo))
    echo(display.run_summary(result, "down"))
    for arn in result.leftovers:
        echo(f"still tagged (delete by hand): {arn}")
    return result


def teardown_verdict(stack: str, shown: Plan, result: RunResult | None) -> Verdict:
    """Dry run: ✓ with what would go; deleted: ✓ unless something still carries the tag."""
    if result is None:
        if not shown.changes:
            return Verdict(True, f"nothing carries stack {stack}'s tag, nothing to delete")
        return Verdict(
            True,
            f"dry run: {len(shown.changes)} resource(s) of stack {stack} would be deleted; "
            f"{rerun_hint('teardown', 'confirm', True)} to delete",
        )
    deleted = result.counts()["delete"]
    if result.leftovers:
        return Verdict(
            False,
            f"stack {stack}: {deleted} deleted, but {len(result.leftovers)} still carry its tag "
            f"(delete by hand): {', '.join(result.leftovers)}",
        )
    others = result.counts()["conflict"]
    left = f"; {others} of other stacks left alone" if others else ""
    return Verdict(True, f"stack {stack} torn down: {deleted} resource(s) deleted{left}")


def teardown_summary(shown: Plan, result: RunResult | None) -> dict[str, Any]:
    """The JSON summary's data: what would go and, when confirmed, what ``down`` did."""
    data: dict[str, Any] = {
        "confirmed": result is not None,
        "plan": {"count": len(shown.changes), "to_delete": _named(shown.changes, Action.DELETE)},
        "result": None,
    }
    if result is not None:
        data["result"] = {
            "counts": result.counts(),
            "deleted": _named(result.changes, Action.DELETE),
            "left_to_other_stacks": _named(result.changes, Action.CONFLICT),
            "still_tagged": list(result.leftovers),
            "seconds": round(result.seconds, 1),
            "mutating_calls": result.mutating_calls,
        }
    return data
