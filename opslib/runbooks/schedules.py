"""The config's ``schedules:`` checked against the runbooks on disk.

The config (one floor down) checks a schedule's shape: name, expression, timezone. Which
runbook it names and what parameters that runbook takes are known only here, so this is
the second half of the check, run by ``opslib config validate``, ``plan`` and ``up`` before
anything is created: an unknown runbook, one that is not read-only (a scheduled report runs
with a read-only role), or a parameter the runbook refuses is one line naming
``schedules[i].runbook`` or ``schedules[i].parameters.<name>`` — the same parameter check
``opslib runbook run`` applies (:func:`~opslib.runbooks.runner.prepare_parameters`).
"""

from __future__ import annotations

import re
from pathlib import Path

from opslib.config import CONFIG_FILENAME, ScheduleSettings, StackConfig
from opslib.exceptions import ConfigError
from opslib.runbooks.catalog import find_runbook, notebook_paths, read_runbook, runbooks_dir
from opslib.runbooks.runner import prepare_parameters

# Set by the reports build itself: the build runs on the target (aws, as CodeBuild sees it)
# with a config file it writes; a schedule may not point it elsewhere.
RESERVED_PARAMETERS = ("target", "config")
_PARAMETER_ERROR = re.compile(r"^parameter '(?P<name>[^']+)': (?P<problem>.*)$")


def schedulable_runbooks(directory: Path | None = None) -> list[str]:
    """The runbooks that only read, and so may be scheduled."""
    paths = notebook_paths(directory or runbooks_dir())
    return [p.stem for p in paths if read_runbook(p).schedulable]


def check_schedule(
    schedule: ScheduleSettings, prefix: str, source: str, directory: Path | None = None
) -> dict[str, object]:
    """One schedule's runbook and parameters; returns the parameters as the declared types."""
    folder = directory or runbooks_dir()
    try:
        info = find_runbook(schedule.runbook, folder)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {prefix}runbook: {exc}") from exc
    if not info.schedulable:
        allowed = ", ".join(schedulable_runbooks(folder)) or "none"
        raise ConfigError(
            f"{source}: {prefix}runbook: {info.name!r} changes the stack; a scheduled report "
            f"runs with a read-only role, so only these may be scheduled: {allowed}"
        )
    for name in RESERVED_PARAMETERS:
        if name in schedule.parameters:
            raise ConfigError(
                f"{source}: {prefix}parameters.{name}: set by the reports build "
                "(it runs on the stack's target with its own config); remove it"
            )
    try:
        return prepare_parameters(info, schedule.parameters)
    except ConfigError as exc:
        match = _PARAMETER_ERROR.match(str(exc))
        where = f"parameters.{match['name']}: {match['problem']}" if match else f"parameters: {exc}"
        raise ConfigError(f"{source}: {prefix}{where}") from exc


def check_schedules(config: StackConfig, directory: Path | None = None) -> None:
    """Every schedule's runbook and parameters, or ConfigError naming the first bad one."""
    source = config.source_file or CONFIG_FILENAME
    for index, schedule in enumerate(config.schedules):
        check_schedule(schedule, f"schedules[{index}].", source, directory)
