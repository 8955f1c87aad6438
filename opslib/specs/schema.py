"""Small typed readers shared by the buildspec and appspec checks.

Each reader takes a node and its key path, returns the Python value when the node has the
right shape, and otherwise records a finding and returns a neutral value, so one pass both
validates and builds the model (validation and model can never drift apart).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection
from enum import Enum
from typing import TypeVar

from opslib.specs.findings import FindingList, Severity
from opslib.specs.yamlnodes import Mapping, Node, Scalar, Sequence, child_path, kind_name

E = TypeVar("E", bound=Enum)

YES = frozenset({"yes", "true"})
NO = frozenset({"no", "false"})


def suggest(word: str, options: Collection[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest option, or an empty string.

    Words with the same hyphen/underscore parts in another order match first, so
    ``fail-fast`` finds ``fast-fail`` (which difflib alone rates as far apart).
    """
    parts = sorted(re.split(r"[-_]", word.lower()))
    same_parts = [o for o in options if sorted(re.split(r"[-_]", o.lower())) == parts]
    close = same_parts or difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def check_keys(
    mapping: Mapping,
    path: str,
    allowed: Collection[str],
    out: FindingList,
    severity: Severity = Severity.ERROR,
) -> None:
    """Report each key not in ``allowed``, with the closest valid key and the full list."""
    for key, _ in mapping.entries:
        if key.text not in allowed:
            valid = ", ".join(sorted(allowed))
            message = f"unknown key '{key.text}'{suggest(key.text, allowed)}; valid keys: {valid}"
            out.add(severity, key.line, child_path(path, key.text), message)


def require(mapping: Mapping, key: str, path: str, out: FindingList) -> Node | None:
    """The value under a required key; a missing key is an error on the parent key's line."""
    node = mapping.get(key)
    if node is None:
        out.error(mapping.owner_line, child_path(path, key), f"required key '{key}' is missing")
    return node


def is_blank(node: Node | None) -> bool:
    """True when a key is absent or has an empty value."""
    return node is None or (isinstance(node, Scalar) and node.is_null)


def mapping_or_none(node: Node | None, path: str, out: FindingList) -> Mapping | None:
    """A mapping; absent or blank gives None silently, any other shape is an error."""
    if is_blank(node) or isinstance(node, Mapping):
        return node if isinstance(node, Mapping) else None
    assert node is not None
    out.error(node.line, path, f"expected a mapping, got {kind_name(node)}")
    return None


def string(node: Node | None, path: str, out: FindingList, hint: str = "") -> str | None:
    """A scalar's literal text (CodeBuild and the agent read ``3.10`` as "3.10")."""
    if isinstance(node, Scalar) and not node.is_null:
        return node.text
    if node is not None:
        out.error(node.line, path, f"expected a string, got {kind_name(node)}{hint}")
    return None


def optional_string(node: Node | None, path: str, out: FindingList) -> str | None:
    """Like :func:`string`, but an absent key gives None without a finding."""
    return None if node is None else string(node, path, out)


def string_list(node: Node | None, path: str, out: FindingList, hint: str = "") -> list[str]:
    """A list of strings; blank gives []; a bare string is an error (write it as a list)."""
    if is_blank(node):
        return []
    if not isinstance(node, Sequence):
        assert node is not None
        extra = " (write it as a YAML list: '- item')" if isinstance(node, Scalar) else ""
        out.error(node.line, path, f"expected a list, got {kind_name(node)}{extra}")
        return []
    values = (string(item, f"{path}[{i}]", out, hint) for i, item in enumerate(node.items))
    return [v for v in values if v is not None]


def string_map(node: Node | None, path: str, out: FindingList) -> dict[str, str]:
    """A mapping of names to string values; blank gives {}."""
    mapping = mapping_or_none(node, path, out)
    if mapping is None:
        return {}
    result: dict[str, str] = {}
    for key, value in mapping.entries:
        text = string(value, child_path(path, key.text), out)
        if text is not None:
            result[key.text] = text
    return result


def yes_no(node: Node | None, path: str, out: FindingList, default: bool = False) -> bool:
    """A buildspec flag: yes/no (true/false also accepted, case-insensitive)."""
    if node is None:
        return default
    if isinstance(node, Scalar) and node.text.lower() in YES | NO:
        return node.text.lower() in YES
    out.error(node.line, path, f"expected yes or no, got {kind_name(node)}")
    return default


def enum_value(
    node: Node | None, path: str, out: FindingList, enum_cls: type[E], *, fold_case: bool = False
) -> E | None:
    """A member of ``enum_cls`` named by the scalar's text (exactly, or ignoring case)."""
    text = string(node, path, out)
    if text is None:
        return None
    for member in enum_cls:
        if member.value == text or (fold_case and str(member.value).upper() == text.upper()):
            return member
    values = [str(m.value) for m in enum_cls]
    assert node is not None
    message = f"invalid value '{text}'{suggest(text, values)}; valid values: {', '.join(values)}"
    out.error(node.line, path, message)
    return None
