"""Entry point of the ``opslib`` command.

Commands only parse arguments, call the library and print. Expected failures are
:class:`~opslib.exceptions.OpslibError`; :func:`main` prints them as one ``Error:`` line
and exits 1, so a user never sees a traceback for their own mistake.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
import yaml

from opslib import __version__, log
from opslib.cli.lazy import LazyGroup
from opslib.cli.state import CliState, pass_state
from opslib.config import TARGETS, check_local_source, check_state_dir
from opslib.exceptions import OpslibError

# The commands defined elsewhere, imported when used (see opslib.cli.lazy).
LAZY_COMMANDS = {
    "emulator": "opslib.cli.emulator",
    **dict.fromkeys(("plan", "up", "down", "status"), "opslib.cli.stack"),  # STACK_COMMANDS
    "run": "opslib.cli.run",
    "runbook": "opslib.cli.runbook",
    **dict.fromkeys(("reports", "schedule"), "opslib.cli.reports"),
}


@click.group(
    cls=LazyGroup,
    lazy_commands=LAZY_COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(__version__, prog_name="opslib")
@click.option("--config", "config_path", metavar="FILE", help="Stack config (./opslib.yml).")
@click.option("--target", type=click.Choice(TARGETS), help="Override the config's target.")
@click.option("--region", help="Override the config's AWS region.")
@click.option("--profile", help="AWS profile (target aws).")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.pass_context
def cli(
    ctx: click.Context,
    config_path: str | None,
    target: str | None,
    region: str | None,
    profile: str | None,
    verbose: int,
) -> None:
    """Stand up, operate, drill and report on an AWS CI/CD pipeline.

    Runs against the embedded local emulator by default, or a real AWS account
    with --target aws.
    """
    log.configure(verbose)
    ctx.obj = CliState(config_path, target, region, profile)


@cli.group("config")
def config_group() -> None:
    """Show or check the stack's config file."""


@config_group.command("show")
@pass_state
def config_show(state: CliState) -> None:
    """Print the effective settings (file + defaults + flags) as YAML."""
    from opslib.target import Target  # boto3: only for the commands that need it

    config = state.config()
    click.echo(f"# from {config.source_file or 'defaults (no opslib.yml found)'}")
    click.echo(yaml.safe_dump(config.to_dict(), sort_keys=False).rstrip())
    click.echo(f"# target: {Target.from_config(config).describe()}")


@config_group.command("validate")
@pass_state
def config_validate(state: CliState) -> None:
    """Check the config file; exit 1 with the first problem named."""
    config = state.config()
    if config.target == "local":  # what the local target needs of this machine
        check_state_dir(config)
        check_local_source(config)
    from opslib.runbooks.schedules import check_schedules

    check_schedules(config)
    click.echo(f"{config.source_file or 'defaults'}: ok (stack {config.stack}, {config.target})")


@cli.command("lint")
@click.argument("path", required=False, default=".", type=click.Path(path_type=Path))
def lint(path: Path) -> None:
    """Validate buildspec.yml and appspec.yml (a folder holding them, or one file)."""
    from opslib.specs import lint_path
    from opslib.specs.findings import Severity

    findings = lint_path(path)
    for finding in findings:
        click.echo(str(finding), err=finding.severity is Severity.ERROR)
    errors = sum(f.severity is Severity.ERROR for f in findings)
    warnings = len(findings) - errors
    click.echo(f"{path}: {errors} error(s), {warnings} warning(s)", err=bool(errors))
    if errors:
        sys.exit(1)


def main() -> None:
    """Run the CLI; expected errors become one ``Error:`` line and exit status 1."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except OpslibError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
