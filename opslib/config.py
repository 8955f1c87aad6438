"""The stack's settings: one YAML file (``opslib.yml``), validated with clear errors.

Every setting has a default, so a missing file means "the demo stack on the local
emulator" — and so does an empty file (or ``--config /dev/null``), on purpose. A wrong
value is reported as ``opslib.yml: fleet.size: expected ...`` naming the file, the key path
and what is expected; unknown keys are errors too, because a misspelled key that silently
falls back to its default is the worst kind of config bug, and so is a key given twice.

Values are checked against what AWS accepts, from AWS's own data where botocore ships it:
regions from its endpoint partitions, instance types from the EC2 API model, CIDRs as real
IPv4 networks, log retention from CloudWatch Logs' fixed set of days. What depends on this
machine (the state directory, the local git repository and branch) is checked by
:func:`check_state_dir` and :func:`check_local_source` where it is used.
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import MISSING, Field, asdict, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

import yaml

from opslib.exceptions import ConfigError
from opslib.inputfiles import UnusableFile, check_depth, read_bounded

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
# CloudWatch Logs PutRetentionPolicy: "Possible values are: 1, 3, 5, 7, 14, 30, 60, 90, 120,
# 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, and 3653."
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
    2922, 3288, 3653,
)  # fmt: skip


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
    rpo_minutes: int = 60  # drills: how much recent work (artifacts) may be lost at most
    success_rate: float = 0.95


DEFAULT_DR_REGION = "us-west-2"
FALLBACK_DR_REGION = "us-east-1"  # when the stack itself lives in the default DR region


@dataclass(frozen=True)
class DrillSettings:
    """What the disaster-recovery drills need beyond the stack itself."""

    dr_region: str = DEFAULT_DR_REGION  # region-failure stands the stack up here


@dataclass(frozen=True)
class ScheduleSettings:
    """A report on a schedule: runbook NAME with ``parameters``, fired at ``expression``.

    ``expression`` is EventBridge Scheduler's (``rate(...)``, ``cron(...)``, ``at(...)``),
    evaluated in ``timezone``. Which runbooks and parameters are valid is checked by
    :func:`opslib.runbooks.schedules.check_schedules` (the runbooks live above this floor).
    """

    name: str
    runbook: str
    expression: str
    timezone: str = "UTC"
    parameters: dict[str, Any] = field(default_factory=dict)
    enabled: bool = True


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
    schedules: tuple[ScheduleSettings, ...] = ()
    drills: DrillSettings = field(default_factory=DrillSettings)
    source_file: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain data for display (``opslib config show``) and YAML round trips."""
        data = asdict(self)
        data.pop("source_file")
        data["network"]["ingress_ports"] = list(self.network.ingress_ports)
        data["schedules"] = [asdict(s) for s in self.schedules]
        return data

    def base_dir(self) -> Path:
        """The folder relative paths (state_dir, source.repository, reports) start from:
        the config file's, or the project root when no file was found (see project_root)."""
        return Path(self.source_file).parent if self.source_file else project_root()

    def dr_region(self) -> str:
        """Where region-failure stands the stack up: ``drills.dr_region``, never ``region``
        (a stack in the default DR region fails over to us-east-1 unless told otherwise)."""
        if self.drills.dr_region != self.region:
            return self.drills.dr_region
        return FALLBACK_DR_REGION

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


def _cidr(example: str) -> Check:
    """An IPv4 network as AWS stores it: four octets 0-255 (no leading zeros), prefix 0-32.

    EC2 accepts host bits after the prefix (``10.0.0.5/24``) but stores the network
    (``10.0.0.0/24``), so the stack would show drift on every plan: refused with the fix.
    """
    expected = f"an IPv4 CIDR such as {example}"

    def check(value: Any) -> str | None:
        if not isinstance(value, str) or not _CIDR_RE.match(value):
            return f"expected {expected}"
        import ipaddress  # here, like difflib and schedexpr: every command reads the config

        try:
            network = ipaddress.IPv4Network(value, strict=False)
        except ValueError:
            return f"expected {expected} (octets 0-255 without leading zeros, prefix 0-32)"
        if str(network) != value:
            return f"host bits are set after the prefix; write {network} (or a /32 address)"
        return None

    return check


def _ssh_cidr(value: Any) -> str | None:
    if value is None:
        return None
    if value in ("0.0.0.0/0", "::/0"):
        return "SSH may not be opened to the whole internet; name your own CIDR or use SSM"
    return _cidr("203.0.113.7/32")(value)


@functools.cache
def known_regions() -> frozenset[str]:
    """Every region of every partition in botocore's endpoint data (aws, aws-cn, ...)."""
    import botocore.loaders

    endpoints = botocore.loaders.create_loader().load_data("endpoints")
    return frozenset(region for p in endpoints["partitions"] for region in p["regions"])


def _region(value: Any) -> str | None:
    if isinstance(value, str) and value in known_regions():
        return None
    shape = _matches(_REGION_RE, "an AWS region such as us-east-1")(value)
    if shape:
        return shape
    import difflib

    hint = difflib.get_close_matches(value, sorted(known_regions()), n=1)
    maybe = f" (did you mean {hint[0]!r}?)" if hint else ""
    return f"expected an AWS region that botocore knows, such as us-east-1{maybe}"


@functools.cache
def known_instance_types() -> frozenset[str]:
    """The EC2 API's InstanceType enumeration, from the service model botocore ships."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("ec2")
    return frozenset(model.shape_for("InstanceType").enum)


def _instance_type(value: Any) -> str | None:
    if isinstance(value, str) and value in known_instance_types():
        return None
    import difflib

    hint = difflib.get_close_matches(str(value), sorted(known_instance_types()), n=1)
    maybe = f" (did you mean {hint[0]!r}?)" if hint else ""
    return f"expected an EC2 instance type such as t2.micro{maybe}"


def _retention(value: Any) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool) and value in LOG_RETENTION_DAYS:
        return None
    days = ", ".join(map(str, LOG_RETENTION_DAYS))
    return f"expected a number of days CloudWatch Logs accepts: {days}"


def _ratio(value: Any) -> str | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 1
    return None if ok else "expected a number from 0 to 1"


_CHECKS: dict[str, Check] = {
    "stack": _matches(_NAME_RE, "3-32 lowercase letters, digits and '-', starting with a letter"),
    "target": _one_of(TARGETS),
    "region": _region,
    "profile": _optional(_is_str),
    "log_retention_days": _retention,
    "emulator.port": _int_range(0, 65535),
    "emulator.state_dir": _is_str,
    "source.repository": _is_str,
    "source.branch": _is_str,
    "source.github": _matches(re.compile(r"^[\w.-]+/[\w.-]+$"), "owner/repository"),
    "fleet.size": _int_range(1, 100),
    "fleet.instance_type": _instance_type,
    "fleet.tag_key": _is_str,
    "fleet.tag_value": _is_str,
    "network.app_port": _int_range(1, 65535),
    "network.ingress_ports": _ports,
    "network.ingress_cidr": _cidr("0.0.0.0/0"),
    "network.ssh_cidr": _ssh_cidr,
    "deploy.config": _one_of(DEPLOYMENT_CONFIGS),
    "deploy.approval": _is_bool,
    "objectives.rto_minutes": _int_range(1, 10080),
    "objectives.rpo_minutes": _int_range(0, 10080),
    "objectives.success_rate": _ratio,
    "drills.dr_region": _region,
}


def _fail(source: str, key: str, problem: str, value: Any) -> ConfigError:
    shown = repr(value)
    shown = shown if len(shown) <= 80 else f"{shown[:60]}... ({len(shown)} characters)"
    return ConfigError(f"{source}: {key}: {problem}, got {shown}")


def _unknown_key(source: str, prefix: str, key: str, known: list[str]) -> ConfigError:
    import difflib

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
        if not prefix and key == "schedules":
            values[key] = parse_schedules(value, source)
            continue
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


# opslib.schedexpr (zoneinfo, its regexes) is imported by the first config with schedules.
def _expression_problem(value: Any) -> str | None:
    from opslib import schedexpr

    return schedexpr.problem(value)


def _timezone_problem(value: Any) -> str | None:
    from opslib import schedexpr

    return schedexpr.timezone_problem(value)


# Scheduler's schedule names: [0-9a-zA-Z-_.]+, 1 to 64 characters (CreateSchedule).
_SCHEDULE_NAME_RE = re.compile(r"^[0-9A-Za-z_.-]{1,64}$")
_PARAMETER_VALUE = (str, int, float, bool)
_SCHEDULE_CHECKS: dict[str, Check] = {
    "name": _matches(_SCHEDULE_NAME_RE, "1-64 letters, digits, '-', '_' or '.'"),
    "runbook": _is_str,
    "expression": _expression_problem,
    "timezone": _timezone_problem,
    "parameters": lambda v: (
        None
        if isinstance(v, Mapping)
        and all(isinstance(k, str) and isinstance(x, _PARAMETER_VALUE) for k, x in v.items())
        else "expected a mapping of parameter names to values (strings, numbers, true/false)"
    ),
    "enabled": _is_bool,
}


def _schedule(entry: Any, source: str, prefix: str) -> ScheduleSettings:
    if not isinstance(entry, Mapping):
        raise _fail(
            source, prefix.rstrip("."), "expected a mapping (name, runbook, expression)", entry
        )
    known = [f.name for f in fields(ScheduleSettings)]
    for key, value in entry.items():
        if key not in _SCHEDULE_CHECKS:
            raise _unknown_key(source, prefix, str(key), known)
        problem = _SCHEDULE_CHECKS[key](value)
        if problem:
            raise _fail(source, prefix + key, problem, value)
    missing = [k for k in ("name", "runbook", "expression") if k not in entry]
    if missing:
        raise ConfigError(f"{source}: {prefix}{missing[0]}: required (name, runbook, expression)")
    values = dict(entry)
    values["parameters"] = dict(entry.get("parameters") or {})
    return ScheduleSettings(**values)


def parse_schedules(data: Any, source: str = CONFIG_FILENAME) -> tuple[ScheduleSettings, ...]:
    """The ``schedules:`` list, each entry checked; a name given twice is an error."""
    if data is None:
        return ()
    if not isinstance(data, list):
        raise _fail(source, "schedules", "expected a list of schedules", data)
    found: dict[str, int] = {}
    result = []
    for index, entry in enumerate(data):
        schedule = _schedule(entry, source, f"schedules[{index}].")
        if schedule.name in found:
            first = found[schedule.name]
            raise ConfigError(
                f"{source}: schedules[{index}].name: {schedule.name!r} is already the name "
                f"of schedules[{first}]; schedule names must be unique"
            )
        found[schedule.name] = index
        result.append(schedule)
    return tuple(result)


def parse_config(data: Any, source: str = CONFIG_FILENAME) -> StackConfig:
    """Validate plain data (as loaded from YAML) into a StackConfig, or raise ConfigError."""
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: expected a mapping of settings at the top level")
    config: StackConfig = _build(StackConfig, data, source)
    drills = data.get("drills") or {}
    if "dr_region" in drills and config.drills.dr_region == config.region:
        raise _fail(source, "drills.dr_region", "expected a region other than region "
                    f"({config.region}): the DR region must survive the primary's outage",
                    config.drills.dr_region)  # fmt: skip
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
    """Load and validate the stack's config; no file (or an empty one) means every default."""
    found = find_config(path)
    if found is None or os.path.abspath(found) == os.devnull:
        return StackConfig()  # ``--config /dev/null``: explicitly no settings, every default
    config = parse_config(_load_yaml(_read(found), found), str(found))
    return _with_source(config, found)


def _read(path: Path) -> str:
    """The file's text, bounded (:mod:`opslib.inputfiles`)."""
    try:
        return read_bounded(path)
    except UnusableFile as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    except UnicodeDecodeError as exc:
        reason = f"{exc.reason} at byte {exc.start}"
        raise ConfigError(f"{path}: not a YAML text file (not UTF-8: {reason})") from exc
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ConfigError(f"{path}: cannot read the config file ({reason})") from exc


_YamlLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: 10x faster


def _load_yaml(text: str, path: Path) -> Any:
    """Plain data from YAML text, refusing deep nesting and keys given twice."""
    try:
        check_depth(text)
    except UnusableFile as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    loader = _YamlLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _reject_duplicate_keys(node, str(path), "", set())
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}:{where}: not valid YAML") from exc
    finally:
        loader.dispose()


def _reject_duplicate_keys(node: yaml.Node, source: str, prefix: str, seen: set[int]) -> None:
    """A key given twice in one mapping is an error: YAML loaders let the last one win."""
    if id(node) in seen:  # an alias: already checked where its anchor is
        return
    seen.add(id(node))
    if isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _reject_duplicate_keys(item, source, f"{prefix}[{index}].", seen)
    if not isinstance(node, yaml.MappingNode):
        return
    lines: dict[str, int] = {}
    for key, value in node.value:
        name = str(key.value) if isinstance(key, yaml.ScalarNode) else ""
        line = key.start_mark.line + 1
        if name and name != "<<" and name in lines:
            message = f"{prefix}{name}: key given twice (lines {lines[name]} and {line})"
            raise ConfigError(f"{source}: {message}; keep one, or the last would silently win")
        lines.setdefault(name, line)
        _reject_duplicate_keys(value, source, f"{prefix}{name}.", seen)


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


# --- what depends on this machine, checked where it is used ---------------------------------


def _origin(config: StackConfig) -> str:
    return config.source_file or CONFIG_FILENAME


def check_state_dir(config: StackConfig) -> Path:
    """The emulator's state directory, once it is sure this machine can use it.

    It must be a directory opslib may write, or a path it may create; a file in its place
    or an unwritable parent is a ConfigError naming ``emulator.state_dir``.
    """
    path = config.state_dir()
    prefix = f"{_origin(config)}: emulator.state_dir"
    existing = next(p for p in (path, *path.parents) if p.exists())
    if not existing.is_dir():
        blocked = "is a file" if existing == path else f"cannot be created: {existing} is a file"
        raise ConfigError(f"{prefix}: {path} {blocked}; name a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        what = "is not writable" if existing == path else f"cannot be created in {existing}"
        raise ConfigError(f"{prefix}: {path} {what} (permission denied); name another directory")
    return path


def source_repository(config: StackConfig) -> Path:
    """The local git repository the pipeline builds (``source.repository``, config-relative)."""
    base = Path(config.source_file).parent if config.source_file else Path.cwd()
    return (base / config.source.repository).resolve()


def check_local_source(config: StackConfig) -> None:
    """On the local target: ``source.repository`` is a git repository with ``source.branch``.

    The emulator's Source stage reads that branch of that repository; on AWS GitHub holds
    them, so nothing is checked there.
    """
    if config.target != "local":
        return
    repo = source_repository(config)
    origin = _origin(config)
    if not repo.is_dir():
        raise ConfigError(f"{origin}: source.repository: {repo} does not exist")
    if _git(repo, "rev-parse", "--git-dir") is None:
        raise ConfigError(f"{origin}: source.repository: {repo} is not a git repository")
    branch = config.source.branch
    if _git(repo, "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}^{{commit}}") is None:
        listed = _git(repo, "for-each-ref", "--format=%(refname:short)", "refs/heads") or ""
        known = ", ".join(listed.split()[:10]) or "none yet: commit first"
        message = f"no branch {branch!r} in {repo} (branches: {known})"
        raise ConfigError(f"{origin}: source.branch: {message}")


def _git(repo: Path, *args: str) -> str | None:
    """git's output in ``repo``, or None when the command fails."""
    try:
        result = subprocess.run(
            ["git", "-C", str(repo), *args], capture_output=True, text=True, check=False
        )
    except OSError as exc:
        raise ConfigError(f"cannot run git to check source.repository: {exc}") from exc
    return result.stdout if result.returncode == 0 else None
