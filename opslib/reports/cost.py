"""Cost: usage from the telemetry frames × the versioned price table, free tier applied.

Each price comes from ``opslib/data/prices.json`` with its source and date. Usage is
what AWS bills: a build's minutes rounded up per build, a V2 action's minutes rounded up
per action (manual approvals free), a V1 pipeline's active month, instance-hours from
the instances' running intervals. A usage nobody measured is missing with its reason;
it is left out of the total, which then says so, never counted as 0.
"""

from __future__ import annotations

import calendar
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any

import pandas

from opslib.exceptions import ConfigError
from opslib.reports.figures import Figure

FREE_ACTIONS = ("Approval",)  # manual approval (and custom actions) are not billed


class FreeTier(StrEnum):
    """Which free tier the account has."""

    LEGACY = "legacy"  # accounts before 2025-07-15: Always Free + 12-month offers
    CREDITS = "credits"  # accounts from 2025-07-15: Always Free + sign-up credits in USD
    NONE = "none"  # no free tier at all (an organisation's member account, say)


@dataclass(frozen=True)
class Prices:
    """The price table: USD per unit by key, its source and date, the free allowances."""

    usd: dict[str, float]
    source: str
    date: str
    always_free: dict[str, float]
    legacy_free: dict[str, float]

    def price(self, key: str) -> float:
        if key not in self.usd:
            raise ConfigError(f"prices: no price for {key!r} in the price table")
        return self.usd[key]


@cache
def prices() -> Prices:
    """The packaged price table (opslib/data/prices.json)."""
    doc = json.loads(resources.files("opslib").joinpath("data/prices.json").read_text())
    tier = doc["free_tier"]
    return Prices(
        usd={key: float(entry["usd"]) for key, entry in doc["prices"].items()},
        source=str(doc["source"]),
        date=str(doc["date"]),
        always_free={k: float(v) for k, v in tier["always"].items()},
        legacy_free={k: float(v) for k, v in tier["legacy_12_month"].items()},
    )


# -- usage from the frames ----------------------------------------------------------------
def build_minutes(builds: pandas.DataFrame) -> dict[str, int]:
    """Billed build-minutes per compute type: each finished build rounded up to the minute."""
    done = builds.dropna(subset=["duration_s"])
    minutes: dict[str, int] = {}
    for row in done.itertuples(index=False):
        kind = str(row.compute_type or "BUILD_GENERAL1_SMALL")
        minutes[kind] = minutes.get(kind, 0) + math.ceil(float(row.duration_s) / 60)
    return minutes


def action_minutes(actions: pandas.DataFrame) -> int:
    """V2 action-execution minutes: each finished, billed action rounded up to the minute."""
    billed = actions[~actions["category"].isin(FREE_ACTIONS)].dropna(subset=["duration_s"])
    return sum(math.ceil(float(s) / 60) for s in billed["duration_s"])


def active_pipeline_months(executions: pandas.DataFrame) -> int:
    """V1 active pipeline-months: calendar months in which the pipeline ran a change."""
    if executions.empty:
        return 0
    return int(executions["start"].dt.strftime("%Y-%m").nunique())


def instance_hours(intervals: pandas.DataFrame, until: datetime) -> dict[str, float]:
    """Instance-hours per type from running intervals (instance_id, type, start, end).

    Linux is billed per second with a 60-second minimum per interval; an interval
    without an end is still running at ``until``.
    """
    hours: dict[str, float] = {}
    for row in intervals.itertuples(index=False):
        end = row.end if isinstance(row.end, datetime) and not pandas.isna(row.end) else until
        billed = max(60.0, (end - row.start).total_seconds())
        hours[str(row.type)] = hours.get(str(row.type), 0.0) + billed / 3600
    return hours


def running_intervals(
    events: pandas.DataFrame, instances: Mapping[str, str], since: datetime
) -> pandas.DataFrame:
    """Running intervals from "EC2 Instance State-change Notification" events.

    ``instances`` maps each instance id to its type; an instance whose first event in
    the window is not ``running`` was running since ``since``.
    """
    changes = events[events["detail_type"] == "EC2 Instance State-change Notification"]
    rows = []
    for instance, kind in instances.items():
        mine = changes[changes["subject"] == instance].sort_values("time")
        started: datetime | None = None if len(mine) and mine["state"].iloc[0] in (
            "pending", "running") else since  # fmt: skip
        for change in mine.itertuples(index=False):
            if change.state == "running" and started is None:
                started = change.time
            elif change.state in ("stopping", "stopped", "shutting-down", "terminated"):
                if started is not None:
                    rows.append({"instance_id": instance, "type": kind, "start": started,
                                 "end": change.time})  # fmt: skip
                started = None
        if started is not None:
            rows.append({"instance_id": instance, "type": kind, "start": started, "end": None})
    return pandas.DataFrame(rows, columns=["instance_id", "type", "start", "end"])


# -- the bill -----------------------------------------------------------------------------
@dataclass
class Usage:
    """Quantities by price key (``codebuild.build_minute.BUILD_GENERAL1_SMALL``: 12, ...).

    ``missing`` names the usages no source measured, with the reason.
    """

    quantities: dict[str, float] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)


def service_of(key: str) -> str:
    return key.split(".", 1)[0]


@dataclass(frozen=True)
class Bill:
    """What the usage costs: by service before the free tier, the free tier, the total."""

    gross_by_service: dict[str, float]
    free_tier_usd: float
    total_usd: float
    missing: dict[str, str]


def bill(
    usage: Usage, table: Prices, tier: FreeTier = FreeTier.LEGACY, credits_usd: float = 0.0
) -> Bill:
    """Usage × prices; the free allowances (and, for CREDITS, the credits) subtracted."""
    gross: dict[str, float] = {}
    for key, quantity in usage.quantities.items():
        gross[service_of(key)] = gross.get(service_of(key), 0.0) + quantity * table.price(key)
    free = 0.0 if tier is FreeTier.NONE else _allowances(usage, table, table.always_free)
    if tier is FreeTier.LEGACY:
        free += _allowances(usage, table, table.legacy_free)
    total = sum(gross.values()) - free
    if tier is FreeTier.CREDITS:
        credit = min(max(credits_usd, 0.0), total)
        free, total = free + credit, total - credit
    rounded = {service: round(usd, 6) for service, usd in sorted(gross.items())}
    return Bill(rounded, round(free, 6), round(max(total, 0.0), 6), dict(usage.missing))


def _allowances(usage: Usage, table: Prices, allowances: Mapping[str, float]) -> float:
    """The USD an allowance covers; a key ``a|b`` shares one allowance across a and b."""
    saved = 0.0
    for joined, allowance in allowances.items():
        left = allowance
        for key in joined.split("|"):
            used = min(usage.quantities.get(key, 0.0), left)
            saved += used * table.price(key) if used else 0.0
            left -= used
    return saved


def month_forecast(month_to_date_usd: float, now: datetime) -> Figure:
    """The month's cost if the rest of it costs what its elapsed part did, per second."""
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    days = calendar.monthrange(now.year, now.month)[1]
    elapsed = (now - start).total_seconds()
    if elapsed <= 0:
        return Figure.missing("the month has just begun")
    return Figure(month_to_date_usd * days * 86400 / elapsed)


def per_release(total_usd: float, releases: int) -> Figure:
    """Cost per successful release (succeeded executions)."""
    return Figure.ratio(total_usd, releases, "no successful release in the window")


def pipeline_usage(
    frames: Mapping[str, pandas.DataFrame], pipeline_type: str, extra: Usage | None = None
) -> Usage:
    """The usage the pipeline's own frames tell: build-minutes and CodePipeline's unit."""
    usage = Usage(dict(extra.quantities) if extra else {}, dict(extra.missing) if extra else {})
    for kind, minutes in build_minutes(frames["builds"]).items():
        usage.quantities[f"codebuild.build_minute.{kind}"] = float(minutes)
    if pipeline_type == "V2":
        usage.quantities["codepipeline.v2_action_minute"] = float(action_minutes(frames["actions"]))
    elif pipeline_type == "V1":
        months = active_pipeline_months(frames["executions"])
        usage.quantities["codepipeline.v1_active_pipeline_month"] = float(months)
    else:
        raise ConfigError(f"pipeline type: expected V1 or V2, got {pipeline_type!r}")
    return usage


def describe(prices_table: Prices) -> dict[str, Any]:
    return {"source": prices_table.source, "date": prices_table.date}
