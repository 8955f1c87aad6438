"""How a runbook's tables look in its record: no index column, a dash for a missing value,
times in UTC to the second.

pandas shows a DataFrame with its index (0, 1, 2 …) in front of every row, and ``None`` or
``NaN`` where a value is missing; neither means anything to the person reading a report.
Rather than every runbook cell styling its own frame, :func:`use_report_tables` registers
the house style with IPython once (``runbooks.begin`` calls it), for HTML and for plain
text alike. Outside IPython there is nothing to register and it does nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas

NO_VALUE = "–"  # the same dash the fleet report uses for a figure that does not exist yet


def shown(frame: pandas.DataFrame) -> pandas.DataFrame:
    """The frame as a report shows it: every missing value (None, NaN, NaT) a dash, times
    to the second in UTC (``2026-12-01 21:39:58 UTC``, not ``...58.104684+00:00``)."""
    return frame.astype(object).where(frame.notna(), NO_VALUE).map(_cell)


def _cell(value: Any) -> Any:
    if isinstance(value, datetime):  # pandas' Timestamp is one too
        when = value.astimezone(UTC) if value.tzinfo else value
        return when.strftime("%Y-%m-%d %H:%M:%S") + (" UTC" if value.tzinfo else "")
    return value


def table_html(frame: pandas.DataFrame) -> str:
    """A frame as an HTML table without the index column."""
    import pandas

    rows = pandas.get_option("display.max_rows")
    return str(shown(frame).to_html(index=False, border=0, max_rows=rows))


def table_text(frame: pandas.DataFrame) -> str:
    """A frame as plain text without the index column ('no rows' when empty)."""
    if frame.empty:
        return f"(no rows; columns: {', '.join(str(c) for c in frame.columns)})"
    return str(shown(frame).to_string(index=False))


def _pretty(frame: pandas.DataFrame, printer: Any, cycle: bool) -> None:
    printer.text(table_text(frame))


def use_report_tables(shell: Any = None) -> bool:
    """Register the house table style with the running IPython (or ``shell``); whether
    there was one to register with."""
    import pandas

    if shell is None:
        try:
            from IPython import get_ipython
        except ImportError:
            return False
        shell = get_ipython()
    if shell is None:
        return False
    formatters = shell.display_formatter.formatters
    formatters["text/html"].for_type(pandas.DataFrame, table_html)
    formatters["text/plain"].for_type(pandas.DataFrame, _pretty)
    return True
