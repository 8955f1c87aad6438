"""The stack's resource model: what a resource is, and the pure diff between states.

A resource knows its desired state (plain data computed from the config and the facts
learned so far), how to read its current state into the same shape, and how to create,
update and delete itself. Planning compares the two shapes field by field, so the diff
is pure data in, data out, and is unit-tested without any AWS at all.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar

from opslib.stack.tags import STACK_TAG

if TYPE_CHECKING:
    from opslib.stack.api import Api
    from opslib.stack.context import Context

State = dict[str, Any]


class Action(StrEnum):
    """What applying the plan does to one resource."""

    CREATE = "create"  # it does not exist
    UPDATE = "update"  # it exists; the listed fields differ
    DELETE = "delete"  # it exists and carries the stack's tag (down)
    NOOP = "no-op"  # it exists as desired
    CONFLICT = "conflict"  # a resource of that name belongs to another stack


@dataclass(frozen=True)
class FieldChange:
    """One field that differs: its dotted path, the current and the desired value."""

    path: str
    old: Any
    new: Any


@dataclass(frozen=True)
class Change:
    """The planned action for one resource, with the fields that differ."""

    kind: str
    name: str
    action: Action
    fields: tuple[FieldChange, ...] = ()

    @property
    def paths(self) -> list[str]:
        return [f.path for f in self.fields]

    def summary(self) -> str:
        """``update s3 bucket x (versioning, tags.opslib:stack)``: one line for humans."""
        detail = (
            f" ({', '.join(self.paths)})" if self.fields and self.action is Action.UPDATE else ""
        )
        return f"{self.action.value} {self.kind} {self.name}{detail}"


@dataclass
class Plan:
    """The changes of a whole stack, in dependency order."""

    changes: list[Change] = field(default_factory=list)

    def pending(self) -> list[Change]:
        return [c for c in self.changes if c.action is not Action.NOOP]

    @property
    def has_changes(self) -> bool:
        return bool(self.pending())

    def counts(self) -> dict[str, int]:
        counts = {a.value: 0 for a in Action}
        for change in self.changes:
            counts[change.action.value] += 1
        return counts

    def rows(self) -> list[dict[str, str]]:
        """Plain rows (kind, name, action, fields) for a table or a DataFrame."""
        return [
            {"kind": c.kind, "name": c.name, "action": c.action.value, "fields": ", ".join(c.paths)}
            for c in self.changes
        ]


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings as ``{"a.b": value}``; lists and scalars are leaves."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, path + "."))
        else:
            flat[path] = value
    return flat


def _absent_prefix(path: str, current: Mapping[str, Any]) -> str:
    """The shortest prefix of ``path`` that ``current`` lacks (a whole new entry), or path."""
    node: Any = current
    parts = path.split(".")
    for depth, part in enumerate(parts[:-1]):
        if not isinstance(node, Mapping) or part not in node:
            return ".".join(parts[: depth + 1])
        node = node[part]
    return path


def diff_fields(desired: Mapping[str, Any], current: Mapping[str, Any]) -> tuple[FieldChange, ...]:
    """The fields of ``desired`` whose value in ``current`` differs (extra current keys ignored).

    A nested entry missing altogether (a new instance of the fleet) is one change, not one
    per leaf below it.
    """
    want, have = flatten(desired), flatten(current)
    changes: dict[str, FieldChange] = {}
    for path, value in want.items():
        if have.get(path) == value:
            continue
        where = _absent_prefix(path, current)
        if where == path:
            changes[path] = FieldChange(path, have.get(path), value)
        elif where not in changes:
            changes[where] = FieldChange(where, None, _lookup(desired, where))
    return tuple(changes.values())


def _lookup(data: Mapping[str, Any], path: str) -> Any:
    node: Any = data
    for part in path.split("."):
        node = node[part]
    return node


def owner(current: Mapping[str, Any]) -> str | None:
    """The stack tag's value on a read resource, or None when it carries none."""
    tags = current.get("tags")
    return tags.get(STACK_TAG) if isinstance(tags, Mapping) else None


def decide(kind: str, name: str, stack: str, desired: State, current: State | None) -> Change:
    """The planned change for one resource: pure, the heart of ``opslib plan``.

    A resource that exists without any stack tag is adopted (its tags are added by the
    update), which is what lets ``up`` resume after a create whose tagging call failed;
    one tagged for another stack is a conflict, never touched.
    """
    if current is None:
        return Change(kind, name, Action.CREATE, diff_fields(desired, {}))
    if owner(current) not in (None, stack):
        return Change(kind, name, Action.CONFLICT)
    fields = diff_fields(desired, current)
    return Change(kind, name, Action.UPDATE if fields else Action.NOOP, fields)


class Resource(ABC):
    """One AWS resource of the stack (or one managed set, such as the fleet's instances).

    ``desired`` is pure; ``read`` returns the same shape (plus a ``tags`` mapping, and
    ``_``-prefixed keys for ids that are not compared) or None when it does not exist.
    """

    kind: ClassVar[str]

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<{self.kind} {self.name}>"

    @abstractmethod
    def desired(self, ctx: Context) -> State:
        """The state the config asks for."""

    @abstractmethod
    def read(self, api: Api, ctx: Context) -> State | None:
        """The current state, in the shape of ``desired``; None when absent."""

    @abstractmethod
    def create(self, api: Api, ctx: Context, desired: State) -> None:
        """Create it as desired."""

    @abstractmethod
    def update(self, api: Api, ctx: Context, desired: State, changed: list[str]) -> None:
        """Bring the ``changed`` fields to their desired values."""

    @abstractmethod
    def delete(self, api: Api, ctx: Context, current: State) -> None:
        """Delete it (only called when it carries this stack's tag)."""

    def facts(self, current: State) -> dict[str, str]:
        """Ids and ARNs later resources need (security group id, connection ARN, ...)."""
        return {}

    def wanted(self, ctx: Context) -> bool:
        """Whether the config asks for it; an unwanted one that exists is deleted by ``up``.

        Most resources are always wanted; the scheduled reports' only with ``schedules:``.
        """
        return True

    def owned(self, current: State, ctx: Context) -> bool:
        """Whether ``down`` may delete it: it carries this stack's tag."""
        return owner(current) == ctx.stack


def changed_under(changed: list[str], *prefixes: str) -> bool:
    """Whether any changed path is one of ``prefixes`` or lies below one of them."""
    return any(p == x or p.startswith(x + ".") for p in changed for x in prefixes)
