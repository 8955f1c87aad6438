"""What a runbook calls inside its kernel: open the stack's target, conclude with a verdict.

A runbook stays thin: after :func:`opslib.params.validate` it calls :func:`begin`
(config + session on the target, the emulator started on demand for ``local``), then a few
opslib functions, and ends with :func:`conclude`, which writes the JSON summary beside the
output notebook and — for a ✗ verdict — fails the run, so ``opslib runbook run`` and a
scheduler see a non-zero result naming the verdict cell.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opslib import render
from opslib.config import StackConfig, load_config, override
from opslib.exceptions import ExecutionError
from opslib.runbooks.display import use_report_tables
from opslib.runbooks.reports import summary_path
from opslib.runbooks.verdict import Verdict

if TYPE_CHECKING:
    from opslib.target import Session

logger = logging.getLogger(__name__)


@dataclass
class RunbookContext:
    """One runbook run: its name, checked parameters, the stack's config and session."""

    name: str
    params: dict[str, Any]
    config: StackConfig
    session: Session
    started: datetime = field(default_factory=lambda: datetime.now(UTC))

    def describe(self) -> str:
        return f"runbook {self.name}: stack {self.config.stack} on {self.session.target.describe()}"

    def _repr_markdown_(self) -> str:
        return f"**{self.describe()}**"


def runbook_config(params: Mapping[str, Any]) -> StackConfig:
    """The stack config a runbook's ``config`` and ``target`` parameters select."""
    config = load_config(params.get("config") or None)
    return override(config, target=params.get("target") or None)


def begin(
    name: str,
    params: Mapping[str, Any],
    open_session: Callable[[StackConfig], Session] | None = None,
) -> RunbookContext:
    """Load the config, connect to the target; the first step of every runbook."""
    if open_session is None:
        from opslib.target import connect  # boto3: only once a runbook really begins

        open_session = connect
    config = runbook_config(params)
    context = RunbookContext(name, dict(params), config, open_session(config))
    _readable_tables()
    return context


def _readable_tables() -> None:
    """Tables in a report show whole reasons and every row (pandas cuts at 50 chars), and
    no index column (see :mod:`opslib.runbooks.display`)."""
    import pandas

    pandas.set_option("display.max_colwidth", 200)
    pandas.set_option("display.max_rows", 500)
    pandas.set_option("display.width", 200)
    use_report_tables()


def to_plain(value: Any) -> Any:
    """JSON-ready data from dataclasses, frames, enums, times and paths."""
    summary = getattr(value, "summary", None)
    if callable(summary):
        return to_plain(summary())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_plain(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict) and hasattr(value, "columns"):  # a pandas DataFrame
        return to_plain(to_dict(orient="records"))
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def summary_document(
    context: RunbookContext, verdict: Verdict, data: Mapping[str, Any], headline: str = ""
) -> Any:
    """The runbook's JSON summary: who, where, with what, the verdict and its data.

    ``headline`` is the one figure a history of runs shows beside the verdict
    (``3/3 healthy``): ``opslib reports list`` and the reports index read it.
    """
    return to_plain(
        {
            "runbook": context.name,
            "stack": context.config.stack,
            "target": context.session.target.describe(),
            "parameters": context.params,
            "started": context.started,
            "finished": datetime.now(UTC),
            "ok": verdict.ok,
            "verdict": str(verdict),
            "headline": headline,
            "data": dict(data),
        }
    )


def write_summary(path: Path, document: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


@dataclass(frozen=True)
class Conclusion:
    """The verdict and where the summary went; shown as the runbook's last output."""

    verdict: Verdict
    summary_path: Path

    def _repr_markdown_(self) -> str:
        return f"### {self.verdict}\n\nsummary: `{self.summary_path}`"


def _show(shown: Any) -> None:
    """Show something as the cell's output (the conclusion even though the run fails right
    after, the header card before it)."""
    try:
        from IPython.display import display
    except ImportError:  # outside Jupyter there is no one to show it to
        return
    display(shown)  # type: ignore[no-untyped-call]


def title_of(name: str) -> str:
    """``fleet-health`` -> ``Fleet health``: the card's title when the runbook gives none."""
    words = name.replace("-", " ").replace("_", " ")
    return words[:1].upper() + words[1:]


def header_card(
    context: RunbookContext, verdict: Verdict, headlines: tuple[render.Headline, ...] = ()
) -> render.Card:
    """The runbook's header card: its verdict, headline figures, stack, target and time."""
    facts = (
        ("stack", context.config.stack),
        ("target", context.session.target.describe()),
        ("run", render.when(context.started)),
    )
    return render.Card(title_of(context.name), tuple(headlines), str(verdict), verdict.ok, facts)


def conclude(
    context: RunbookContext,
    verdict: Verdict,
    *,
    strict: bool = True,
    headline: str = "",
    headlines: tuple[render.Headline, ...] = (),
    card: render.Card | None = None,
    **data: Any,
) -> Conclusion:
    """Write the JSON summary, show the header card and the verdict; a ✗ verdict fails the
    run if ``strict``.

    ``strict=False`` is for runbooks whose job is to report (triage, the reports): finding
    problems is their success, not their failure. The card (``card``, else one made of the
    verdict and ``headlines``) is lifted to the top of the HTML record; ``headline`` is the
    one figure the summary keeps for a history of runs (``opslib reports list``).
    """
    config = context.config
    path = summary_path(config.stack, context.name, context.started, config.base_dir())
    write_summary(path, summary_document(context, verdict, data, headline))
    logger.info("%s: summary written to %s", context.name, path)
    conclusion = Conclusion(verdict, path)
    _show(card or header_card(context, verdict, headlines))
    if strict and not verdict.ok:
        _show(conclusion)
        raise ExecutionError(str(verdict))
    return conclusion
