"""Typed model of a valid EC2/on-premises appspec.yml: what the emulator's agent executes."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class AppspecOS(StrEnum):
    """The instance OS an appspec targets (the agent compares the exact lowercase text)."""

    LINUX = "linux"
    WINDOWS = "windows"  # no permissions section allowed


class FileExistsBehavior(StrEnum):
    """What Install does when a destination file exists but was not deployed by CodeDeploy."""

    DISALLOW = "DISALLOW"  # the default: the deployment fails
    OVERWRITE = "OVERWRITE"  # replace it with the revision's file
    RETAIN = "RETAIN"  # keep the file already there


class LifecycleEvent(StrEnum):
    """In-place lifecycle events in execution order; values are the appspec hook names.

    The traffic events run only for a deployment group with a load balancer; DownloadBundle,
    Install, BlockTraffic and AllowTraffic are performed by the agent and take no scripts.
    """

    BEFORE_BLOCK_TRAFFIC = "BeforeBlockTraffic"  # load-balanced groups only
    BLOCK_TRAFFIC = "BlockTraffic"  # reserved: deregisters the instance
    AFTER_BLOCK_TRAFFIC = "AfterBlockTraffic"  # load-balanced groups only
    APPLICATION_STOP = "ApplicationStop"  # scripts of the last successful revision
    DOWNLOAD_BUNDLE = "DownloadBundle"  # reserved: the agent fetches the bundle
    BEFORE_INSTALL = "BeforeInstall"
    INSTALL = "Install"  # reserved: the agent copies files
    AFTER_INSTALL = "AfterInstall"
    APPLICATION_START = "ApplicationStart"
    VALIDATE_SERVICE = "ValidateService"
    BEFORE_ALLOW_TRAFFIC = "BeforeAllowTraffic"  # load-balanced groups only
    ALLOW_TRAFFIC = "AllowTraffic"  # reserved: registers the instance
    AFTER_ALLOW_TRAFFIC = "AfterAllowTraffic"  # load-balanced groups only

    @property
    def takes_scripts(self) -> bool:
        """False for the events the agent performs itself."""
        return self not in _RESERVED

    @property
    def needs_load_balancer(self) -> bool:
        """True for the traffic events, which run only behind a load balancer."""
        return "Traffic" in self.value


_RESERVED = frozenset(
    {
        LifecycleEvent.BLOCK_TRAFFIC,
        LifecycleEvent.DOWNLOAD_BUNDLE,
        LifecycleEvent.INSTALL,
        LifecycleEvent.ALLOW_TRAFFIC,
    }
)

DEFAULT_TIMEOUT = 3600  # seconds, per script, when ``timeout`` is absent
MAX_EVENT_TIMEOUT = 3600  # seconds: the sum over one event's scripts may not exceed this


class PermissionType(StrEnum):
    """Which objects a permission entry applies to."""

    FILE = "file"
    DIRECTORY = "directory"


@dataclass(frozen=True)
class FileMapping:
    """Copy ``source`` (relative to the bundle root) to ``destination`` on the instance."""

    source: str
    destination: str


@dataclass(frozen=True)
class Permission:
    """A permissions entry (Linux only); ``mode`` is the text the agent reads, e.g. "644"."""

    object: str
    pattern: str = "**"
    except_: list[str] = field(default_factory=list)
    owner: str | None = None
    group: str | None = None
    mode: str | None = None
    acls: list[str] = field(default_factory=list)
    context: dict[str, str] = field(default_factory=dict)
    type: list[PermissionType] = field(
        default_factory=lambda: [PermissionType.FILE, PermissionType.DIRECTORY]
    )


@dataclass(frozen=True)
class HookScript:
    """One hook script: path relative to the bundle root, timeout in seconds, optional user."""

    location: str
    timeout: int = DEFAULT_TIMEOUT
    runas: str | None = None


@dataclass(frozen=True)
class Appspec:
    """A validated appspec; ``hooks`` lists known events in file order (blank ones empty)."""

    version: str
    os: AppspecOS
    files: list[FileMapping] = field(default_factory=list)
    file_exists_behavior: FileExistsBehavior = FileExistsBehavior.DISALLOW
    permissions: list[Permission] = field(default_factory=list)
    hooks: dict[LifecycleEvent, list[HookScript]] = field(default_factory=dict)

    def scripts_for(self, event: LifecycleEvent) -> list[HookScript]:
        """The scripts of one event ([] when the event has none)."""
        return self.hooks.get(event, [])
