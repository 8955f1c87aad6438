"""Pack and unpack build artifacts like CodeBuild: globs, base-directory, discard-paths, zips.

CodeBuild resolves ``artifacts.files`` relative to ``base-directory`` (or the source
directory), keeps each file's path relative to that root unless ``discard-paths: yes``, drops
``exclude-paths`` and fails UPLOAD_ARTIFACTS with CLIENT_ERROR "no matching artifact paths
found" when nothing matches. Zips keep Unix file modes, so CodeDeploy hook scripts are still
executable after :func:`extract_zip` (``ZipFile.extractall`` would drop the modes).
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import zipfile
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path, PurePosixPath

from opslib.exceptions import ExecutionError
from opslib.specs import Artifacts

NO_MATCH = "no matching artifact paths found"  # CodeBuild's CLIENT_ERROR message


@lru_cache(maxsize=256)
def glob_regex(pattern: str) -> re.Pattern[str]:
    """Compile a buildspec glob for relative POSIX paths.

    ``**`` spans any number of directories (``dir/**/*`` is every file under dir), ``*`` and
    ``?`` stay within one path segment, ``[...]`` is a character class.
    """
    segments = [s for s in pattern.removeprefix("./").split("/") if s not in ("", ".")]
    parts = []
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == "**":
            parts.append(".*" if last else "(?:.*/)?")
        else:
            parts.append(_segment_regex(segment) + ("" if last else "/"))
    return re.compile("".join(parts) + r"\Z")


def _segment_regex(segment: str) -> str:
    out, i = [], 0
    while i < len(segment):
        char = segment[i]
        close = segment.find("]", i + 2) if char == "[" else -1
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif close > 0:
            body = segment[i + 1 : close]
            body = "^" + body[1:] if body.startswith("!") else body
            out.append(f"[{body.replace(chr(92), chr(92) * 2)}]")
            i = close
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out)


def _files_under(root: Path) -> Iterable[str]:
    """Every regular file below root (symlinks to files included), relative, POSIX style."""
    for directory, _, names in os.walk(root):
        for name in names:
            path = Path(directory, name)
            if path.is_file():
                yield path.relative_to(root).as_posix()


def match_paths(root: Path, patterns: Sequence[str], excludes: Sequence[str] = ()) -> list[Path]:
    """Files under root matching any pattern and no exclude, sorted; [] if root is missing."""
    if not root.is_dir():
        return []
    wanted = [glob_regex(p) for p in patterns]
    dropped = [glob_regex(p) for p in excludes]
    return [
        root / rel
        for rel in sorted(_files_under(root))
        if any(r.match(rel) for r in wanted) and not any(r.match(rel) for r in dropped)
    ]


def collect(source_dir: Path, spec: Artifacts) -> list[tuple[Path, str]]:
    """The (file, name in the archive) pairs of an artifact; raises when nothing matches.

    With ``discard-paths`` two files with one basename would collide: the first (in path
    order) wins, as a zip cannot hold both under one name.
    """
    root = source_dir / spec.base_directory if spec.base_directory else source_dir
    entries: dict[str, Path] = {}
    for path in match_paths(root, spec.files, spec.exclude_paths):
        name = path.name if spec.discard_paths else path.relative_to(root).as_posix()
        entries.setdefault(name, path)
    if not entries:
        raise ExecutionError(f"{NO_MATCH}: files {list(spec.files)} under {root}")
    return [(path, name) for name, path in entries.items()]


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
