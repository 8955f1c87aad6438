"""Lint a directory or a single spec file, deciding which kind of spec each file is.

A small registry maps each :class:`SpecKind` to its validator and file names, so adding a
kind (say, a CloudFormation template) is one entry rather than another if/else branch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from opslib.specs.findings import Finding, FindingList, Severity
from opslib.specs.loading import read_text, validate_appspec, validate_buildspec
from opslib.specs.yamlnodes import Mapping, parse_yaml


class SpecKind(StrEnum):
    """The kinds of spec files opslib understands."""

    BUILDSPEC = "buildspec"  # CodeBuild
    APPSPEC = "appspec"  # CodeDeploy, EC2/on-premises


@dataclass(frozen=True)
class _KindInfo:
    """How to find and validate one kind of spec."""

    file_names: tuple[str, ...]  # looked for, in this order, in a directory
    content_keys: tuple[str, ...]  # top-level keys that give the kind away
    validate: Callable[[Path], list[Finding]]


_KINDS: dict[SpecKind, _KindInfo] = {
    SpecKind.BUILDSPEC: _KindInfo(
        ("buildspec.yml", "buildspec.yaml"), ("phases",), validate_buildspec
    ),
    SpecKind.APPSPEC: _KindInfo(("appspec.yml", "appspec.yaml"), ("hooks", "os"), validate_appspec),
}


def lint_path(path: Path | str) -> list[Finding]:
    """Findings for every spec in a directory, or for one file of a kind told by name/content."""
    path = Path(path)
    if path.is_dir():
        return _lint_dir(path)
    if not path.exists():
        return [Finding(str(path), 0, "", "no such file or directory", Severity.ERROR)]
    kind, findings = _kind_of(path)
    return findings if kind is None else _KINDS[kind].validate(path)


def _lint_dir(directory: Path) -> list[Finding]:
    """Lint each buildspec/appspec file found directly in ``directory``."""
    files = [
        directory / name
        for info in _KINDS.values()
        for name in info.file_names
        if (directory / name).is_file()
    ]
    if not files:
        names = ", ".join(n for info in _KINDS.values() for n in info.file_names)
        return [
            Finding(
                str(directory), 0, "", f"no spec file found (looked for {names})", Severity.ERROR
            )
        ]
    return [finding for file in files for finding in lint_path(file)]


def _kind_of(path: Path) -> tuple[SpecKind | None, list[Finding]]:
    """The kind from the file name, else from its top-level keys; findings if undecidable."""
    name = path.name.lower()
    for kind in SpecKind:
        if kind.value in name:
            return kind, []
    out = FindingList(str(path))
    text = read_text(path, None, out)
    root = parse_yaml(text, out) if text is not None else None
    if isinstance(root, Mapping):
        for kind, info in _KINDS.items():
            if any(root.get(key) is not None for key in info.content_keys):
                return kind, []
    if root is not None:
        message = "cannot tell whether this is a buildspec (has 'phases') or an appspec"
        out.error(0, "", f"{message} (has 'hooks' or 'os')")
    return None, out.sorted()
