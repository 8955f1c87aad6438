"""What every filter-pattern module shares: the pattern type, its kinds and its errors."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

GENERIC_MESSAGE = "Invalid filter pattern"
Doc = Any  # a decoded JSON value
Fields = dict[str, str]


class FilterPatternError(ValueError):
    """A filter pattern AWS would reject; ``position`` is the 0-based offset of the fault."""

    def __init__(self, detail: str, position: int) -> None:
        self.detail = detail
        self.position = position
        self.message = f"{GENERIC_MESSAGE}: {detail}" if detail else GENERIC_MESSAGE
        super().__init__(self.message)


class MetricValueError(ValueError):
    """A metric filter's metricValue (or dimension value) that cannot be read from events."""


class PatternKind(Enum):
    """The four shapes a filter pattern can take."""

    ALL = "all"  # empty pattern: every event
    TERMS = "terms"  # unstructured: terms, phrases, ?terms, -terms, %regex%
    JSON = "json"  # { $.selector op value ... }
    DELIMITED = "delimited"  # [field, ..., field op value]


@dataclass(frozen=True)
class FilterPattern:
    """A parsed filter pattern; ``fields`` are the references its metric values may use."""

    source: str
    kind: PatternKind
    fields: frozenset[str]
    _extract: Callable[[str], Fields | None] = field(repr=False, compare=False)
    _match: Callable[[str], bool] = field(repr=False, compare=False)

    def matches(self, message: str) -> bool:
        """Whether the event message matches, as FilterLogEvents decides."""
        return self._match(message)

    def extract(self, message: str) -> Fields | None:
        """The matched event's fields (``$.selector`` / ``$name`` to string), None if no match."""
        return self._extract(message)


def match_all(message: str) -> bool:
    return True


def extract_all(message: str) -> Fields:
    return {}
