"""``opslib runbook list | run``: the runbooks and their parameters; run one into reports/."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from opslib.cli.state import CliState, pass_state
from opslib.runbooks import catalog
from opslib.runbooks.reports import reports_root
from opslib.runbooks.runner import RunRecord, json_parameters, run_runbook


@click.group("runbook")
def runbook_group() -> None:
    """List the operational runbooks or run one with papermill."""


def _directory(directory: Path | None) -> Path:
    return directory or catalog.runbooks_dir()


@runbook_group.command("list")
@click.option("--dir", "directory", type=click.Path(path_type=Path), help="Runbooks folder.")
def list_command(directory: Path | None) -> None:
    """Every runbook with its parameters: type, default and help."""
    found = catalog.list_runbooks(_directory(directory))
    if not found:
        click.echo(f"no runbooks in {_directory(directory)}")
        return
    for info in found:
        click.echo(f"{info.name}: {info.title}")
        if info.purpose:
            click.echo(f"  {info.purpose}")
        width = max((len(p.name) + len(p.type_name) for p in info.parameters), default=0) + 2
        for parameter in info.parameters:
            signature = f"{parameter.name}: {parameter.type_name}".ljust(width)
            default = f"= {parameter.default}".ljust(10)
            click.echo(f"    {signature} {default} {parameter.help}".rstrip())
        click.echo("")


def _with_cli_settings(
    info: catalog.RunbookInfo, given: dict[str, str], state: CliState
) -> dict[str, str]:
    """The global --config and --target, passed on as the runbook's own parameters."""
    config = str(Path(state.config_path).resolve()) if state.config_path else None
    settings = {"config": config, "target": state.target}
    for name, value in settings.items():
        if value and name not in given and info.parameter(name) is not None:
            given[name] = value
    return given


def _report(record: RunRecord) -> None:
    click.echo(f"notebook: {record.paths.notebook}")
    click.echo(f"html:     {record.paths.html}")
    click.echo(f"summary:  {record.paths.summary}")
    if record.verdict:
        click.echo(record.verdict)
    click.echo(
        f"{record.runbook}: {'ok' if record.ok else 'failed'} in {record.duration_seconds:.1f}s"
    )


@runbook_group.command("run")
@click.argument("name")
@click.option(
    "-p", "--parameter", "parameters", nargs=2, multiple=True, metavar="KEY VALUE",
    help="A parameter (repeatable), converted to its declared type; a bool is true or false.",
)  # fmt: skip
@click.option(
    "--parameters-json", default="", metavar="JSON",
    help='Parameters as one JSON object ({"minutes": 60}), as a schedule passes them.',
)  # fmt: skip
@click.option("--dir", "directory", type=click.Path(path_type=Path), help="Runbooks folder.")
@click.option(
    "--reports-dir",
    type=click.Path(path_type=Path),
    help="Where to write (default: reports/ beside opslib.yml).",
)
@click.option("--kernel", default=catalog.KERNEL_NAME, show_default=True, help="Jupyter kernel.")
@click.option("-q", "--quiet", is_flag=True, help="Do not stream the cells' output.")
@pass_state
def run_command(
    state: CliState,
    name: str,
    parameters: tuple[tuple[str, str], ...],
    parameters_json: str,
    directory: Path | None,
    reports_dir: Path | None,
    kernel: str,
    quiet: bool,
) -> None:
    """Execute runbook NAME into reports/<stack>/<date>/ (notebook, HTML, JSON summary).

    Exits 1 when the runbook fails, naming the failing cell.
    """
    info = catalog.find_runbook(name, _directory(directory))
    given = _with_cli_settings(
        info, {**json_parameters(parameters_json), **dict(parameters)}, state
    )
    record = run_runbook(
        info,
        given,
        reports_dir=reports_dir or reports_root(state.config().base_dir()),
        kernel=kernel,
        stdout=None if quiet else sys.stdout,
    )
    _report(record)
    record.raise_for_status()
