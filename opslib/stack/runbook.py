"""What the provision and teardown runbooks do, as functions (their cells only call these).

Parameters come from papermill; an empty string means "as the config file says", so the
defaults of a runbook are the config's own settings on its own (local) target, and the
destructive half of each runbook only runs when asked (``dry_run=False``/``confirm=True``).
"""

from __future__ import annotations

from dataclasses import dataclass

from opslib.config import StackConfig, load_config, override
from opslib.stack.engine import RunResult, apply, destroy, plan, survey
from opslib.stack.model import Action, Change, Plan, owner
from opslib.target import Session, connect


def runbook_config(
    target: str = "", profile: str = "", region: str = "", stack: str = "", config_path: str = ""
) -> StackConfig:
    """The config file ($OPSLIB_CONFIG or ./opslib.yml) with the non-empty parameters applied."""
    loaded = load_config(config_path or None)
    changes = {"target": target, "profile": profile, "region": region, "stack": stack}
    return override(loaded, **{k: v for k, v in changes.items() if v})


@dataclass
class Outcome:
    """What a runbook did: the plan it showed and, when it acted, the run's result."""

    plan: Plan
    result: RunResult | None = None

    @property
    def acted(self) -> bool:
        return self.result is not None


def provision(config: StackConfig, dry_run: bool = True, session: Session | None = None) -> Outcome:
    """Show the plan; unless ``dry_run``, apply it (``opslib up``)."""
    session = session or connect(config)
    shown = plan(session, config)
    if dry_run:
        return Outcome(shown)
    return Outcome(shown, apply(session, config))


def teardown(config: StackConfig, confirm: bool = False, session: Session | None = None) -> Outcome:
    """List what ``down`` would delete (what carries the stack's tag); only with ``confirm``
    delete it."""
    session = session or connect(config)
    existing = [
        Change(f.change.kind, f.change.name, Action.DELETE)
        for f in reversed(survey(session, config))
        if f.current is not None and owner(f.current) == config.stack
    ]
    if not confirm:
        return Outcome(Plan(existing))
    return Outcome(Plan(existing), destroy(session, config))
