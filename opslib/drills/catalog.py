"""The drills opslib knows: a registry of names, each with its experiment file and its
``prepare`` (what it targets, read-only), as papermill registers its engines.

Experiment files are package data, ``opslib/drills/experiments/<name>.json``: Chaos
Toolkit experiments (steady-state hypothesis, method, rollbacks) whose providers are
opslib's Python functions and whose ``${name}`` values ``prepare`` fills in. An
experiment may override the stack's objectives for itself with an extension:
``"extensions": [{"name": "opslib", "objectives": {"rto_minutes": 10}}]``.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opslib.config import StackConfig
from opslib.drills.context import DrillRun
from opslib.drills.model import Objective
from opslib.drills.plan import Preparation
from opslib.exceptions import ConfigError

EXPERIMENTS = Path(__file__).resolve().parent / "experiments"

Prepare = Callable[[DrillRun, dict[str, Any]], Preparation]


@dataclass(frozen=True)
class Drill:
    """One drill: its name, what it proves, and how it finds its targets."""

    name: str
    purpose: str
    prepare: Prepare

    @property
    def path(self) -> Path:
        return EXPERIMENTS / f"{self.name}.json"

    def experiment(self) -> dict[str, Any]:
        """The experiment as written, checked by chaoslib (providers importable, shapes)."""
        from chaoslib.exceptions import InvalidExperiment
        from chaoslib.experiment import ensure_experiment_is_valid

        try:
            experiment: dict[str, Any] = json.loads(self.path.read_text(encoding="utf-8"))
            ensure_experiment_is_valid(experiment)
        except (OSError, ValueError, InvalidExperiment) as exc:
            raise ConfigError(f"{self.path}: not a valid experiment: {exc}") from exc
        return experiment


_DRILLS: dict[str, Drill] = {}


def register(drill: Drill) -> Drill:
    _DRILLS[drill.name] = drill
    return drill


def names() -> list[str]:
    _load()
    return sorted(_DRILLS)


def get(name: str) -> Drill:
    """The drill of that name; ConfigError naming the known ones otherwise."""
    _load()
    if name not in _DRILLS:
        hint = difflib.get_close_matches(name, list(_DRILLS), n=1)
        maybe = f" (did you mean {hint[0]!r}?)" if hint else ""
        raise ConfigError(f"unknown drill {name!r}{maybe}; drills: {', '.join(sorted(_DRILLS))}")
    return _DRILLS[name]


def objective(
    config: StackConfig, experiment: Mapping[str, Any], rto_minutes: int = 0, rpo_minutes: int = 0
) -> Objective:
    """The objectives of one drill run: parameters, else the experiment's, else the config's."""
    own: Mapping[str, Any] = next(
        (e.get("objectives") or {} for e in experiment.get("extensions") or []
         if e.get("name") == "opslib"), {},
    )  # fmt: skip
    return Objective(
        rto_minutes=rto_minutes or int(own.get("rto_minutes") or config.objectives.rto_minutes),
        rpo_minutes=rpo_minutes or int(own.get("rpo_minutes", config.objectives.rpo_minutes)),
    )


def _load() -> None:
    """Register the drills (their modules import the ops they need only when asked)."""
    if _DRILLS:
        return
    from opslib.drills import artifacts, badrelease, instances, pipelinefailure, rebuild, region

    register(Drill("bad-release", "CodeDeploy's automatic rollback undoes a bad release",
                   badrelease.prepare))  # fmt: skip
    register(Drill("artifact-loss", "a deleted artifact comes back from S3 versioning",
                   artifacts.prepare))  # fmt: skip
    register(Drill("instance-loss", "an instance FIS terminates is replaced and redeployed",
                   instances.prepare))  # fmt: skip
    register(Drill("pipeline-failure", "a build stopped mid-flight, its stage retried",
                   pipelinefailure.prepare))  # fmt: skip
    register(Drill("stack-rebuild", "a twin of the stack built from nothing serves",
                   rebuild.prepare))  # fmt: skip
    register(Drill("region-failure", "the stack stood up and released in the DR region",
                   region.prepare))  # fmt: skip
