"""The setup walkthrough's logic: choose, validate, plan, apply, run, see the app answer.

``notebooks/setup-walkthrough.ipynb`` shows this with ipywidgets. Widget callbacks never
fire under papermill or nbval, so every step is a plain function here (tested on its
own), the widgets only call them, and the notebook's cells call them too.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from opslib import pipeline
from opslib.config import StackConfig, parse_config
from opslib.exceptions import ConfigError, OpslibError
from opslib.stack.context import Names
from opslib.stack.engine import RunResult, StepStatus, apply, plan
from opslib.stack.model import Change
from opslib.stack.registry import resources
from opslib.stack.status import status
from opslib.target import Session, connect

Step = Callable[[int, int, str], None]


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


def plan_table(config: StackConfig, session: Session | None = None) -> pd.DataFrame:
    """The plan as a table: kind, name, action, changed fields."""
    return pd.DataFrame(plan(session or connect(config), config).rows())


def resource_count(config: StackConfig) -> int:
    """How many steps ``up`` takes (for a progress bar's maximum)."""
    return len(resources(Names(config.stack, "0", config.region)))


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
