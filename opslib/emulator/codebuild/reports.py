"""CodeBuild's test and coverage reports: report groups, reports, test cases, coverages.

After a build reaches its BUILD phase, every group of the buildspec's ``reports`` section
is parsed from the files the build wrote (JUnit XML, Cobertura, ...) into a report of the
group ``<project>-<group>`` (created on first use, as CodeBuild does), so
DescribeTestCases shows the real jest results of that build.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from opslib.emulator.codebuild.reportfiles import (
    parse_coverage,
    parse_tests,
    resolve_report_files,
)
from opslib.emulator.core.gateway import ApiException, ApiRequest, ApiResponse
from opslib.emulator.core.runtime import Runtime
from opslib.exceptions import ExecutionError
from opslib.specs import ReportFileFormat, ReportGroupSpec

if TYPE_CHECKING:
    from opslib.emulator.codebuild.phases import BuildOutcome
    from opslib.emulator.codebuild.run import BuildRun

logger = logging.getLogger(__name__)

GROUP, REPORT, CASES, COVERAGE = "report-group", "report", "testcases", "coverage"
_COVERAGE_FORMATS = {
    ReportFileFormat.CLOVERXML,
    ReportFileFormat.COBERTURAXML,
    ReportFileFormat.JACOCOXML,
    ReportFileFormat.SIMPLECOV,
}


def _now() -> float:
    return datetime.now(UTC).timestamp()


class ReportService:
    """Report groups and reports, kept as records and served through CodeBuild's API."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def register(self) -> None:
        for operation, handler in {
            "CreateReportGroup": self.create_report_group,
            "BatchGetReportGroups": self.batch_get_report_groups,
            "ListReportGroups": self.list_report_groups,
            "DeleteReportGroup": self.delete_report_group,
            "ListReports": self.list_reports,
            "ListReportsForReportGroup": self.list_reports_for_report_group,
            "BatchGetReports": self.batch_get_reports,
            "DescribeTestCases": self.describe_test_cases,
            "DescribeCodeCoverages": self.describe_code_coverages,
        }.items():
            self.runtime.gateway.handle("codebuild", operation, handler)

    # -- groups -----------------------------------------------------------------------
    def _group_arn(self, region: str, name: str) -> str:
        return f"arn:aws:codebuild:{region}:{self.runtime.account_id}:report-group/{name}"

    def _ensure_group(self, region: str, name: str, kind: str) -> dict[str, Any]:
        arn = name if name.startswith("arn:") else self._group_arn(region, name)
        group = self.runtime.records.get(GROUP, arn)
        if group is None:
            group = {
                "arn": arn,
                "name": arn.rsplit("/", 1)[-1],
                "type": kind,
                "exportConfig": {"exportConfigType": "NO_EXPORT"},
                "created": _now(),
                "lastModified": _now(),
                "tags": [],
                "status": "ACTIVE",
            }
            self.runtime.records.put(GROUP, arn, group)
        return group

    def create_report_group(self, request: ApiRequest) -> ApiResponse:
        params = request.params()
        arn = self._group_arn(request.region, params["name"])
        if self.runtime.records.get(GROUP, arn):
            raise ApiException(
                "ResourceAlreadyExistsException", f"Report group {arn} already exists"
            )
        with self.runtime.records.transaction():  # no group without its settings
            group = self._ensure_group(request.region, params["name"], params.get("type", "TEST"))
            group["exportConfig"] = params.get("exportConfig") or group["exportConfig"]
            group["tags"] = params.get("tags", [])
            self.runtime.records.put(GROUP, arn, group)
        return ApiResponse.json({"reportGroup": group})

    def batch_get_report_groups(self, request: ApiRequest) -> ApiResponse:
        found, missing = self._batch(GROUP, request.params().get("reportGroupArns", []))
        return ApiResponse.json({"reportGroups": found, "reportGroupsNotFound": missing})

    def list_report_groups(self, request: ApiRequest) -> ApiResponse:
        return ApiResponse.json(
            {"reportGroups": [g["arn"] for g in self.runtime.records.all(GROUP)]}
        )

    def delete_report_group(self, request: ApiRequest) -> ApiResponse:
        params = request.params()
        arn = params["arn"]
        reports = [r for r in self.runtime.records.all(REPORT) if r["reportGroupArn"] == arn]
        if reports and not params.get("deleteReports"):
            raise ApiException(
                "InvalidInputException", f"Report group {arn} has reports; set deleteReports"
            )
        with self.runtime.records.transaction():  # the group and its reports, or nothing
            for report in reports:
                for kind in (REPORT, CASES, COVERAGE):
                    self.runtime.records.delete(kind, report["arn"])
            self.runtime.records.delete(GROUP, arn)
        return ApiResponse.json({})

    # -- reports -------------------------------------------------------------------------
    def _batch(self, kind: str, arns: list[str]) -> tuple[list[dict[str, Any]], list[str]]:
        found, missing = [], []
        for arn in arns:
            record = self.runtime.records.get(kind, arn)
            (found.append(record) if record else missing.append(arn))
        return found, missing

    def list_reports(self, request: ApiRequest) -> ApiResponse:
        arns = [r["arn"] for r in self.runtime.records.all(REPORT)]
        return ApiResponse.json({"reports": arns[::-1]})

    def list_reports_for_report_group(self, request: ApiRequest) -> ApiResponse:
        group = request.params()["reportGroupArn"]
        if self.runtime.records.get(GROUP, group) is None:
            raise ApiException("ResourceNotFoundException", f"Report group {group} does not exist")
        arns = [r["arn"] for r in self.runtime.records.all(REPORT) if r["reportGroupArn"] == group]
        return ApiResponse.json({"reports": arns[::-1]})

    def batch_get_reports(self, request: ApiRequest) -> ApiResponse:
        found, missing = self._batch(REPORT, request.params().get("reportArns", []))
        return ApiResponse.json({"reports": found, "reportsNotFound": missing})

    def describe_test_cases(self, request: ApiRequest) -> ApiResponse:
        params = request.params()
        cases = self._details(CASES, params["reportArn"])
        wanted = (params.get("filter") or {}).get("status")
        return ApiResponse.json(
            {"testCases": [c for c in cases if not wanted or c["status"] == wanted]}
        )

    def describe_code_coverages(self, request: ApiRequest) -> ApiResponse:
        return ApiResponse.json(
            {"codeCoverages": self._details(COVERAGE, request.params()["reportArn"])}
        )

    def _details(self, kind: str, report_arn: str) -> list[dict[str, Any]]:
        record = self.runtime.records.get(kind, report_arn)
        if record is None:
            raise ApiException("ResourceNotFoundException", f"Report {report_arn} does not exist")
        return list(record["items"])

    # -- from a finished build ---------------------------------------------------------------
    def process_build(self, run: BuildRun, outcome: BuildOutcome | None) -> list[str]:
        """Parse the build's report files into reports; returns their ARNs."""
        inputs = run.prepared
        if outcome is None or inputs is None or not outcome.reached_build:
            return []
        arns = []
        for name, spec in inputs.buildspec.reports.items():
            group_name = (
                name if name.startswith("arn:") else f"{run.document['projectName']}-{name}"
            )
            try:
                arns.append(self._report(run, group_name, spec, inputs.source_dir))
            except ExecutionError as exc:
                logger.warning("build %s: report %s: %s", run.build_id, name, exc)
                run.log.write([(datetime.now(UTC), f"[Container] Report group {name}: {exc}")])
        return arns

    def _report(
        self, run: BuildRun, group_name: str, spec: ReportGroupSpec, source_dir: Any
    ) -> str:
        coverage = spec.file_format in _COVERAGE_FORMATS
        group = self._ensure_group(run.region, group_name, "CODE_COVERAGE" if coverage else "TEST")
        arn = f"{group['arn'].replace(':report-group/', ':report/')}:{run.build_id.split(':')[-1]}"
        files = resolve_report_files(source_dir, spec)
        report: dict[str, Any] = {
            "arn": arn,
            "type": group["type"],
            "name": group["name"],
            "reportGroupArn": group["arn"],
            "executionId": run.document["arn"],
            "created": _now(),
            "expired": _now() + 30 * 86400,
            "exportConfig": group["exportConfig"],
            "truncated": False,
        }
        if coverage:
            summary, items = parse_coverage(files, spec.file_format, arn)
            report.update(status="SUCCEEDED", codeCoverageSummary=summary)
        else:
            summary, items = parse_tests(files, spec.file_format, arn)
            failed = summary["statusCounts"].get("FAILED", 0) + summary["statusCounts"].get(
                "ERROR", 0
            )
            report.update(status="FAILED" if failed else "SUCCEEDED", testSummary=summary)
        with self.runtime.records.transaction():  # a report is listed only with its cases
            self.runtime.records.put(CASES if not coverage else COVERAGE, arn, {"items": items})
            self.runtime.records.put(REPORT, arn, report)
        return arn
