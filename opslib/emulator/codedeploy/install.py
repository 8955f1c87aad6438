"""The Install lifecycle event: the agent's file copy, cleanup list and permissions.

Mirrors the CodeDeploy agent's Installer on one host whose every absolute path is
prefixed by the host's root:

- first the files of the previous install of this deployment group are removed, in
  reverse order, from the ``<deployment-group-id>-cleanup`` file (directories only when
  empty), then the file is deleted;
- ``files`` are copied source -> destination (a directory source copies its contents; a
  ``/`` source the whole bundle), missing directories are made; every path made is
  appended to a new cleanup file *as it is made*, so an interrupted install is still
  cleaned up by the next one;
- a destination that already exists (and was not removed by the cleanup) follows
  file_exists_behavior: DISALLOW fails, OVERWRITE replaces, RETAIN keeps it;
- ``permissions`` apply mode (and owner/group when the emulator runs as root) to the
  objects this install made that lie under ``object`` and match ``pattern``/``except``.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import IO

from opslib.exceptions import ExecutionError
from opslib.specs import Appspec, FileExistsBehavior, Permission, PermissionType

logger = logging.getLogger(__name__)


class HostPaths:
    """Maps a host's absolute paths (``/opt/app``) under its root directory."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def local(self, host_path: str) -> Path:
        """Where ``host_path`` lives on this machine; refuses escapes from the root."""
        normal = os.path.normpath("/" + host_path.lstrip("/"))
        local = self.root / normal.lstrip("/")
        if normal.startswith("/..") or not str(local).startswith(str(self.root)):
            raise ExecutionError(f"{host_path} is outside the host root {self.root}")
        return local


def remove_previous(cleanup_file: Path, paths: HostPaths) -> int:
    """Undo the last install recorded in ``cleanup_file``; returns paths removed."""
    if not cleanup_file.exists():
        return 0
    lines = cleanup_file.read_text().splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines.pop()  # the agent drops an unfinished last line
    removed = 0
    for line in reversed(lines):
        removed += _remove(paths.local(line.strip()))
    cleanup_file.unlink()
    return removed


def _remove(path: Path) -> int:
    try:
        if path.is_symlink() or path.is_file():
            path.unlink()
        elif path.is_dir():
            path.rmdir()  # only when empty: files someone else put there are kept
        else:
            return 0
    except OSError:
        return 0
    return 1


class Installer:
    """One Install: copies, records what it made, applies permissions."""

    def __init__(
        self,
        archive: Path,
        paths: HostPaths,
        behavior: FileExistsBehavior,
        cleanup: IO[str],
        warn: Callable[[str], None],
    ) -> None:
        self.archive = archive
        self.paths = paths
        self.behavior = behavior
        self.cleanup = cleanup
        self.warn = warn
        self.copied: list[str] = []  # host paths of files this install wrote
        self.made: list[str] = []  # host paths of directories this install made

    def install(self, appspec: Appspec) -> None:
        for mapping in appspec.files:
            source = self.archive / mapping.source.lstrip("/")
            if not source.exists() and not source.is_symlink():
                raise ExecutionError(f"the files source {mapping.source} is not in the bundle")
            destination = _host_join(mapping.destination)
            if source.is_dir() and not source.is_symlink():
                self._make_ancestors(destination)
                self._copy_dir(source, destination)
            else:
                target = _host_join(destination, source.name)
                self._make_ancestors(target)
                self._copy_file(source, target)
        for permission in appspec.permissions:
            self._apply(permission)

    def _record(self, host_path: str) -> None:
        self.cleanup.write(host_path + "\n")
        self.cleanup.flush()

    def _make_ancestors(self, host_path: str) -> None:
        missing: list[str] = []
        parent = str(PurePosixPath(host_path).parent)
        while parent != "/" and not self.paths.local(parent).exists():
            missing.insert(0, parent)
            parent = str(PurePosixPath(parent).parent)
        for directory in missing:
            self._mkdir(directory)

    def _mkdir(self, host_path: str) -> None:
        self.paths.local(host_path).mkdir()
        self._record(host_path)
        self.made.append(host_path)

    def _copy_dir(self, source: Path, destination: str) -> None:
        if not self.paths.local(destination).is_dir():
            self._mkdir(destination)
        for entry in sorted(source.iterdir()):
            target = _host_join(destination, entry.name)
            if entry.is_dir() and not entry.is_symlink():
                self._copy_dir(entry, target)
            else:
                self._copy_file(entry, target)

    def _copy_file(self, source: Path, host_path: str) -> None:
        local = self.paths.local(host_path)
        if local.exists() or local.is_symlink():
            if self.behavior is FileExistsBehavior.DISALLOW:
                raise ExecutionError(
                    "The deployment failed because a specified file already exists at this"
                    f" location: {host_path}"
                )
            if self.behavior is FileExistsBehavior.RETAIN:
                return
            local.unlink()
        self._record(host_path)
        if source.is_symlink():
            local.symlink_to(os.readlink(source))
        else:
            shutil.copy2(source, local)  # the agent's FileUtils.copy(preserve: true)
        self.copied.append(host_path)

    def _apply(self, permission: Permission) -> None:
        chown = bool(permission.owner or permission.group) and self._may_chown(permission)
        for host_path in self._matches(permission):
            local = self.paths.local(host_path)
            if permission.mode:
                local.chmod(int(permission.mode, 8))
            if chown:
                _chown(local, permission.owner, permission.group)

    def _matches(self, permission: Permission) -> list[str]:
        """The objects a permission applies to (the agent's copying_file?/find_matches)."""
        obj = os.path.normpath(permission.object)
        if obj in self.copied:
            return [obj] if PermissionType.FILE in permission.type else []
        candidates = []
        if PermissionType.FILE in permission.type:
            candidates += self.copied
        if PermissionType.DIRECTORY in permission.type:
            candidates += self.made
        return [p for p in candidates if _under_and_matching(p, obj, permission)]

    def _may_chown(self, permission: Permission) -> bool:
        if os.geteuid() == 0:
            return True
        self.warn(
            f"owner/group {permission.owner}:{permission.group} under {permission.object}"
            " not applied: the emulator does not run as root"
        )
        return False


def _chown(path: Path, owner: str | None, group: str | None) -> None:
    if owner is not None and group is not None:
        shutil.chown(path, owner, group)
    elif owner is not None:
        shutil.chown(path, user=owner)
    elif group is not None:
        shutil.chown(path, group=group)


def _host_join(*parts: str) -> str:
    return os.path.normpath("/" + "/".join(p.strip("/") for p in parts))


def _under_and_matching(host_path: str, obj: str, permission: Permission) -> bool:
    """The agent's matches_pattern? and not matches_except? ('**' = everything below)."""
    base = obj.rstrip("/") + "/"
    if not host_path.startswith(base):
        return False
    relative = host_path[len(base) :]
    if permission.pattern != "**" and not _simple_glob(relative, permission.pattern):
        return False
    return not any(_simple_glob(relative, item) for item in permission.except_)


def _simple_glob(name: str, pattern: str) -> bool:
    """The agent's simple glob: ``*`` only, never across a ``/``."""
    return "/" not in name and fnmatch.fnmatchcase(
        name, pattern.replace("[", "[[]").replace("?", "[?]")
    )
