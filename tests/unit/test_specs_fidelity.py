"""Lint fidelity: real-world specs AWS accepts pass, and hostile files end quickly (issue 11).

Each table row is a spec as people write them; the lint must agree with AWS about it.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import NamedTuple

import pytest

from opslib.specs import (
    PhaseName,
    ReportFileFormat,
    Severity,
    lint_path,
    load_buildspec,
    validate_appspec,
    validate_buildspec,
)

pytestmark = pytest.mark.unit

ERROR = Severity.ERROR
WARNING = Severity.WARNING


def y(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


ACCEPTED = {
    "phase-with-only-finally": """
        version: 0.2
        phases:
          build:
            finally: [echo always]
        """,
    "file-format-mixed-case": """
        version: 0.2
        phases:
          build: {commands: [mkdir -p reports && make test]}
        reports:
          unit: {files: [junit.xml], base-directory: reports, file-format: JunitXml}
          cukes: {files: [c.json], base-directory: reports, file-format: cucumberjson}
        """,
    "version-0.1-with-its-own-keys": """
        version: 0.1
        environment_variables:
          plaintext:
            JAVA_HOME: /usr/lib/jvm/java-8-openjdk-amd64
          parameter-store:
            LOGIN_PASSWORD: dockerLoginPassword
        phases:
          build:
            commands:
              - mvn install
        artifacts:
          type: zip
          files:
            - target/messageUtil-1.0.jar
          discard-paths: yes
        """,
    "report-base-directory-made-by-a-tool": """
        version: 0.2
        phases:
          build: {commands: [npm test]}
        reports:
          jest: {files: [junit.xml], base-directory: test-results}
        """,
    "artifact-made-under-a-name-no-command-spells": """
        version: 0.2
        phases:
          build: {commands: [npm run build]}
        artifacts:
          files: ['**/*']
          base-directory: dist
        """,
}


@pytest.mark.parametrize("text", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_specs_aws_accepts_have_no_errors(text: str, tmp_path: Path) -> None:
    path = tmp_path / "buildspec.yml"
    path.write_text(y(text))
    findings = validate_buildspec(path)
    assert [f for f in findings if f.is_error] == [], "\n".join(map(str, findings))
    load_buildspec(path)  # the emulator runs it


class Finds(NamedTuple):
    id: str
    text: str
    key_path: str
    line: int
    message: str
    severity: Severity


FINDS = [
    Finds("0.1-with-0.2-env", "version: 0.1\nenv:\n  variables: {A: b}\n", "env", 2,
          "version 0.1 calls it 'environment_variables'", ERROR),
    Finds("0.2-with-0.1-environment_variables",
          "version: 0.2\nenvironment_variables:\n  plaintext: {A: b}\n",
          "environment_variables", 2, "version 0.2 calls it 'env'", ERROR),
    Finds("0.1-environment_variables-unknown-key",
          "version: 0.1\nenvironment_variables:\n  variables: {A: b}\n",
          "environment_variables.variables", 3, "unknown key 'variables'", ERROR),
    Finds("0.2-artifacts-type-deprecated", y("""
        version: 0.2
        artifacts:
          type: zip
          files: ['**/*']
        """), "artifacts.type", 3, "deprecated since buildspec version 0.2", WARNING),
    Finds("0.1-lone-cd-does-nothing", y("""
        version: 0.1
        phases:
          build:
            commands:
              - cd app
              - make
        """), "phases.build.commands[0]", 5, "'cd' alone does nothing under version 0.1", WARNING),
    Finds("0.1-lone-export-does-nothing", y("""
        version: 0.1
        phases:
          install:
            commands: [export A=1]
            finally: [echo $A]
        """), "phases.install.commands[0]", 4, "'export' alone does nothing", WARNING),
    Finds("missing-base-directory-is-a-warning", y("""
        version: 0.2
        phases:
          build: {commands: [make]}
        reports:
          unit: {files: [junit.xml], base-directory: out}
        """), "reports.unit.base-directory", 5, "'out' does not exist", WARNING),
    Finds("file-format-still-checked", y("""
        version: 0.2
        reports:
          unit: {files: [a.xml], file-format: junit}
        """), "reports.unit.file-format", 3, "invalid value 'junit'", ERROR),
]  # fmt: skip


@pytest.mark.parametrize("case", FINDS, ids=[c.id for c in FINDS])
def test_version_and_path_findings(case: Finds, tmp_path: Path) -> None:
    path = tmp_path / "buildspec.yml"
    path.write_text(case.text)
    findings = validate_buildspec(path)
    assert any(
        (f.key_path, f.line, f.severity) == (case.key_path, case.line, case.severity)
        and case.message in f.message
        for f in findings
    ), "\n".join(map(str, findings))


def test_version_0_1_model_reads_environment_variables_and_finally_only_phases(
    tmp_path: Path,
) -> None:
    spec = load_buildspec(
        tmp_path / "buildspec.yml",
        text=y("""
            version: 0.1
            environment_variables:
              plaintext: {PY: 3.10}
              parameter-store: {TOKEN: /app/token}
            phases:
              post_build:
                finally: [echo done]
            reports:
              unit: {files: [a.xml], file-format: nunit3xml}
            """),
    )
    assert spec.version == "0.1"
    assert spec.env.variables == {"PY": "3.10"}
    assert spec.env.parameter_store == {"TOKEN": "/app/token"}
    post = spec.phases[PhaseName.POST_BUILD]
    assert (post.commands, post.finally_) == ([], ["echo done"])
    assert spec.reports["unit"].file_format is ReportFileFormat.NUNIT3XML


# --- the appspec of a bundle that the build assembles ---------------------------------------

APPSPEC = "version: 0.0\nos: linux\nfiles:\n  - source: app\n    destination: /opt/app\n"


def _buildspec(commands: str) -> str:
    return (
        "version: 0.2\nphases:\n  post_build:\n    commands:\n"
        f"      - {commands}\nartifacts:\n  files: ['**/*']\n  base-directory: bundle\n"
    )


@pytest.mark.parametrize(
    ("buildspec", "expected"),
    [
        (_buildspec('mkdir -p "$CODEBUILD_SRC_DIR/bundle/app"'), []),
        (_buildspec("cp -R src bundle/"), ["no command of the buildspec beside it mentions"]),
        (None, ["'app' not found next to the appspec; it must be in the revision bundle"]),
    ],
    ids=["built-by-the-buildspec", "buildspec-does-not-make-it", "no-buildspec"],
)
def test_appspec_source_built_by_the_buildspec_beside_it(
    buildspec: str | None, expected: list[str], tmp_path: Path
) -> None:
    (tmp_path / "appspec.yml").write_text(APPSPEC)
    if buildspec is not None:
        (tmp_path / "buildspec.yml").write_text(buildspec)
    findings = validate_appspec(tmp_path / "appspec.yml")
    assert [f.severity for f in findings] == [WARNING] * len(expected)
    assert all(e in f.message for e, f in zip(expected, findings, strict=True))


def test_the_repositorys_own_specs_lint_clean(repo_root: Path) -> None:
    assert lint_path(repo_root) == []


# --- hostile files: each is one error finding, quickly --------------------------------------


def _billion_laughs() -> str:
    rows = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]']
    for prev, name in zip("abcde", "bcdef", strict=True):  # f: a million scalars
        rows.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 10) + "]")
    return "version: 0.2\n" + "\n".join(rows) + "\nphases: {build: {commands: *f}}\n"


HOSTILE = {
    "deep-flow-nesting": ("version: 0.2\nx: " + "[" * 5000 + "]" * 5000 + "\n", "nested deeper"),
    "deep-block-nesting": (
        "version: 0.2\n" + "".join("  " * i + f"k{i}:\n" for i in range(200)),
        "nested deeper than 64 levels",
    ),
    "billion-laughs": (_billion_laughs(), "YAML nodes once aliases are expanded"),
    "larger-than-1-MiB": ("version: 0.2\n#" + "x" * (1 << 20) + "\n", "larger than 1 MiB"),
    "binary": ("\x00\x01\x02", "YAML error"),
}


@pytest.mark.parametrize(("text", "message"), HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_spec_is_one_error(text: str, message: str, tmp_path: Path) -> None:
    path = tmp_path / "buildspec.yml"
    path.write_text(text)
    findings = lint_path(path)
    assert [(f.severity, message in f.message) for f in findings] == [(ERROR, True)], findings


def test_undecodable_spec_is_one_error(tmp_path: Path) -> None:
    path = tmp_path / "buildspec.yml"
    path.write_bytes(b"version: 0.2\n\xff\xfe\n")
    assert [f.message[:10] for f in lint_path(path)] == ["not UTF-8 "]


def test_a_device_is_refused_not_read() -> None:
    findings = lint_path(os.devnull)  # /dev/zero and FIFOs: tests/unit/test_cli.py
    assert [f.message for f in findings] == ["is a character device, not a regular file"]
