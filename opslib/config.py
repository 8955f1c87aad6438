"""The stack's settings: one YAML file (``opslib.yml``), validated with clear errors.

Every setting has a default, so a missing file means "the demo stack on the local
emulator". A wrong value is reported as ``opslib.yml: fleet.size: expected ...`` naming
the file, the key path and what is expected; unknown keys are errors too, because a
misspelled key that silently falls back to its default is the worst kind of config bug.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import MISSING, Field, asdict, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

import yaml

from opslib.exceptions import ConfigError

CONFIG_FILENAME = "opslib.yml"
CONFIG_ENV = "OPSLIB_CONFIG"
TARGETS = ("local", "aws")
DEPLOYMENT_CONFIGS = (
    "CodeDeployDefault.OneAtATime",
    "CodeDeployDefault.HalfAtATime",
    "CodeDeployDefault.AllAtOnce",
)
_NAME_RE = re.compile(r"^[a-z][a-z0-9-]{1,30}[a-z0-9]$")
_REGION_RE = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
_CIDR_RE = re.compile(r"^(\d{1,3}\.){3}\d{1,3}/\d{1,2}$")


@dataclass(frozen=True)
class EmulatorSettings:
    """Where the local emulator listens and keeps its state."""

    port: int = 4599
    state_dir: str = ".opslib/emulator"


@dataclass(frozen=True)
class SourceSettings:
    """The repository the pipeline builds: a GitHub repo on AWS, a local git repo locally."""

    repository: str = "."
    branch: str = "main"
    github: str = "example/opslib-sample-app"


@dataclass(frozen=True)
class FleetSettings:
    """The EC2 instances CodeDeploy deploys to."""

    size: int = 3
    instance_type: str = "t2.micro"
    tag_key: str = "DeploymentGroup"
    tag_value: str = "Production-Fleet"


@dataclass(frozen=True)
class NetworkSettings:
    """Ports the security group opens; SSH stays closed unless a CIDR is named."""

    app_port: int = 3000
    ingress_ports: tuple[int, ...] = (80, 443, 3000)
    ingress_cidr: str = "0.0.0.0/0"
    ssh_cidr: str | None = None


@dataclass(frozen=True)
class DeploySettings:
    """How CodeDeploy rolls a revision out and whether a person approves it first."""

    config: str = "CodeDeployDefault.OneAtATime"
    approval: bool = False


@dataclass(frozen=True)
class Objectives:
    """Targets the drills and reports are measured against."""

    rto_minutes: int = 30
    success_rate: float = 0.95


@dataclass(frozen=True)
class StackConfig:
    """All settings of one stack; ``source_file`` says where they came from."""

    stack: str = "opslib-demo"
    target: str = "local"
    region: str = "us-east-1"
    profile: str | None = None
    log_retention_days: int = 14
    emulator: EmulatorSettings = field(default_factory=EmulatorSettings)
    source: SourceSettings = field(default_factory=SourceSettings)
    fleet: FleetSettings = field(default_factory=FleetSettings)
    network: NetworkSettings = field(default_factory=NetworkSettings)
    deploy: DeploySettings = field(default_factory=DeploySettings)
    objectives: Objectives = field(default_factory=Objectives)
    source_file: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain data for display (``opslib config show``) and YAML round trips."""
        data = asdict(self)
        data.pop("source_file")
        data["network"]["ingress_ports"] = list(self.network.ingress_ports)
        return data

    def base_dir(self) -> Path:
        """The folder relative paths (state_dir, source.repository, reports) start from:
        the config file's, or the project root when no file was found (see project_root)."""
        return Path(self.source_file).parent if self.source_file else project_root()

    def state_dir(self) -> Path:
        """The emulator's state directory, relative paths taken from the config's folder."""
        return (self.base_dir() / self.emulator.state_dir).resolve()


Check = Callable[[Any], str | None]


def _int_range(low: int, high: int) -> Check:
    def check(value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            return f"expected an integer from {low} to {high}"
        return None

    return check


def _one_of(choices: tuple[str, ...]) -> Check:
    return lambda v: None if v in choices else f"expected one of {', '.join(choices)}"


def _matches(pattern: re.Pattern[str], what: str) -> Check:
    return lambda v: None if isinstance(v, str) and pattern.match(v) else f"expected {what}"


def _is_str(value: Any) -> str | None:
    return None if isinstance(value, str) and value else "expected a non-empty string"


def _is_bool(value: Any) -> str | None:
    return None if isinstance(value, bool) else "expected true or false"


def _optional(check: Check) -> Check:
    return lambda v: None if v is None else check(v)


def _ports(value: Any) -> str | None:
    ok = isinstance(value, list | tuple) and all(_int_range(1, 65535)(p) is None for p in value)
    return None if ok else "expected a list of ports (1-65535)"


def _ssh_cidr(value: Any) -> str | None:
    if value is None:
        return None
    if value in ("0.0.0.0/0", "::/0"):
        return "SSH may not be opened to the whole internet; name your own CIDR or use SSM"
    return _matches(_CIDR_RE, "an IPv4 CIDR such as 203.0.113.7/32")(value)


def _ratio(value: Any) -> str | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 1
    return None if ok else "expected a number from 0 to 1"


_CHECKS: dict[str, Check] = {
    "stack": _matches(_NAME_RE, "3-32 lowercase letters, digits and '-', starting with a letter"),
    "target": _one_of(TARGETS),
    "region": _matches(_REGION_RE, "an AWS region such as us-east-1"),
    "profile": _optional(_is_str),
    "log_retention_days": _int_range(1, 3653),
    "emulator.port": _int_range(0, 65535),
    "emulator.state_dir": _is_str,
    "source.repository": _is_str,
    "source.branch": _is_str,
    "source.github": _matches(re.compile(r"^[\w.-]+/[\w.-]+$"), "owner/repository"),
    "fleet.size": _int_range(1, 100),
    "fleet.instance_type": _matches(re.compile(r"^[a-z][a-z0-9]*\.[a-z0-9]+$"), "e.g. t2.micro"),
    "fleet.tag_key": _is_str,
    "fleet.tag_value": _is_str,
    "network.app_port": _int_range(1, 65535),
    "network.ingress_ports": _ports,
    "network.ingress_cidr": _matches(_CIDR_RE, "an IPv4 CIDR such as 0.0.0.0/0"),
    "network.ssh_cidr": _ssh_cidr,
    "deploy.config": _one_of(DEPLOYMENT_CONFIGS),
    "deploy.approval": _is_bool,
    "objectives.rto_minutes": _int_range(1, 10080),
    "objectives.success_rate": _ratio,
}


def _fail(source: str, key: str, problem: str, value: Any) -> ConfigError:
    return ConfigError(f"{source}: {key}: {problem}, got {value!r}")


def _unknown_key(source: str, prefix: str, key: str, known: list[str]) -> ConfigError:
    hint = difflib.get_close_matches(key, known, n=1)
    suggestion = f" (did you mean {hint[0]!r}?)" if hint else f"; known keys: {', '.join(known)}"
    return ConfigError(f"{source}: {prefix}{key}: unknown key{suggestion}")


def _section_type(spec: Field[Any]) -> type[Any] | None:
    """The dataclass of a nested section (emulator, fleet, ...), None for a plain value."""
    if spec.default_factory is MISSING:
        return None
    sample = spec.default_factory()
    return type(sample) if is_dataclass(sample) else None


def _build(cls: type[Any], data: Mapping[str, Any], source: str, prefix: str = "") -> Any:
    known = {f.name: f for f in fields(cls) if f.name != "source_file"}
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key not in known:
            raise _unknown_key(source, prefix, str(key), list(known))
        section = _section_type(known[key])
        if section is not None:
            if not isinstance(value, Mapping):
                raise _fail(source, prefix + key, "expected a mapping", value)
            values[key] = _build(section, value, source, f"{prefix}{key}.")
            continue
        problem = _CHECKS[prefix + key](value)
        if problem:
            raise _fail(source, prefix + key, problem, value)
        values[key] = tuple(value) if isinstance(value, list) else value
    return cls(**values)


def parse_config(data: Any, source: str = CONFIG_FILENAME) -> StackConfig:
    """Validate plain data (as loaded from YAML) into a StackConfig, or raise ConfigError."""
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: expected a mapping of settings at the top level")
    config: StackConfig = _build(StackConfig, data, source)
    return config


def find_config(explicit: str | Path | None = None) -> Path | None:
    """The config file to use: explicit path, $OPSLIB_CONFIG, or the nearest opslib.yml.

    The nearest is searched from the current folder up to the root of the git work tree
    it is in (only the current folder outside one): JupyterLab and ``nbconvert`` run a
    kernel in the notebook's folder, and a notebook in ``notebooks/`` must find the same
    stack as a command run at the top of the repository.
    """
    if explicit:
        return Path(explicit)
    if os.environ.get(CONFIG_ENV):
        return Path(os.environ[CONFIG_ENV])
    return _nearest_config(_search_folders(Path.cwd()))


def project_root(start: Path | None = None) -> Path:
    """Where relative paths start when no config file names a folder: the nearest
    opslib.yml's folder, else the git work tree's root, else ``start`` (the current folder)."""
    folders = _search_folders(start or Path.cwd())
    found = _nearest_config(folders)
    return found.parent if found is not None else folders[-1]


def _search_folders(start: Path) -> list[Path]:
    """``start`` and its parents up to the git work tree's root; only ``start`` outside one.

    A work tree's root holds ``.git`` (a folder, or a file in a linked worktree); stopping
    there keeps an unrelated opslib.yml above the checkout (in $HOME, /tmp) out of reach.
    """
    start = start.resolve()
    chain = [start, *start.parents]
    for depth, folder in enumerate(chain):
        if (folder / ".git").exists():
            return chain[: depth + 1]
    return [start]


def _nearest_config(folders: list[Path]) -> Path | None:
    return next((f / CONFIG_FILENAME for f in folders if (f / CONFIG_FILENAME).exists()), None)


def load_config(path: str | Path | None = None) -> StackConfig:
    """Load and validate the stack's config; no file at all means every default."""
    found = find_config(path)
    if found is None:
        return StackConfig()
    try:
        text = found.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{found}: cannot read the config file ({exc.strerror})") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{found}:{where}: not valid YAML") from exc
    config = parse_config(data, str(found))
    return _with_source(config, found)


def _with_source(config: StackConfig, path: Path) -> StackConfig:
    values = {f.name: getattr(config, f.name) for f in fields(config)}
    values["source_file"] = str(path.resolve())
    return StackConfig(**values)


def override(config: StackConfig, **changes: Any) -> StackConfig:
    """A copy with top-level settings changed (from CLI flags), each validated."""
    source = "command line"
    values = {f.name: getattr(config, f.name) for f in fields(config)}
    for key, value in changes.items():
        if value is None:
            continue
        problem = _CHECKS[key](value)
        if problem:
            raise _fail(source, key, problem, value)
        values[key] = value
    return StackConfig(**values)
