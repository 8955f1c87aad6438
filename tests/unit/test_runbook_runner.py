"""opslib.runbooks: catalog (papermill's reading), runner (record, files, failing cell),
context (summary, verdict), and ``opslib runbook list/run`` — on tiny notebooks."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import nbformat
import pytest
from click.testing import CliRunner

from opslib import render, runbooks
from opslib.cli.main import cli
from opslib.exceptions import ConfigError, ExecutionError
from opslib.runbooks import catalog, context, reports, runner
from opslib.runbooks.verdict import Verdict
from opslib.target import Session
from tests.unit.runbook_fakes import FakeSession

WHEN = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)


def tiny(folder: Path, name: str, body: list[tuple[str, str]]) -> Path:
    """A runbook: title, a parameters cell (hours, target, config), then ``body`` cells."""
    book = nbformat.v4.new_notebook()
    book.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    parameters = nbformat.v4.new_code_cell(
        'target: str = "local"  # local or aws\n'
        'config: str = ""  # opslib.yml\n'
        "hours: int = 24  # hours to look back (1-720)"
    )
    parameters.metadata["tags"] = ["parameters"]
    parameters.id = "parameters"
    cells = [
        nbformat.v4.new_markdown_cell(f"# {name.title()}\n\nDoes a {name} thing.\nMore."),
        parameters,
    ]
    for cell_id, source in body:
        cell = nbformat.v4.new_code_cell(source)
        cell.id = cell_id
        cells.append(cell)
    book.cells = cells
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.ipynb"
    nbformat.write(book, path)
    return path


VALIDATE = (
    "validate",
    "from opslib import params\np = params.validate(globals(), hours=params.between(1, 720))",
)


@pytest.fixture
def book_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "runbooks"
    tiny(folder, "quiet", [VALIDATE, ("show", "print('hours', p['hours'])")])
    tiny(folder, "broken", [VALIDATE, ("boom", "x = 1\nraise RuntimeError('the disk is full')")])
    return folder


def test_catalog_reads_title_purpose_and_parameters(book_dir: Path) -> None:
    info = catalog.find_runbook("quiet", book_dir)
    assert (info.name, info.title, info.purpose) == ("quiet", "Quiet", "Does a quiet thing.")
    assert [(p.name, p.type_name, p.default, p.help) for p in info.parameters] == [
        ("target", "str", '"local"', "local or aws"),
        ("config", "str", '""', "opslib.yml"),
        ("hours", "int", "24", "hours to look back (1-720)"),
    ]
    assert [i.name for i in catalog.list_runbooks(book_dir)] == ["broken", "quiet"]


def test_an_unknown_runbook_is_named_with_the_closest_one(book_dir: Path) -> None:
    with pytest.raises(ConfigError, match=r"runbook 'quite': no .* \(did you mean 'quiet'\?\)"):
        catalog.find_runbook("quite", book_dir)


def test_prepare_parameters_converts_and_refuses_before_any_kernel(book_dir: Path) -> None:
    info = catalog.find_runbook("quiet", book_dir)
    assert runner.prepare_parameters(info, {"hours": "5", "target": "aws"}) == {
        "hours": 5,
        "target": "aws",
    }
    with pytest.raises(
        ConfigError, match=r"parameter 'huors': unknown parameter \(did you mean 'hours'\?\)"
    ):
        runner.prepare_parameters(info, {"huors": "5"})
    with pytest.raises(ConfigError, match="parameter 'hours': expected an integer, got 'five'"):
        runner.prepare_parameters(info, {"hours": "five"})
    with pytest.raises(ConfigError, match="parameter 'hours': expected an integer, got True"):
        runner.prepare_parameters(info, {"hours": True})


def test_report_paths_follow_stack_date_and_time(tmp_path: Path) -> None:
    paths = runner.RunPaths.under(tmp_path, "demo", "triage", WHEN)
    assert paths.notebook == tmp_path / "demo" / "2026-03-04" / "triage-050607.ipynb"
    assert (paths.html.suffix, paths.summary.suffix) == (".html", ".json")


def test_a_run_writes_notebook_html_and_summary(book_dir: Path, tmp_path: Path) -> None:
    info = catalog.find_runbook("quiet", book_dir)
    record = runner.run_runbook(info, {"hours": "7"}, reports_dir=tmp_path / "reports", when=WHEN)
    assert record.ok and record.failure() == ""
    assert record.paths.notebook == tmp_path / "reports/opslib-demo/2026-03-04/quiet-050607.ipynb"
    executed = nbformat.read(record.paths.notebook, as_version=4)
    assert "hours 7" in executed.cells[-1].outputs[0]["text"]
    html = record.paths.html.read_text()
    assert "hours 7" in html and "params.validate" not in html  # no code cells
    summary = json.loads(record.paths.summary.read_text())
    assert summary["status"] == "succeeded" and summary["parameters"] == {"hours": 7}
    assert summary["failed_cell"] is None


def test_the_kernel_is_not_started_in_plain_text_over_tcp(
    book_dir: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    record = runner.run_runbook(catalog.find_runbook("quiet", book_dir), {}, reports_dir=tmp_path)
    assert record.ok, record.failure()
    assert "without encryption" not in capfd.readouterr().err  # ipykernel's warning


@pytest.mark.parametrize(
    ("has_curve", "posix", "settings"),
    [
        (True, True, {"transport_encryption": "auto"}),  # CurveZMQ keys from the manager
        (False, True, {"transport": "ipc"}),  # Unix sockets: nothing on the network
        (False, False, {}),  # no better choice on Windows without CurveZMQ
    ],
)
def test_kernel_settings(has_curve: bool, posix: bool, settings: dict[str, str]) -> None:
    assert runner.kernel_settings(has_curve, posix) == settings


def test_a_failing_cell_is_named_and_the_notebook_is_saved_first(
    book_dir: Path, tmp_path: Path
) -> None:
    info = catalog.find_runbook("broken", book_dir)
    record = runner.run_runbook(info, {}, reports_dir=tmp_path, when=WHEN)
    assert not record.ok
    assert record.failure() == (
        "runbook broken failed at cell In [3] 'boom' (x = 1): RuntimeError: the disk is full"
    )
    assert record.paths.notebook.exists() and record.paths.html.exists()
    assert json.loads(record.paths.summary.read_text())["failed_cell"]["cell_id"] == "boom"
    with pytest.raises(ExecutionError, match="failed at cell In \\[3\\] 'boom'"):
        record.raise_for_status()


DEFINE_CONCLUDE = (
    "define",
    "from opslib.exceptions import ExecutionError\n"
    "def conclude(*args):\n    raise ExecutionError('✗ no rollback: nothing earlier')",
)
MULTILINE_FAILURE = ("verdict", "conclude(\n    1,\n    2,\n)")


def test_a_failed_step_is_one_well_formed_line_and_a_red_box_not_a_traceback(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "runbooks"
    cells = [VALIDATE, DEFINE_CONCLUDE, MULTILINE_FAILURE, ("later", "print('never printed')")]
    tiny(folder, "stops", cells)
    record = runner.run_runbook(catalog.find_runbook("stops", folder), {}, reports_dir=tmp_path)
    line = record.failure()
    assert line == (
        "runbook stops failed at cell In [4] 'verdict' (conclude(…)): "
        "ExecutionError: ✗ no rollback: nothing earlier"
    )
    assert line.count("(") == line.count(")")
    executed = nbformat.read(record.paths.notebook, as_version=4)
    assert any(o.output_type == "error" for c in executed.cells for o in c.get("outputs", []))
    html = record.paths.html.read_text()
    assert "Traceback" not in html and "most recent call last" not in html
    assert "papermill encountered an exception" not in html  # papermill's 2em red banner
    assert html.count('class="opslib-step-error"') == 2  # at the top and at the step
    assert "✗ Step &#x27;verdict&#x27; failed" in html or "✗ Step 'verdict' failed" in html
    assert "ExecutionError: no rollback: nothing earlier" in html


REPORT_CELLS = [
    ("validate", VALIDATE[1] + "\np"),
    (
        "connect",
        "from opslib import runbooks\n"
        "rb = runbooks.begin('tables', p, open_session=lambda c: None)",
    ),
    (
        "table",
        "import pandas\n"
        "pandas.DataFrame([{'name': 'a', 'cpu %': None}, {'name': 'b', 'cpu %': 1.5}])",
    ),
]


def test_a_record_shows_parameters_as_a_line_and_tables_without_index_or_none(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "runbooks"
    tiny(folder, "tables", REPORT_CELLS)
    record = runner.run_runbook(
        catalog.find_runbook("tables", folder), {"hours": "6"}, reports_dir=tmp_path
    )
    assert record.ok, record.failure()
    html = record.paths.html.read_text()
    assert "<strong>Parameters:</strong> target <code>local</code>" in html
    assert "hours <code>6</code>" in html
    assert "{&#x27;target&#x27;" not in html and "{'target'" not in html  # no raw dict
    table = html[html.index("<table") : html.index("</table>")]
    assert "<th>0</th>" not in table and "<th></th>" not in table  # no index column
    assert "<th>name</th>" in table and "<td>1.5</td>" in table
    assert "None" not in table and "NaN" not in table and "<td>–</td>" in table


@pytest.mark.parametrize(
    ("code", "shown"),
    [
        ("x = 1", "x = 1"),
        ("runbooks.conclude(", "runbooks.conclude(…)"),
        (
            "p = params.validate(globals(), hours=[1, {",
            "p = params.validate(globals(), hours=[1, {…}])",
        ),
        ("print('(')", "print('(')"),  # a bracket in a string opens nothing
        ("f(x)[0]", "f(x)[0]"),
    ],
)
def test_the_failing_cells_code_is_quoted_with_its_brackets_closed(code: str, shown: str) -> None:
    cell = runner.FailedCell(3, 9, "verdict", code, "ExecutionError", "boom")
    assert cell.describe() == f"cell In [9] 'verdict' ({shown}): ExecutionError: boom"


def test_the_in_notebook_check_catches_a_range_the_runner_cannot(
    book_dir: Path, tmp_path: Path
) -> None:
    record = runner.run_runbook(
        catalog.find_runbook("quiet", book_dir), {"hours": 0}, reports_dir=tmp_path
    )
    assert record.failed_cell is not None and record.failed_cell.cell_id == "validate"
    assert record.failed_cell.ename == "ConfigError"
    assert "parameter 'hours': expected a value from 1 to 720, got 0" in record.failed_cell.evalue


# -- context: what a runbook calls inside its kernel -----------------------------------------


def fake_context(params: dict[str, Any] | None = None) -> context.RunbookContext:
    ctx = runbooks.begin("demo", params or {"target": "local", "config": ""},
                         open_session=lambda config: cast(Session, FakeSession()))  # fmt: skip
    ctx.started = WHEN
    return ctx


def test_begin_applies_the_target_parameter(tmp_path: Path) -> None:
    config = tmp_path / "opslib.yml"
    config.write_text("stack: other\ntarget: aws\n")
    ctx = fake_context({"target": "local", "config": str(config)})
    assert (ctx.config.stack, ctx.config.target) == ("other", "local")
    assert (
        ctx.describe()
        == "runbook demo: stack other on local emulator at http://127.0.0.1:1 (us-east-1)"
    )


def test_conclude_writes_the_summary_beside_the_output_notebook(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(reports.OUTPUT_ENV, str(tmp_path / "run" / "demo-050607.ipynb"))
    done = runbooks.conclude(fake_context(), Verdict(True, "fine"), things=[1, 2])
    assert done.summary_path == tmp_path / "run" / "demo-050607.json"
    summary = json.loads(done.summary_path.read_text())
    assert (summary["ok"], summary["verdict"], summary["data"]) == (
        True,
        "✓ fine",
        {"things": [1, 2]},
    )
    assert summary["stack"] == "opslib-demo" and summary["started"] == WHEN.isoformat()
    assert done._repr_markdown_().startswith("### ✓ fine")


def test_conclude_shows_the_header_card_with_the_verdict_and_headlines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(reports.REPORTS_ENV, str(tmp_path))
    shown: list[Any] = []
    monkeypatch.setattr(context, "_show", shown.append)
    figure = render.Headline("healthy", "2 of 2")
    runbooks.conclude(fake_context(), Verdict(True, "fine"), headlines=(figure,))
    (card,) = shown
    assert isinstance(card, render.Card) and card.title == "Demo"
    assert (card.verdict, card.ok, card.headlines) == ("✓ fine", True, (figure,))
    assert dict(card.facts)["stack"] == "opslib-demo"
    given = render.Card("Pipeline report")
    runbooks.conclude(fake_context(), Verdict(True, "fine"), card=given)
    assert shown[-1] is given


def test_conclude_without_the_runner_writes_under_the_reports_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(reports.OUTPUT_ENV, raising=False)
    monkeypatch.setenv(reports.REPORTS_ENV, str(tmp_path))
    done = runbooks.conclude(fake_context(), Verdict(True, "fine"))
    assert done.summary_path == tmp_path / "opslib-demo" / "2026-03-04" / "demo-050607.json"


def test_a_failing_verdict_fails_the_run_after_writing_the_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(reports.REPORTS_ENV, str(tmp_path))
    monkeypatch.delenv(reports.OUTPUT_ENV, raising=False)
    with pytest.raises(ExecutionError, match="✗ 1 of 2 instances down"):
        runbooks.conclude(fake_context(), Verdict(False, "1 of 2 instances down"))
    written = next(tmp_path.rglob("*.json"))
    assert json.loads(written.read_text())["ok"] is False
    kept = runbooks.conclude(fake_context(), Verdict(False, "problems found"), strict=False)
    assert kept.verdict.ok is False


def test_to_plain_makes_json_ready_data() -> None:
    import pandas

    frame = pandas.DataFrame([{"a": 1}])
    data = {"when": WHEN, "path": Path("/x"), "frame": frame, "verdict": Verdict(True, "ok")}
    plain = context.to_plain({**data, "set": {3}})
    assert plain == {"when": WHEN.isoformat(), "path": "/x", "frame": [{"a": 1}],
                     "verdict": {"ok": True, "sentence": "ok"}, "set": [3]}  # fmt: skip


# -- the command -----------------------------------------------------------------------------


def test_cli_list_shows_parameters_types_defaults_and_help(book_dir: Path) -> None:
    result = CliRunner().invoke(cli, ["runbook", "list", "--dir", str(book_dir)])
    assert result.exit_code == 0, result.output
    assert "quiet: Quiet\n  Does a quiet thing.\n" in result.output
    assert "    hours: int  = 24       hours to look back (1-720)\n" in result.output
    assert '    target: str = "local"  local or aws\n' in result.output


def test_cli_run_refuses_an_unknown_parameter_without_running(
    book_dir: Path, tmp_path: Path
) -> None:
    args = [
        "runbook",
        "run",
        "quiet",
        "--dir",
        str(book_dir),
        "--reports-dir",
        str(tmp_path / "reports"),
        "-p",
        "hour",
        "3",
    ]
    result = CliRunner().invoke(cli, args, standalone_mode=False)
    assert isinstance(result.exception, ConfigError)
    assert "parameter 'hour': unknown parameter (did you mean 'hours'?)" in str(result.exception)
    assert not (tmp_path / "reports").exists()


def test_cli_run_fails_naming_the_cell(book_dir: Path, tmp_path: Path) -> None:
    args = [
        "runbook",
        "run",
        "broken",
        "-q",
        "--dir",
        str(book_dir),
        "--reports-dir",
        str(tmp_path),
    ]
    result = CliRunner().invoke(cli, args, standalone_mode=False)
    assert isinstance(result.exception, ExecutionError)
    assert "cell In [3] 'boom'" in str(result.exception)
    assert "html:" in result.output and "broken: failed" in result.output
