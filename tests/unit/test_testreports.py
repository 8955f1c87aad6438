"""Test and coverage report files become CodeBuild's test cases and coverages."""

from __future__ import annotations

from pathlib import Path

import pytest

from opslib.emulator.codebuild.reportfiles import (
    TestStatus,
    parse_clover,
    parse_cobertura,
    parse_coverage,
    parse_junit,
    parse_tests,
    resolve_report_files,
    summarize,
)
from opslib.exceptions import ExecutionError
from opslib.specs import ReportFileFormat, ReportGroupSpec

pytestmark = pytest.mark.unit

ARN = "arn:aws:codebuild:us-east-1:123456789012:report/demo-jest:build-1"

JEST_JUNIT = """<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="jest tests" tests="3" failures="1" errors="0" time="1.234">
  <testsuite name="GET /health" errors="0" failures="1" skipped="1" time="0.5" tests="3">
    <testcase classname="GET /health returns 200" name="GET /health returns 200" time="0.012">
    </testcase>
    <testcase classname="GET /health reports the version"
              name="GET /health reports the version" time="0.004">
      <failure>Error: expect(received).toBe(expected)

Expected: "1.2.3"
Received: "1.2.2"</failure>
    </testcase>
    <testcase classname="GET /health handles load" name="GET /health handles load" time="0">
      <skipped/>
    </testcase>
  </testsuite>
</testsuites>
"""

COBERTURA = """<?xml version="1.0" ?>
<!DOCTYPE coverage SYSTEM "http://cobertura.sourceforge.net/xml/coverage-04.dtd">
<coverage lines-valid="6" lines-covered="4" line-rate="0.6667" branches-valid="4"
          branches-covered="2" branch-rate="0.5" timestamp="1" complexity="0" version="0.1">
  <sources><source>/src</source></sources>
  <packages>
    <package name="app" line-rate="0.6667" branch-rate="0.5">
      <classes>
        <class name="app.js" filename="src/app.js" line-rate="0.75" branch-rate="0.5">
          <methods>
            <method name="handler" hits="1" signature="()V">
              <lines><line number="2" hits="1"/></lines>
            </method>
          </methods>
          <lines>
            <line number="1" hits="1" branch="false"/>
            <line number="2" hits="3" branch="true" condition-coverage="50% (2/4)"/>
            <line number="3" hits="1" branch="false"/>
            <line number="4" hits="0" branch="false"/>
          </lines>
        </class>
        <class name="util.js" filename="src/util.js" line-rate="0.5" branch-rate="1">
          <lines>
            <line number="1" hits="1" branch="false"/>
            <line number="2" hits="0" branch="false"/>
          </lines>
        </class>
      </classes>
    </package>
  </packages>
</coverage>
"""

CLOVER = """<?xml version="1.0" encoding="UTF-8"?>
<coverage generated="1" clover="3.2.0">
  <project timestamp="1" name="All files">
    <metrics statements="12" coveredstatements="9" conditionals="4" coveredconditionals="3"/>
    <file name="app.js" path="/src/app.js">
      <metrics statements="10" coveredstatements="8" conditionals="4" coveredconditionals="3"/>
    </file>
    <package name="lib">
      <file name="util.js" path="/src/lib/util.js">
        <metrics statements="2" coveredstatements="1" conditionals="0" coveredconditionals="0"/>
      </file>
    </package>
  </project>
</coverage>
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_jest_junit_cases_get_status_duration_and_message(tmp_path: Path) -> None:
    cases = parse_junit(write(tmp_path, "junit.xml", JEST_JUNIT))
    assert [(c.name, c.status, c.duration_ns) for c in cases] == [
        ("GET /health returns 200", TestStatus.SUCCEEDED, 12_000_000),
        ("GET /health reports the version", TestStatus.FAILED, 4_000_000),
        ("GET /health handles load", TestStatus.SKIPPED, 0),
    ]
    assert cases[1].message is not None and 'Received: "1.2.2"' in cases[1].message
    assert cases[0].message is None and cases[0].suite == "GET /health"
    assert cases[0].prefix == "GET /health returns 200"


def test_summary_counts_statuses_and_sums_durations(tmp_path: Path) -> None:
    summary = summarize(parse_junit(write(tmp_path, "junit.xml", JEST_JUNIT)))
    assert summary.total == 3
    assert summary.status_counts == {"SUCCEEDED": 1, "FAILED": 1, "SKIPPED": 1}
    assert summary.duration_ns == 16_000_000


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ('<error message="TypeError: x is undefined">trace</error>', "ERROR", "TypeError: x is"),
        ('<failure message="expected 1">long trace</failure>', "FAILED", "expected 1"),
        ('<skipped message="todo"/>', "SKIPPED", "todo"),
    ],
)
def test_single_testsuite_root_and_outcome_elements(
    tmp_path: Path, body: str, status: str, message: str
) -> None:
    xml = f'<testsuite name="unit"><testcase name="t" time="1.5">{body}</testcase></testsuite>'
    (case,) = parse_junit(write(tmp_path, "r.xml", xml))
    assert case.status == status and case.message is not None and message in case.message
    assert case.prefix == "unit" and case.duration_ns == 1_500_000_000


def test_parse_tests_gives_aws_wire_documents(tmp_path: Path) -> None:
    path = write(tmp_path, "junit.xml", JEST_JUNIT)
    summary, items = parse_tests([path], ReportFileFormat.JUNITXML, ARN)
    assert summary == {
        "total": 3,
        "statusCounts": {"SUCCEEDED": 1, "FAILED": 1, "SKIPPED": 1},
        "durationInNanoSeconds": 16_000_000,
    }
    assert items[0]["reportArn"] == ARN and items[0]["testRawDataPath"] == str(path)
    assert items[0]["status"] == "SUCCEEDED" and "message" not in items[0]


def test_cobertura_counts_lines_and_branches_per_file(tmp_path: Path) -> None:
    report = parse_cobertura(write(tmp_path, "cobertura-coverage.xml", COBERTURA))
    app, util = report.files
    assert (app.file_path, app.lines_covered, app.lines_missed) == ("src/app.js", 3, 1)
    assert (app.branches_covered, app.branches_missed) == (2, 2)
    assert app.line_coverage_percentage == 75.0 and app.branch_coverage_percentage == 50.0
    assert (util.lines_covered, util.lines_missed, util.branch_coverage_percentage) == (1, 1, 0.0)
    summary = report.summary
    assert (summary.lines_covered, summary.lines_missed) == (4, 2)
    assert summary.line_coverage_percentage == pytest.approx(66.6667, abs=1e-3)


def test_clover_metrics_per_file(tmp_path: Path) -> None:
    report = parse_clover(write(tmp_path, "clover.xml", CLOVER))
    assert [(f.file_path, f.lines_covered, f.lines_missed) for f in report.files] == [
        ("/src/app.js", 8, 2),
        ("/src/lib/util.js", 1, 1),
    ]
    assert (report.summary.branches_covered, report.summary.branches_missed) == (3, 1)


def test_parse_coverage_gives_aws_wire_documents(tmp_path: Path) -> None:
    path = write(tmp_path, "cobertura.xml", COBERTURA)
    summary, items = parse_coverage([path], ReportFileFormat.COBERTURAXML, ARN)
    assert summary["linesCovered"] == 4 and summary["branchesMissed"] == 2
    assert items[0]["reportARN"] == ARN and items[0]["filePath"] == "src/app.js"
    assert items[0]["lineCoveragePercentage"] == 75.0 and items[0]["id"]


@pytest.mark.parametrize(
    ("parse", "text", "error"),
    [
        (parse_junit, "<testsuites><testsuite>\n<testcase></testsuite>", "line 2"),
        (parse_junit, "<results/>", "not a JUnit XML report"),
        (parse_cobertura, "<coverage><packages>", "malformed XML at line 1"),
        (parse_clover, COBERTURA, "not a Clover XML report"),
    ],
)
def test_bad_report_files_name_the_file_and_the_problem(
    tmp_path: Path, parse: object, text: str, error: str
) -> None:
    path = write(tmp_path, "report.xml", text)
    with pytest.raises(ExecutionError, match=error) as info:
        parse(path)  # type: ignore[operator]
    assert str(path) in str(info.value)


def test_unsupported_format_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ExecutionError, match="CUCUMBERJSON is not parsed"):
        parse_tests([], ReportFileFormat.CUCUMBERJSON, ARN)


def test_report_files_resolve_under_base_directory(tmp_path: Path) -> None:
    write(tmp_path, "reports/junit.xml", JEST_JUNIT)
    write(tmp_path, "reports/nested/more.xml", JEST_JUNIT)
    write(tmp_path, "reports/notes.txt", "")
    spec = ReportGroupSpec(files=["**/*.xml"], base_directory="reports")
    found = resolve_report_files(tmp_path, spec)
    assert found == [tmp_path / "reports/junit.xml", tmp_path / "reports/nested/more.xml"]
