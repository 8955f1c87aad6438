"""Runbooks: list them, run them with papermill into ``reports/``, and the calls they make.

Inside a runbook (light imports only, no papermill)::

    p = params.validate(globals(), hours=params.between(1, 720))
    rb = runbooks.begin("triage", p)            # config + session on the target
    ...                                          # a few opslib calls, each shown
    runbooks.conclude(rb, verdict, data=...)     # JSON summary; a ✗ verdict fails the run

From the outside: :mod:`opslib.runbooks.catalog` (list, find, parameters) and
:mod:`opslib.runbooks.runner` (execute, export HTML, record).
"""

from __future__ import annotations

from opslib.runbooks.context import RunbookContext, begin, conclude
from opslib.runbooks.verdict import Verdict

__all__ = ["RunbookContext", "Verdict", "begin", "conclude"]
