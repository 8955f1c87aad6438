"""Tags in the three shapes AWS APIs use: ``[{Key, Value}]``, ``[{key, value}]``, ``{k: v}``.

Also the stack's own tag key: every resource of a stack carries it, and ``down`` deletes only
what carries it with the stack's name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

STACK_TAG = "opslib:stack"


def to_list(
    tags: Mapping[str, str], key: str = "Key", value: str = "Value"
) -> list[dict[str, str]]:
    """``{k: v}`` as ``[{"Key": k, "Value": v}]`` (or another key/value spelling)."""
    return [{key: k, value: v} for k, v in sorted(tags.items())]


def to_dict(
    tags: Iterable[Mapping[str, Any]] | None, key: str = "Key", value: str = "Value"
) -> dict[str, str]:
    """``[{"Key": k, "Value": v}]`` as ``{k: v}``; None is no tags."""
    return {str(t[key]): str(t[value]) for t in tags or []}
