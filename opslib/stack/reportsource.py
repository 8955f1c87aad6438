"""The opslib source the reports build installs: a reproducible zip of this very opslib.

opslib is not fetched from a package index: the scheduled reports must run the opslib (and
the runbooks) that created them, on AWS as on the emulator. ``up`` uploads this archive to
the reports bucket (``source/opslib.zip``) and the reports project builds from it. The zip
is reproducible — names sorted, fixed timestamps and modes — so its SHA-256 changes only
when a file does, and ``plan`` shows an update exactly then.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

from opslib.exceptions import ConfigError

# The checkout this opslib was imported from: opslib/stack/reportsource.py -> the root.
SOURCE_ROOT = Path(__file__).resolve().parents[2]
REPORTS_BUILDSPEC = "opslib/data/reports-buildspec.yml"
_TOP_FILES = ("pyproject.toml", "README.md")
_SKIPPED_PARTS = frozenset({"__pycache__", ".ipynb_checkpoints"})
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # the zip format's epoch


@dataclass(frozen=True)
class SourceArchive:
    """The zip's bytes and their SHA-256 (hex)."""

    data: bytes
    digest: str


def source_files(root: Path = SOURCE_ROOT) -> list[str]:
    """The files the build needs, relative and sorted: the package, runbooks, pyproject."""
    if not (root / "pyproject.toml").is_file():
        raise ConfigError(
            f"{root}: no pyproject.toml beside the opslib package; the reports build installs "
            "opslib from its source, so run opslib from a source checkout to add schedules"
        )
    names = [name for name in _TOP_FILES if (root / name).is_file()]
    for folder, pattern in (("opslib", "**/*"), ("runbooks", "*.ipynb")):
        for path in (root / folder).glob(pattern):
            relative = path.relative_to(root)
            if (
                path.is_file()
                and not _SKIPPED_PARTS & set(relative.parts)
                and path.suffix != ".pyc"
            ):
                names.append(relative.as_posix())
    return sorted(names)


def _signature(root: Path, names: list[str]) -> tuple[tuple[str, int, int], ...]:
    stats = ((name, (root / name).stat()) for name in names)
    return tuple((name, st.st_mtime_ns, st.st_size) for name, st in stats)


_cache: dict[Path, tuple[tuple[tuple[str, int, int], ...], SourceArchive]] = {}


def source_archive(root: Path = SOURCE_ROOT) -> SourceArchive:
    """The reproducible zip of the source (rebuilt only when a file changed since last time)."""
    names = source_files(root)
    signature = _signature(root, names)
    cached = _cache.get(root)
    if cached is not None and cached[0] == signature:
        return cached[1]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in names:
            info = zipfile.ZipInfo(name, _FIXED_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, (root / name).read_bytes())
    data = buffer.getvalue()
    result = SourceArchive(data, hashlib.sha256(data).hexdigest())
    _cache[root] = (signature, result)
    return result
