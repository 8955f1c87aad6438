"""Parse the test and coverage reports a build writes, into CodeBuild's report records.

CodeBuild reads JUnit XML (jest-junit's output here) into test cases with a status and a
duration in nanoseconds (DescribeTestCases), and Cobertura or Clover XML into per-file line
and branch coverage (DescribeCodeCoverages) plus a report summary. The typed records are
pure data; ``to_dict`` gives AWS's wire shape at the API boundary. A malformed file is an
:class:`~opslib.exceptions.ExecutionError` naming the file and the parser's line.
"""

from __future__ import annotations

import re
import uuid
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from opslib.emulator.codebuild.artifacts import match_paths
from opslib.exceptions import ExecutionError
from opslib.specs import ReportFileFormat, ReportGroupSpec


class TestStatus(StrEnum):
    """A test case's status as DescribeTestCases reports it."""

    __test__ = False  # not a pytest class, despite the name

    SUCCEEDED = "SUCCEEDED"  # no failure, error or skipped element
    FAILED = "FAILED"  # <failure>: an assertion failed
    ERROR = "ERROR"  # <error>: the test could not run to its assertions
    SKIPPED = "SKIPPED"  # <skipped>: it.skip / xit / todo
    UNKNOWN = "UNKNOWN"  # AWS's catch-all; not produced from JUnit


@dataclass(frozen=True)
class TestCase:
    """One test case of a report."""

    __test__ = False

    name: str
    prefix: str  # the classname, or the suite name when there is none
    status: TestStatus
    duration_ns: int
    message: str | None  # the failure/error/skip message or text
    raw_path: str  # the report file it came from (testRawDataPath)
    suite: str | None = None  # testSuiteName

    def to_dict(self, report_arn: str) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "reportArn": report_arn,
            "testRawDataPath": self.raw_path,
            "prefix": self.prefix,
            "name": self.name,
            "status": str(self.status),
            "durationInNanoSeconds": self.duration_ns,
        }
        if self.message is not None:
            doc["message"] = self.message
        if self.suite is not None:
            doc["testSuiteName"] = self.suite
        return doc


@dataclass(frozen=True)
class TestSummary:
    """A test report's summary: totals by status and the summed duration."""

    __test__ = False

    total: int
    status_counts: dict[str, int]
    duration_ns: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "statusCounts": dict(self.status_counts),
            "durationInNanoSeconds": self.duration_ns,
        }


def _percentage(covered: int, missed: int) -> float:
    total = covered + missed
    return 100.0 * covered / total if total else 0.0


@dataclass(frozen=True)
class CoverageSummary:
    """Line and branch counts with their percentages (codeCoverageSummary)."""

    lines_covered: int
    lines_missed: int
    branches_covered: int
    branches_missed: int

    @property
    def line_coverage_percentage(self) -> float:
        return _percentage(self.lines_covered, self.lines_missed)

    @property
    def branch_coverage_percentage(self) -> float:
        return _percentage(self.branches_covered, self.branches_missed)

    @classmethod
    def of(cls, files: Iterable[FileCoverage]) -> CoverageSummary:
        items = list(files)
        return cls(
            sum(f.lines_covered for f in items),
            sum(f.lines_missed for f in items),
            sum(f.branches_covered for f in items),
            sum(f.branches_missed for f in items),
        )

    def to_dict(self) -> dict[str, Any]:
        return _coverage_fields(self)


@dataclass(frozen=True)
class FileCoverage(CoverageSummary):
    """Line and branch coverage of one source file (a DescribeCodeCoverages item)."""

    file_path: str = ""

    def to_item(self, report_arn: str) -> dict[str, Any]:
        """The file as a DescribeCodeCoverages item of that report."""
        return {
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{report_arn}/{self.file_path}")),
            "reportARN": report_arn,
            "filePath": self.file_path,
            **_coverage_fields(self),
        }


def _coverage_fields(item: CoverageSummary) -> dict[str, Any]:
    return {
        "lineCoveragePercentage": item.line_coverage_percentage,
        "linesCovered": item.lines_covered,
        "linesMissed": item.lines_missed,
        "branchCoveragePercentage": item.branch_coverage_percentage,
        "branchesCovered": item.branches_covered,
        "branchesMissed": item.branches_missed,
    }


@dataclass(frozen=True)
class CoverageReport:
    """What one or more coverage files say: the totals and each file."""

    summary: CoverageSummary
    files: list[FileCoverage]


# --- reading files ---------------------------------------------------------------------------


def resolve_report_files(source_dir: Path, spec: ReportGroupSpec) -> list[Path]:
    """The report group's files: ``files`` globs under ``base-directory`` (or the source)."""
    root = source_dir / spec.base_directory if spec.base_directory else source_dir
    return match_paths(root, spec.files)


def _parse_xml(path: Path) -> ET.Element:
    try:
        return ET.parse(path).getroot()
    except ET.ParseError as exc:
        line, column = exc.position
        raise ExecutionError(
            f"{path}: malformed XML at line {line}, column {column}: {exc.msg}"
        ) from exc
    except OSError as exc:
        raise ExecutionError(f"cannot read report file {path}: {exc.strerror}") from exc


def _nanoseconds(seconds: str | None) -> int:
    """JUnit ``time`` is seconds as a decimal (some writers add thousands separators)."""
    try:
        return round(float((seconds or "0").replace(",", "")) * 1e9)
    except ValueError:
        return 0


# --- JUnit -------------------------------------------------------------------------------------

_OUTCOMES = {"failure": TestStatus.FAILED, "error": TestStatus.ERROR, "skipped": TestStatus.SKIPPED}


def parse_junit(path: Path) -> list[TestCase]:
    """Test cases of a JUnit XML file whose root is ``<testsuites>`` or ``<testsuite>``."""
    root = _parse_xml(path)
    if root.tag not in ("testsuites", "testsuite"):
        raise ExecutionError(f"{path}: not a JUnit XML report (root element <{root.tag}>)")
    return [
        _test_case(case, suite, path)
        for suite in root.iter("testsuite")
        for case in suite.findall("testcase")
    ]


def _test_case(case: ET.Element, suite: ET.Element, path: Path) -> TestCase:
    status, message = TestStatus.SUCCEEDED, None
    for child in case:
        if child.tag in _OUTCOMES:
            status = _OUTCOMES[child.tag]
            message = child.get("message") or (child.text or "").strip() or None
            break
    suite_name = suite.get("name")
    return TestCase(
        name=case.get("name", ""),
        prefix=case.get("classname") or suite_name or "",
        status=status,
        duration_ns=_nanoseconds(case.get("time")),
        message=message,
        raw_path=str(path),
        suite=suite_name,
    )


def summarize(cases: Iterable[TestCase]) -> TestSummary:
    """Totals by status and summed duration, as a report's testSummary."""
    items = list(cases)
    counts = Counter(str(case.status) for case in items)
    return TestSummary(len(items), dict(counts), sum(case.duration_ns for case in items))


# --- coverage ----------------------------------------------------------------------------------

_CONDITIONS = re.compile(r"\((\d+)/(\d+)\)")  # condition-coverage="50% (1/2)"


def _int(element: ET.Element, name: str) -> int:
    try:
        return int(float(element.get(name) or 0))
    except ValueError:
        return 0


def parse_cobertura(path: Path) -> CoverageReport:
    """Per-file coverage of a Cobertura XML file, counted from its ``<line>`` elements.

    A line listed twice (under its class and again under a method) counts once, with the
    highest hit count and branch coverage seen.
    """
    root = _parse_xml(path)
    if root.tag != "coverage" or root.find("packages") is None:
        raise ExecutionError(f"{path}: not a Cobertura XML report (no <coverage><packages>)")
    lines: dict[str, dict[int, tuple[int, int, int]]] = {}
    for cls in root.iter("class"):
        known = lines.setdefault(cls.get("filename", ""), {})
        for line in cls.iter("line"):
            number = _int(line, "number")
            known[number] = max(known.get(number, (0, 0, 0)), _line_counts(line))
    files = [_file_from_lines(name, counts) for name, counts in lines.items()]
    return CoverageReport(CoverageSummary.of(files), files)


def _line_counts(line: ET.Element) -> tuple[int, int, int]:
    """(hits, branches covered, branches) of one Cobertura line."""
    match = _CONDITIONS.search(line.get("condition-coverage", ""))
    if line.get("branch") != "true" or match is None:
        return _int(line, "hits"), 0, 0
    return _int(line, "hits"), int(match.group(1)), int(match.group(2))


def _file_from_lines(name: str, counts: dict[int, tuple[int, int, int]]) -> FileCoverage:
    covered = sum(1 for hits, _, _ in counts.values() if hits > 0)
    branches_covered = sum(c for _, c, _ in counts.values())
    branches = sum(t for _, _, t in counts.values())
    return FileCoverage(
        covered, len(counts) - covered, branches_covered, branches - branches_covered, name
    )


def parse_clover(path: Path) -> CoverageReport:
    """Per-file coverage of a Clover XML file from each ``<file>``'s ``<metrics>``.

    Clover counts statements, not lines: statements stand in for lines, conditionals for
    branches.
    """
    root = _parse_xml(path)
    if root.tag != "coverage" or root.find("project") is None:
        raise ExecutionError(f"{path}: not a Clover XML report (no <coverage><project>)")
    files = []
    for element in root.iter("file"):
        metrics = element.find("metrics")
        if metrics is None:
            continue
        statements, covered = _int(metrics, "statements"), _int(metrics, "coveredstatements")
        branches, hit = _int(metrics, "conditionals"), _int(metrics, "coveredconditionals")
        name = element.get("path") or element.get("name") or ""
        files.append(FileCoverage(covered, statements - covered, hit, branches - hit, name))
    return CoverageReport(CoverageSummary.of(files), files)


# --- the report service's entry points (AWS wire shapes) ----------------------------------------

COVERAGE_PARSERS = {
    ReportFileFormat.COBERTURAXML: parse_cobertura,
    ReportFileFormat.CLOVERXML: parse_clover,
}
TEST_PARSERS = {ReportFileFormat.JUNITXML: parse_junit}


def _unsupported(
    file_format: ReportFileFormat, known: Iterable[ReportFileFormat]
) -> ExecutionError:
    names = ", ".join(str(f) for f in known)
    return ExecutionError(f"file-format {file_format} is not parsed by the emulator (use {names})")


def parse_tests(
    files: Sequence[Path], file_format: ReportFileFormat, report_arn: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(testSummary, testCases) documents of a test report made of these files."""
    parser = TEST_PARSERS.get(file_format)
    if parser is None:
        raise _unsupported(file_format, TEST_PARSERS)
    cases = [case for path in files for case in parser(path)]
    return summarize(cases).to_dict(), [case.to_dict(report_arn) for case in cases]


def parse_coverage(
    files: Sequence[Path], file_format: ReportFileFormat, report_arn: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(codeCoverageSummary, codeCoverages) documents of a coverage report of these files."""
    parser = COVERAGE_PARSERS.get(file_format)
    if parser is None:
        raise _unsupported(file_format, COVERAGE_PARSERS)
    covered = [item for path in files for item in parser(path).files]
    return CoverageSummary.of(covered).to_dict(), [f.to_item(report_arn) for f in covered]
