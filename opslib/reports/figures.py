"""A figure with the reason it is missing: reports say why, never print 0 for unknown."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Figure:
    """A computed value, or None and the reason it could not be computed."""

    value: float | None
    reason: str = ""

    @classmethod
    def missing(cls, reason: str) -> Figure:
        return cls(None, reason)

    @classmethod
    def ratio(cls, part: float, whole: float, empty: str) -> Figure:
        """``part / whole``; missing with ``empty`` as the reason when ``whole`` is 0."""
        return cls(part / whole) if whole else cls.missing(empty)


def median(values: Iterable[float]) -> float | None:
    """The median of finite values, None for none."""
    ordered = sorted(v for v in values if v is not None and math.isfinite(v))
    if not ordered:
        return None
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
