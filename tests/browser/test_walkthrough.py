"""The setup walkthrough as a newcomer uses it: JupyterLab, Run All, then its buttons.

nbval and papermill cannot fire widget callbacks; here a real browser clicks them and the
test reads what the page shows: the form filled from the project's opslib.yml, a wrong
stack name refused, the plan, the progress bar advancing one step per resource to the
end, the pipeline's stages succeeding, and the app answering from the fleet.
"""

from __future__ import annotations

import json
import urllib.request

from opslib.config import load_config
from opslib.walkthrough import resource_count
from tests.browser.conftest import NOTEBOOK, STACK, Project
from tests.browser.jupyterlab import JupyterLab
from tests.browser.page import NotebookPage

LOAD_TIMEOUT = 180.0  # JupyterLab's first page load and kernel start, on a busy machine
CELL_TIMEOUT = 300.0
APPLY_TIMEOUT = 600.0
PIPELINE_TIMEOUT = 900.0  # a real npm ci, eslint, jest and a deployment
FINAL = ("Succeeded", "Failed", "Stopped", "Stopping", "Superseded", "Cancelled")


def test_the_walkthrough_sets_up_the_stack_and_releases_in_a_browser(
    project: Project, lab: JupyterLab, page: NotebookPage
) -> None:
    config = load_config(project.root / "opslib.yml")
    steps = resource_count(config)

    page.open(lab.page(NOTEBOOK), LOAD_TIMEOUT)
    run_all_cells(page)
    the_form_shows_the_projects_config(page)
    validate_refuses_a_bad_stack_then_accepts_the_good_one(page)
    plan_shows_every_resource_to_create(page, steps)
    apply_moves_the_bar_one_step_per_resource(page, steps)
    run_pipeline_follows_the_stages_to_success(page)
    the_app_answers(page, config.fleet.size)
    page.screenshot("walkthrough-done")

    # The kernel ran in notebooks/ and found the project's config and emulator (item 2).
    assert not (project.root / "notebooks" / ".opslib").exists()
    assert json.loads((project.state_dir / "emulator.json").read_text())["pid"] == (
        project.emulator.pid
    )


def run_all_cells(page: NotebookPage) -> None:
    page.menu("Run", "Run All Cells")
    page.wait_for(
        "every code cell to run (or one to fail)",
        lambda: page.code_cells_run() or page.failed_cell(),
        CELL_TIMEOUT,
    )
    shown = "\n".join(page.outputs())
    assert page.code_cells_run() and "Error" not in shown, shown
    assert "choices are valid" in shown
    assert "codepipeline pipeline" in shown  # the plan cell's table
    assert "apply=False: nothing created" in shown
    assert "run_pipeline=False: the pipeline was not run" in shown


def the_form_shows_the_projects_config(page: NotebookPage) -> None:
    assert page.field("stack").get_attribute("value") == STACK
    assert page.field("fleet size").get_attribute("value") == "1"
    assert page.field("target").get_attribute("value") == "local"


def validate_refuses_a_bad_stack_then_accepts_the_good_one(page: NotebookPage) -> None:
    page.type_into("stack", "Bad_Name")
    page.click("Validate")
    refused = "Error: walkthrough: stack: expected 3-32 lowercase"
    page.wait_for("Validate to refuse Bad_Name", lambda: refused in page.widget_output(), 60)
    page.type_into("stack", STACK)
    page.click("Validate")
    accepted = f"ok: stack {STACK} on local"
    page.wait_for("Validate to accept the stack", lambda: page.widget_output() == accepted, 60)


def plan_shows_every_resource_to_create(page: NotebookPage, steps: int) -> None:
    page.click("Plan")
    rows = page.wait_for("the plan's table", lambda: len(page.widget_table()) == steps, 120)
    assert rows
    table = page.widget_table()
    assert {row["action"] for row in table} == {"create"}
    assert {"codepipeline pipeline", "codedeploy deployment group"} <= {r["kind"] for r in table}
    assert page.bar_percent() == 0


def apply_moves_the_bar_one_step_per_resource(page: NotebookPage, steps: int) -> None:
    page.watch_bar()
    page.click("Apply")
    page.wait_for(
        "Apply to print its counts", lambda: "{'create': " in page.widget_output(), APPLY_TIMEOUT
    )
    lines = page.widget_lines()
    assert lines[-1].startswith(f"{{'create': {steps}, 'update': 0"), lines[-1]
    assert len([line for line in lines if line.startswith("done: create ")]) == steps
    assert page.bar_percent() == 100
    history = page.bar_history()
    assert history == sorted(history), history  # it only moves forwards
    # Every step shown. Chromium writes a width with 6 significant digits (84.8485% for
    # 28/33), so a step is matched within that precision, not by rounding both sides.
    unseen = [
        done for done in range(1, steps + 1)
        if not any(abs(width - 100 * done / steps) < 1e-3 for width in history)
    ]  # fmt: skip
    assert not unseen, (unseen, history)

    page.click("Plan")  # what is there now matches what was asked for
    page.wait_for(
        "the plan after apply",
        lambda: {r["action"] for r in page.widget_table()} == {"no-op"},
        120,
    )


def run_pipeline_follows_the_stages_to_success(page: NotebookPage) -> None:
    page.click("Run pipeline")

    def finished() -> bool:
        lines = page.widget_lines()
        return bool(lines) and (lines[-1] in FINAL or lines[-1].startswith("Error"))

    page.wait_for("the pipeline to finish", finished, PIPELINE_TIMEOUT)
    lines = page.widget_lines()
    assert lines[-1] == "Succeeded", "\n".join(lines)
    for stage in ("Source/Source", "Build/Build", "Deploy/Deploy"):
        assert any(line.startswith(f"{stage}: Succeeded") for line in lines), (stage, lines)


def the_app_answers(page: NotebookPage, fleet_size: int) -> None:
    page.click("Ask the app")
    page.wait_for("the app's answers", lambda: len(page.widget_table()) == fleet_size, 60)
    for row in page.widget_table():
        assert row["status"] == "200", row
        assert '"status": "ok"' in row["answer"], row
        with urllib.request.urlopen(row["endpoint"] + "/health", timeout=10) as response:
            assert response.status == 200  # the page's endpoint is the app itself
