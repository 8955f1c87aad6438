"""Findings: one problem in a buildspec or appspec, with the file, line and key it concerns.

Validation never stops at the first problem: every check appends a :class:`Finding` to a
:class:`FindingList`, so a user fixes a spec in one round instead of one error per run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Severity(StrEnum):
    """How bad a finding is; only ERROR makes ``load_*`` raise."""

    ERROR = "error"  # AWS rejects the file, or the build/deployment would fail on it
    WARNING = "warning"  # AWS accepts or silently ignores it, but it is almost surely a mistake


@dataclass(frozen=True)
class Finding:
    """One problem, located by file, 1-based line (0 = whole file) and dotted key path."""

    file: str
    line: int
    key_path: str
    message: str
    severity: Severity

    def __str__(self) -> str:
        """Render as ``file:line: key.path: message [severity]`` (compiler style)."""
        where = f"{self.file}:{self.line}" if self.line > 0 else self.file
        key = f" {self.key_path}:" if self.key_path else ""
        return f"{where}:{key} {self.message} [{self.severity}]"

    @property
    def is_error(self) -> bool:
        """True for an ERROR finding."""
        return self.severity is Severity.ERROR


@dataclass
class FindingList:
    """Collects the findings of one file while its checks run."""

    file: str
    items: list[Finding] = field(default_factory=list)

    def error(self, line: int, key_path: str, message: str) -> None:
        """Record something AWS would reject."""
        self.items.append(Finding(self.file, line, key_path, message, Severity.ERROR))

    def warning(self, line: int, key_path: str, message: str) -> None:
        """Record something AWS accepts or ignores but that is almost surely a mistake."""
        self.items.append(Finding(self.file, line, key_path, message, Severity.WARNING))

    def add(self, severity: Severity, line: int, key_path: str, message: str) -> None:
        """Record a finding whose severity the caller chose."""
        self.items.append(Finding(self.file, line, key_path, message, severity))

    def sorted(self) -> list[Finding]:
        """The findings in line order (stable, so equal lines keep discovery order)."""
        return sorted(self.items, key=lambda f: f.line)
