"""Pipeline success: counts, rate per day with a 7-day rolling line, failures, durations.

Success rate = succeeded / (succeeded + failed) executions; stopped and superseded
executions are neither and are counted apart (a superseded run was overtaken, not broken).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas

from opslib.reports.figures import Figure

FINAL = ("Succeeded", "Failed", "Stopped", "Superseded")
FAILED_BUILD = ("FAILED", "FAULT", "TIMED_OUT")


@dataclass(frozen=True)
class Outcomes:
    """How a window's executions ended."""

    executions: int
    succeeded: int
    failed: int
    stopped: int
    superseded: int

    @property
    def success_rate(self) -> Figure:
        return Figure.ratio(
            self.succeeded, self.succeeded + self.failed, "no execution succeeded or failed"
        )


def outcomes(executions: pandas.DataFrame) -> Outcomes:
    """Count the executions by how they ended (in-progress ones count only as executions)."""
    status = executions["status"]
    return Outcomes(
        executions=len(executions),
        succeeded=int((status == "Succeeded").sum()),
        failed=int((status == "Failed").sum()),
        stopped=int(status.isin(["Stopped", "Stopping"]).sum()),
        superseded=int((status == "Superseded").sum()),
    )


def daily_success(executions: pandas.DataFrame, days: int = 7) -> pandas.DataFrame:
    """Per UTC day: succeeded, failed, stopped, superseded, rate, and the rolling rate.

    The rolling rate pools the last ``days`` days' counts (not a mean of daily rates,
    which would weigh a day of one run like a day of fifty); days without runs are rows
    with zero counts and no daily rate.
    """
    columns = ["day", "succeeded", "failed", "stopped", "superseded", "rate", "rolling_rate"]
    if executions.empty:
        return pandas.DataFrame(columns=columns)
    day = executions["start"].dt.floor("D")
    counts = pandas.crosstab(day, executions["status"]).reindex(
        columns=["Succeeded", "Failed", "Stopped", "Superseded"], fill_value=0
    )
    full = pandas.date_range(counts.index.min(), counts.index.max(), freq="D")
    counts = counts.reindex(full, fill_value=0)
    decided = counts["Succeeded"] + counts["Failed"]
    rolled = counts.rolling(days, min_periods=1).sum()
    rolled_decided = rolled["Succeeded"] + rolled["Failed"]
    out = pandas.DataFrame(
        {
            "day": full,
            "succeeded": counts["Succeeded"].to_numpy(),
            "failed": counts["Failed"].to_numpy(),
            "stopped": counts["Stopped"].to_numpy(),
            "superseded": counts["Superseded"].to_numpy(),
            "rate": (counts["Succeeded"] / decided.where(decided > 0)).to_numpy(),
            "rolling_rate": (
                rolled["Succeeded"] / rolled_decided.where(rolled_decided > 0)
            ).to_numpy(),
        }
    )
    return out[columns]


def failures_by_action(actions: pandas.DataFrame) -> pandas.DataFrame:
    """Failed action executions per stage and action, most first."""
    failed = actions[actions["status"] == "Failed"]
    counted = failed.groupby(["stage", "action"], dropna=False).size()
    out = counted.rename("failures").reset_index()
    return out.sort_values(["failures", "stage", "action"], ascending=[False, True, True])


def top_failure_reasons(actions: pandas.DataFrame, limit: int = 10) -> pandas.DataFrame:
    """The commonest failure messages of failed actions, with where they happened."""
    failed = actions[actions["status"] == "Failed"].copy()
    failed["reason"] = failed["error_message"].fillna("(no message)").str.split("\n").str[0]
    counted = failed.groupby(["reason", "stage", "action"], dropna=False).size()
    out = counted.rename("failures").reset_index()
    out = out.sort_values(["failures", "reason"], ascending=[False, True])
    return out.head(limit).reset_index(drop=True)


def duration_percentiles(
    items: pandas.DataFrame, time_column: str = "start", duration: str = "duration_s"
) -> pandas.DataFrame:
    """p50 and p90 of ``duration`` per UTC day of ``time_column`` (finished items only)."""
    done = items.dropna(subset=[time_column, duration])
    if done.empty:
        return pandas.DataFrame(columns=["day", "count", "p50_s", "p90_s"])
    values = done[duration].astype("float64")
    grouped = values.groupby(done[time_column].dt.floor("D"))
    out = pandas.DataFrame(
        {
            "count": grouped.size(),
            "p50_s": grouped.quantile(0.5),
            "p90_s": grouped.quantile(0.9),
        }
    )
    return out.rename_axis("day").reset_index()


def phase_durations(phases: pandas.DataFrame, builds: pandas.DataFrame) -> pandas.DataFrame:
    """Mean seconds per build phase per UTC day of the build's start (for a stacked chart)."""
    joined = phases.merge(builds[["build_id", "start"]], on="build_id", suffixes=("_phase", ""))
    joined = joined.dropna(subset=["duration_s", "start"])
    if joined.empty:
        return pandas.DataFrame()
    joined["day"] = joined["start"].dt.floor("D")
    table = joined.pivot_table(index="day", columns="phase", values="duration_s", aggfunc="mean")
    return table.reset_index()


def rollbacks(deployments: pandas.DataFrame) -> pandas.DataFrame:
    """Each rollback deployment with the deployment it undid and how it ended."""
    rolled = deployments[
        deployments["rolls_back"].notna() | (deployments["creator"] == "codeDeployRollback")
    ]
    columns = ["deployment_id", "rolls_back", "group", "status", "start", "end", "duration_s"]
    return rolled[columns].sort_values("start", ascending=False).reset_index(drop=True)


def flaky_tests(test_cases: pandas.DataFrame) -> pandas.DataFrame:
    """Test cases that failed and passed on the same commit: suite, name, commit, counts."""
    cases = test_cases.dropna(subset=["source_version"])
    failing = cases["status"].isin(["FAILED", "ERROR"])
    passing = cases["status"] == "SUCCEEDED"
    keys = ["suite", "name", "source_version"]
    tally = (
        cases.assign(failed=failing, passed=passing)
        .groupby(keys, dropna=False)[["failed", "passed"]]
        .sum()
        .reset_index()
    )
    flaky = tally[(tally["failed"] > 0) & (tally["passed"] > 0)]
    return flaky.rename(columns={"failed": "failures", "passed": "passes"}).reset_index(drop=True)
