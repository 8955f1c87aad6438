"""The DORA four keys as issue 13 defines them (Google's Four Keys), and their clusters.

- deployments: CodeDeploy deployments the pipeline created (a Deploy action's
  externalExecutionId); rollbacks, which CodeDeploy creates, are counted apart;
- deployment frequency: successful pipeline deployments per day of the window;
- lead time: median of (deployment end − commit time) over deployed commits, a
  non-positive difference excluded (a clock skew or a commit backdated, not a lead time);
- change failure rate: failed pipeline deployments / finished pipeline deployments;
- time to restore: median over failed pipeline deployments of (end of the next
  successful deployment to the same group, a rollback included − start of the failed one).

The clusters come from package data per State of DevOps report year.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import pandas

from opslib.exceptions import ConfigError
from opslib.reports.figures import Figure, median

FINISHED = ("Succeeded", "Failed", "Stopped")
HOUR = 3600.0


@dataclass(frozen=True)
class FourKeys:
    """The four keys over one window, each a Figure, and the deployment counts behind them."""

    deployments: int
    rollbacks: int
    deployment_frequency: Figure  # successful pipeline deployments per day
    lead_time_hours: Figure
    change_failure_rate: Figure
    time_to_restore_hours: Figure


def pipeline_deployments(
    actions: pandas.DataFrame, deployments: pandas.DataFrame
) -> pandas.DataFrame:
    """The deployments a pipeline's Deploy action created, with that execution's id."""
    deploy = actions[(actions["category"] == "Deploy") & actions["external_id"].notna()]
    links = deploy[["external_id", "execution_id"]].drop_duplicates("external_id")
    links = links.rename(columns={"external_id": "deployment_id"})
    return deployments.merge(links, on="deployment_id", how="inner")


def rollback_deployments(deployments: pandas.DataFrame) -> pandas.DataFrame:
    """Deployments CodeDeploy created to roll another back."""
    return deployments[
        deployments["rolls_back"].notna() | (deployments["creator"] == "codeDeployRollback")
    ]


def commit_times(actions: pandas.DataFrame) -> pandas.Series:
    """Each execution's commit time (its Source action's AuthorDate), by execution id."""
    source = actions[(actions["category"] == "Source") & actions["commit_time"].notna()]
    return source.drop_duplicates("execution_id").set_index("execution_id")["commit_time"]


def lead_time_hours(actions: pandas.DataFrame, ours: pandas.DataFrame) -> Figure:
    """Median hours from commit to its successful deployment's end."""
    done = ours[ours["status"] == "Succeeded"]
    if done.empty:
        return Figure.missing("no successful pipeline deployment in the window")
    commits = commit_times(actions)
    joined = done.join(commits, on="execution_id")
    if joined["commit_time"].isna().all():
        return Figure.missing("no commit time in the source actions' output (AuthorDate)")
    leads = (joined["end"] - joined["commit_time"]).dt.total_seconds() / HOUR
    positive = [float(v) for v in leads.dropna() if v > 0]
    value = median(positive)
    return Figure(value) if value is not None else Figure.missing("no positive lead time")


def time_to_restore_hours(ours: pandas.DataFrame, everything: pandas.DataFrame) -> Figure:
    """Median hours from a failed deployment's start to the next success in its group."""
    failed = ours[ours["status"] == "Failed"]
    if failed.empty:
        return Figure.missing("no failed pipeline deployment in the window")
    good = everything[(everything["status"] == "Succeeded") & everything["end"].notna()]
    restores = []
    for row in failed.itertuples(index=False):
        later = good[(good["group"] == row.group) & (good["start"] >= row.start)]
        if not later.empty:
            restores.append((later["end"].min() - row.start).total_seconds() / HOUR)
    value = median(restores)
    if value is None:
        return Figure.missing("no failed deployment was followed by a successful one yet")
    return Figure(value)


def four_keys(actions: pandas.DataFrame, deployments: pandas.DataFrame, days: float) -> FourKeys:
    """The four keys over a window of ``days`` days."""
    ours = pipeline_deployments(actions, deployments)
    finished = ours[ours["status"].isin(FINISHED)]
    succeeded = int((ours["status"] == "Succeeded").sum())
    return FourKeys(
        deployments=len(ours),
        rollbacks=len(rollback_deployments(deployments)),
        deployment_frequency=(
            Figure(succeeded / days) if days > 0 else Figure.missing("an empty window")
        ),
        lead_time_hours=lead_time_hours(actions, ours),
        change_failure_rate=Figure.ratio(
            int((finished["status"] == "Failed").sum()),
            len(finished),
            "no finished pipeline deployment in the window",
        ),
        time_to_restore_hours=time_to_restore_hours(ours, deployments),
    )


# -- clusters -----------------------------------------------------------------------------
@cache
def cluster_tables() -> dict[str, Any]:
    """The clusters per report year (opslib/data/dora-clusters.json)."""
    text = resources.files("opslib").joinpath("data/dora-clusters.json").read_text()
    tables: dict[str, Any] = json.loads(text)
    return {year: table for year, table in tables.items() if not year.startswith("_")}


def _cluster(value: float | None, bounds: list[dict[str, Any]]) -> str | None:
    if value is None:
        return None
    for bound in bounds:
        if "min_per_day" in bound and value >= bound["min_per_day"]:
            return str(bound["cluster"])
        if "max" in bound and (bound["max"] is None or value <= bound["max"]):
            return str(bound["cluster"])
    return None


def clusters(keys: FourKeys, year: str | None = None) -> dict[str, Any]:
    """Each key's cluster in a report year's table (the newest year by default)."""
    tables = cluster_tables()
    year = year or max(tables)
    if year not in tables:
        raise ConfigError(f"dora year: expected one of {', '.join(sorted(tables))}, got {year!r}")
    table = tables[year]
    return {
        "year": year,
        "source": table["source"],
        **{
            key: _cluster(getattr(keys, key).value, table[key])
            for key in (
                "deployment_frequency",
                "lead_time_hours",
                "change_failure_rate",
                "time_to_restore_hours",
            )
        },  # fmt: skip
    }
