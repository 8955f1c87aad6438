"""Where runbook runs leave their records: ``reports/<stack>/<date>/<runbook>-<time>.*`` (UTC).

The runner (``opslib runbook run``) tells the kernel where its output notebook goes through
``$OPSLIB_RUNBOOK_OUTPUT``, so the summary a runbook writes lands beside it. A runbook run
by hand in JupyterLab, or by nbval, has no output notebook: its summary goes under the
reports folder (``$OPSLIB_REPORTS_DIR``, default ``reports/`` in the stack's folder: the
config file's, else the project root) with a fresh time stamp.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from opslib.config import project_root

REPORTS_ENV = "OPSLIB_REPORTS_DIR"
OUTPUT_ENV = "OPSLIB_RUNBOOK_OUTPUT"
DEFAULT_REPORTS_DIR = "reports"


def reports_root(base: Path | None = None) -> Path:
    """The folder every report goes under: ``$OPSLIB_REPORTS_DIR`` or ``reports/`` in ``base``
    (the config file's folder; by default the project root, wherever in it we run)."""
    if os.environ.get(REPORTS_ENV):
        return Path(os.environ[REPORTS_ENV])
    return (base or project_root()) / DEFAULT_REPORTS_DIR


def report_base(root: Path, stack: str, runbook: str, when: datetime) -> Path:
    """``<root>/<stack>/<YYYY-MM-DD>/<runbook>-<HHMMSS>`` (add the suffix you need)."""
    return root / stack / when.strftime("%Y-%m-%d") / f"{runbook}-{when.strftime('%H%M%S')}"


def summary_path(stack: str, runbook: str, when: datetime, base: Path | None = None) -> Path:
    """The JSON summary's path: beside the output notebook when the runner started us."""
    output = os.environ.get(OUTPUT_ENV)
    if output:
        return Path(output).with_suffix(".json")
    return report_base(reports_root(base), stack, runbook, when).with_suffix(".json")
