"""The cost report: usage × the versioned prices, free tier applied, month by month.

AWS bills by calendar month and applies each month's free allowances to that month's
usage, so the window is cut at month boundaries and each part billed on its own
(:func:`month_slices`); their sum is the window's cost. Month-to-date is the part of the
current month (the history is read from the month's start for it, whatever the window),
the forecast extends it to the month's end, and the cost per successful release divides
the window's cost by its succeeded executions.

Usage comes from the history's frames (builds, action executions, EC2 state changes)
and the inventory's (volumes, object versions, log groups, alarms, custom metrics,
dashboards) and usage metrics (Logs ``IncomingBytes``, SNS publishes). A usage nothing
measured is missing with its reason and left out of the total, which says so. Pure.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

import pandas

from opslib import render
from opslib.exceptions import ConfigError
from opslib.render import Headline, Status
from opslib.reports import cost, pipelinereport, success, summary
from opslib.reports.figures import Figure
from opslib.reports.summary import CostSummary, Reasons

GIB = 2**30  # AWS bills storage "GB" as 2^30 bytes (GB-month of S3, EBS, Logs)
LOGS_INGEST = "logs_ingest"  # the usage metrics' query ids (opslib.telemetry.inventory)
SNS_PUBLISHED = "sns_published"
NOT_MEASURED = {
    "s3.get_1k": "S3 GET requests are not measured: they need S3 request metrics or "
    "CloudTrail data events, which the stack does not enable",
    "sns.email_100k": "SNS email deliveries are not measured per protocol "
    "(NumberOfNotificationsDelivered does not say which were email)",
}


@dataclass(frozen=True)
class Inputs:
    """What the report prices: the history's and the inventory's frames, and the window."""

    history: Mapping[str, pandas.DataFrame]
    inventory: Mapping[str, pandas.DataFrame]
    usage_metrics: pandas.DataFrame
    pipeline_type: str | None
    since: datetime  # the window asked
    until: datetime
    unread: Mapping[str, str] = field(default_factory=dict)  # inventory reads that failed
    read_since: datetime | None = None  # where the history starts (the month's start, or since)
    events_since: datetime | None = None  # how far back the events log group reaches

    @property
    def start(self) -> datetime:
        return self.read_since or self.since


def month_slices(since: datetime, until: datetime) -> list[tuple[datetime, datetime]]:
    """[since, until) cut at each calendar month's start (UTC)."""
    if since >= until:
        raise ConfigError(f"cost window: since {since} is not before until {until}")
    out = []
    start = since
    while start < until:
        first = start.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        days = calendar.monthrange(first.year, first.month)[1]
        following = first + timedelta(days=days)
        end = min(following, until)
        out.append((start, end))
        start = end
    return out


def month_seconds(moment: datetime) -> float:
    return calendar.monthrange(moment.year, moment.month)[1] * 86400.0


def _in(frame: pandas.DataFrame, column: str, since: datetime, until: datetime) -> pandas.DataFrame:
    stamps = frame[column]
    return frame[stamps.notna() & (stamps >= since) & (stamps < until)]


def _overlap(start: Any, since: datetime, until: datetime) -> float:
    """Seconds of [start, until) inside [since, until) (a missing start: the whole part)."""
    begin = since if start is None or pandas.isna(start) else max(since, start)
    return max(0.0, (until - begin).total_seconds())


def instance_intervals(inputs: Inputs) -> pandas.DataFrame:
    """Running intervals of the stack's instances, from EC2 state-change events.

    An instance with no state change in the window ran throughout it if it runs now (from
    its launch, if later); every interval starts no earlier than its instance's launch.
    """
    instances = inputs.inventory["instances"]
    events = inputs.history.get("events")
    if events is None:
        events = pandas.DataFrame(columns=["detail_type", "subject", "state", "time"])
    changed = set(
        events.loc[
            events["detail_type"] == "EC2 Instance State-change Notification", "subject"
        ].dropna()
    )
    counted = instances[instances["instance_id"].isin(changed) | (instances["state"] == "running")]
    types = dict(zip(counted["instance_id"], counted["type"], strict=True))
    intervals = cost.running_intervals(events, types, inputs.start)
    launches = dict(zip(instances["instance_id"], instances["launch"], strict=True))
    for index, row in intervals.iterrows():
        launch = launches.get(row["instance_id"])
        if launch is not None and not pandas.isna(launch) and launch > row["start"]:
            intervals.at[index, "start"] = launch
    return intervals


def _clipped_hours(
    intervals: pandas.DataFrame, since: datetime, until: datetime
) -> dict[str, float]:
    rows = []
    for row in intervals.itertuples(index=False):
        end = until if row.end is None or pandas.isna(row.end) else min(row.end, until)
        start = max(row.start, since)
        if start < end:
            rows.append(
                {"instance_id": row.instance_id, "type": row.type, "start": start, "end": end}
            )
    clipped = pandas.DataFrame(rows, columns=["instance_id", "type", "start", "end"])
    return cost.instance_hours(clipped, until)


def usage_over(inputs: Inputs, since: datetime, until: datetime, table: cost.Prices) -> cost.Usage:
    """The usage of [since, until), a part of one calendar month."""
    frames = {
        k: _in(inputs.history[k], "start", since, until)
        for k in ("builds", "actions", "executions")
    }
    usage = cost.Usage(missing=dict(NOT_MEASURED))
    if inputs.pipeline_type is None:
        usage.missing["codepipeline"] = "the pipeline does not exist: its type is unknown"
        for kind, minutes in cost.build_minutes(frames["builds"]).items():
            usage.quantities[f"codebuild.build_minute.{kind}"] = float(minutes)
    else:
        usage = cost.pipeline_usage(frames, inputs.pipeline_type, usage)
    share = (until - since).total_seconds() / month_seconds(since)
    _compute(inputs, usage, since, until, table)
    _storage(inputs, usage, since, until)
    _monthly(inputs, usage, share)
    _metered(inputs, usage, since, until)
    for what, why in inputs.unread.items():
        usage.missing[f"inventory.{what}"] = why
    return usage


def _compute(
    inputs: Inputs, usage: cost.Usage, since: datetime, until: datetime, table: cost.Prices
) -> None:
    for kind, hours_ in _clipped_hours(instance_intervals(inputs), since, until).items():
        key = f"ec2.instance_hour.{kind}"
        if key in table.usd:
            usage.quantities[key] = usage.quantities.get(key, 0.0) + hours_
        else:
            usage.missing[key] = f"no price for instance type {kind} in the price table"


def _storage(inputs: Inputs, usage: cost.Usage, since: datetime, until: datetime) -> None:
    month = month_seconds(since)
    for row in inputs.inventory["volumes"].itertuples(index=False):
        key = f"ebs.gb_month.{row.type}"
        gb_months = float(row.size_gb) * _overlap(row.create, since, until) / month
        usage.quantities[key] = usage.quantities.get(key, 0.0) + gb_months
    versions = inputs.inventory["object_versions"]
    s3 = sum(
        float(v.size_bytes) / GIB * _overlap(v.modified, since, until) / month
        for v in versions.itertuples(index=False)
    )
    usage.quantities["s3.gb_month.standard"] = s3
    # each object version was one PUT; other PUTs (overwritten markers, deleted objects) left
    puts = len(_in(versions, "modified", since, until))
    usage.quantities["s3.put_1k"] = puts / 1000
    groups = inputs.inventory["log_groups"]
    usage.quantities["logs.storage_gb_month"] = sum(
        float(g.stored_bytes) / GIB * _overlap(g.created, since, until) / month
        for g in groups.itertuples(index=False)
    )


def _monthly(inputs: Inputs, usage: cost.Usage, share: float) -> None:
    """Per-month resources, prorated by the part of the month (AWS prorates by the hour)."""
    alarms = inputs.inventory["alarms"]
    metric_alarms = alarms[alarms["alarm_type"] == "MetricAlarm"]
    usage.quantities["cloudwatch.alarm_metric_month"] = (
        float(metric_alarms["metrics"].sum()) * share
    )
    usage.quantities["cloudwatch.custom_metric_month"] = (
        len(inputs.inventory["custom_metrics"]) * share
    )
    usage.quantities["cloudwatch.dashboard_month"] = len(inputs.inventory["dashboards"]) * share


def _metered(inputs: Inputs, usage: cost.Usage, since: datetime, until: datetime) -> None:
    points = _in(inputs.usage_metrics, "time", since, until)
    ingest = points[points["id"].str.startswith(LOGS_INGEST)]
    if inputs.usage_metrics["id"].str.startswith(LOGS_INGEST).any():
        usage.quantities["logs.ingest_gb"] = float(ingest["value"].sum()) / GIB
    else:
        usage.missing["logs.ingest_gb"] = (
            "CloudWatch has no AWS/Logs IncomingBytes datapoint for the stack's log groups"
        )
    published = inputs.usage_metrics[inputs.usage_metrics["id"] == SNS_PUBLISHED]
    if len(published):
        sent = points[points["id"] == SNS_PUBLISHED]
        usage.quantities["sns.publish_1m"] = float(sent["value"].sum()) / 1e6
    else:
        usage.missing["sns.publish_1m"] = (
            "CloudWatch has no AWS/SNS NumberOfMessagesPublished datapoint for the topic"
        )


# -- the bill -----------------------------------------------------------------------------
def add_usage(total: cost.Usage, part: cost.Usage) -> cost.Usage:
    for key, quantity in part.quantities.items():
        total.quantities[key] = total.quantities.get(key, 0.0) + quantity
    total.missing.update(part.missing)
    return total


def add_bills(first: cost.Bill, second: cost.Bill) -> cost.Bill:
    services = {**first.gross_by_service}
    for name, usd in second.gross_by_service.items():
        services[name] = round(services.get(name, 0.0) + usd, 6)
    return cost.Bill(
        dict(sorted(services.items())),
        round(first.free_tier_usd + second.free_tier_usd, 6),
        round(first.total_usd + second.total_usd, 6),
        {**first.missing, **second.missing},
    )


def bill_slices(
    inputs: Inputs,
    since: datetime,
    until: datetime,
    table: cost.Prices,
    tier: cost.FreeTier,
    credits_usd: float,
) -> tuple[cost.Usage, cost.Bill, float]:
    """Usage and bill of [since, until), month by month; the credits left after it."""
    usage, billed = cost.Usage(), cost.Bill({}, 0.0, 0.0, {})
    for start, end in month_slices(since, until):
        part = usage_over(inputs, start, end, table)
        before = cost.bill(part, table, tier, credits_usd)
        if tier is cost.FreeTier.CREDITS:
            allowances = cost.bill(part, table, tier, 0.0).free_tier_usd
            credits_usd = max(0.0, credits_usd - (before.free_tier_usd - allowances))
        usage, billed = add_usage(usage, part), add_bills(billed, before)
    return usage, billed, credits_usd


@dataclass(frozen=True)
class CostReport:
    """Every figure of one cost report."""

    stack: str
    since: datetime
    until: datetime
    usage: cost.Usage
    bill: cost.Bill
    month_to_date: cost.Bill
    forecast: Figure
    per_release: Figure
    releases: int
    prices: cost.Prices
    tier: cost.FreeTier
    summary: CostSummary
    reasons: Reasons
    explorer: tuple[float | None, str]  # Cost Explorer's month to date, or why not
    price_refresh: str  # what the Price List API refresh did
    simulated_fraction: float | None
    coverage_notes: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """A cost report finds nothing wrong; its verdict says what it could not price."""
        return True

    @property
    def sentence(self) -> str:
        left = len(self.bill.missing)
        tail = f"; {left} usage(s) not measured and left out" if left else ""
        return (
            f"{render.usd(self.bill.total_usd)} over the window, "
            f"{render.usd(self.month_to_date.total_usd)} this month so far{tail}"
        )

    def headlines(self) -> tuple[Headline, ...]:
        explorer, why = self.explorer
        diff = explorer - self.month_to_date.total_usd if explorer is not None else None
        return (
            Headline(
                "window cost",
                render.usd(self.bill.total_usd),
                f"after {render.usd(self.bill.free_tier_usd)} free tier ({self.tier.value})",
            ),
            Headline(
                "month to date",
                render.usd(self.month_to_date.total_usd),
                f"since {render.when(_month_start(self.until))}",
            ),
            Headline.of(
                "forecast, month",
                self.forecast.value,
                render.usd,
                reason=self.forecast.reason,
                note="at this month's rate so far",
            ),
            Headline.of(
                "per successful release",
                self.per_release.value,
                render.usd,
                reason=self.per_release.reason,
                note=f"{self.releases} release(s)",
            ),
            _explorer_headline(explorer, diff, why),
        )

    def facts(self) -> tuple[tuple[str, str], ...]:
        return (
            ("stack", self.stack),
            ("window", f"{render.when(self.since)} – {render.when(self.until)}"),
            ("prices", f"{self.prices.source}, {self.prices.date}"),
            ("price refresh", self.price_refresh),
        )

    def card(self) -> render.Card:
        return render.Card(
            "Cost report",
            self.headlines(),
            f"✓ {self.sentence}",
            True,
            self.facts(),
            self.simulated_fraction,
        )

    def services_table(self) -> render.Table:
        rows = [
            {"service": name, "gross_usd": usd} for name, usd in self.bill.gross_by_service.items()
        ]
        rows.append({"service": "free tier", "gross_usd": -self.bill.free_tier_usd})
        rows.append({"service": "total", "gross_usd": self.bill.total_usd})
        return render.table(
            pandas.DataFrame(rows, columns=["service", "gross_usd"]), labels={"gross_usd": "USD"}
        )

    def usage_table(self) -> render.Table:
        rows = [
            {
                "usage": key,
                "quantity": quantity,
                "price_usd": self.prices.usd.get(key),
                "cost_usd": quantity * self.prices.usd.get(key, 0.0),
            }
            for key, quantity in sorted(self.usage.quantities.items())
        ]
        frame = pandas.DataFrame(rows, columns=["usage", "quantity", "price_usd", "cost_usd"])
        return render.table(
            frame,
            labels={"price_usd": "USD per unit", "cost_usd": "USD"},
            quantity=lambda v: render.number(v, 4),
        )

    def notes(self) -> render.Notes:
        return render.notes(
            "Not measured (left out of the total), or covering less than asked",
            {**self.usage.missing, **self.reasons, **self.coverage_notes},
        )


def _explorer_headline(explorer: float | None, diff: float | None, why: str) -> Headline:
    label = "Cost Explorer, month to date"
    if explorer is None:
        return Headline(label, render.NO_VALUE, f"not available: {why}", Status.UNKNOWN)
    return Headline(label, render.usd(explorer), f"difference {render.usd(diff)} from ours")


def _month_start(moment: datetime) -> datetime:
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def refreshed(table: cost.Prices, fresh: Mapping[str, float] | None, today: str) -> cost.Prices:
    """The table with the Price List API's prices where it gave some."""
    if not fresh:
        return table
    return replace(
        table,
        usd={**table.usd, **fresh},
        source=f"AWS Price List API for {', '.join(sorted(fresh))}; else {table.source}",
        date=today,
    )


class AvailabilityLike(Protocol):
    value: Any
    reason: str


class AwsViewLike(Protocol):
    """``opslib.telemetry.billing.AwsView``: fresh prices, Cost Explorer's month to date."""

    prices: AvailabilityLike
    explorer: AvailabilityLike


class InventoryLike(Protocol):
    """``opslib.telemetry.inventory.Inventory``."""

    frames: dict[str, pandas.DataFrame]
    metrics: pandas.DataFrame
    pipeline_type: str | None
    missing: dict[str, str]


def free_tier(name: str) -> cost.FreeTier:
    """The FreeTier a parameter names; ConfigError listing the choices."""
    try:
        return cost.FreeTier(name)
    except ValueError:
        choices = ", ".join(t.value for t in cost.FreeTier)
        raise ConfigError(f"free_tier: expected one of {choices}, got {name!r}") from None


def from_sources(
    history: pipelinereport.HistoryLike,
    inventory: InventoryLike,
    aws: AwsViewLike,
    window: pipelinereport.WindowLike,
    *,
    stack: str = "",
    tier: str = "legacy",
    credits_usd: float = 0.0,
) -> CostReport:
    """The cost report over the window from what telemetry read (history from the month's
    start, the inventory, AWS's own view)."""
    since, until = window.since, window.until
    events = history.coverage.get("events")
    inputs = Inputs(
        history=history.frames, inventory=inventory.frames, usage_metrics=inventory.metrics,
        pipeline_type=inventory.pipeline_type, since=since, until=until,
        unread=inventory.missing, read_since=history.window.since,
        events_since=events.covered_since if events is not None else None,
    )  # fmt: skip
    fresh = aws.prices.value if not aws.prices.reason else None
    table = refreshed(cost.prices(), fresh, until.date().isoformat())
    refresh = (f"not available: {aws.prices.reason}" if aws.prices.reason
               else f"{len(fresh or {})} price(s) from the Price List API")  # fmt: skip
    explorer = (None if aws.explorer.reason else float(aws.explorer.value), aws.explorer.reason)
    return build(
        inputs, table, stack=stack, tier=free_tier(tier), credits_usd=credits_usd,
        explorer=explorer, price_refresh=refresh, simulated_fraction=history.simulated_fraction(),
    )  # fmt: skip


def build(
    inputs: Inputs,
    table: cost.Prices,
    *,
    stack: str = "",
    tier: cost.FreeTier = cost.FreeTier.LEGACY,
    credits_usd: float = 0.0,
    explorer: tuple[float | None, str] = (None, "not asked"),
    price_refresh: str = "not asked",
    simulated_fraction: float | None = None,
) -> CostReport:
    """Bill the window and the month so far; forecast; cost per release; the summary."""
    month = _month_start(inputs.until)
    first = min(inputs.since, month)
    credits_left = credits_usd
    if first < inputs.since:  # the month's part before the window spends allowances too
        _, _, credits_left = bill_slices(inputs, first, inputs.since, table, tier, credits_left)
    usage, billed, _ = bill_slices(inputs, inputs.since, inputs.until, table, tier, credits_left)
    mtd_credits = credits_usd if month <= inputs.since else credits_left
    _, mtd, _ = bill_slices(inputs, max(month, first), inputs.until, table, tier, mtd_credits)
    releases = success.outcomes(
        _in(inputs.history["executions"], "start", inputs.since, inputs.until)
    ).succeeded
    forecast = cost.month_forecast(mtd.total_usd, inputs.until)
    made, reasons = summary.cost_report(usage, billed, table, forecast, simulated_fraction)
    notes = {}
    if inputs.events_since is not None and inputs.events_since > inputs.start:
        notes["EC2 instance-hours"] = (
            f"state changes are known from {render.when(inputs.events_since)} only (the events "
            "log group's retention); an instance is taken to have run as it does now before then"
        )
    return CostReport(
        stack,
        inputs.since,
        inputs.until,
        usage,
        billed,
        mtd,
        forecast,
        cost.per_release(billed.total_usd, releases),
        releases,
        table,
        tier,
        made,
        reasons,
        explorer,
        price_refresh,
        simulated_fraction,
        notes,
    )
