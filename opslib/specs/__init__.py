"""Load and validate buildspec.yml and appspec.yml — pure: nothing is executed.

Every problem becomes a :class:`Finding` with file, line and key path; ``load_*`` raise
:class:`~opslib.exceptions.SpecError` on any ERROR and otherwise return the typed model the
emulator runs. Which problems are errors and which are warnings is documented in
:mod:`opslib.specs.buildspec` and :mod:`opslib.specs.appspec`.
"""

from __future__ import annotations

from opslib.specs.appspec_model import (
    Appspec,
    AppspecOS,
    FileExistsBehavior,
    FileMapping,
    HookScript,
    LifecycleEvent,
    Permission,
    PermissionType,
)
from opslib.specs.buildspec_model import (
    Artifacts,
    BuildEnv,
    Buildspec,
    Cache,
    OnFailure,
    Phase,
    PhaseName,
    ReportFileFormat,
    ReportGroupSpec,
)
from opslib.specs.findings import Finding, Severity
from opslib.specs.lint import SpecKind, lint_path
from opslib.specs.loading import load_appspec, load_buildspec, validate_appspec, validate_buildspec

__all__ = [
    "Appspec",
    "AppspecOS",
    "Artifacts",
    "BuildEnv",
    "Buildspec",
    "Cache",
    "FileExistsBehavior",
    "FileMapping",
    "Finding",
    "HookScript",
    "LifecycleEvent",
    "OnFailure",
    "Permission",
    "PermissionType",
    "Phase",
    "PhaseName",
    "ReportFileFormat",
    "ReportGroupSpec",
    "Severity",
    "SpecKind",
    "lint_path",
    "load_appspec",
    "load_buildspec",
    "validate_appspec",
    "validate_buildspec",
]
