"""Tests for opslib.specs buildspec validation and its typed model."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import NamedTuple

import pytest

from opslib.exceptions import SpecError
from opslib.specs import (
    Finding,
    OnFailure,
    PhaseName,
    ReportFileFormat,
    Severity,
    load_buildspec,
    validate_buildspec,
)

pytestmark = pytest.mark.unit

ERROR = Severity.ERROR
WARNING = Severity.WARNING


def y(text: str) -> str:
    """Dedent a YAML literal so that its first line is line 1."""
    return textwrap.dedent(text).lstrip("\n")


class Case(NamedTuple):
    id: str
    text: str
    key_path: str
    line: int
    message: str
    severity: Severity


BUILD_OK = "phases:\n  build:\n    commands:\n      - make\n"

CASES = [
    Case("unknown-top-level-key", "version: 0.2\nphase:\n  build:\n    commands: [make]\n",
         "phase", 2, "did you mean 'phases'", ERROR),
    Case("unknown-phase", y("""
        version: 0.2
        phases:
          build:
            commands: [make]
          biuld:
            commands: [make]
        """), "phases.biuld", 5, "unknown key 'biuld' (did you mean 'build'?)", ERROR),
    Case("commands-as-string", y("""
        version: 0.2
        phases:
          build:
            commands: make test
        """), "phases.build.commands", 4, "expected a list of commands, got a string", ERROR),
    Case("command-as-mapping", y("""
        version: 0.2
        phases:
          build:
            commands:
              - make
              - echo status: done
        """), "phases.build.commands[1]", 6,
         "expected a string, got a mapping (quote a command that contains ': ')", ERROR),
    Case("on-failure-bad-value", y("""
        version: 0.2
        phases:
          build:
            on-failure: STOP
            commands: [make]
        """), "phases.build.on-failure", 4, "invalid value 'STOP'", ERROR),
    Case("on-failure-retry-unsupported", y("""
        version: 0.2
        phases:
          build:
            on-failure: RETRY-3
            commands: [make]
        """), "phases.build.on-failure", 4, "RETRY forms are not supported", ERROR),
    Case("version-missing", BUILD_OK, "version", 1, "required key 'version' is missing", ERROR),
    Case("version-0.3", "version: 0.3\n" + BUILD_OK, "version", 1,
         "unsupported buildspec version '0.3'", ERROR),
    Case("version-0.1-legacy", "version: 0.1\n" + BUILD_OK, "version", 1,
         "runs each command in its own shell", WARNING),
    Case("artifacts-without-files", "version: 0.2\n" + BUILD_OK + "artifacts:\n  name: x\n",
         "artifacts.files", 6, "required key 'files' is missing", ERROR),
    Case("artifacts-files-empty", "version: 0.2\n" + BUILD_OK + "artifacts:\n  files:\n",
         "artifacts.files", 7, "files is empty", ERROR),
    Case("discard-paths-not-yes-no", y("""
        version: 0.2
        artifacts:
          files: ['**/*']
          discard-paths: maybe
        """), "artifacts.discard-paths", 4, "expected yes or no", ERROR),
    Case("enable-symlinks-not-yes-no", y("""
        version: 0.2
        artifacts:
          files: ['**/*']
          enable-symlinks: 3
        """), "artifacts.enable-symlinks", 4, "expected yes or no", ERROR),
    Case("bad-file-format", y("""
        version: 0.2
        reports:
          unit:
            files: ['**/*.xml']
            file-format: JUNIT
        """), "reports.unit.file-format", 5, "invalid value 'JUNIT'", ERROR),
    Case("report-group-without-files", y("""
        version: 0.2
        reports:
          unit:
            base-directory: build
        """), "reports.unit.files", 3, "required key 'files' is missing", ERROR),
    Case("report-group-blank", "version: 0.2\nreports:\n  unit:\n",
         "reports.unit.files", 3, "required key 'files' is missing", ERROR),
    Case("secondary-artifact-without-files", y("""
        version: 0.2
        artifacts:
          files: ['**/*']
          secondary-artifacts:
            web:
              name: web
        """), "artifacts.secondary-artifacts.web.files", 5, "required key 'files'", ERROR),
    Case("secondary-artifact-nested", y("""
        version: 0.2
        artifacts:
          secondary-artifacts:
            web:
              files: ['**/*']
              secondary-artifacts: {}
        """), "artifacts.secondary-artifacts.web.secondary-artifacts", 6, "unknown key", ERROR),
    Case("env-variables-not-a-map", y("""
        version: 0.2
        env:
          variables:
            - A=1
        """), "env.variables", 4, "expected a mapping, got a list", ERROR),
    Case("env-variable-value-mapping", y("""
        version: 0.2
        env:
          variables:
            A:
              b: c
        """), "env.variables.A", 5, "expected a string, got a mapping", ERROR),
    Case("exported-variables-not-a-list", y("""
        version: 0.2
        env:
          exported-variables: VERSION
        """), "env.exported-variables", 3, "expected a list, got a string", ERROR),
    Case("env-unknown-shell", "version: 0.2\nenv:\n  shell: zsh\n",
         "env.shell", 3, "not one CodeBuild documents", WARNING),
    Case("batch-fail-fast-misspelling", y("""
        version: 0.2
        batch:
          fail-fast: false
        """), "batch.fail-fast", 3, "did you mean 'fast-fail'", ERROR),
    Case("runtime-versions-not-a-map", y("""
        version: 0.2
        phases:
          install:
            runtime-versions: python3.10
        """), "phases.install.runtime-versions", 4, "expected a mapping, got a string", ERROR),
    Case("runtime-versions-outside-install", y("""
        version: 0.2
        phases:
          build:
            runtime-versions:
              python: 3.11
            commands: [make]
        """), "phases.build.runtime-versions", 4, "only allowed in the install phase", ERROR),
    Case("duplicate-key", y("""
        version: 0.2
        phases:
          build:
            commands: [make]
          build:
            commands: [make test]
        """), "phases.build", 5, "duplicate key (first defined on line 3)", ERROR),
    Case("yaml-syntax-error-tab", "version: 0.2\nphases:\n\tbuild: {}\n",
         "", 3, "YAML syntax error", ERROR),
    Case("yaml-syntax-error-unclosed", "version: 0.2\nphases: [build\n",
         "", 3, "YAML syntax error", ERROR),
    Case("empty-file", "", "", 1, "the file is empty", ERROR),
    Case("top-level-list", "- version: 0.2\n", "", 1, "must be a mapping", ERROR),
    Case("phase-without-commands", y("""
        version: 0.2
        phases:
          build:
            on-failure: ABORT
        """), "phases.build.commands", 3, "required key 'commands' is missing", ERROR),
    Case("unknown-phase-key", y("""
        version: 0.2
        phases:
          build:
            commands: [make]
            finaly: [echo done]
        """), "phases.build.finaly", 5, "did you mean 'finally'", ERROR),
    Case("empty-commands-list", "version: 0.2\nphases:\n  build:\n    commands: []\n",
         "phases.build.commands", 4, "empty list of commands", WARNING),
    Case("blank-command-item", "version: 0.2\nphases:\n  build:\n    commands:\n      -\n",
         "phases.build.commands[0]", 5, "empty command", ERROR),
    Case("blank-phase", "version: 0.2\nphases:\n  build:\n", "phases.build", 3,
         "empty phase", WARNING),
    Case("no-phases", "version: 0.2\n", "phases", 1, "no phases", WARNING),
    # A path missing beside the spec is a question for run time (issue 11): a warning.
    Case("artifact-path-missing", "version: 0.2\n" + BUILD_OK + "artifacts:\n  files:\n"
         "    - dist/app.zip\n", "artifacts.files[0]", 8, "no command mentions 'dist'", WARNING),
    Case("artifact-base-directory-missing", "version: 0.2\n" + BUILD_OK + "artifacts:\n"
         "  base-directory: out\n  files: ['**/*']\n", "artifacts.base-directory", 7,
         "'out' does not exist", WARNING),
    Case("report-path-missing", "version: 0.2\n" + BUILD_OK + "reports:\n  unit:\n    files:\n"
         "      - junit.xml\n", "reports.unit.files[0]", 9, "'junit.xml' does not exist", WARNING),
    Case("cache-action-bad", "version: 0.2\ncache:\n  paths: ['/root/.npm/**/*']\n"
         "  action: store\n", "cache.action", 4, "invalid value 'store'", ERROR),
    Case("cache-paths-not-list", "version: 0.2\ncache:\n  paths: /root/.npm\n",
         "cache.paths", 3, "expected a list", ERROR),
]  # fmt: skip


def _matches(finding: Finding, case: Case) -> bool:
    return (
        finding.key_path == case.key_path
        and finding.line == case.line
        and case.message in finding.message
        and finding.severity is case.severity
    )


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_malformed_buildspec_is_reported(case: Case, tmp_path: Path) -> None:
    spec = tmp_path / "buildspec.yml"
    spec.write_text(case.text)
    findings = validate_buildspec(spec)
    assert any(_matches(f, case) for f in findings), "\n".join(map(str, findings))


@pytest.mark.parametrize(
    "case",
    [c for c in CASES if c.severity is ERROR],
    ids=[c.id for c in CASES if c.severity is ERROR],
)
def test_load_buildspec_raises_on_errors(case: Case, tmp_path: Path) -> None:
    spec = tmp_path / "buildspec.yml"
    spec.write_text(case.text)
    with pytest.raises(SpecError) as info:
        load_buildspec(spec)
    assert any(_matches(f, case) for f in info.value.findings)


def _errors(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity is ERROR]


def _valid(tmp_path: Path, text: str) -> Path:
    spec = tmp_path / "buildspec.yml"
    spec.write_text(y(text))
    findings = validate_buildspec(spec)
    assert _errors(findings) == [], "\n".join(map(str, findings))
    return spec


def test_multiline_block_command_is_one_command(tmp_path: Path) -> None:
    spec = _valid(
        tmp_path,
        """
        version: 0.2
        phases:
          build:
            commands:
              - |
                echo one
                echo two
              - "echo status: done"
        """,
    )
    phase = load_buildspec(spec).phases[PhaseName.BUILD]
    assert phase.commands == ["echo one\necho two\n", "echo status: done"]


def test_finally_and_on_failure_continue(tmp_path: Path) -> None:
    spec = _valid(
        tmp_path,
        """
        version: 0.2
        phases:
          pre_build:
            on-failure: CONTINUE
            commands: [./lint.sh]
            finally: [echo cleanup]
        """,
    )
    phase = load_buildspec(spec).phases[PhaseName.PRE_BUILD]
    assert phase.on_failure is OnFailure.CONTINUE
    assert phase.finally_ == ["echo cleanup"]


def test_runtime_versions_keep_literal_text_and_install_may_hold_only_them(
    tmp_path: Path,
) -> None:
    spec = _valid(
        tmp_path,
        """
        version: 0.2
        phases:
          install:
            runtime-versions:
              python: 3.10
              nodejs: 20
        """,
    )
    install = load_buildspec(spec).phases[PhaseName.INSTALL]
    assert install.runtime_versions == {"python": "3.10", "nodejs": "20"}
    assert install.commands == []


def test_env_sections_are_read_as_literal_text(tmp_path: Path) -> None:
    spec = _valid(
        tmp_path,
        """
        version: 0.2
        env:
          shell: bash
          variables:
            PY: 3.10
            DEBUG: yes
          parameter-store:
            DB_PASSWORD: /app/db/password
          secrets-manager:
            TOKEN: arn:aws:secretsmanager:us-east-1:123456789012:secret:tok:token
          exported-variables: [VERSION]
          git-credential-helper: yes
        phases:
          build:
            commands: [make]
        """,
    )
    env = load_buildspec(spec).env
    assert env.variables == {"PY": "3.10", "DEBUG": "yes"}
    assert env.parameter_store == {"DB_PASSWORD": "/app/db/password"}
    assert env.secrets_manager["TOKEN"].endswith(":tok:token")
    assert env.exported_variables == ["VERSION"]
    assert env.git_credential_helper is True


def test_artifacts_secondary_reports_and_cache(tmp_path: Path) -> None:
    (tmp_path / "appspec.yml").write_text("version: 0.0\n")
    spec = _valid(
        tmp_path,
        """
        version: 0.2
        phases:
          build:
            commands:
              - mkdir -p dist reports
              - zip -r dist/app.zip app
        artifacts:
          files:
            - appspec.yml
            - dist/app.zip
          discard-paths: no
          enable-symlinks: true
          s3-prefix: builds
          secondary-artifacts:
            web:
              base-directory: dist
              files: ['**/*']
              discard-paths: yes
        reports:
          unit:
            files: ['**/*.xml']
            base-directory: reports
          coverage:
            files: [coverage.xml]
            base-directory: reports
            file-format: COBERTURAXML
        cache:
          paths: ['/root/.npm/**/*']
          key: npm-$(md5sum package-lock.json)
          fallback-keys: [npm-]
          action: restore
        """,
    )
    model = load_buildspec(spec)
    assert model.artifacts is not None
    assert model.artifacts.files == ["appspec.yml", "dist/app.zip"]
    assert model.artifacts.enable_symlinks is True
    assert model.artifacts.s3_prefix == "builds"
    web = model.artifacts.secondary["web"]
    assert (web.base_directory, web.discard_paths) == ("dist", True)
    assert set(model.reports) == {"unit", "coverage"}
    assert model.reports["unit"].file_format is ReportFileFormat.JUNITXML
    assert model.reports["coverage"].file_format is ReportFileFormat.COBERTURAXML
    assert model.cache is not None and model.cache.fallback_keys == ["npm-"]


def test_phases_are_in_execution_order(tmp_path: Path) -> None:
    spec = _valid(
        tmp_path,
        """
        version: 0.2
        phases:
          post_build: {commands: [echo post]}
          build: {commands: [echo build]}
          install: {commands: [echo install]}
        """,
    )
    assert list(load_buildspec(spec).phases) == [
        PhaseName.INSTALL,
        PhaseName.BUILD,
        PhaseName.POST_BUILD,
    ]


def test_existing_literal_artifact_path_needs_no_mention(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    _valid(
        tmp_path,
        """
        version: 0.2
        phases:
          build: {commands: [make]}
        artifacts:
          base-directory: app
          files: [.]
        """,
    )


def test_yaml_merge_keys_are_applied(tmp_path: Path) -> None:
    spec = _valid(
        tmp_path,
        """
        version: 0.2
        phases:
          pre_build: &common
            on-failure: ABORT
            commands: [echo pre]
          build:
            <<: *common
            commands: [echo build]
        """,
    )
    build = load_buildspec(spec).phases[PhaseName.BUILD]
    assert (build.on_failure, build.commands) == (OnFailure.ABORT, ["echo build"])


def test_inline_text_uses_path_for_messages_and_relative_checks(tmp_path: Path) -> None:
    virtual = tmp_path / "override" / "buildspec.yml"
    findings = validate_buildspec(virtual, text="version: 0.4\n")
    assert [(f.file, f.line, f.key_path) for f in _errors(findings)] == [
        (str(virtual), 1, "version")
    ]


def test_check_paths_false_skips_path_checks(tmp_path: Path) -> None:
    text = "version: 0.2\n" + BUILD_OK + "artifacts:\n  files: [missing/app.zip]\n"
    assert validate_buildspec(tmp_path / "b.yml", text=text, check_paths=False) == []
    checked = validate_buildspec(tmp_path / "b.yml", text=text)
    assert _errors(checked) == [] and [f.key_path for f in checked] == ["artifacts.files[0]"]


def test_missing_file_is_one_finding(tmp_path: Path) -> None:
    findings = validate_buildspec(tmp_path / "nope.yml")
    assert [(f.line, f.message, f.severity) for f in findings] == [(0, "file not found", ERROR)]


def test_spec_error_message_is_one_line_naming_first_error(tmp_path: Path) -> None:
    text = y("""
        version: 0.2
        phases:
          build:
            on-failure: STOP
            commands:
              - echo a: b
        """)
    with pytest.raises(SpecError) as info:
        load_buildspec("buildspec.yml", text=text)
    assert str(info.value) == (
        "buildspec.yml: 2 errors (first: line 4: phases.build.on-failure: invalid value 'STOP'; "
        "valid values: ABORT, CONTINUE)"
    )
    assert len(info.value.findings) == 2


def test_findings_are_sorted_by_line(tmp_path: Path) -> None:
    text = "phases:\n  build:\n    commands: [make]\n    finaly: []\nbogus: 1\n"
    lines = [f.line for f in validate_buildspec(tmp_path / "buildspec.yml", text=text)]
    assert lines == sorted(lines)


def test_warnings_alone_do_not_raise(tmp_path: Path) -> None:
    spec = load_buildspec(tmp_path / "buildspec.yml", text="version: 0.1\n" + BUILD_OK)
    assert spec.version == "0.1"
