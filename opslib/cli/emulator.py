"""``opslib emulator start|stop|status|reset|logs``."""

from __future__ import annotations

import click

from opslib import emulator
from opslib.cli.state import CliState, pass_state
from opslib.config import check_state_dir


@click.group("emulator")
def emulator_group() -> None:
    """Run the local AWS emulator (the default target)."""


@emulator_group.command("start")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    help="Port on 127.0.0.1 (default: the config's; 0 picks one).",
)
@pass_state
def start(state: CliState, port: int | None) -> None:
    """Start the emulator in the background (no-op when it already runs)."""
    config = state.config()
    info = emulator.start(check_state_dir(config), config.emulator.port if port is None else port)
    click.echo(f"emulator running at {info.endpoint} (pid {info.pid}, state {info.state_dir})")
    click.echo(f"  use it from any AWS tool: export AWS_ENDPOINT_URL={info.endpoint}")


@emulator_group.command("stop")
@pass_state
def stop(state: CliState) -> None:
    """Stop the emulator; its state stays for the next start."""
    stopped = emulator.stop(check_state_dir(state.config()))
    click.echo("emulator stopped" if stopped else "no emulator was running")


@emulator_group.command("status")
@pass_state
def status(state: CliState) -> None:
    """Endpoint, uptime, state size and what runs; exit 3 when not running."""
    current = emulator.status(check_state_dir(state.config()))
    click.echo(f"state:    {current.state_dir} ({current.state_bytes / 1e6:.1f} MB)")
    if not current.running or current.info is None or current.health is None:
        click.echo("emulator: not running (start it with 'opslib emulator start')")
        raise SystemExit(3)
    health = current.health
    click.echo(f"emulator: running at {current.info.endpoint} (pid {current.info.pid})")
    click.echo(f"uptime:   {current.uptime_seconds:.0f}s")
    click.echo(f"builds:   {health.get('builds_running', 0)} running")
    click.echo(f"hosts:    {health.get('hosts_running', 0)} running")


@emulator_group.command("reset")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_state
def reset(state: CliState, yes: bool) -> None:
    """Stop the emulator and delete all of its state."""
    state_dir = check_state_dir(state.config())
    if not yes:
        click.confirm(f"Delete every resource, build and log in {state_dir}?", abort=True)
    emulator.reset(state_dir)
    click.echo(f"emulator state deleted ({state_dir})")


@emulator_group.command("logs")
@click.option("-n", "--lines", type=click.IntRange(min=0), default=50, show_default=True)
@pass_state
def logs(state: CliState, lines: int) -> None:
    """Show the end of the emulator's own log."""
    for line in emulator.log_lines(check_state_dir(state.config()), lines):
        click.echo(line)
