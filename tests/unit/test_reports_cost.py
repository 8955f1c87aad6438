"""Cost: billed usage from the frames, the price table, free tiers, the summaries."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pandas
import pytest

from opslib.exceptions import ConfigError
from opslib.reports import cost, dora, success, summary
from opslib.reports.figures import Figure
from tests.unit import telemetry_fixtures as fx
from tests.unit.test_reports_dora import frames

pytestmark = pytest.mark.unit
REPO = Path(__file__).resolve().parents[2]


def test_build_minutes_are_each_build_rounded_up() -> None:
    # 61 s, 45 s, 120 s, 180.5 s -> 2 + 1 + 2 + 4
    assert cost.build_minutes(frames()["builds"]) == {"BUILD_GENERAL1_SMALL": 9}


def test_v2_action_minutes_round_each_action_and_skip_approvals() -> None:
    actions = frames()["actions"]
    # source 1+1+1+1, build 4+4+4+4, deploy 5+5+10
    assert cost.action_minutes(actions) == 40
    approval = actions.iloc[[0]].assign(category="Approval", duration_s=600.0)
    assert cost.action_minutes(pandas.concat([actions, approval])) == 40


def test_every_price_has_a_source_and_a_date() -> None:
    doc = json.loads((REPO / "opslib/data/prices.json").read_text())
    for key, entry in doc["prices"].items():
        assert entry["source"] and entry["date"], key
    table = cost.prices()
    for allowances in (table.always_free, table.legacy_free):
        for joined in allowances:
            for key in joined.split("|"):
                assert key in table.usd, key


@pytest.mark.parametrize(
    ("tier", "credits", "free", "total"),
    [
        (cost.FreeTier.NONE, 0.0, 0.0, 0.045 + 0.08 + 1.5 * 0.0104),
        (cost.FreeTier.LEGACY, 0.0, 0.045 + 0.08 + 1.5 * 0.0104, 0.0),
        (cost.FreeTier.CREDITS, 0.0, 0.045 + 0.08, 1.5 * 0.0104),
        (cost.FreeTier.CREDITS, 100.0, 0.045 + 0.08 + 1.5 * 0.0104, 0.0),
    ],
)
def test_free_tiers(tier: cost.FreeTier, credits: float, free: float, total: float) -> None:
    usage = cost.Usage({
        "codebuild.build_minute.BUILD_GENERAL1_SMALL": 9,
        "codepipeline.v2_action_minute": 40,
        "ec2.instance_hour.t3.micro": 1.5,
    })  # fmt: skip
    billed = cost.bill(usage, cost.prices(), tier, credits)
    assert billed.free_tier_usd == pytest.approx(free)
    assert billed.total_usd == pytest.approx(total)
    assert billed.gross_by_service["codebuild"] == pytest.approx(0.045)


def test_an_allowance_shared_by_two_types_is_used_once() -> None:
    usage = cost.Usage({"ec2.instance_hour.t2.micro": 500, "ec2.instance_hour.t3.micro": 500})
    billed = cost.bill(usage, cost.prices(), cost.FreeTier.LEGACY)
    assert billed.total_usd == pytest.approx(250 * 0.0104)


def test_an_unknown_price_is_refused_by_name() -> None:
    with pytest.raises(ConfigError, match="no price for 'ec2.instance_hour.x9'"):
        cost.bill(cost.Usage({"ec2.instance_hour.x9": 1}), cost.prices())


def test_instance_hours_from_state_changes() -> None:
    events = pandas.DataFrame(
        [
            {"time": fx.at(0), "detail_type": "EC2 Instance State-change Notification",
             "subject": "i-1", "state": "running"},
            {"time": fx.at(90), "detail_type": "EC2 Instance State-change Notification",
             "subject": "i-1", "state": "stopped"},
            {"time": fx.at(30), "detail_type": "EC2 Instance State-change Notification",
             "subject": "i-2", "state": "terminated"},
        ]
    )  # fmt: skip
    intervals = cost.running_intervals(events, {"i-1": "t3.micro", "i-2": "t2.micro",
                                                "i-3": "t3.micro"}, since=fx.at(-60))  # fmt: skip
    hours = cost.instance_hours(intervals, until=fx.at(120))
    # i-1 ran 1.5 h; i-2 ran from the window's start until terminated (1.5 h); i-3 all 3 h
    assert hours == {"t3.micro": pytest.approx(4.5), "t2.micro": pytest.approx(1.5)}


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (datetime(2026, 11, 16, tzinfo=UTC), 30.0 / 15 * 3.0),
        (datetime(2026, 11, 1, tzinfo=UTC), None),
    ],
)
def test_month_forecast(now: datetime, expected: float | None) -> None:
    assert cost.month_forecast(3.0, now).value == expected


def test_cost_per_release_without_releases_is_missing() -> None:
    assert cost.per_release(1.0, 0).value is None
    assert cost.per_release(1.0, 4) == Figure(0.25)


def test_pipeline_summary_has_exactly_the_contract() -> None:
    f = frames()
    keys = dora.four_keys(f["actions"], f["deployments"], days=1)
    span = summary.window(fx.at(-60), fx.at(120), fx.at(-120))
    out, reasons = summary.pipeline_report(
        success.outcomes(f["executions"]), keys, dora.clusters(keys), span, 0.0
    )
    assert set(out) == {"executions", "succeeded", "failed", "stopped", "superseded",
                        "success_rate", "dora", "window", "simulated_fraction"}  # fmt: skip
    assert set(out["dora"]) == {"deployments", "rollbacks", "deployment_frequency",
                                "lead_time_hours", "change_failure_rate",
                                "time_to_restore_hours", "clusters"}  # fmt: skip
    assert set(out["window"]) == {"since", "until", "covered_since"}
    assert out["window"]["covered_since"] == out["window"]["since"]
    assert (out["executions"], out["success_rate"], out["dora"]["rollbacks"]) == (4, 0.5, 1)
    assert reasons == {}
    json.dumps(out)


def test_a_missing_figure_is_null_with_its_reason() -> None:
    f = frames()
    empty = f["executions"].iloc[0:0]
    keys = dora.four_keys(f["actions"].iloc[0:0], f["deployments"].iloc[0:0], days=1)
    span = summary.window(fx.at(0), fx.at(1), fx.at(0))
    out, reasons = summary.pipeline_report(success.outcomes(empty), keys, {}, span, None)
    assert out["success_rate"] is None and "success_rate" in reasons
    assert out["dora"]["lead_time_hours"] is None and "dora.lead_time_hours" in reasons


def test_cost_summary_has_exactly_the_contract() -> None:
    usage = cost.pipeline_usage(
        frames(), "V2", cost.Usage(missing={"s3.gb_month.standard": "not measured yet"})
    )
    billed = cost.bill(usage, cost.prices(), cost.FreeTier.NONE)
    out, reasons = summary.cost_report(
        usage, billed, cost.prices(), Figure.missing("no month"), 0.0
    )
    assert set(out) == {"total_usd", "by_service", "usage", "free_tier_usd",
                        "forecast_month_usd", "prices", "simulated_fraction"}  # fmt: skip
    assert out["usage"]["codebuild_build_minutes"] == 9
    assert out["usage"]["codepipeline_action_minutes"] == 40
    assert out["usage"]["s3_storage_gb_months"] is None
    assert reasons["usage.s3_storage_gb_months"] == "not measured yet"
    assert out["total_usd"] == pytest.approx(9 * 0.005 + 40 * 0.002)
    assert set(out["prices"]) == {"source", "date"}
    json.dumps(out)


def test_an_unknown_pipeline_type_is_refused() -> None:
    with pytest.raises(ConfigError, match="pipeline type: expected V1 or V2"):
        cost.pipeline_usage(frames(), "V3")
