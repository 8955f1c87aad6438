"""A metric filter's metricValue and dimension references, read from a matched event."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from opslib.emulator.cloudwatch.patterns.base import (
    FilterPattern,
    FilterPatternError,
    MetricValueError,
    PatternKind,
)
from opslib.emulator.cloudwatch.patterns.lexicon import as_number, scan_selector


@dataclass(frozen=True)
class MetricValue:
    """A metric filter's metricValue: a constant, or a field of the matched event."""

    source: str
    constant: float | None
    field: str | None

    def value_for(self, fields: Mapping[str, str]) -> float | None:
        """The datapoint value for a matched event's fields; None when it is not numeric."""
        if self.constant is not None:
            return self.constant
        text = fields.get(self.field or "")
        return None if text is None else as_number(text.strip())


def parse_metric_value(text: str, pattern: FilterPattern) -> MetricValue:
    """Check a metricValue against its pattern; raises :class:`MetricValueError`."""
    stripped = text.strip()
    number = as_number(stripped)
    if number is not None:
        return MetricValue(text, number, None)
    return MetricValue(text, None, field_reference(stripped, pattern))


def field_reference(text: str, pattern: FilterPattern) -> str:
    """The extraction key a ``$.selector`` / ``$name`` refers to, checked against the pattern.

    Used for metricValue and for dimension values alike: JSON patterns take ``$.selector``
    naming a selector of the pattern, space-delimited ones ``$name`` of a named field or
    ``$<position>``; unstructured patterns have no fields.
    """
    stripped = text.strip()
    if pattern.kind is PatternKind.JSON and stripped.startswith("$."):
        try:
            key = scan_selector(stripped, 0, len(stripped))[0]
        except FilterPatternError as exc:
            reason = f"Invalid metric value '{text}': not a JSON selector ({exc.detail})"
            raise MetricValueError(reason) from exc
        if key in pattern.fields:
            return key
    elif pattern.kind is PatternKind.DELIMITED and re.fullmatch(r"\$\w+", stripped):
        if stripped in pattern.fields or stripped[1:].isdigit():
            return stripped
    raise MetricValueError(_reference_hint(text, pattern))


def _reference_hint(text: str, pattern: FilterPattern) -> str:
    if pattern.kind is PatternKind.JSON:
        wanted = "a number or one of the pattern's selectors " + ", ".join(sorted(pattern.fields))
    elif pattern.kind is PatternKind.DELIMITED:
        wanted = "a number or one of the pattern's fields " + ", ".join(sorted(pattern.fields))
    else:
        wanted = "a number (only JSON and space-delimited patterns have fields)"
    return f"Invalid metric value '{text}': expected {wanted}"
