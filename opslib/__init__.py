"""opslib: stand up, operate, drill and report on an AWS CI/CD pipeline."""

from __future__ import annotations

__version__ = "0.1.0"
