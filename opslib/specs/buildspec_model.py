"""Typed model of a valid buildspec.yml: what the emulator's CodeBuild runner executes.

Every string is the literal text of the file (``python: 3.10`` stays "3.10"). Lists and dicts
are never None: an absent section is empty.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class PhaseName(StrEnum):
    """Build phases that run commands, in execution order (iterate the enum to run them)."""

    INSTALL = "install"  # runtime-versions, then install commands
    PRE_BUILD = "pre_build"  # logins, dependency fetches
    BUILD = "build"  # the build itself; a failure still runs POST_BUILD
    POST_BUILD = "post_build"  # packaging, notifications; sees CODEBUILD_BUILD_SUCCEEDING


class OnFailure(StrEnum):
    """What a phase failure does; opslib supports the two classic values only."""

    ABORT = "ABORT"  # end the build (after this phase's finally)
    CONTINUE = "CONTINUE"  # go on with the next phase


class ReportFileFormat(StrEnum):
    """Test and coverage report formats CodeBuild report groups accept."""

    JUNITXML = "JUNITXML"  # the default
    CUCUMBERJSON = "CUCUMBERJSON"
    TESTNGXML = "TESTNGXML"
    VISUALSTUDIOTRX = "VISUALSTUDIOTRX"
    NUNITXML = "NUNITXML"
    NUNIT3XML = "NUNIT3XML"
    CLOVERXML = "CLOVERXML"  # coverage
    COBERTURAXML = "COBERTURAXML"  # coverage
    JACOCOXML = "JACOCOXML"  # coverage
    SIMPLECOV = "SIMPLECOV"  # coverage


@dataclass(frozen=True)
class BuildEnv:
    """The ``env`` section: shell and the variables the build starts with."""

    shell: str | None = None
    variables: dict[str, str] = field(default_factory=dict)
    parameter_store: dict[str, str] = field(default_factory=dict)
    secrets_manager: dict[str, str] = field(default_factory=dict)
    exported_variables: list[str] = field(default_factory=list)
    git_credential_helper: bool = False


@dataclass(frozen=True)
class Phase:
    """One phase: ``commands`` run in order in one shell; ``finally_`` runs even on failure."""

    commands: list[str] = field(default_factory=list)
    finally_: list[str] = field(default_factory=list)
    on_failure: OnFailure | None = None
    run_as: str | None = None
    runtime_versions: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Artifacts:
    """The primary artifact (or one secondary artifact): which files go to S3."""

    files: list[str] = field(default_factory=list)
    name: str | None = None
    base_directory: str | None = None
    discard_paths: bool = False
    exclude_paths: list[str] = field(default_factory=list)
    enable_symlinks: bool = False
    s3_prefix: str | None = None
    secondary: dict[str, Artifacts] = field(default_factory=dict)


@dataclass(frozen=True)
class ReportGroupSpec:
    """One ``reports`` group: the test/coverage files CodeBuild uploads to a report group."""

    files: list[str] = field(default_factory=list)
    base_directory: str | None = None
    discard_paths: bool = False
    file_format: ReportFileFormat = ReportFileFormat.JUNITXML


@dataclass(frozen=True)
class Cache:
    """The ``cache`` section: paths kept between builds."""

    paths: list[str] = field(default_factory=list)
    key: str | None = None
    fallback_keys: list[str] = field(default_factory=list)
    action: str | None = None


@dataclass(frozen=True)
class Buildspec:
    """A validated buildspec; ``phases`` holds only the phases the file defines."""

    version: str
    env: BuildEnv = field(default_factory=BuildEnv)
    phases: dict[PhaseName, Phase] = field(default_factory=dict)
    artifacts: Artifacts | None = None
    reports: dict[str, ReportGroupSpec] = field(default_factory=dict)
    cache: Cache | None = None
    run_as: str | None = None

    def all_commands(self) -> list[str]:
        """Every command and finally command, in execution order."""
        return [c for p in self.phases.values() for c in (*p.commands, *p.finally_)]
