"""The one look of every report: header card, charts, tables and the formats of figures.

Everything a person reads in a runbook's record is drawn here, so the pipeline report, the
cost report and the operational runbooks look alike (STYLE.md, "Reports"): first a card
with the headline figures and the verdict against the objectives, then charts, then
detail tables.

- formats: ``93.5 %``, ``4 m 12 s``, ``$1.27``; a figure that could not be computed is a
  dash with its reason beside it, never 0;
- :class:`Card`: the header card. Its display output carries :data:`CARD_METADATA`, which
  the HTML record (``opslib.runbooks.html``) lifts to the top of the page;
- :class:`Chart` and the chart helpers: one matplotlib style (``data/report.mplstyle``),
  UTC time axes that say each date once, objective lines dashed, a legend only for more
  than one series, simulated history labelled;
- :class:`Table`: no index column, columns formatted per kind, a sentence when empty.

A leaf of the house: imports nothing of opslib, so every room that shows something to a
person (ops, reports, runbooks) may use it.
"""

from __future__ import annotations

import html
import io
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from importlib import resources
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

NO_VALUE = "–"
CARD_METADATA = "opslib-card"  # display metadata key: the HTML record lifts this output
STYLE_FILE = "data/report.mplstyle"
SIMULATED_MARK = "opslib:simulated"
COLOURS = {"good": "#1a7f37", "bad": "#cf222e", "neutral": "#57606a", "unknown": "#9a6700"}


# -- formats ------------------------------------------------------------------------------
def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(value != value)  # NaN, NaT and pandas' NA are not equal to themselves
    except (TypeError, ValueError):  # pandas.NA refuses bool()
        return True


def percent(value: float | None, digits: int = 1) -> str:
    """A ratio as a percentage: 0.935 -> ``93.5 %``."""
    return NO_VALUE if _missing(value) else f"{float(value) * 100:.{digits}f} %"  # type: ignore[arg-type]


def duration(seconds: float | None) -> str:
    """Seconds in human units: ``0.4 s``, ``42 s``, ``4 m 12 s``, ``2 h 05 m``, ``3 d 4 h``."""
    if _missing(seconds):
        return NO_VALUE
    value = float(seconds)  # type: ignore[arg-type]
    sign, value = ("-" if value < 0 else ""), abs(value)
    if value < 10:
        text = f"{value:.1f} s".replace(".0 s", " s")
    elif value < 60:
        text = f"{round(value)} s"
    elif value < 3600:
        minutes, rest = divmod(round(value), 60)
        text = f"{minutes} m {rest} s" if rest else f"{minutes} m"
    elif value < 86400:
        hours_, rest = divmod(round(value / 60), 60)
        text = f"{hours_} h {rest:02d} m"
    else:
        days, rest = divmod(round(value / 3600), 24)
        text = f"{days} d {rest} h" if rest else f"{days} d"
    return sign + text


def hours(value: float | None) -> str:
    """Hours in human units (``1 h 30 m``)."""
    return NO_VALUE if _missing(value) else duration(float(value) * 3600)  # type: ignore[arg-type]


def usd(value: float | None) -> str:
    """Dollars: ``$1.27``; below a cent to four places (``$0.0042``) so it is not ``$0.00``."""
    if _missing(value):
        return NO_VALUE
    amount = float(value)  # type: ignore[arg-type]
    sign, amount = ("-" if amount < 0 else ""), abs(amount)  # -0.0 too: "$0.00"
    if amount and amount < 0.01:
        return f"{sign}${amount:.4f}"
    return f"{sign}${amount:,.2f}" if amount else "$0.00"


def number(value: float | None, digits: int = 2) -> str:
    """A count as an integer (``1,234``), a quantity to ``digits`` significant places."""
    if _missing(value):
        return NO_VALUE
    amount = float(value)  # type: ignore[arg-type]
    if amount.is_integer():
        return f"{int(amount):,}"
    return f"{amount:,.{digits}f}" if abs(amount) >= 1 else f"{amount:.{digits}g}"


def per_day(value: float | None) -> str:
    """A frequency: ``2.5 / day``; below one a day, per week (``0.5 / week``)."""
    if _missing(value):
        return NO_VALUE
    amount = float(value)  # type: ignore[arg-type]
    if amount and amount < 1 / 7:
        return f"{amount * 30:.2g} / month"
    if amount and amount < 1:
        return f"{amount * 7:.2g} / week"
    return f"{amount:.2g} / day" if amount < 10 else f"{amount:.0f} / day"


def when(value: datetime | None) -> str:
    """A moment in UTC to the minute: ``2026-12-01 21:39 UTC``."""
    if _missing(value):
        return NO_VALUE
    moment = value.astimezone(UTC) if value.tzinfo else value  # type: ignore[union-attr]
    return moment.strftime("%Y-%m-%d %H:%M") + (" UTC" if value.tzinfo else "")  # type: ignore[union-attr]


def text(value: Any) -> str:
    """Any other cell: its text, a dash when missing."""
    return NO_VALUE if _missing(value) else str(value)


def simulated_label(fraction: float | None) -> str:
    """What the card says about simulated history ('' when there is none)."""
    if _missing(fraction) or not fraction:
        return ""
    return f"includes simulated history: {percent(fraction)} of executions ({SIMULATED_MARK})"


# -- the header card ----------------------------------------------------------------------
class Status(StrEnum):
    """How a headline figure stands against its objective."""

    GOOD = "good"  # meets its objective
    BAD = "bad"  # misses its objective
    NEUTRAL = "neutral"  # no objective to hold it against
    UNKNOWN = "unknown"  # not computed (the note says why)


@dataclass(frozen=True)
class Headline:
    """One figure of the card: label, formatted value, a note (objective, cluster, reason)."""

    label: str
    value: str
    note: str = ""
    status: Status = Status.NEUTRAL

    @classmethod
    def of(
        cls,
        label: str,
        value: float | None,
        fmt: Callable[[Any], str],
        *,
        reason: str = "",
        note: str = "",
        status: Status = Status.NEUTRAL,
    ) -> Headline:
        """A figure formatted by ``fmt``; a missing one shows a dash and ``reason``."""
        if _missing(value):
            return cls(label, NO_VALUE, f"not computed: {reason or 'no data'}", Status.UNKNOWN)
        return cls(label, fmt(value), note, status)


def against(value: float | None, objective: float, *, at_least: bool = True) -> Status:
    """GOOD when ``value`` meets ``objective`` (at least, or at most), BAD when not."""
    if _missing(value):
        return Status.UNKNOWN
    met = float(value) >= objective if at_least else float(value) <= objective  # type: ignore[arg-type]
    return Status.GOOD if met else Status.BAD


_CARD_CSS = (
    "border:1px solid #d0d7de;border-radius:6px;padding:12px 16px;margin:8px 0 16px 0;"
    "font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;background:#f6f8fa;"
)


@dataclass(frozen=True)
class Card:
    """The header card: title, the verdict, the headline figures, facts, simulated label."""

    title: str
    headlines: tuple[Headline, ...] = ()
    verdict: str = ""
    ok: bool | None = None
    facts: tuple[tuple[str, str], ...] = ()
    simulated_fraction: float | None = None

    def html(self) -> str:
        parts = [f'<div class="{CARD_METADATA}" style="{_CARD_CSS}">']
        parts.append(
            f'<div style="font-size:1.3em;font-weight:600">{html.escape(self.title)}</div>'
        )
        if self.verdict:
            colour = COLOURS["neutral" if self.ok is None else ("good" if self.ok else "bad")]
            parts.append(
                f'<div class="opslib-verdict" style="margin:6px 0;font-weight:600;'
                f'color:{colour}">{html.escape(self.verdict)}</div>'
            )
        label = simulated_label(self.simulated_fraction)
        if label:
            parts.append(
                '<div class="opslib-simulated" style="display:inline-block;margin:2px 0 6px 0;'
                "padding:1px 8px;border-radius:10px;background:#fff8c5;color:#7d4e00;"
                f'font-size:0.85em">{html.escape(label)}</div>'
            )
        if self.headlines:
            parts.append('<div style="display:flex;flex-wrap:wrap;gap:10px;margin-top:6px">')
            parts += [_headline_html(h) for h in self.headlines]
            parts.append("</div>")
        if self.facts:
            shown = " · ".join(
                f"<strong>{html.escape(k)}</strong> {html.escape(v)}" for k, v in self.facts
            )
            parts.append(
                f'<div style="margin-top:8px;font-size:0.85em;color:#57606a">{shown}</div>'
            )
        parts.append("</div>")
        return "".join(parts)

    def text(self) -> str:
        lines = [self.title]
        if self.verdict:
            lines.append(self.verdict)
        label = simulated_label(self.simulated_fraction)
        if label:
            lines.append(f"[{label}]")
        for h in self.headlines:
            lines.append(f"  {h.label}: {h.value}" + (f" ({h.note})" if h.note else ""))
        lines += [f"  {k}: {v}" for k, v in self.facts]
        return "\n".join(lines)

    def _repr_mimebundle_(
        self, include: Any = None, exclude: Any = None
    ) -> tuple[dict[str, str], dict[str, Any]]:
        """HTML and text, with the metadata that lifts the card to the top of the record."""
        return {"text/html": self.html(), "text/plain": self.text()}, {CARD_METADATA: True}


def _headline_html(h: Headline) -> str:
    colour = COLOURS[h.status.value]
    note = (
        f'<div style="font-size:0.8em;color:{colour}">{html.escape(h.note)}</div>' if h.note else ""
    )
    return (
        f'<div class="opslib-headline" data-status="{h.status.value}" style="min-width:130px;'
        f"background:white;border:1px solid #d0d7de;border-top:4px solid {colour};"
        'border-radius:4px;padding:6px 10px">'
        f'<div style="font-size:0.8em;color:#57606a">{html.escape(h.label)}</div>'
        f'<div style="font-size:1.4em;font-weight:600">{html.escape(h.value)}</div>{note}</div>'
    )


@dataclass(frozen=True)
class Notes:
    """Sentences under a heading: why figures are missing, what a source does not cover."""

    heading: str
    items: tuple[tuple[str, str], ...]

    def _repr_html_(self) -> str:
        if not self.items:
            return ""
        rows = "".join(
            f"<li><strong>{html.escape(k)}</strong>: {html.escape(v)}</li>" for k, v in self.items
        )
        return (
            f'<div class="opslib-notes"><em>{html.escape(self.heading)}</em><ul>{rows}</ul></div>'
        )

    def __repr__(self) -> str:
        return "\n".join([self.heading, *(f"- {k}: {v}" for k, v in self.items)])


def notes(heading: str, reasons: Mapping[str, str]) -> Notes:
    return Notes(heading, tuple(sorted(reasons.items())))


# -- charts -------------------------------------------------------------------------------
def style_path() -> str:
    """The packaged matplotlib style file."""
    return str(resources.files("opslib").joinpath(STYLE_FILE))


@contextmanager
def styled() -> Iterator[None]:
    """Inside: matplotlib draws in the report style (figures, axes, savefig)."""
    import matplotlib.style

    with matplotlib.style.context(style_path()):
        yield


@dataclass(frozen=True)
class Chart:
    """A matplotlib figure that shows itself as PNG in any notebook, whatever the backend.

    A chart with nothing to draw has a ``note`` instead: the notebook and its HTML show
    that sentence as text, not a picture of empty axes.
    """

    figure: Figure
    note: str = ""

    def png(self) -> bytes:
        buffer = io.BytesIO()
        with styled():
            self.figure.savefig(buffer, format="png")
        return buffer.getvalue()

    def _repr_png_(self) -> bytes | None:
        return None if self.note else self.png()

    def _repr_markdown_(self) -> str | None:
        return f"*{self.note}*" if self.note else None


def new_figure(title: str = "", width: float = 7.5, height: float = 3.0) -> tuple[Figure, Axes]:
    """A figure, its axes and title in the report style (constrained layout)."""
    from matplotlib.figure import Figure

    with styled():
        figure = Figure(figsize=(width, height), layout="constrained")
        axes = figure.add_subplot()
        if title:
            axes.set_title(title)  # the title's place and weight are read now
    return figure, axes


def empty_chart(title: str, note: str) -> Chart:
    """A chart with nothing to draw: the note says why."""
    figure, axes = new_figure(title, height=1.0)
    axes.set_axis_off()
    return Chart(figure, note=f"{title}: {note}")


# One (line style, marker) per series on top of the colour: series drawn exactly over one
# another (the emulator's hosts often report the same CPU) must still show.
SERIES_STYLES = (("-", "o"), ("--", "s"), (":", "^"), ("-.", "D"), ("-", "v"), ("--", "P"))
MIN_SPAN = timedelta(minutes=5)  # a chart of a few datapoints still spans a readable window


def series_style(n: int) -> dict[str, Any]:
    """The n-th series' look: its own dash pattern and hollow marker, later ones finer."""
    linestyle, marker = SERIES_STYLES[n % len(SERIES_STYLES)]
    return {
        "linestyle": linestyle,
        "marker": marker,
        "markerfacecolor": "none",
        "linewidth": max(1.0, 2.4 - 0.4 * n),
        "markersize": max(3.0, 8.0 - 1.5 * n),
    }


def time_axis(axes: Axes, start: datetime, end: datetime) -> None:
    """A UTC time axis that says each date once (matplotlib's concise date labels)."""
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    if end - start < MIN_SPAN:
        start = end - MIN_SPAN
    locator = AutoDateLocator(tz=UTC, minticks=3, maxticks=7)  # type: ignore[no-untyped-call]
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(ConciseDateFormatter(locator, tz=UTC))  # type: ignore[no-untyped-call]
    axes.set_xlim(start, end)  # type: ignore[arg-type]
    axes.set_xlabel("time (UTC)")


def value_axis(axes: Axes, unit: str) -> None:
    """The y axis in the unit's human format: ``percent`` (0-1), ``seconds`` or ``usd``."""
    from matplotlib.ticker import FuncFormatter, PercentFormatter

    if unit == "percent":
        axes.yaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))
        axes.set_ylim(0, 1.05)
    elif unit == "seconds":
        axes.yaxis.set_major_formatter(FuncFormatter(lambda v, _: duration(v)))
        axes.set_ylim(bottom=0)
    elif unit == "usd":
        axes.yaxis.set_major_formatter(FuncFormatter(lambda v, _: usd(v)))
        axes.set_ylim(bottom=0)


def objective_line(axes: Axes, value: float, label: str) -> None:
    """An objective as a dashed horizontal line, named in the legend."""
    axes.axhline(value, linestyle="--", linewidth=1.2, color=COLOURS["neutral"], label=label)


def finish(axes: Axes, *, simulated_fraction: float | None = None) -> None:
    """A legend only when more than one thing is drawn; simulated history labelled."""
    handles, _ = axes.get_legend_handles_labels()
    if len(handles) > 1:
        axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    label = simulated_label(simulated_fraction)
    if label:
        axes.annotate(
            label,
            xy=(0, 1.0),
            xycoords="axes fraction",
            xytext=(0, 2),
            textcoords="offset points",
            fontsize=7,
            color="#7d4e00",
            va="bottom",
        )


@dataclass(frozen=True)
class Series:
    """One line of a time chart: its label, times and values."""

    label: str
    times: Sequence[datetime]
    values: Sequence[float | None]
    style: Mapping[str, Any] = field(default_factory=dict)


def line_chart(
    title: str,
    series: Sequence[Series],
    *,
    start: datetime,
    end: datetime,
    unit: str = "",
    ylabel: str = "",
    objective: tuple[float, str] | None = None,
    simulated_fraction: float | None = None,
    empty: str = "nothing to draw in the window",
) -> Chart:
    """Lines over a UTC time axis; an objective dashed; a note instead of empty axes."""
    drawn = [s for s in series if any(not _missing(v) for v in s.values)]
    if not drawn:
        return empty_chart(title, empty)
    figure, axes = new_figure(title)
    with styled():
        for s in drawn:
            values = [math.nan if _missing(v) else float(v) for v in s.values]  # type: ignore[arg-type]
            axes.plot(list(s.times), values, label=s.label, **dict(s.style))  # type: ignore[arg-type]
        if objective is not None:
            objective_line(axes, *objective)
    time_axis(axes, start, end)
    value_axis(axes, unit)
    axes.set_ylabel(ylabel)
    finish(axes, simulated_fraction=simulated_fraction)
    return Chart(figure)


def stacked_bars(
    title: str,
    days: Sequence[datetime],
    stacks: Mapping[str, Sequence[float]],
    *,
    start: datetime,
    end: datetime,
    unit: str = "seconds",
    ylabel: str = "",
    simulated_fraction: float | None = None,
    empty: str = "nothing to draw in the window",
) -> Chart:
    """Bars per day, one stacked segment per key (in the mapping's order)."""
    if not days or not stacks:
        return empty_chart(title, empty)
    figure, axes = new_figure(title)
    bottom = [0.0] * len(days)
    width = 0.8  # in days: matplotlib's date unit
    with styled():
        for label, values in stacks.items():
            heights = [0.0 if _missing(v) else float(v) for v in values]
            axes.bar(list(days), heights, width=width, bottom=bottom, label=label, align="center")  # type: ignore[arg-type]
            bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    time_axis(axes, start, end)
    value_axis(axes, unit)
    axes.set_ylabel(ylabel)
    finish(axes, simulated_fraction=simulated_fraction)
    return Chart(figure)


# -- tables -------------------------------------------------------------------------------
Format = Callable[[Any], str]


@dataclass(frozen=True)
class Table:
    """A frame as people read it: no index column, each column in its format."""

    frame: pandas.DataFrame
    formats: Mapping[str, Format] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    empty: str = "nothing in the window"

    def shown(self) -> pandas.DataFrame:
        """Formatted cells (strings), human column names."""
        out = self.frame.copy()
        for column in out.columns:
            fmt = self.formats.get(str(column)) or _default_format(out[column])
            out[column] = [fmt(v) for v in out[column]]
        return out.rename(columns={c: self.labels.get(str(c), _label(str(c))) for c in out.columns})

    def _repr_html_(self) -> str:
        if self.frame.empty:
            return f'<p class="opslib-empty"><em>{html.escape(self.empty)}</em></p>'
        return str(self.shown().to_html(index=False, border=0, classes="opslib-table"))

    def __repr__(self) -> str:
        if self.frame.empty:
            return f"({self.empty})"
        return str(self.shown().to_string(index=False))


def _label(column: str) -> str:
    """``p50_s`` -> ``p50``; ``error_message`` -> ``error message``."""
    return column.removesuffix("_s").removesuffix("_usd").replace("_", " ")


def _default_format(column: pandas.Series) -> Format:
    """Times to the minute, ``*_s`` columns as durations, the rest as text."""
    import pandas

    name = str(column.name)
    if pandas.api.types.is_datetime64_any_dtype(column.dtype):
        return when
    if name.endswith("_s"):
        return duration
    if name.endswith("_usd"):
        return usd
    if pandas.api.types.is_float_dtype(column.dtype):
        return number
    return text


def table(
    frame: pandas.DataFrame,
    *,
    labels: Mapping[str, str] | None = None,
    empty: str = "nothing in the window",
    **formats: Format,
) -> Table:
    """A :class:`Table` of ``frame``; ``formats`` by column name (``rate=percent``)."""
    return Table(frame, formats, labels or {}, empty)
