"""``opslib emulator start|stop|status|reset|logs|fault``."""

from __future__ import annotations

import time

import click

from opslib import emulator
from opslib.cli.state import CliState, pass_state
from opslib.config import check_state_dir
from opslib.exceptions import EmulatorNotRunning


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


@emulator_group.group("fault")
def fault_group() -> None:
    """Emulator-only fault switch (not an AWS API): make a service or region answer errors."""


def _endpoint(state: CliState) -> str:
    current = emulator.status(check_state_dir(state.config()))
    if not current.running or current.info is None:
        raise EmulatorNotRunning(
            "the emulator is not running (start it with 'opslib emulator start')"
        )
    return current.info.endpoint


def _describe(fault: emulator.Fault) -> str:
    reach = fault.service or "every service"
    where = fault.region or "every region"
    ops = ",".join(fault.operations) or "every operation"
    until = (
        f"until {time.strftime('%H:%M:%S', time.localtime(fault.expires))}"
        if fault.expires
        else "until cleared"
    )
    by = f" (FIS experiment {fault.experiment_id})" if fault.experiment_id else ""
    return f"{fault.id}: {reach} in {where}, {ops}: {fault.error} at {fault.rate:.0%}, {until}{by}"


@fault_group.command("add")
@click.option("--service", default="", help="SigV4 signing name: s3, ec2, ... (default: all)")
@click.option("--region", default="", help="Region, e.g. us-east-1 (default: all)")
@click.option(
    "--error",
    type=click.Choice(["ServiceUnavailable", "InternalError", "Throttling"]),
    default="ServiceUnavailable",
    show_default=True,
)
@click.option("--rate", type=click.FloatRange(0, 1, min_open=True), default=1.0, show_default=True)
@click.option("--operation", "operations", multiple=True, help="Only this operation (repeatable).")
@click.option("--duration", default=None, help="e.g. 30s, 5m, 1h (default: until cleared).")
@pass_state
def fault_add(
    state: CliState,
    service: str,
    region: str,
    error: str,
    rate: float,
    operations: tuple[str, ...],
    duration: str | None,
) -> None:
    """Make matching requests fail as an AWS outage would (emulator only)."""
    fault = emulator.inject_fault(
        _endpoint(state), service=service, region=region, error=error, rate=rate,
        operations=operations, duration=duration,
    )  # fmt: skip
    click.echo(f"injected {_describe(fault)}")


@fault_group.command("list")
@pass_state
def fault_list(state: CliState) -> None:
    """The faults in force."""
    faults = emulator.list_faults(_endpoint(state))
    for fault in faults:
        click.echo(_describe(fault))
    if not faults:
        click.echo("no faults in force")


@fault_group.command("clear")
@click.option("--id", "fault_id", default="", help="Only this fault (default: all).")
@pass_state
def fault_clear(state: CliState, fault_id: str) -> None:
    """Remove faults: all, or one by id."""
    gone = emulator.clear_faults(_endpoint(state), fault_id)
    click.echo(f"cleared {len(gone)} fault(s)")


@emulator_group.command("simulate-history")
@click.option(
    "--days",
    type=click.IntRange(1),
    default=90,
    show_default=True,
    help="How many days back from now to fill.",
)
@click.option("--runs-per-day", type=click.IntRange(1), default=20, show_default=True)
@click.option(
    "--failure-rate",
    type=click.FloatRange(0, 1),
    default=0.1,
    show_default=True,
    help="Share of runs that fail (their builds or their deployments).",
)
@click.option("--seed", type=int, help="Draw the same history again (default: a new one).")
@pass_state
def simulate_history(
    state: CliState, days: int, runs_per_day: int, failure_rate: float, seed: int | None
) -> None:
    """Backfill the pipeline's history (emulator only: AWS has no backfill).

    Pipeline executions, builds, deployments, their events, log lines and metrics over the
    window, each marked simulated so reports say how much of their data is.
    """
    import random
    import time

    from opslib.exceptions import ConfigError
    from opslib.stack.context import Names

    config = state.config()
    if config.target != "local":
        raise ConfigError(
            f"simulate-history: target {config.target} has no backfill; it writes only into "
            "the local emulator (use --target local)"
        )
    seed = random.SystemRandom().randrange(2**31) if seed is None else seed
    names = Names(config.stack, "", config.region)
    spec = emulator.HistorySpec(
        names.pipeline,
        names.events_log_group,
        days,
        runs_per_day,
        time.time(),
        failure_rate,
        seed,
    )
    info = emulator.ensure_running(config)
    done = _with_progress(info, spec, config.region)
    click.echo(_summary(spec, done))


def _with_progress(
    info: emulator.EmulatorInfo, spec: emulator.HistorySpec, region: str
) -> list[emulator.DayWritten]:
    """The days written, with a rich bar on a terminal, a line per tenth otherwise."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    console = Console(highlight=False)
    if not console.is_terminal:
        step = max(1, spec.days // 10)

        def line(day: emulator.DayWritten) -> None:
            if (day.day + 1) % step == 0 or day.day + 1 == spec.days:
                click.echo(f"  day {day.day + 1}/{spec.days} written")

        return emulator.simulate_history(info, spec, region, line)
    columns = ("{task.description}", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(f"simulating {spec.pipeline}", total=spec.days)
        return emulator.simulate_history(info, spec, region, lambda _: progress.advance(task))


def _summary(spec: emulator.HistorySpec, done: list[emulator.DayWritten]) -> str:
    total = {
        k: sum(getattr(d, k) for d in done)
        for k in ("executions", "builds", "deployments", "events", "log_lines", "datapoints")
    }
    return (
        f"simulated {spec.days} days of {spec.pipeline} (seed {spec.seed}): "
        f"{total['executions']} executions, {total['builds']} builds, "
        f"{total['deployments']} deployments, {total['events']} events, "
        f"{total['log_lines']} log lines, {total['datapoints']} datapoints"
    )
