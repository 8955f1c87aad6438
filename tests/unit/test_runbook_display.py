"""opslib.runbooks.display: the house table style — no index column, a dash for missing."""

from __future__ import annotations

from typing import Any

import pandas
from IPython.core.interactiveshell import InteractiveShell

from opslib.runbooks import display

FRAME = pandas.DataFrame(
    [
        {"name": "a", "cpu %": None, "seconds": float("nan")},
        {"name": "b", "cpu %": 1.5, "seconds": 2.0},
    ]
)


def test_html_tables_have_no_index_column_and_dashes_for_missing_values() -> None:
    html = display.table_html(FRAME)
    assert "<th>0</th>" not in html and "<th></th>" not in html
    assert html.count("<td>–</td>") == 2 and "None" not in html and "NaN" not in html


def test_text_tables_have_no_index_column() -> None:
    assert display.table_text(FRAME).splitlines()[0].split() == ["name", "cpu", "%", "seconds"]
    assert display.table_text(FRAME[:0]) == "(no rows; columns: name, cpu %, seconds)"


def test_the_style_is_registered_with_ipython_for_html_and_text() -> None:
    shell = InteractiveShell.instance()
    try:
        assert display.use_report_tables(shell)
        data, _ = shell.display_formatter.format(FRAME)
        assert "<th>0</th>" not in data["text/html"] and "<td>–</td>" in data["text/html"]
        assert not data["text/plain"].startswith(" ") and "None" not in data["text/plain"]
    finally:
        InteractiveShell.clear_instance()


def test_outside_ipython_there_is_nothing_to_register(monkeypatch: Any) -> None:
    import IPython

    monkeypatch.setattr(IPython, "get_ipython", lambda: None)
    assert display.use_report_tables() is False


def test_times_are_shown_to_the_second_in_utc() -> None:
    from datetime import datetime, timedelta, timezone

    later = datetime(2026, 12, 1, 22, 39, 58, 104684, tzinfo=timezone(timedelta(hours=1)))
    frame = pandas.DataFrame([{"deployed at": later}, {"deployed at": None}])
    assert list(display.shown(frame)["deployed at"]) == ["2026-12-01 21:39:58 UTC", "–"]
