"""Disaster-recovery drills: Chaos Toolkit experiments over the stack, measured and safe.

Each drill is an experiment file (``experiments/<name>.json``) whose probes
(:mod:`probes`) and actions (:mod:`badrelease`, :mod:`artifacts`, ...) are opslib's Python
functions over the AWS API; :mod:`engine` plans it (a dry run), and with ``confirm`` runs
it under the stack's lock (:mod:`lock`) with chaoslib, rollbacks always. :mod:`measures`
reads the timeline, RTO and RPO from the journal; :mod:`report` draws and scores them.
"""

from __future__ import annotations

from opslib.drills.catalog import names
from opslib.drills.engine import DrillResult, journal_path, plan_drill, run_drill

__all__ = ["DrillResult", "journal_path", "names", "plan_drill", "run_drill"]
