"""Check that artifact and report paths of a buildspec can exist after the build.

A literal path (no glob, no variable) that is missing from the source tree is fine when the
build creates it; we cannot run the build, so "some command mentions the path's first
component" (``npm run build`` does not, ``mkdir -p dist`` or ``zip -r out/app.zip`` does)
stands in for "the build creates it". Anything else is a WARNING, never an error: the build
may create the path under a name no command spells (a tool's default output directory), so
only the run can tell; CodeBuild then fails UPLOAD_ARTIFACTS with "no matching artifact
paths found" (and a report group with no files gets no report).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from opslib.specs.buildspec import PathRef
from opslib.specs.findings import FindingList

_UNCHECKABLE = re.compile(r"[*?\[\]{}$]")  # globs and ${VAR}: resolved only at build time


def check_buildspec_paths(
    refs: Iterable[PathRef], commands: list[str], spec_dir: Path, spec_name: str, out: FindingList
) -> None:
    """Report each literal path that is neither in ``spec_dir`` nor mentioned by a command."""
    for ref in refs:
        if _checkable(ref) and not _exists(ref, spec_dir):
            words = _first_components(ref)
            if not any(mentioned(word, commands) for word in words):
                shown = str(_joined(ref))
                message = (
                    f"'{shown}' does not exist next to {spec_name} and no command mentions "
                    f"'{words[0]}': the build must create it, or UPLOAD_ARTIFACTS finds nothing"
                )
                out.warning(ref.line, ref.key_path, message)


def _checkable(ref: PathRef) -> bool:
    """Literal relative paths only (the path and its base directory, if any)."""
    texts = [ref.path] + ([ref.base] if ref.base is not None else [])
    return not any(_UNCHECKABLE.search(t) or t.startswith("/") for t in texts)


def _joined(ref: PathRef) -> PurePosixPath:
    """The path relative to the spec's directory (base-directory applied)."""
    if ref.base is None:
        return PurePosixPath(ref.path)
    return PurePosixPath(ref.base) / ref.path


def _exists(ref: PathRef, spec_dir: Path) -> bool:
    """True when the path exists, or when its base directory does not (reported on its own)."""
    if ref.base is not None and not (spec_dir / ref.base).exists():
        return True  # the base-directory's own check (or its mention) covers its files
    return (spec_dir / _joined(ref)).exists()


def _first_components(ref: PathRef) -> list[str]:
    """Words whose mention means "built by a command": first part of the path and of its base."""
    words = [_first(_joined(ref)), _first(PurePosixPath(ref.path))]
    return list(dict.fromkeys(w for w in words if w))


def first_component(path: str) -> str:
    """The first real component of a relative path ('./dist/x' -> 'dist')."""
    return _first(PurePosixPath(path))


def _first(path: PurePosixPath) -> str:
    """The first real component ('./dist/x' -> 'dist')."""
    parts = [p for p in path.parts if p not in (".", "")]
    return parts[0] if parts else ""


def mentioned(word: str, commands: list[str]) -> bool:
    """True when a command contains ``word`` as a whole path component or word."""
    pattern = re.compile(rf"(?<![\w.-]){re.escape(word)}(?![\w-])")
    return any(pattern.search(command) for command in commands)
