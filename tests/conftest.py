"""Test tiers by folder: tests/unit, tests/emulator, tests/runbooks, tests/browser, tests/aws.

Each test gets the marker of its folder, so ``pytest -m unit`` runs the fast tier.
The aws tier talks to a real account and only runs with OPSLIB_AWS_TESTS=1.

Under pytest-xdist (``make test`` runs ``-n auto --dist loadgroup``) a test module stays
on one worker, so its module-scoped emulator is started once; the runbooks tier is one
group, since its whole session shares one provisioned stack.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
TIERS = ("unit", "emulator", "runbooks", "browser", "aws")


# tryfirst: xdist's own hook turns xdist_group markers into the group it schedules by, so
# they must be on the items before it runs.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip_aws = pytest.mark.skip(reason="real-AWS tier: set OPSLIB_AWS_TESTS=1 to run")
    for item in items:
        tier = _tier(item)
        if tier in TIERS:
            item.add_marker(getattr(pytest.mark, tier))
        if config.pluginmanager.hasplugin("xdist"):  # not under `-p no:xdist`
            relative = Path(str(item.fspath)).relative_to(REPO).as_posix()
            item.add_marker(pytest.mark.xdist_group(xdist_group_of(relative)))
        if item.get_closest_marker("aws") and os.environ.get("OPSLIB_AWS_TESTS") != "1":
            item.add_marker(skip_aws)
    items.sort(key=_tier_rank)  # stable: a module's tests keep their order


# Longest first: xdist hands out groups in collection order, so the long groups (the runbook
# suite, the browser, the emulator modules) start at once and the many short unit tests
# fill the workers' gaps at the end instead of a long group running alone there.
RUN_ORDER = ("runbooks", "browser", "emulator", "aws", "unit")


def _tier(item: pytest.Item) -> str:
    """The tier a test belongs to: its folder under tests/."""
    return Path(str(item.fspath)).relative_to(REPO / "tests").parts[0]


def _tier_rank(item: pytest.Item) -> int:
    tier = _tier(item)
    return RUN_ORDER.index(tier) if tier in RUN_ORDER else len(RUN_ORDER)


def xdist_group_of(test_file: str) -> str:
    """The xdist group of a repo-relative test file: its module, or the runbooks tier."""
    return "runbooks" if test_file.startswith("tests/runbooks/") else test_file


@pytest.fixture
def repo_root() -> Path:
    return REPO
