"""Tests for opslib.specs.lint_path, Finding rendering and the YAML node loader."""

from __future__ import annotations

from pathlib import Path

import pytest

from opslib.specs import Finding, Severity, lint_path
from opslib.specs.findings import FindingList
from opslib.specs.yamlnodes import Mapping, Scalar, ScalarType, parse_yaml

pytestmark = pytest.mark.unit

BUILDSPEC = "version: 0.2\nphases:\n  build:\n    commands:\n      - make\n"
APPSPEC = "version: 0.0\nos: linux\nhooks:\n  ApplicationStop:\n"
BAD_BUILDSPEC = "version: 0.3\nphases:\n  build:\n    commands: [make]\n"
BAD_APPSPEC = 'version: "0.0"\nos: linux\n'


def _errors(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity is Severity.ERROR]


def test_finding_str_format() -> None:
    finding = Finding(
        "buildspec.yml",
        12,
        "phases.build.commands[2]",
        "expected a string, got a mapping (quote a command that contains ': ')",
        Severity.ERROR,
    )
    assert str(finding) == (
        "buildspec.yml:12: phases.build.commands[2]: expected a string, got a mapping "
        "(quote a command that contains ': ') [error]"
    )


def test_finding_str_without_line_or_key() -> None:
    finding = Finding("appspec.yml", 0, "", "file not found", Severity.WARNING)
    assert str(finding) == "appspec.yml: file not found [warning]"


def test_lint_directory_with_valid_specs(tmp_path: Path) -> None:
    (tmp_path / "buildspec.yml").write_text(BUILDSPEC)
    (tmp_path / "appspec.yaml").write_text(APPSPEC)
    assert lint_path(tmp_path) == []


def test_lint_directory_reports_both_files(tmp_path: Path) -> None:
    (tmp_path / "buildspec.yml").write_text(BAD_BUILDSPEC)
    (tmp_path / "appspec.yml").write_text(BAD_APPSPEC)
    files = sorted(Path(f.file).name for f in _errors(lint_path(tmp_path)))
    assert files == ["appspec.yml", "buildspec.yml"]


def test_lint_directory_without_specs(tmp_path: Path) -> None:
    findings = lint_path(tmp_path)
    assert len(findings) == 1
    assert findings[0].severity is Severity.ERROR
    assert "no spec file found" in findings[0].message


def test_lint_missing_path(tmp_path: Path) -> None:
    findings = lint_path(tmp_path / "nope.yml")
    assert [(f.line, f.message) for f in findings] == [(0, "no such file or directory")]


@pytest.mark.parametrize(
    ("name", "text", "expected_key"),
    [
        ("buildspec-prod.yml", BAD_BUILDSPEC, "version"),  # kind from the name
        ("my-appspec.yml", BAD_APPSPEC, "version"),
        ("ci.yml", BAD_BUILDSPEC, "version"),  # kind from content: phases
        ("deploy.yml", BAD_APPSPEC, "version"),  # kind from content: os
    ],
)
def test_lint_single_file_picks_the_kind(
    tmp_path: Path, name: str, text: str, expected_key: str
) -> None:
    spec = tmp_path / name
    spec.write_text(text)
    errors = _errors(lint_path(spec))
    assert [(f.file, f.line, f.key_path) for f in errors] == [(str(spec), 1, expected_key)]


def test_lint_single_file_of_unknown_kind(tmp_path: Path) -> None:
    spec = tmp_path / "other.yml"
    spec.write_text("name: x\n")
    findings = lint_path(spec)
    assert len(findings) == 1 and "cannot tell" in findings[0].message


def test_lint_single_file_with_yaml_error_and_unknown_kind(tmp_path: Path) -> None:
    spec = tmp_path / "other.yml"
    spec.write_text("a: [b\n")
    findings = lint_path(spec)
    assert [f.message.startswith("YAML syntax error") for f in findings] == [True]


def test_lint_file_kind_from_name_ignores_content(tmp_path: Path) -> None:
    spec = tmp_path / "appspec.yml"
    spec.write_text(BUILDSPEC)  # a buildspec under an appspec name: linted as an appspec
    keys = {f.key_path for f in _errors(lint_path(spec))}
    assert {"version", "os"} <= keys


def test_yaml_nodes_keep_literal_text_type_and_line() -> None:
    out = FindingList("x.yml")
    root = parse_yaml("a: 3.10\nb: '0.0'\nc: 0.0\nd:\ne: yes\n", out)
    assert out.items == []
    assert isinstance(root, Mapping)
    expected = {
        "a": Scalar("3.10", ScalarType.FLOAT, 1),
        "b": Scalar("0.0", ScalarType.STR, 2),
        "c": Scalar("0.0", ScalarType.FLOAT, 3),
        "d": Scalar("", ScalarType.NULL, 4),
        "e": Scalar("yes", ScalarType.BOOL, 5),
    }
    assert {key: root.get(key) for key in expected} == expected


def test_yaml_recursive_alias_is_a_finding() -> None:
    out = FindingList("x.yml")
    parse_yaml("a: &x\n  b: *x\n", out)
    assert [f.message for f in out.items] == ["recursive YAML alias"]
