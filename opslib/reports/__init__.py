"""Pure computations over the telemetry frames: success rate, DORA, cost, summaries.

Nothing here calls AWS: every function takes frames (``opslib.telemetry.schema``) and
returns frames or :class:`~opslib.reports.figures.Figure` values. A figure that cannot
be computed is ``None`` with its reason, never 0.
"""
