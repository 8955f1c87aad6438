"""What the top-level options chose, shared by every command."""

from __future__ import annotations

from dataclasses import dataclass

import click

from opslib.config import StackConfig, load_config, override


@dataclass
class CliState:
    """What the top-level options chose; commands read the config through it."""

    config_path: str | None
    target: str | None
    region: str | None
    profile: str | None

    def config(self) -> StackConfig:
        loaded = load_config(self.config_path)
        return override(loaded, target=self.target, region=self.region, profile=self.profile)


pass_state = click.make_pass_decorator(CliState)
