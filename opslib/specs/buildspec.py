"""Validate a buildspec.yml node tree and build its :class:`Buildspec` model in one pass.

Error or warning — what AWS does decides:

* ERROR: what CodeBuild rejects or a build fails on — YAML syntax, duplicate keys, a missing
  ``version`` or one other than 0.2/0.1, wrong shapes (a command that YAML read as a mapping
  fails with "Expected Commands[N] to be of string type"), a phase with neither ``commands``
  nor ``finally`` (unless an install phase with only ``runtime-versions``),
  ``runtime-versions`` outside install, bad ``on-failure``/``file-format``/``cache.action``
  values (``file-format`` is matched ignoring case, as CodeBuild does: ``JunitXml`` works),
  yes/no flags that are neither, ``artifacts``/report groups without ``files``.
* ERROR too, deliberately strict: unknown keys at any level (e.g. ``batch.fail-fast`` for
  ``fast-fail``, a phase named ``biuld``, 0.2's ``env`` in a 0.1 file or 0.1's
  ``environment_variables`` in a 0.2 one). Whether CodeBuild rejects or skips each of them
  is not documented; skipping would silently drop commands, and the emulator runs only what
  this module accepted.
* ERROR, an opslib limit: ``on-failure`` RETRY forms (the emulator runs ABORT and CONTINUE only).
* WARNING: legal but almost surely a mistake — ``version: 0.1`` (each command in its own
  shell) and, in such a file, a lone ``cd``/``export`` that cannot reach the next command; no
  ``phases`` at all, a blank phase or an empty ``commands`` list, an ``env.shell`` CodeBuild
  does not document, artifact or report paths that neither exist nor are mentioned by any
  command (:mod:`opslib.specs.buildspec_paths`: the build may create them under any name, so
  whether they exist is a question for run time).

Version 0.1 has its own keys: ``environment_variables`` with ``plaintext`` and
``parameter-store`` (0.2 renamed them ``env`` and ``variables``), and ``artifacts.type``
(deprecated in 0.2, where it is ignored with a warning).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from opslib.specs import schema as s
from opslib.specs.buildspec_model import (
    Artifacts,
    BuildEnv,
    Buildspec,
    Cache,
    OnFailure,
    Phase,
    PhaseName,
    ReportFileFormat,
    ReportGroupSpec,
)
from opslib.specs.findings import FindingList
from opslib.specs.yamlnodes import Mapping, Node, Scalar, Sequence, child_path, kind_name

TOP_KEYS = (
    "version", "run-as", "env", "proxy", "batch", "phases", "reports", "artifacts", "cache",
)  # fmt: skip
LEGACY_TOP_KEYS = tuple("environment_variables" if k == "env" else k for k in TOP_KEYS)
LEGACY_ENV_KEYS = ("plaintext", "parameter-store")
ENV_KEYS = (
    "shell", "variables", "parameter-store", "secrets-manager", "exported-variables",
    "git-credential-helper",
)  # fmt: skip
PHASE_KEYS = ("run-as", "on-failure", "commands", "finally", "runtime-versions")
ARTIFACT_KEYS = (
    "files", "name", "base-directory", "discard-paths", "exclude-paths", "enable-symlinks",
    "s3-prefix", "secondary-artifacts",
)  # fmt: skip
SECONDARY_KEYS = tuple(k for k in ARTIFACT_KEYS if k != "secondary-artifacts")
REPORT_KEYS = ("files", "base-directory", "discard-paths", "file-format")
CACHE_KEYS = ("paths", "key", "fallback-keys", "action")
CACHE_ACTIONS = ("restore", "save")
PROXY_KEYS = ("upload-artifacts", "logs")
BATCH_KEYS = ("fast-fail", "build-list", "build-matrix", "build-graph")
SHELLS = ("bash", "/bin/sh", "sh", "powershell.exe", "pwsh.exe", "cmd.exe")
VERSION = "0.2"
LEGACY_VERSION = "0.1"
QUOTE_HINT = " (quote a command that contains ': ')"
# A command that only changes the shell's own state: useless on its own under version 0.1.
_STATE_ONLY = re.compile(r"\s*(cd|pushd|popd|export|unset|set|source|\.)(\s[^;&|\n]*)?\s*")


@dataclass(frozen=True)
class PathRef:
    """A path the buildspec expects after the build: an artifact/report file or base dir."""

    line: int
    key_path: str
    path: str  # as written; for a base-directory entry, the directory itself
    base: str | None = None  # the base-directory a file is relative to, if any


def parse_buildspec(root: Node, out: FindingList) -> tuple[Buildspec | None, list[PathRef]]:
    """Check a buildspec tree; return its model (None if not a mapping) and paths to check."""
    if not isinstance(root, Mapping):
        out.error(root.line, "", f"a buildspec must be a mapping, got {kind_name(root)}")
        return None, []
    version = _version(root, out)
    legacy = version == LEGACY_VERSION
    _check_top_keys(root, legacy, out)
    refs: list[PathRef] = []
    _proxy(root.get("proxy"), out)
    _batch(root.get("batch"), out)
    spec = Buildspec(
        version=version,
        run_as=s.optional_string(root.get("run-as"), "run-as", out),
        env=_legacy_env(root.get("environment_variables"), out)
        if legacy
        else _env(root.get("env"), out),
        phases=_phases(root, out),
        artifacts=_artifacts(root.get("artifacts"), "artifacts", out, refs, legacy=legacy),
        reports=_reports(root.get("reports"), out, refs),
        cache=_cache(root.get("cache"), out),
    )
    if legacy:
        _warn_state_only_commands(spec, root, out)
    return spec, refs


def _check_top_keys(root: Mapping, legacy: bool, out: FindingList) -> None:
    """Top-level keys of the file's version; the renamed env section gets a precise hint."""
    renamed = {"env": "environment_variables"} if legacy else {"environment_variables": "env"}
    this, other = (LEGACY_VERSION, VERSION) if legacy else (VERSION, LEGACY_VERSION)
    for key, _ in root.entries:
        if key.text in renamed:
            message = f"'{key.text}' is the version {other} name; version {this} calls it"
            out.error(key.line, key.text, f"{message} '{renamed[key.text]}'")
    s.check_keys(_without(root, renamed), "", LEGACY_TOP_KEYS if legacy else TOP_KEYS, out)


def _without(mapping: Mapping, keys: dict[str, str]) -> Mapping:
    """The mapping minus ``keys`` (already reported on their own)."""
    entries = tuple(e for e in mapping.entries if e[0].text not in keys)
    return Mapping(entries, mapping.line, mapping.owner_line)


def _version(root: Mapping, out: FindingList) -> str:
    """``version`` must be 0.2 (read as text); 0.1 still runs but in one shell per command."""
    node = s.require(root, "version", "", out)
    text = s.string(node, "version", out) if node is not None else None
    if text is None or node is None:
        return VERSION
    if text == LEGACY_VERSION:
        message = "version 0.1 runs each command in its own shell (cd/export do not carry over)"
        out.warning(node.line, "version", f"{message}; AWS recommends 0.2")
    elif text != VERSION:
        message = f"unsupported buildspec version '{text}'; use 0.2 (or the legacy 0.1)"
        out.error(node.line, "version", message)
    return text


def _env(node: Node | None, out: FindingList) -> BuildEnv:
    """The ``env`` section; every value is kept as the literal text CodeBuild reads."""
    m = s.mapping_or_none(node, "env", out)
    if m is None:
        return BuildEnv()
    s.check_keys(m, "env", ENV_KEYS, out)
    shell = s.optional_string(m.get("shell"), "env.shell", out)
    if shell is not None and shell not in SHELLS:
        line = m.key_line("shell")
        out.warning(line, "env.shell", f"shell '{shell}' is not one CodeBuild documents")
    return BuildEnv(
        shell=shell,
        variables=s.string_map(m.get("variables"), "env.variables", out),
        parameter_store=s.string_map(m.get("parameter-store"), "env.parameter-store", out),
        secrets_manager=s.string_map(m.get("secrets-manager"), "env.secrets-manager", out),
        exported_variables=s.string_list(
            m.get("exported-variables"), "env.exported-variables", out
        ),
        git_credential_helper=s.yes_no(
            m.get("git-credential-helper"), "env.git-credential-helper", out
        ),
    )


def _legacy_env(node: Node | None, out: FindingList) -> BuildEnv:
    """Version 0.1's ``environment_variables``: ``plaintext`` and ``parameter-store``."""
    path = "environment_variables"
    m = s.mapping_or_none(node, path, out)
    if m is None:
        return BuildEnv()
    s.check_keys(m, path, LEGACY_ENV_KEYS, out)
    return BuildEnv(
        variables=s.string_map(m.get("plaintext"), f"{path}.plaintext", out),
        parameter_store=s.string_map(m.get("parameter-store"), f"{path}.parameter-store", out),
    )


def _warn_state_only_commands(spec: Buildspec, root: Mapping, out: FindingList) -> None:
    """Under 0.1 a lone ``cd dir`` or ``export X=1`` changes a shell that exits at once."""
    phases = root.get("phases")
    if not isinstance(phases, Mapping):
        return  # its shape was reported by _phases
    for name, phase in spec.phases.items():
        node = phases.get(name.value)
        for block, commands in (("commands", phase.commands), ("finally", phase.finally_)):
            for index, command in enumerate(commands):
                if _STATE_ONLY.fullmatch(command):
                    line = _item_line(node, block, index)
                    verb = command.split()[0]
                    message = (
                        f"'{verb}' alone does nothing under version 0.1: each command runs in "
                        "its own shell; join the commands with && or use version 0.2"
                    )
                    out.warning(line, f"phases.{name}.{block}[{index}]", message)


def _item_line(phase: Node | None, block: str, index: int) -> int:
    """The line of item ``index`` of a phase's ``commands``/``finally`` list."""
    items = phase.get(block) if isinstance(phase, Mapping) else None
    if isinstance(items, Sequence) and index < len(items.items):
        return items.items[index].line
    return phase.line if phase is not None else 0


def _proxy(node: Node | None, out: FindingList) -> None:
    """``proxy`` only matters on AWS (explicit proxy servers): shape-check it."""
    m = s.mapping_or_none(node, "proxy", out)
    if m is None:
        return
    s.check_keys(m, "proxy", PROXY_KEYS, out)
    for key in PROXY_KEYS:
        s.yes_no(m.get(key), f"proxy.{key}", out)


def _batch(node: Node | None, out: FindingList) -> None:
    """``batch`` (batch builds) is not run by the emulator: check its keys and shapes."""
    m = s.mapping_or_none(node, "batch", out)
    if m is None:
        return
    s.check_keys(m, "batch", BATCH_KEYS, out)
    s.yes_no(m.get("fast-fail"), "batch.fast-fail", out)
    for key, want in (("build-list", Sequence), ("build-graph", Sequence)):
        value = m.get(key)
        if value is not None and not isinstance(value, want):
            out.error(value.line, f"batch.{key}", f"expected a list, got {kind_name(value)}")
    s.mapping_or_none(m.get("build-matrix"), "batch.build-matrix", out)


def _phases(root: Mapping, out: FindingList) -> dict[PhaseName, Phase]:
    """The phases in execution order, whatever order the file lists them in."""
    node = root.get("phases")
    m = s.mapping_or_none(node, "phases", out)
    if m is None or not m.entries:
        if node is None or s.is_blank(node) or isinstance(node, Mapping):
            out.warning(root.key_line("phases"), "phases", "no phases: the build runs nothing")
        return {}
    s.check_keys(m, "phases", [p.value for p in PhaseName], out)
    phases: dict[PhaseName, Phase] = {}
    for name in PhaseName:
        value = m.get(name.value)
        phase = None if value is None else _phase(name, value, f"phases.{name}", out)
        if phase is not None:
            phases[name] = phase
    return phases


def _phase(name: PhaseName, node: Node, path: str, out: FindingList) -> Phase | None:
    """One phase; an install phase may hold only ``runtime-versions``."""
    if s.is_blank(node):
        out.warning(node.line, path, "empty phase: it runs nothing")
        return None
    m = s.mapping_or_none(node, path, out)
    if m is None:
        return None
    s.check_keys(m, path, PHASE_KEYS, out)
    runtimes = _runtime_versions(name, m, path, out)
    if m.get("commands") is None and m.get("finally") is None and not runtimes:
        s.require(m, "commands", path, out)  # a phase of only ``finally`` is valid
    return Phase(
        commands=_commands(m.get("commands"), f"{path}.commands", out),
        finally_=_commands(m.get("finally"), f"{path}.finally", out),
        on_failure=_on_failure(m.get("on-failure"), f"{path}.on-failure", out),
        run_as=s.optional_string(m.get("run-as"), f"{path}.run-as", out),
        runtime_versions=runtimes,
    )


def _runtime_versions(name: PhaseName, m: Mapping, path: str, out: FindingList) -> dict[str, str]:
    """``runtime-versions`` (install only): runtime -> version text, e.g. python -> "3.10"."""
    node = m.get("runtime-versions")
    if node is None:
        return {}
    key_path = f"{path}.runtime-versions"
    if name is not PhaseName.INSTALL:
        line = m.key_line("runtime-versions")
        out.error(line, key_path, "runtime-versions is only allowed in the install phase")
        return {}
    return s.string_map(node, key_path, out)


def _commands(node: Node | None, path: str, out: FindingList) -> list[str]:
    """A list of commands; a ``|`` block is one command; an empty list gets a warning."""
    if node is None:
        return []
    if isinstance(node, Sequence) and node.items:
        return [c for i, item in enumerate(node.items) if (c := _command(item, path, i, out))]
    if s.is_blank(node) or isinstance(node, Sequence):
        out.warning(node.line, path, "empty list of commands")
        return []
    hint = " (write each command as a list item: '- command')" if isinstance(node, Scalar) else ""
    out.error(node.line, path, f"expected a list of commands, got {kind_name(node)}{hint}")
    return []


def _command(item: Node, path: str, index: int, out: FindingList) -> str | None:
    """One command; YAML reads an unquoted ``key: value`` item as a mapping."""
    item_path = f"{path}[{index}]"
    if isinstance(item, Mapping):
        out.error(item.line, item_path, f"expected a string, got a mapping{QUOTE_HINT}")
        return None
    if isinstance(item, Scalar) and item.is_null:
        out.error(item.line, item_path, "empty command")
        return None
    return s.string(item, item_path, out)


def _on_failure(node: Node | None, path: str, out: FindingList) -> OnFailure | None:
    """ABORT or CONTINUE; AWS's newer RETRY forms are refused with a clear reason."""
    if isinstance(node, Scalar) and node.text.upper().startswith("RETRY"):
        out.error(node.line, path, "RETRY forms are not supported by opslib; use ABORT or CONTINUE")
        return None
    return None if node is None else s.enum_value(node, path, out, OnFailure)


def _artifacts(
    node: Node | None,
    path: str,
    out: FindingList,
    refs: list[PathRef],
    *,
    nested: bool = False,
    legacy: bool = False,
) -> Artifacts | None:
    """The primary artifact (or, nested, one secondary artifact)."""
    m = s.mapping_or_none(node, path, out)
    if m is None:
        return None
    s.check_keys(m, path, (SECONDARY_KEYS if nested else ARTIFACT_KEYS) + ("type",), out)
    _artifact_type(m, path, legacy, out)
    secondary = {} if nested else _secondary(m.get("secondary-artifacts"), path, out, refs)
    base = s.optional_string(m.get("base-directory"), f"{path}.base-directory", out)
    files = _files(m, path, out, refs, base, required=not secondary)
    return Artifacts(
        files=files,
        name=s.optional_string(m.get("name"), f"{path}.name", out),
        base_directory=base,
        discard_paths=s.yes_no(m.get("discard-paths"), f"{path}.discard-paths", out),
        exclude_paths=s.string_list(m.get("exclude-paths"), f"{path}.exclude-paths", out),
        enable_symlinks=s.yes_no(m.get("enable-symlinks"), f"{path}.enable-symlinks", out),
        s3_prefix=s.optional_string(m.get("s3-prefix"), f"{path}.s3-prefix", out),
        secondary=secondary,
    )


def _artifact_type(m: Mapping, path: str, legacy: bool, out: FindingList) -> None:
    """``artifacts.type`` (e.g. ``zip``): version 0.1's; deprecated and ignored in 0.2."""
    node = m.get("type")
    if node is None:
        return
    s.string(node, f"{path}.type", out)
    if not legacy:
        message = "artifacts 'type' is deprecated since buildspec version 0.2 and ignored"
        out.warning(m.key_line("type"), f"{path}.type", message)


def _secondary(
    node: Node | None, path: str, out: FindingList, refs: list[PathRef]
) -> dict[str, Artifacts]:
    """``secondary-artifacts``: artifact identifier -> artifact (no further nesting)."""
    m = s.mapping_or_none(node, f"{path}.secondary-artifacts", out)
    if m is None:
        return {}
    result: dict[str, Artifacts] = {}
    for key, value in m.entries:
        item_path = f"{path}.secondary-artifacts.{key.text}"
        if s.is_blank(value):
            out.error(key.line, f"{item_path}.files", "required key 'files' is missing")
            continue
        artifact = _artifacts(value, item_path, out, refs, nested=True)
        if artifact is not None:
            result[key.text] = artifact
    return result


def _files(
    m: Mapping, path: str, out: FindingList, refs: list[PathRef], base: str | None, required: bool
) -> list[str]:
    """``files`` of an artifact or report group, registering each for the path check."""
    node = m.get("files")
    if node is None:
        if required:
            s.require(m, "files", path, out)
        return []
    files = s.string_list(node, f"{path}.files", out)
    if s.is_blank(node) or (isinstance(node, Sequence) and not node.items):
        out.error(node.line, f"{path}.files", "files is empty: list at least one path or glob")
    if base is not None:
        refs.append(PathRef(m.key_line("base-directory"), f"{path}.base-directory", base))
    if isinstance(node, Sequence):
        refs.extend(_file_refs(node, f"{path}.files", base))
    return files


def _file_refs(node: Sequence, path: str, base: str | None) -> list[PathRef]:
    """A PathRef for each string item of a ``files`` list."""
    return [
        PathRef(item.line, f"{path}[{i}]", item.text, base)
        for i, item in enumerate(node.items)
        if isinstance(item, Scalar) and not item.is_null
    ]


def _reports(
    node: Node | None, out: FindingList, refs: list[PathRef]
) -> dict[str, ReportGroupSpec]:
    """``reports``: report group name (or ARN) -> its files and format."""
    m = s.mapping_or_none(node, "reports", out)
    if m is None:
        return {}
    groups: dict[str, ReportGroupSpec] = {}
    for key, value in m.entries:
        group = _report_group(key, value, child_path("reports", key.text), out, refs)
        if group is not None:
            groups[key.text] = group
    return groups


def _report_group(
    key: Scalar, node: Node, path: str, out: FindingList, refs: list[PathRef]
) -> ReportGroupSpec | None:
    """One report group; ``files`` is required, ``file-format`` defaults to JUNITXML."""
    if s.is_blank(node):
        out.error(key.line, f"{path}.files", "required key 'files' is missing")
        return None
    m = s.mapping_or_none(node, path, out)
    if m is None:
        return None
    s.check_keys(m, path, REPORT_KEYS, out)
    base = s.optional_string(m.get("base-directory"), f"{path}.base-directory", out)
    fmt_node = m.get("file-format")
    fmt = None
    if fmt_node is not None:  # "This value is not case sensitive" (CodeBuild buildspec reference)
        fmt = s.enum_value(fmt_node, f"{path}.file-format", out, ReportFileFormat, fold_case=True)
    return ReportGroupSpec(
        files=_files(m, path, out, refs, base, required=True),
        base_directory=base,
        discard_paths=s.yes_no(m.get("discard-paths"), f"{path}.discard-paths", out),
        file_format=fmt or ReportFileFormat.JUNITXML,
    )


def _cache(node: Node | None, out: FindingList) -> Cache | None:
    """``cache``: paths kept between builds, optional keys and action (restore|save)."""
    m = s.mapping_or_none(node, "cache", out)
    if m is None:
        return None
    s.check_keys(m, "cache", CACHE_KEYS, out)
    action = s.optional_string(m.get("action"), "cache.action", out)
    if action is not None and action not in CACHE_ACTIONS:
        valid = ", ".join(CACHE_ACTIONS)
        message = f"invalid value '{action}'{s.suggest(action, CACHE_ACTIONS)}; valid: {valid}"
        out.error(m.key_line("action"), "cache.action", message)
    return Cache(
        paths=s.string_list(m.get("paths"), "cache.paths", out),
        key=s.optional_string(m.get("key"), "cache.key", out),
        fallback_keys=s.string_list(m.get("fallback-keys"), "cache.fallback-keys", out),
        action=action,
    )
