"""Zip archives that keep Unix file modes, for build artifacts and deployment bundles alike.

Zips keep each file's mode, so CodeDeploy hook scripts are still executable after
:func:`extract_zip` (``ZipFile.extractall`` would drop the modes); entries that would land
outside the destination (zip slip) and symlinks pointing out of the tree are refused.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import zipfile
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from opslib.exceptions import ExecutionError


def write_zip(entries: Iterable[tuple[Path, str]], dest: Path) -> int:
    """Write a deflated zip keeping each file's Unix mode; returns the archive's size in bytes."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED, strict_timestamps=False) as archive:
        for path, name in entries:
            # ZipFile.write stores st_mode in external_attr (high 16 bits), create_system Unix
            archive.write(path, name)
    return dest.stat().st_size


def extract_zip(zip_path: Path, dest: Path) -> None:
    """Unpack a zip restoring Unix modes; refuses entries that would land outside dest."""
    dest.mkdir(parents=True, exist_ok=True)
    try:
        with zipfile.ZipFile(zip_path) as archive:
            for info in archive.infolist():
                _extract_one(archive, info, dest, zip_path)
    except zipfile.BadZipFile as exc:
        raise ExecutionError(f"{zip_path} is not a valid zip archive: {exc}") from exc


def _safe_target(name: str, dest: Path, zip_path: Path) -> Path:
    """Where an entry goes; absolute names and ``..`` are refused (zip slip)."""
    posix = name.replace("\\", "/")
    parts = PurePosixPath(posix).parts
    if posix.startswith("/") or re.match(r"[A-Za-z]:", posix) or ".." in parts:
        raise ExecutionError(f"{zip_path}: entry '{name}' would be written outside {dest}")
    return dest.joinpath(*parts)


def _extract_one(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, dest: Path, zip_path: Path
) -> None:
    target = _safe_target(info.filename, dest, zip_path)
    mode = info.external_attr >> 16 if info.create_system == 3 else 0  # 3 = Unix
    if info.is_dir():
        target.mkdir(parents=True, exist_ok=True)
        return
    if stat.S_ISLNK(mode):
        _extract_symlink(archive.read(info).decode(), target, dest, zip_path)
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    with archive.open(info) as source, open(target, "wb") as out:
        shutil.copyfileobj(source, out)
    if mode & 0o777:
        target.chmod(stat.S_IMODE(mode) & 0o777)


def _extract_symlink(link: str, target: Path, dest: Path, zip_path: Path) -> None:
    """Recreate a stored symlink (enable-symlinks) if it points inside the tree."""
    base = os.path.abspath(dest)
    resolved = os.path.normpath(os.path.join(os.path.abspath(target.parent), link))
    if os.path.isabs(link) or not resolved.startswith(base + os.sep):
        raise ExecutionError(f"{zip_path}: symlink {target.name} -> {link} points outside {dest}")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.unlink(missing_ok=True)
    target.symlink_to(link)
