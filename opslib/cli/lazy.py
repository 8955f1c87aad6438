"""A click group whose subcommands are imported when they are used, not at start-up.

Every ``opslib`` command used to import every module behind every other command: boto3
and botocore, moto (through the emulator's store) — about half a second before
``opslib runbook list`` or ``opslib lint`` could start. :class:`LazyGroup` knows each
subcommand's name and module and imports the module on first use; ``opslib --help``
still lists them all (it loads them to read their help).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping

import click


def load_command(name: str, module_name: str) -> click.Command:
    """The command called ``name`` among the module's top-level click commands."""
    module = importlib.import_module(module_name)
    for value in vars(module).values():
        if isinstance(value, click.Command) and value.name == name:
            return value
    raise LookupError(f"{module_name} defines no command {name!r}")


class LazyGroup(click.Group):
    """A group with ``lazy_commands`` (name -> module), imported on first use."""

    def __init__(self, *args: object, lazy_commands: Mapping[str, str] | None = None,
                 **kwargs: object) -> None:  # fmt: skip
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.lazy_commands = dict(lazy_commands or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy_commands:
            self.add_command(load_command(cmd_name, self.lazy_commands[cmd_name]))
        return super().get_command(ctx, cmd_name)
