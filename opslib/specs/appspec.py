"""Validate an appspec.yml node tree and build its :class:`Appspec` model in one pass.

The rules mirror the CodeDeploy agent (application_specification.rb and friends):

* ERROR — the agent rejects the revision: ``version`` other than the number 0.0 (a quoted
  "0.0" included: the agent compares with the number), ``os`` missing or not exactly
  linux/windows, a files entry without source or destination, a script without ``location``,
  a timeout that is not a whole number > 0, one event's timeouts summing over 3600 s, a
  permission without ``object``, a mode that is not 1–4 octal digits, a permission ``type``
  other than file/directory, any permissions with ``os: windows``, scripts under an event the
  agent performs itself (DownloadBundle, Install, BlockTraffic, AllowTraffic), wrong shapes,
  an invalid ``file_exists_behavior``, YAML syntax errors and duplicate keys; and a hook script
  that does not exist next to the appspec (it would fail with ScriptMissing).
* WARNING — the agent accepts or ignores it, but it is almost surely a mistake: unknown
  top-level keys, unknown hook names (a misspelled hook silently never runs), unknown keys in
  a files/permissions/script entry, a hook script that is not executable (the agent chmods it,
  but the repository should carry the bit), ``mode: 0644`` (YAML 1.1 reads it as octal 420),
  and a files ``source`` found neither next to the appspec nor in what the build makes: when
  a buildspec sits beside the appspec, the revision bundle is assembled by its commands, so a
  source they mention (``mkdir -p "$BUNDLE/app"``) appears only in the bundle and is fine.
* Fine: a hook left blank (skipped).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from opslib.specs import schema as s
from opslib.specs.appspec_model import (
    DEFAULT_TIMEOUT,
    MAX_EVENT_TIMEOUT,
    Appspec,
    AppspecOS,
    FileExistsBehavior,
    FileMapping,
    HookScript,
    LifecycleEvent,
    Permission,
    PermissionType,
)
from opslib.specs.buildspec_paths import first_component, mentioned
from opslib.specs.findings import FindingList, Severity
from opslib.specs.yamlnodes import Mapping, Node, Scalar, ScalarType, Sequence, kind_name

TOP_KEYS = ("version", "os", "files", "file_exists_behavior", "permissions", "hooks")
FILE_KEYS = ("source", "destination")
PERMISSION_KEYS = (
    "object", "pattern", "except", "owner", "group", "mode", "acls", "context", "type",
)  # fmt: skip
SCRIPT_KEYS = ("location", "timeout", "runas", "sudo")
_MODE = re.compile(r"[0-7]{1,4}")
_WHOLE = re.compile(r"[+-]?\d+")
_LEADING_ZERO_OCTAL = re.compile(r"0[0-7]+")


def parse_appspec(
    root: Node, out: FindingList, spec_dir: Path | None, built_by: list[str] | None = None
) -> Appspec | None:
    """Check an appspec tree (paths too, when ``spec_dir`` is given); return its model.

    ``built_by`` are the commands of the build that assembles the revision bundle (the
    buildspec beside the appspec): a files source they create need not exist yet.
    """
    if not isinstance(root, Mapping):
        out.error(root.line, "", f"an appspec must be a mapping, got {kind_name(root)}")
        return None
    s.check_keys(root, "", TOP_KEYS, out, Severity.WARNING)
    target_os = _os(root, out)
    feb_node = root.get("file_exists_behavior")
    feb = None
    if feb_node is not None and not s.is_blank(feb_node):
        feb = s.enum_value(feb_node, "file_exists_behavior", out, FileExistsBehavior)
    return Appspec(
        version=_version(root, out),
        os=target_os or AppspecOS.LINUX,
        files=_files(root.get("files"), out, spec_dir, built_by),
        file_exists_behavior=feb or FileExistsBehavior.DISALLOW,
        permissions=_permissions(root, target_os, out),
        hooks=_hooks(root.get("hooks"), out, spec_dir),
    )


def _version(root: Mapping, out: FindingList) -> str:
    """``version`` must be the YAML number 0.0: the agent compares ``[0.0].include?``."""
    node = s.require(root, "version", "", out)
    if node is None:
        return "0.0"
    if isinstance(node, Scalar) and node.type in (ScalarType.FLOAT, ScalarType.INT):
        if _number(node.text) == 0.0:
            return "0.0"
    elif isinstance(node, Scalar) and node.type is ScalarType.STR and _number(node.text) == 0.0:
        message = (
            f"must be the number 0.0, not the string '{node.text}': the CodeDeploy "
            "agent compares it with the number 0.0 and rejects a quoted version; unquote it"
        )
        out.error(node.line, "version", message)
        return "0.0"
    shown = node.text if isinstance(node, Scalar) else kind_name(node)
    out.error(node.line, "version", f"unsupported appspec version {shown}: write version: 0.0")
    return "0.0"


def _number(text: str) -> float | None:
    """The number a scalar's text spells, or None."""
    try:
        return float(text.replace("_", ""))
    except ValueError:
        return None


def _os(root: Mapping, out: FindingList) -> AppspecOS | None:
    """``os``: required, exactly ``linux`` or ``windows``."""
    node = s.require(root, "os", "", out)
    return None if node is None else s.enum_value(node, "os", out, AppspecOS)


def _entries(node: Node | None, path: str, out: FindingList) -> list[tuple[str, Mapping]]:
    """The mapping items of a list section (files, permissions), with their key paths."""
    if s.is_blank(node):
        return []
    if not isinstance(node, Sequence):
        assert node is not None
        out.error(node.line, path, f"expected a list, got {kind_name(node)}")
        return []
    result: list[tuple[str, Mapping]] = []
    for i, item in enumerate(node.items):
        item_path = f"{path}[{i}]"
        if isinstance(item, Mapping):
            result.append((item_path, item))
        else:
            out.error(item.line, item_path, f"expected a mapping, got {kind_name(item)}")
    return result


def _files(
    node: Node | None, out: FindingList, spec_dir: Path | None, built_by: list[str] | None
) -> list[FileMapping]:
    """``files``: each entry needs source and destination; sources are looked up nearby."""
    mappings: list[FileMapping] = []
    for path, entry in _entries(node, "files", out):
        s.check_keys(entry, path, FILE_KEYS, out, Severity.WARNING)
        source = _required_string(entry, "source", path, out)
        destination = _required_string(entry, "destination", path, out)
        if source is not None and spec_dir is not None:
            line = entry.key_line("source")
            _check_source(source, line, f"{path}.source", spec_dir, built_by, out)
        if source is not None and destination is not None:
            mappings.append(FileMapping(source, destination))
    return mappings


def _required_string(entry: Mapping, key: str, path: str, out: FindingList) -> str | None:
    """A required string; blank counts as missing (the agent sees nil)."""
    node = entry.get(key)
    if s.is_blank(node):
        out.error(entry.key_line(key), f"{path}.{key}", f"required key '{key}' is missing")
        return None
    return s.string(node, f"{path}.{key}", out)


def _check_source(
    source: str, line: int, path: str, spec_dir: Path, built_by: list[str] | None, out: FindingList
) -> None:
    """A files source missing next to the appspec may still be built into the bundle."""
    if (spec_dir / source.lstrip("/")).exists():
        return
    word = first_component(source.lstrip("/"))
    if built_by and word and mentioned(word, built_by):
        return  # the buildspec's commands assemble it into the revision bundle
    beside = ", and no command of the buildspec beside it mentions it" if built_by else ""
    message = f"'{source}' not found next to the appspec{beside}; it must be in the revision bundle"
    out.warning(line, path, message)


def _permissions(root: Mapping, target_os: AppspecOS | None, out: FindingList) -> list[Permission]:
    """``permissions``: Linux only; each entry needs ``object``."""
    entries = _entries(root.get("permissions"), "permissions", out)
    if entries and target_os is AppspecOS.WINDOWS:
        message = "permissions are supported only on Linux instances; remove them for os: windows"
        out.error(root.key_line("permissions"), "permissions", message)
    return [p for path, entry in entries if (p := _permission(entry, path, out)) is not None]


def _permission(entry: Mapping, path: str, out: FindingList) -> Permission | None:
    """One permissions entry."""
    s.check_keys(entry, path, PERMISSION_KEYS, out, Severity.WARNING)
    obj = _required_string(entry, "object", path, out)
    mode = _mode(entry.get("mode"), f"{path}.mode", out)
    types = _types(entry.get("type"), f"{path}.type", out)
    if obj is None:
        return None
    return Permission(
        object=obj,
        pattern=s.optional_string(entry.get("pattern"), f"{path}.pattern", out) or "**",
        except_=s.string_list(entry.get("except"), f"{path}.except", out),
        owner=s.optional_string(entry.get("owner"), f"{path}.owner", out),
        group=s.optional_string(entry.get("group"), f"{path}.group", out),
        mode=mode,
        acls=s.string_list(entry.get("acls"), f"{path}.acls", out),
        context=s.string_map(entry.get("context"), f"{path}.context", out),
        type=types,
    )


def _mode(node: Node | None, path: str, out: FindingList) -> str | None:
    """The mode text the agent ends up with: 1–4 octal digits."""
    text = s.optional_string(node, path, out)
    if text is None or node is None:
        return None
    if (
        isinstance(node, Scalar)
        and node.type is ScalarType.INT
        and _LEADING_ZERO_OCTAL.fullmatch(text)
    ):
        # The agent's YAML 1.1 loader reads 0644 as the octal number 420 and uses "420".
        seen = str(int(text, 8))
        message = f"mode {text} is read by the agent as the octal number {seen} (mode '{seen}')"
        if not _MODE.fullmatch(seen):
            out.error(node.line, path, f"{message}, which is invalid; write {text.lstrip('0')}")
            return None
        out.warning(node.line, path, f"{message}; write {text.lstrip('0')} or quote it")
        return seen
    if not _MODE.fullmatch(text):
        out.error(node.line, path, f"mode must be 1 to 4 octal digits (0-7), got '{text}'")
        return None
    return text


def _types(node: Node | None, path: str, out: FindingList) -> list[PermissionType]:
    """``type``: a list of file and/or directory (default both)."""
    if node is None:
        return [PermissionType.FILE, PermissionType.DIRECTORY]
    if not isinstance(node, Sequence):
        out.error(node.line, path, f"expected a list of file/directory, got {kind_name(node)}")
        return []
    found = (
        s.enum_value(item, f"{path}[{i}]", out, PermissionType) for i, item in enumerate(node.items)
    )
    return [t for t in found if t is not None]


def _hooks(
    node: Node | None, out: FindingList, spec_dir: Path | None
) -> dict[LifecycleEvent, list[HookScript]]:
    """``hooks``: lifecycle event -> scripts, in execution order; unknown names warned."""
    m = s.mapping_or_none(node, "hooks", out)
    if m is None:
        return {}
    found: dict[LifecycleEvent, list[HookScript]] = {}
    names = [e.value for e in LifecycleEvent]
    for key, value in m.entries:
        path = f"hooks.{key.text}"
        if key.text not in names:
            message = (
                f"unknown lifecycle event '{key.text}': the agent ignores it, so it never runs"
            )
            out.warning(key.line, path, message + s.suggest(key.text, names))
            continue
        event = LifecycleEvent(key.text)
        found[event] = _event(event, key, value, out, spec_dir)
    return {event: found[event] for event in LifecycleEvent if event in found}


def _event(
    event: LifecycleEvent, key: Scalar, node: Node, out: FindingList, spec_dir: Path | None
) -> list[HookScript]:
    """One event's scripts; a blank event is skipped, reserved events take none."""
    path = f"hooks.{event}"
    if s.is_blank(node):
        return []
    if not event.takes_scripts:
        out.error(key.line, path, f"{event} is performed by the agent itself and takes no scripts")
        return []
    scripts: list[HookScript] = []
    for item_path, entry in _entries(node, path, out):
        script = _script(entry, item_path, out, spec_dir)
        if script is not None:
            scripts.append(script)
    total = sum(script.timeout for script in scripts)
    if total > MAX_EVENT_TIMEOUT:
        message = f"the timeouts of {event}'s scripts add up to {total} s; the limit is 3600 s"
        out.error(key.line, path, message)
    return scripts


def _script(
    entry: Mapping, path: str, out: FindingList, spec_dir: Path | None
) -> HookScript | None:
    """One script entry: location (required), timeout (> 0, default 3600), runas."""
    s.check_keys(entry, path, SCRIPT_KEYS, out, Severity.WARNING)
    location = _required_string(entry, "location", path, out)
    timeout = _timeout(entry.get("timeout"), f"{path}.timeout", out)
    runas = s.optional_string(entry.get("runas"), f"{path}.runas", out)
    if location is None or not location.strip():
        return None
    if spec_dir is not None:
        _check_script(location.strip(), entry.key_line("location"), path, spec_dir, out)
    return HookScript(location.strip(), timeout or DEFAULT_TIMEOUT, runas)


def _timeout(node: Node | None, path: str, out: FindingList) -> int | None:
    """A whole number of seconds > 0 (the agent does ``to_i`` and rejects <= 0)."""
    if node is None or s.is_blank(node):
        return None
    text = s.string(node, path, out)
    if text is None:
        return None
    if not _WHOLE.fullmatch(text.strip()) or int(text) <= 0:
        out.error(node.line, path, f"timeout must be a whole number of seconds > 0, got '{text}'")
        return None
    return int(text)


def _check_script(location: str, line: int, path: str, spec_dir: Path, out: FindingList) -> None:
    """A hook script must exist in the bundle (ScriptMissing otherwise) and be executable."""
    script = spec_dir / location.lstrip("/")
    key_path = f"{path}.location"
    if not script.exists():
        out.error(line, key_path, f"script '{location}' not found next to the appspec")
    elif script.is_dir():
        out.error(line, key_path, f"'{location}' is a directory, not a script")
    elif not os.access(script, os.X_OK):
        message = f"script '{location}' is not executable; run: chmod +x {location}"
        out.warning(line, key_path, f"{message} (and git update-index --chmod=+x)")
