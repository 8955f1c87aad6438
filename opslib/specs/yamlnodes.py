"""Load YAML into small typed nodes that keep line numbers and each scalar's literal text.

Why not ``yaml.safe_load``: a Python object forgets where it came from (so no error could name
its line), turns ``python: 3.10`` into the float 3.1 (CodeBuild reads the literal text "3.10"),
and lets a duplicate key silently win. Here every :class:`Scalar` keeps its text *and* the
YAML 1.1 implicit type (the CodeDeploy agent's Ruby loader compares ``version`` with the
number 0.0, so ``"0.0"`` in quotes must be told apart from ``0.0``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import yaml

from opslib.inputfiles import UnusableFile, check_depth
from opslib.specs.findings import FindingList

_TAG_PREFIX = "tag:yaml.org,2002:"
MAX_NODES = 100_000  # a real buildspec has a few hundred


class ScalarType(StrEnum):
    """The implicit YAML 1.1 type a scalar resolves to (quoted scalars are always STR)."""

    STR = "str"
    INT = "int"
    FLOAT = "float"
    BOOL = "bool"  # includes yes/no/on/off: YAML 1.1 booleans
    NULL = "null"  # an empty value, ``~`` or ``null``
    OTHER = "other"  # timestamps, binary, explicit tags


@dataclass(frozen=True)
class Scalar:
    """A scalar: its text exactly as written, its implicit type and its 1-based line."""

    text: str
    type: ScalarType
    line: int

    @property
    def is_null(self) -> bool:
        """True for a blank value (``key:`` with nothing after it)."""
        return self.type is ScalarType.NULL


@dataclass(frozen=True)
class Mapping:
    """A mapping whose keys are scalars, in file order (duplicates already reported).

    ``owner_line`` is the line of the key that holds this mapping (``artifacts:``), where a
    "required key is missing" message belongs; at the top level it equals ``line``.
    """

    entries: tuple[tuple[Scalar, Node], ...]
    line: int
    owner_line: int = 0

    def __post_init__(self) -> None:
        """Default ``owner_line`` to the mapping's own line (top level, list items)."""
        if self.owner_line == 0:
            object.__setattr__(self, "owner_line", self.line)

    def get(self, key: str) -> Node | None:
        """The value under ``key``, or None when the key is absent."""
        for k, value in self.entries:
            if k.text == key:
                return value
        return None

    def key_line(self, key: str) -> int:
        """The line of ``key`` itself, or the owning key's line when it is absent."""
        for k, _ in self.entries:
            if k.text == key:
                return k.line
        return self.owner_line


@dataclass(frozen=True)
class Sequence:
    """A list of nodes."""

    items: tuple[Node, ...]
    line: int


Node = Scalar | Mapping | Sequence


def kind_name(node: Node | None) -> str:
    """Name a node's kind for messages: 'a string', 'a mapping', 'a list', 'nothing'."""
    if node is None or (isinstance(node, Scalar) and node.is_null):
        return "nothing"
    if isinstance(node, Mapping):
        return "a mapping"
    if isinstance(node, Sequence):
        return "a list"
    return "a string" if node.type is ScalarType.STR else f"the {node.type} {node.text!r}"


def parse_yaml(text: str, findings: FindingList) -> Node | None:
    """Parse one YAML document; syntax errors become findings and the result is None.

    Bounded: nesting deeper than :data:`opslib.inputfiles.MAX_DEPTH` is refused before the
    (recursive) composer runs, and aliases may not expand to more than :data:`MAX_NODES`
    nodes (a "billion laughs" file is a few lines long).
    """
    try:
        check_depth(text)
    except UnusableFile as exc:
        findings.error(exc.line, "", exc.reason)
        return None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        findings.error(_error_line(exc), "", f"YAML syntax error: {_describe(exc)}")
        return None
    except yaml.YAMLError as exc:  # ReaderError: a character YAML does not allow
        position = getattr(exc, "position", 0)
        line = text.count("\n", 0, position) + 1
        findings.error(line, "", f"YAML error: {exc}")
        return None
    if root is None:
        findings.error(1, "", "the file is empty")
        return None
    try:
        return _Converter(findings).convert(root, "")
    except _TooManyNodes:
        findings.error(1, "", f"more than {MAX_NODES} YAML nodes once aliases are expanded")
        return None


def _error_line(exc: yaml.MarkedYAMLError) -> int:
    """The 1-based line a yaml error points at (the problem, else its context)."""
    mark = exc.problem_mark or exc.context_mark
    return mark.line + 1 if mark is not None else 1


def _describe(exc: yaml.MarkedYAMLError) -> str:
    """One line out of a multi-line yaml error: the problem, then its context."""
    parts = [p for p in (exc.problem, exc.context) if p]
    return " ".join(parts) if parts else str(exc).splitlines()[0]


def _scalar_type(tag: str) -> ScalarType:
    """Map a resolved YAML tag to a :class:`ScalarType`."""
    name = tag.removeprefix(_TAG_PREFIX)
    try:
        return ScalarType(name)
    except ValueError:
        return ScalarType.OTHER


def child_path(parent: str, key: str) -> str:
    """``phases`` + ``build`` -> ``phases.build`` (no leading dot at the top)."""
    return f"{parent}.{key}" if parent else key


class _TooManyNodes(Exception):
    """The converted tree would pass MAX_NODES (aliases are expanded, not shared)."""


class _Converter:
    """Turns a composed yaml node graph into our nodes, reporting duplicates and oddities."""

    def __init__(self, findings: FindingList) -> None:
        self._findings = findings
        self._active: set[int] = set()  # nodes being converted: an alias back = a cycle
        self._budget = MAX_NODES

    def convert(self, node: yaml.Node, path: str, owner_line: int = 0) -> Node:
        """Convert one node (recursively); a recursive alias becomes a null scalar."""
        self._budget -= 1
        if self._budget < 0:
            raise _TooManyNodes
        line = node.start_mark.line + 1
        if id(node) in self._active:
            self._findings.error(line, path, "recursive YAML alias")
            return Scalar("", ScalarType.NULL, line)
        self._active.add(id(node))
        try:
            return self._convert(node, path, line, owner_line)
        finally:
            self._active.discard(id(node))

    def _convert(self, node: yaml.Node, path: str, line: int, owner_line: int) -> Node:
        """Dispatch on the yaml node's kind."""
        if isinstance(node, yaml.MappingNode):
            return Mapping(tuple(self._entries(node, path)), line, owner_line)
        if isinstance(node, yaml.SequenceNode):
            items = (self.convert(item, f"{path}[{i}]") for i, item in enumerate(node.value))
            return Sequence(tuple(items), line)
        return Scalar(str(node.value), _scalar_type(node.tag), line)

    def _entries(self, node: yaml.MappingNode, path: str) -> list[tuple[Scalar, Node]]:
        """A mapping's entries with ``<<`` merges applied and duplicates reported."""
        own: list[tuple[Scalar, Node]] = []
        merged: list[tuple[Scalar, Node]] = []
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _TAG_PREFIX + "merge":
                source = self.convert(value_node, path)
                merged.extend(self._merged(source, path, key_node.start_mark.line + 1))
                continue
            key = self._key(key_node, path)
            if key is None:
                continue
            key_path = child_path(path, key.text)
            if key.text in seen:
                message = f"duplicate key (first defined on line {seen[key.text]})"
                self._findings.error(key.line, key_path, message)
                continue
            seen[key.text] = key.line
            own.append((key, self.convert(value_node, key_path, key.line)))
        # YAML merge semantics: keys written in place win over merged ones; first merge wins.
        for key, value in merged:
            if key.text not in seen:
                seen[key.text] = key.line
                own.append((key, value))
        return own

    def _key(self, key_node: yaml.Node, path: str) -> Scalar | None:
        """A mapping key as a scalar; a list or mapping used as a key is an error."""
        converted = self.convert(key_node, path)
        if isinstance(converted, Scalar):
            return converted
        self._findings.error(converted.line, path, "a mapping key must be a plain string")
        return None

    def _merged(self, source: Node, path: str, line: int) -> list[tuple[Scalar, Node]]:
        """Entries a ``<<: *anchor`` (or a list of anchors) brings in."""
        sources = source.items if isinstance(source, Sequence) else (source,)
        entries: list[tuple[Scalar, Node]] = []
        for item in sources:
            if isinstance(item, Mapping):
                entries.extend(item.entries)
            else:
                self._findings.error(line, path, "'<<' must merge a mapping")
        return entries
