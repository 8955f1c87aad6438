"""Success rate and the DORA four keys over the issue's scripted history."""

from __future__ import annotations

import pandas
import pytest

from opslib.exceptions import ConfigError
from opslib.reports import dora, success
from opslib.reports.figures import Figure
from opslib.telemetry import parse
from opslib.telemetry.schema import frame
from tests.unit import telemetry_fixtures as fx

pytestmark = pytest.mark.unit


def frames() -> dict[str, pandas.DataFrame]:
    executions, actions, builds, deployments = fx.scripted()
    return {
        "executions": frame("executions", [parse.pipeline_execution(e, "p") for e in executions]),
        "actions": frame("actions", [parse.action_execution(a) for a in actions]),
        "builds": frame("builds", [parse.build(b) for b in builds]),
        "phases": frame("phases", [p for b in builds for p in parse.build_phases(b)]),
        "deployments": frame("deployments", [parse.deployment(d) for d in deployments]),
    }


def test_outcomes_of_the_scripted_history() -> None:
    counted = success.outcomes(frames()["executions"])
    assert (counted.executions, counted.succeeded, counted.failed) == (4, 2, 2)
    assert (counted.stopped, counted.superseded) == (0, 0)
    assert counted.success_rate == Figure(0.5)


def test_stopped_and_superseded_are_neither_success_nor_failure() -> None:
    rows = [
        parse.pipeline_execution(fx.execution(f"e{i}", s, i, i + 1, "x"), "p")
        for i, s in enumerate(["Succeeded", "Stopped", "Superseded", "Superseded"])
    ]
    counted = success.outcomes(frame("executions", rows))
    assert (counted.stopped, counted.superseded, counted.success_rate.value) == (1, 2, 1.0)


def test_no_decided_execution_has_no_rate_and_says_why() -> None:
    rate = success.outcomes(frame("executions", [])).success_rate
    assert rate.value is None and "no execution" in rate.reason


def test_daily_success_pools_counts_in_the_rolling_line() -> None:
    rows = [
        parse.pipeline_execution(fx.execution("a", "Succeeded", 0, 1, "x"), "p"),
        *[parse.pipeline_execution(fx.execution(f"b{i}", "Failed", 2 * 1440 + i, 2 * 1440 + i
                                                + 1, "x"), "p") for i in range(3)],
    ]  # fmt: skip
    daily = success.daily_success(frame("executions", rows))
    assert daily["succeeded"].tolist() == [1, 0, 0] and daily["failed"].tolist() == [0, 0, 3]
    assert daily["rate"].isna().tolist() == [False, True, False]
    assert daily["rolling_rate"].tolist() == [1.0, 1.0, 0.25]


def test_failures_by_action_and_their_reasons() -> None:
    actions = frames()["actions"]
    by_action = success.failures_by_action(actions)
    assert by_action[["stage", "failures"]].values.tolist() == [["Build", 1], ["Deploy", 1]]
    reasons = success.top_failure_reasons(actions)
    assert reasons["reason"].tolist() == [
        "Build terminated with state: FAILED", "Deployment d-4 failed: too few healthy"
    ]  # fmt: skip


def test_build_duration_percentiles_per_day() -> None:
    out = success.duration_percentiles(frames()["builds"])
    assert out["count"].tolist() == [4]
    assert out["p50_s"].tolist() == [(61 + 120) / 2]


def test_rollbacks_name_what_they_undid() -> None:
    out = success.rollbacks(frames()["deployments"])
    assert out[["deployment_id", "rolls_back", "status"]].values.tolist() == [
        ["d-5", "d-4", "Succeeded"]
    ]


def test_four_keys_of_the_scripted_history() -> None:
    f = frames()
    keys = dora.four_keys(f["actions"], f["deployments"], days=1)
    assert (keys.deployments, keys.rollbacks) == (3, 1)  # d-1, d-3, d-4; rollback d-5 apart
    assert keys.deployment_frequency == Figure(2.0)
    assert keys.change_failure_rate == Figure(1 / 3)  # failed pipeline deployments / all
    # the rollback d-5 ends at 80, the failed d-4 started at 65
    assert keys.time_to_restore_hours == Figure(15 / 60)
    # d-1 ends at 10 (commit at -30), d-3 at 50 (commit at -32): 40 and 82 minutes
    assert keys.lead_time_hours == Figure((40 + 82) / 2 / 60)


def test_a_non_positive_lead_time_is_excluded() -> None:
    f = frames()
    actions = f["actions"].copy()
    source = (actions["execution_id"] == "e1") & (actions["category"] == "Source")
    actions.loc[source, "commit_time"] = fx.at(11)  # committed after d-1 ended
    keys = dora.four_keys(actions, f["deployments"], days=1)
    assert keys.lead_time_hours == Figure(82 / 60)


def test_without_deployments_every_key_is_missing_with_a_reason() -> None:
    keys = dora.four_keys(frame("actions", []), frame("deployments", []), days=7)
    assert keys.deployments == 0 and keys.deployment_frequency == Figure(0.0)
    for figure in (keys.lead_time_hours, keys.change_failure_rate, keys.time_to_restore_hours):
        assert figure.value is None and figure.reason


def test_a_failure_not_yet_restored_has_no_restore_time() -> None:
    f = frames()
    deployments = f["deployments"][f["deployments"]["deployment_id"] != "d-5"]
    keys = dora.four_keys(f["actions"], deployments, days=1)
    assert keys.time_to_restore_hours.value is None
    assert "followed by a successful" in keys.time_to_restore_hours.reason


@pytest.mark.parametrize(
    ("year", "expected"),
    [
        ("2023", {"deployment_frequency": "elite", "lead_time_hours": "elite",
                  "change_failure_rate": "low", "time_to_restore_hours": "elite"}),
        ("2024", {"deployment_frequency": "elite", "lead_time_hours": "elite",
                  "change_failure_rate": "low", "time_to_restore_hours": "elite"}),
    ],
)  # fmt: skip
def test_clusters_per_report_year(year: str, expected: dict[str, str]) -> None:
    f = frames()
    got = dora.clusters(dora.four_keys(f["actions"], f["deployments"], days=1), year)
    assert {k: got[k] for k in expected} == expected
    assert got["year"] == year and "State of DevOps" in got["source"]


@pytest.mark.parametrize(
    ("rate", "cluster"), [(0.04, "elite"), (0.08, "high"), (0.12, "medium"), (0.5, "low")]
)
def test_change_failure_rate_bounds_2023(rate: float, cluster: str) -> None:
    keys = dora.FourKeys(1, 0, Figure(1.0), Figure(1.0), Figure(rate), Figure(1.0))
    assert dora.clusters(keys, "2023")["change_failure_rate"] == cluster


def test_an_unknown_year_is_refused_by_name() -> None:
    keys = dora.FourKeys(0, 0, Figure(0.0), Figure(None), Figure(None), Figure(None))
    with pytest.raises(ConfigError, match="dora year: expected one of 2023, 2024"):
        dora.clusters(keys, "1999")
