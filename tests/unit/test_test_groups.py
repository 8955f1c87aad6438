"""`make test` runs ``-n auto --dist loadgroup``: a test module is one xdist group, the runbooks
tier one group. If the groups were lost (as with pytest 9.2, pytest-dev/pytest-xdist#1386),
every module's emulator and the runbook suite's provisioned stack would be set up once per
worker, and nothing else would say so: the suite would only get slower."""

from __future__ import annotations

import pytest

from tests.conftest import xdist_group_of


def test_a_module_is_its_own_group_and_the_runbooks_tier_one_group() -> None:
    assert xdist_group_of("tests/unit/test_cli.py") == "tests/unit/test_cli.py"
    assert xdist_group_of("tests/emulator/test_drills.py") == "tests/emulator/test_drills.py"
    assert xdist_group_of("tests/runbooks/test_notebooks.py") == "runbooks"
    assert xdist_group_of("tests/runbooks/test_report_runs.py") == "runbooks"


def test_under_loadgroup_this_test_is_scheduled_by_its_module(
    request: pytest.FixtureRequest,
) -> None:
    """xdist schedules by the ``@group`` suffix its own hook adds to a grouped test's node id."""
    if getattr(request.config, "workerinput", None) is None:
        pytest.skip("not on an xdist worker")
    if not request.config.getvalue("loadgroup"):  # what xdist sets on a loadgroup worker
        pytest.skip("not run with --dist loadgroup")
    assert request.node.nodeid.endswith("@tests/unit/test_test_groups.py"), request.node.nodeid
