"""The JSON summaries beside each report: the contract scripts rely on (issue 13, item 4).

Each builder returns the summary, exactly the contract's keys, and beside it the reasons
for every figure that is ``None`` (the report shows them; the contract has no room).
"""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict

from opslib.reports import cost, dora
from opslib.reports.figures import Figure
from opslib.reports.success import Outcomes


class DoraSummary(TypedDict):
    deployments: int
    rollbacks: int
    deployment_frequency: float | None
    lead_time_hours: float | None
    change_failure_rate: float | None
    time_to_restore_hours: float | None
    clusters: dict[str, object]


class WindowSummary(TypedDict):
    since: str
    until: str
    covered_since: str


class PipelineSummary(TypedDict):
    executions: int
    succeeded: int
    failed: int
    stopped: int
    superseded: int
    success_rate: float | None
    dora: DoraSummary
    window: WindowSummary
    simulated_fraction: float | None


class PricesSummary(TypedDict):
    source: str
    date: str


class CostSummary(TypedDict):
    total_usd: float
    by_service: dict[str, float]
    usage: dict[str, float | None]
    free_tier_usd: float
    forecast_month_usd: float | None
    prices: PricesSummary
    simulated_fraction: float | None


Reasons = dict[str, str]


def _value(name: str, figure: Figure, reasons: Reasons) -> float | None:
    if figure.value is None:
        reasons[name] = figure.reason
    return figure.value


def window(since: datetime, until: datetime, covered_since: datetime) -> WindowSummary:
    return {
        "since": since.isoformat(),
        "until": until.isoformat(),
        "covered_since": max(since, covered_since).isoformat(),
    }


def pipeline_report(
    counted: Outcomes,
    keys: dora.FourKeys,
    clusters: dict[str, object],
    span: WindowSummary,
    simulated_fraction: float | None,
) -> tuple[PipelineSummary, Reasons]:
    """The pipeline-report summary and the reasons for its missing figures."""
    reasons: Reasons = {}
    summary: PipelineSummary = {
        "executions": counted.executions,
        "succeeded": counted.succeeded,
        "failed": counted.failed,
        "stopped": counted.stopped,
        "superseded": counted.superseded,
        "success_rate": _value("success_rate", counted.success_rate, reasons),
        "dora": {
            "deployments": keys.deployments,
            "rollbacks": keys.rollbacks,
            "deployment_frequency": _value(
                "dora.deployment_frequency", keys.deployment_frequency, reasons
            ),
            "lead_time_hours": _value("dora.lead_time_hours", keys.lead_time_hours, reasons),
            "change_failure_rate": _value(
                "dora.change_failure_rate", keys.change_failure_rate, reasons
            ),
            "time_to_restore_hours": _value(
                "dora.time_to_restore_hours", keys.time_to_restore_hours, reasons
            ),
            "clusters": clusters,
        },
        "window": span,
        "simulated_fraction": simulated_fraction,
    }
    if simulated_fraction is None:
        reasons["simulated_fraction"] = "no executions in the window"
    return summary, reasons


# What the usage block calls each price key's quantity (the contract's names).
USAGE_NAMES = {
    "codepipeline.v2_action_minute": "codepipeline_action_minutes",
    "codepipeline.v1_active_pipeline_month": "codepipeline_active_pipeline_months",
    "logs.ingest_gb": "logs_ingest_gb",
    "logs.storage_gb_month": "logs_storage_gb_months",
    "s3.gb_month.standard": "s3_storage_gb_months",
    "s3.put_1k": "s3_put_requests_thousands",
    "s3.get_1k": "s3_get_requests_thousands",
    "cloudwatch.custom_metric_month": "custom_metric_months",
    "cloudwatch.alarm_metric_month": "alarm_metric_months",
    "cloudwatch.dashboard_month": "dashboard_months",
    "sns.publish_1m": "sns_publishes_millions",
    "sns.email_100k": "sns_emails_hundred_thousands",
}


def usage_name(key: str) -> str:
    """``codebuild.build_minute.X`` and ``ec2.instance_hour.t3.micro`` keep their type."""
    if key in USAGE_NAMES:
        return USAGE_NAMES[key]
    return key.replace(".", "_").replace("-", "_")


def cost_report(
    usage: cost.Usage,
    billed: cost.Bill,
    table: cost.Prices,
    forecast: Figure,
    simulated_fraction: float | None,
) -> tuple[CostSummary, Reasons]:
    """The cost-report summary; ``usage.codebuild_build_minutes`` sums every compute type."""
    reasons: Reasons = {f"usage.{usage_name(k)}": why for k, why in usage.missing.items()}
    minutes = sum(q for k, q in usage.quantities.items() if k.startswith("codebuild.build_minute."))
    quantities: dict[str, float | None] = {"codebuild_build_minutes": minutes}
    quantities |= {usage_name(k): q for k, q in sorted(usage.quantities.items())}
    quantities |= {usage_name(k): None for k in sorted(usage.missing)}
    summary: CostSummary = {
        "total_usd": billed.total_usd,
        "by_service": billed.gross_by_service,
        "usage": quantities,
        "free_tier_usd": billed.free_tier_usd,
        "forecast_month_usd": _value("forecast_month_usd", forecast, reasons),
        "prices": {"source": table.source, "date": table.date},
        "simulated_fraction": simulated_fraction,
    }
    return summary, reasons
