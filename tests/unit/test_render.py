"""The one look of every report (opslib.render): formats, card, tables, charts by their data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import matplotlib
import pandas
import pytest

from opslib import render
from opslib.render import Headline, Status

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (None, "–"),
        (float("nan"), "–"),
        (0.4, "0.4 s"),
        (3.0, "3 s"),
        (42.4, "42 s"),
        (60, "1 m"),
        (252, "4 m 12 s"),
        (7500, "2 h 05 m"),
        (86400 * 3 + 3600 * 4, "3 d 4 h"),
        (-90, "-1 m 30 s"),
    ],
)
def test_durations_in_human_units(seconds: float | None, shown: str) -> None:
    assert render.duration(seconds) == shown


@pytest.mark.parametrize(
    ("fmt", "value", "shown"),
    [
        (render.percent, 0.935, "93.5 %"),
        (render.percent, 1.0, "100.0 %"),
        (render.percent, None, "–"),
        (render.usd, 1.271, "$1.27"),
        (render.usd, 0.0042, "$0.0042"),
        (render.usd, 0.0, "$0.00"),
        (render.usd, 1234.5, "$1,234.50"),
        (render.usd, -0.0, "$0.00"),
        (render.usd, -1.5, "-$1.50"),
        (render.number, 12.0, "12"),
        (render.number, 1234, "1,234"),
        (render.number, 0.01234, "0.012"),
        (render.per_day, 2.5, "2.5 / day"),
        (render.per_day, 0.5, "3.5 / week"),
        (render.per_day, 0.05, "1.5 / month"),
        (render.hours, 1.5, "1 h 30 m"),
        (render.when, T0, "2026-12-01 09:00 UTC"),
        (render.text, pandas.NA, "–"),
    ],
)
def test_formats(fmt: render.Format, value: object, shown: str) -> None:
    assert fmt(value) == shown


def test_a_missing_headline_shows_a_dash_and_its_reason_never_zero() -> None:
    headline = Headline.of("lead time", None, render.hours, reason="no deployment")
    assert (headline.value, headline.status) == ("–", Status.UNKNOWN)
    assert headline.note == "not computed: no deployment"


@pytest.mark.parametrize(
    ("value", "at_least", "status"),
    [(0.96, True, Status.GOOD), (0.9, True, Status.BAD), (None, True, Status.UNKNOWN),
     (0.04, False, Status.GOOD), (0.2, False, Status.BAD)],
)  # fmt: skip
def test_against_the_objective(value: float | None, at_least: bool, status: Status) -> None:
    assert render.against(value, 0.95 if at_least else 0.05, at_least=at_least) is status


def test_the_card_carries_verdict_figures_facts_and_the_simulated_label() -> None:
    card = render.Card(
        "Pipeline report",
        (Headline("success rate", "50.0 %", "objective ≥ 95.0 %", Status.BAD),),
        "✗ below the objective",
        False,
        (("window", "30 days"),),
        simulated_fraction=0.25,
    )
    data, metadata = card._repr_mimebundle_()
    assert metadata == {render.CARD_METADATA: True}
    html = data["text/html"]
    assert "Pipeline report" in html and "✗ below the objective" in html
    assert 'data-status="bad"' in html and "50.0 %" in html and "30 days" in html
    assert "includes simulated history: 25.0 % of executions" in html
    assert "success rate: 50.0 % (objective ≥ 95.0 %)" in data["text/plain"]


def test_a_card_without_simulated_history_has_no_label() -> None:
    assert "simulated" not in render.Card("x", simulated_fraction=0.0).html()
    assert "simulated" not in render.Card("x", simulated_fraction=None).html()


def test_a_card_escapes_what_it_shows() -> None:
    assert "<b>" not in render.Card("<b>stack</b>").html()


def test_tables_have_no_index_and_format_each_column() -> None:
    frame = pandas.DataFrame(
        {"stage": ["Build", "Deploy"], "rate": [0.5, None], "p50_s": [252.0, 61.0],
         "start": pandas.to_datetime([T0, T0], utc=True)}
    )  # fmt: skip
    table = render.table(frame, rate=render.percent)
    shown = table.shown()
    assert list(shown.columns) == ["stage", "rate", "p50", "start"]
    assert list(shown["rate"]) == ["50.0 %", "–"]
    assert list(shown["p50"]) == ["4 m 12 s", "1 m 1 s"]
    assert list(shown["start"]) == ["2026-12-01 09:00 UTC"] * 2
    html = table._repr_html_()
    assert "<th>stage</th>" in html and "<th></th>" not in html  # no index header
    assert ">0<" not in html and ">1<" not in html  # no index cells


def test_an_empty_table_says_so() -> None:
    empty = render.table(pandas.DataFrame(columns=["a"]), empty="no rollback in the window")
    assert "no rollback in the window" in empty._repr_html_()


def test_a_line_chart_draws_its_series_objective_and_a_utc_time_axis() -> None:
    days = [T0 + timedelta(days=d) for d in range(3)]
    chart = render.line_chart(
        "Success rate", [render.Series("daily", days, [1.0, None, 0.5]),
                         render.Series("7-day", days, [1.0, 1.0, 0.75])],
        start=days[0], end=days[-1], unit="percent", objective=(0.95, "objective 95.0 %"),
        simulated_fraction=0.5,
    )  # fmt: skip
    axes = chart.figure.axes[0]
    labels = [line.get_label() for line in axes.get_lines()]
    assert labels == ["daily", "7-day", "objective 95.0 %"]
    objective = axes.get_lines()[-1]
    assert objective.get_linestyle() == "--" and list(objective.get_ydata()) == [0.95, 0.95]
    assert axes.get_xlabel() == "time (UTC)" and axes.get_legend() is not None
    assert axes.yaxis.get_major_formatter()(0.5, 0) == "50%"
    assert any("simulated" in t.get_text() for t in axes.texts)
    assert chart.png().startswith(b"\x89PNG")


def test_one_series_has_no_legend() -> None:
    chart = render.line_chart(
        "CPU", [render.Series("a", [T0], [1.0])], start=T0, end=T0 + timedelta(hours=1)
    )
    assert chart.figure.axes[0].get_legend() is None


def test_a_chart_with_nothing_to_draw_is_a_note() -> None:
    chart = render.line_chart(
        "Build duration", [render.Series("p50", [], [])], start=T0, end=T0, empty="no build"
    )
    assert chart.note == "Build duration: no build"
    assert chart._repr_png_() is None and chart._repr_markdown_() == "*Build duration: no build*"


def test_stacked_bars_stack_in_the_given_order() -> None:
    days = [T0, T0 + timedelta(days=1)]
    chart = render.stacked_bars(
        "Phases", days, {"INSTALL": [10.0, 20.0], "BUILD": [30.0, 40.0]}, start=T0, end=days[-1]
    )
    axes = chart.figure.axes[0]
    bars = axes.containers
    assert [b.get_label() for b in bars] == ["INSTALL", "BUILD"]
    assert [p.get_y() for p in bars[1].patches] == [10.0, 20.0]  # on top of INSTALL
    assert axes.yaxis.get_major_formatter()(90, 0) == "1 m 30 s"


def test_charts_are_drawn_in_the_report_style() -> None:
    style = matplotlib.rc_params_from_file(render.style_path(), use_default_template=False)
    assert style["axes.spines.top"] is False and style["axes.grid"] is True
    figure, axes = render.new_figure("Builds")
    assert axes.spines["top"].get_visible() is False  # the style's, not matplotlib's default
    assert matplotlib.rcParams["axes.spines.top"] is True  # and nothing global changed
    assert axes.get_title() == "Builds" and axes.title.get_fontweight() == "bold"
    assert figure.get_facecolor()[:3] == (1.0, 1.0, 1.0)


def test_notes_list_each_reason() -> None:
    shown = render.notes("Not computed", {"lead time": "no deployment"})._repr_html_()
    assert "<strong>lead time</strong>: no deployment" in shown
    assert render.notes("Not computed", {})._repr_html_() == ""
