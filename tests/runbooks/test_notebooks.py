"""Every notebook under runbooks/ and notebooks/ passes ``pytest --nbval-lax`` on the stack.

nbval runs each notebook top to bottom with its parameters cell's defaults, so this is
also the proof that the defaults are safe and work against a fresh local emulator. The
notebooks run once, together, in suite order (see :mod:`tests.runbooks.suite`); each is
then its own test here.
"""

from __future__ import annotations

import pytest

from tests.runbooks.conftest import SuiteStack
from tests.runbooks.suite import (
    NotebookResult,
    in_suite_order,
    notebooks_on_disk,
    run_nbval,
)

NOTEBOOKS = in_suite_order(notebooks_on_disk())


def _selected(session: pytest.Session) -> list[str]:
    """The notebooks whose test this session will run (all of them, unless -k chose)."""
    chosen = [
        item.callspec.params["notebook"]
        for item in session.items
        if item.originalname == "test_notebook_passes_nbval" and hasattr(item, "callspec")
    ]
    return in_suite_order(chosen)


@pytest.fixture(scope="session")
def nbval_results(
    suite_stack: SuiteStack, request: pytest.FixtureRequest
) -> tuple[dict[str, NotebookResult], str]:
    return run_nbval(_selected(request.session), suite_stack.env(), suite_stack.work)


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_notebook_passes_nbval(
    notebook: str, nbval_results: tuple[dict[str, NotebookResult], str]
) -> None:
    results, output = nbval_results
    result = results.get(notebook)
    assert result is not None, f"nbval reported nothing for {notebook}:\n{output[-4000:]}"
    failures = "\n\n".join(f"{c.name}: {c.message[-3000:]}" for c in result.failed)
    assert result.ok, f"{notebook} failed under nbval:\n{failures}"
