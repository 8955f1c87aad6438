"""AWS's own word on prices and cost, the report's window, and the cost inventory's reads."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import botocore.exceptions
import pytest

from opslib.config import parse_config
from opslib.exceptions import ConfigError
from opslib.target import Session, Target, TargetKind
from opslib.telemetry import billing, history, inventory
from opslib.telemetry.fetch import Reader
from tests.unit.test_telemetry_fetch import FakeClient, FakeSession

pytestmark = pytest.mark.unit

NOW = datetime(2026, 12, 15, 12, 0, tzinfo=UTC)


def aws_session(**clients: FakeClient) -> Session:
    session = FakeSession(**clients)
    session.target = Target(TargetKind.AWS, "us-east-1")  # type: ignore[attr-defined]
    return cast(Session, session)


def denied(**_: Any) -> dict[str, Any]:
    error = {"Error": {"Code": "AccessDeniedException", "Message": "not authorized"}}
    raise botocore.exceptions.ClientError(error, "GetCostAndUsage")  # type: ignore[arg-type]


def test_on_the_emulator_both_are_not_available_with_the_reason() -> None:
    local = cast(Session, FakeSession())
    local.target = Target(TargetKind.LOCAL, "us-east-1", endpoint_url="http://127.0.0.1:1")  # type: ignore[misc]
    view = billing.aws_view(local, parse_config({"stack": "demo"}), NOW)
    assert (
        view.prices.describe()
        == "not available: the local emulator has no Price List API (AWS only)"
    )
    assert (
        view.explorer.describe()
        == "not available: the local emulator has no Cost Explorer (AWS only)"
    )


def test_access_denied_is_not_available_naming_the_code() -> None:
    session = aws_session(ce=FakeClient({"get_cost_and_usage": denied}))
    found = billing.cost_explorer_month_to_date(session, "demo", NOW)
    assert found.value is None
    assert found.reason.startswith("Cost Explorer refused the request (AccessDeniedException)")


def test_cost_explorer_month_to_date_for_the_stack_tag() -> None:
    answer = {"ResultsByTime": [{"Total": {"UnblendedCost": {"Amount": "1.25", "Unit": "USD"}}}]}
    client = FakeClient({"get_cost_and_usage": lambda **_: answer})
    found = billing.cost_explorer_month_to_date(aws_session(ce=client), "demo", NOW)
    assert found.value == 1.25 and found.available
    ((_, params),) = client.requests
    assert params["TimePeriod"] == {"Start": "2026-12-01", "End": "2026-12-16"}
    assert params["Filter"]["Tags"] == {"Key": "opslib:stack", "Values": ["demo"],
                                        "MatchOptions": ["EQUALS"]}  # fmt: skip


def product(usd: str) -> str:
    return json.dumps({"terms": {"OnDemand": {"T": {"priceDimensions": {
        "D": {"unit": "Hrs", "pricePerUnit": {"USD": usd}}}}}}})  # fmt: skip


def test_prices_refresh_from_the_price_list_api() -> None:
    client = FakeClient({"get_products": lambda **_: {"PriceList": [product("0.0104000000")]}})
    found = billing.refresh_prices(
        aws_session(pricing=client), ["ec2.instance_hour.t3.micro", "s3.put_1k"], "us-east-1"
    )
    assert found.value == {"ec2.instance_hour.t3.micro": 0.0104}
    ((_, params),) = client.requests  # only EC2 keys are asked
    filters = {f["Field"]: f["Value"] for f in params["Filters"]}
    assert filters["instanceType"] == "t3.micro" and filters["location"] == "US East (N. Virginia)"


def test_a_price_list_without_an_on_demand_price_is_not_available() -> None:
    client = FakeClient({"get_products": lambda **_: {"PriceList": []}})
    found = billing.refresh_prices(aws_session(pricing=client), ["ec2.instance_hour.t3.micro"],
                                   "us-east-1")  # fmt: skip
    assert found.reason == "the Price List API returned no on-demand price"


def test_the_report_window_from_days_or_since() -> None:
    assert history.report_window(2, "", NOW).since == NOW - timedelta(days=2)
    assert history.report_window(2, "2026-12-10T00:00Z", NOW).since == datetime(
        2026, 12, 10, tzinfo=UTC
    )
    with pytest.raises(ConfigError, match="since: expected an ISO 8601 time"):
        history.report_window(2, "yesterday", NOW)
    with pytest.raises(ConfigError, match="is not before now"):
        history.report_window(2, "2027-01-01T00:00Z", NOW)


def test_month_to_date_reaches_back_to_the_months_start() -> None:
    short = history.report_window(2, "", NOW)
    assert history.from_month_start(short).since == datetime(2026, 12, 1, tzinfo=UTC)
    long = history.report_window(30, "", NOW)
    assert history.from_month_start(long).since == long.since


def test_inventory_reads_every_object_version_across_pages() -> None:
    pages = [
        {"IsTruncated": True, "NextKeyMarker": "b", "NextVersionIdMarker": "v2",
         "Versions": [{"Key": "a", "VersionId": "v1", "Size": 10, "IsLatest": True,
                       "LastModified": NOW}]},
        {"IsTruncated": False, "Versions": [{"Key": "b", "VersionId": "v2", "Size": 30,
                                             "IsLatest": False, "LastModified": NOW}]},
    ]  # fmt: skip
    client = FakeClient({"list_object_versions": lambda **p: pages[1 if "KeyMarker" in p else 0]})
    found = inventory.object_versions(Reader(cast(Session, FakeSession(s3=client))), "bucket")
    assert list(found["size_bytes"]) == [10.0, 30.0] and list(found["latest"]) == [True, False]
    assert client.requests[1][1]["VersionIdMarker"] == "v2"


def test_inventory_counts_the_metrics_each_alarm_evaluates() -> None:
    answer = {
        "MetricAlarms": [
            {"AlarmName": "demo-build-failed"},
            {"AlarmName": "demo-errors", "Metrics": [{"Id": "m1", "MetricStat": {}},
                                                     {"Id": "m2", "MetricStat": {}},
                                                     {"Id": "e", "Expression": "m1+m2"}]},
        ],
        "CompositeAlarms": [{"AlarmName": "demo-any"}],
    }  # fmt: skip
    client = FakeClient({"describe_alarms": lambda **_: answer})
    found = inventory.alarms(Reader(cast(Session, FakeSession(cloudwatch=client))), "demo-")
    assert list(found["metrics"]) == [1, 2, 0]
    assert list(found["alarm_type"]) == ["MetricAlarm", "MetricAlarm", "CompositeAlarm"]
