"""Fixes to moto's behaviour that the emulator's flows need, applied once at start.

Each fix names the gap it closes (REFERENCE.md lists the measured ones) and has a test in
``tests/emulator/test_moto_fixes.py``. Fixes patch moto's validation or fill in an
operation moto lacks; anything that really runs work is a service of its own.
"""

from __future__ import annotations

from typing import Any

from moto.codebuild import responses as moto_codebuild_responses


def _validate_source(source: dict[str, Any]) -> None:
    """moto demands a location for every source type; AWS does not for these two."""
    if source.get("type") in ("CODEPIPELINE", "NO_SOURCE"):
        return
    _moto_validate_source(source)


def _validate_artifacts(artifacts: dict[str, Any]) -> None:
    """A CODEPIPELINE project's artifacts go where its pipeline says: no location."""
    if artifacts.get("type") == "CODEPIPELINE":
        return
    _moto_validate_artifacts(artifacts)


_moto_validate_source = moto_codebuild_responses._validate_required_params_source
_moto_validate_artifacts = moto_codebuild_responses._validate_required_params_artifacts


def _codebuild_locations() -> None:
    """Fix moto's CreateProject: CODEPIPELINE and NO_SOURCE projects need no location."""
    moto_codebuild_responses._validate_required_params_source = _validate_source
    moto_codebuild_responses._validate_required_params_artifacts = _validate_artifacts


def apply() -> None:
    """Apply every fix (idempotent)."""
    _codebuild_locations()
