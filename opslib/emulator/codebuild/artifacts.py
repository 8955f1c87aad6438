"""Choose a build's artifact files like CodeBuild: globs, base-directory, discard-paths.

CodeBuild resolves ``artifacts.files`` relative to ``base-directory`` (or the source
directory), keeps each file's path relative to that root unless ``discard-paths: yes``, drops
``exclude-paths`` and fails UPLOAD_ARTIFACTS with CLIENT_ERROR "no matching artifact paths
found" when nothing matches. The zip itself is written by :mod:`opslib.emulator.core.zips`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path

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
