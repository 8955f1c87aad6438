"""AWS's own word on prices and cost: the Price List API and Cost Explorer, when allowed.

Both exist only on AWS (the local emulator has neither) and both need permissions a
pipeline's operator may lack (``pricing:GetProducts``, ``ce:GetCostAndUsage``). Each
answer is an :class:`Availability`: the value, or "not available: <reason>" — the report
shows the packaged price table and its own month-to-date then, never a made-up figure.

- :func:`refresh_prices`: GetProducts (the Price List Query API, served from us-east-1)
  for the EC2 instance types the table prices: Linux, shared tenancy, on-demand, no
  pre-installed software — the price "t3.micro per hour" means.
- :func:`cost_explorer_month_to_date`: GetCostAndUsage of the month so far, filtered by
  the stack's tag (it counts only once the tag is activated as a cost allocation tag).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from opslib.config import StackConfig
from opslib.exceptions import AwsError, TargetError
from opslib.stack.tags import STACK_TAG
from opslib.target import Session, Target, TargetKind
from opslib.telemetry.fetch import Reader

logger = logging.getLogger(__name__)

PRICING_REGION = (
    "us-east-1"  # the Price List Query API's endpoints: us-east-1, eu-central-1, ap-south-1
)
# Price List "location" names of the regions opslib prices (GetProducts filters by it).
LOCATIONS = {
    "us-east-1": "US East (N. Virginia)",
    "us-east-2": "US East (Ohio)",
    "us-west-2": "US West (Oregon)",
    "eu-west-1": "EU (Ireland)",
    "eu-central-1": "EU (Frankfurt)",
}
EC2_PREFIX = "ec2.instance_hour."


@dataclass(frozen=True)
class Availability:
    """A value AWS gave, or why there is none."""

    value: Any = None
    reason: str = ""

    @property
    def available(self) -> bool:
        return not self.reason

    def describe(self) -> str:
        return "available" if self.available else f"not available: {self.reason}"


def _not_on_target(session: Session, what: str) -> Availability | None:
    if session.target.kind is TargetKind.LOCAL:
        return Availability(reason=f"the local emulator has no {what} (AWS only)")
    return None


def in_us_east_1(session: Session) -> Session:
    """A session for the global billing APIs, served from us-east-1 (same profile)."""
    if session.target.region == PRICING_REGION:
        return session
    return Session(Target(TargetKind.AWS, PRICING_REGION, profile=session.target.profile))


def _refused(exc: AwsError | TargetError, what: str) -> Availability:
    code = f" ({exc.code})" if isinstance(exc, AwsError) and exc.code else ""
    return Availability(reason=f"{what} refused the request{code}: {exc}")


def ec2_price(products: Iterable[str]) -> float | None:
    """The on-demand USD per hour in GetProducts' PriceList (JSON strings), if one."""
    for text in products:
        doc = json.loads(text)
        for term in (doc.get("terms", {}).get("OnDemand") or {}).values():
            for dimension in (term.get("priceDimensions") or {}).values():
                usd = (dimension.get("pricePerUnit") or {}).get("USD")
                if usd is not None and dimension.get("unit") in ("Hrs", "Hours"):
                    return float(usd)
    return None


def _ec2_filters(instance_type: str, region: str) -> list[dict[str, str]]:
    wanted = {
        "instanceType": instance_type,
        "location": LOCATIONS.get(region, region),
        "operatingSystem": "Linux",
        "tenancy": "Shared",
        "preInstalledSw": "NA",
        "capacitystatus": "Used",
    }
    return [{"Type": "TERM_MATCH", "Field": k, "Value": v} for k, v in wanted.items()]


def refresh_prices(
    session: Session, keys: Iterable[str], region: str, reader: Reader | None = None
) -> Availability:
    """Fresh USD prices for the table's EC2 keys: ``{key: usd}``, or why not."""
    refusal = _not_on_target(session, "Price List API")
    if refusal:
        return refusal
    reader = reader or Reader(in_us_east_1(session))
    fresh: dict[str, float] = {}
    try:
        for key in (k for k in keys if k.startswith(EC2_PREFIX)):
            page = reader.call(
                "pricing",
                "GetProducts",
                ServiceCode="AmazonEC2",
                MaxResults=10,
                Filters=_ec2_filters(key.removeprefix(EC2_PREFIX), region),
            )
            price = ec2_price(page.get("PriceList") or [])
            if price is not None:
                fresh[key] = price
    except (AwsError, TargetError) as exc:
        return _refused(exc, "the Price List API")
    if not fresh:
        return Availability(reason="the Price List API returned no on-demand price")
    return Availability(fresh)


@dataclass(frozen=True)
class AwsView:
    """AWS's own word beside the report: fresh prices and Cost Explorer's month to date."""

    prices: Availability
    explorer: Availability


def aws_view(
    session: Session, config: StackConfig, now: datetime, *, enabled: bool = True
) -> AwsView:
    """Ask the Price List API (the fleet's instance type) and Cost Explorer (the stack's
    tag), unless ``enabled`` is False (and then say so)."""
    if not enabled:
        off = Availability(reason="not asked (aws_billing=False)")
        return AwsView(off, off)
    keys = [f"{EC2_PREFIX}{config.fleet.instance_type}"]
    return AwsView(
        refresh_prices(session, keys, config.region),
        cost_explorer_month_to_date(session, config.stack, now),
    )


def month_start(now: datetime) -> datetime:
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def cost_explorer_month_to_date(
    session: Session, stack: str, now: datetime, reader: Reader | None = None
) -> Availability:
    """Cost Explorer's unblended cost of the month so far for the stack's tag, in USD."""
    refusal = _not_on_target(session, "Cost Explorer")
    if refusal:
        return refusal
    reader = reader or Reader(in_us_east_1(session))
    start = month_start(now).date()
    end = (now + timedelta(days=1)).date()  # End is exclusive: today's partial day included
    try:
        found = reader.call(
            "ce",
            "GetCostAndUsage",
            TimePeriod={"Start": start.isoformat(), "End": end.isoformat()},
            Granularity="MONTHLY",
            Metrics=["UnblendedCost"],
            Filter={"Tags": {"Key": STACK_TAG, "Values": [stack], "MatchOptions": ["EQUALS"]}},
        )
    except (AwsError, TargetError) as exc:
        return _refused(exc, "Cost Explorer")
    return Availability(unblended_usd(found.get("ResultsByTime") or []))


def unblended_usd(results: Iterable[Mapping[str, Any]]) -> float:
    """The sum of ``Total.UnblendedCost.Amount`` over GetCostAndUsage's periods."""
    return sum(float(r.get("Total", {}).get("UnblendedCost", {}).get("Amount", 0)) for r in results)
