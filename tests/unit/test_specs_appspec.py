"""Tests for opslib.specs appspec validation and its typed model."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import NamedTuple

import pytest

from opslib.exceptions import SpecError
from opslib.specs import (
    AppspecOS,
    FileExistsBehavior,
    Finding,
    HookScript,
    LifecycleEvent,
    PermissionType,
    Severity,
    load_appspec,
    validate_appspec,
)

pytestmark = pytest.mark.unit

ERROR = Severity.ERROR
WARNING = Severity.WARNING

HEAD = "version: 0.0\nos: linux\n"  # lines 1-2 of most cases


def y(text: str) -> str:
    """Dedent a YAML literal so that its first line is line 1."""
    return textwrap.dedent(text).lstrip("\n")


class Case(NamedTuple):
    id: str
    text: str
    key_path: str
    line: int
    message: str
    severity: Severity


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    """A revision directory: app/, an executable and a non-executable script."""
    (tmp_path / "app").mkdir()
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    for name, mode in (("start.sh", 0o755), ("stop.sh", 0o755), ("noexec.sh", 0o644)):
        script = scripts / name
        script.write_text("#!/bin/sh\nexit 0\n")
        script.chmod(mode)
    return tmp_path


CASES = [
    Case("version-quoted", 'version: "0.0"\nos: linux\n', "version", 1,
         "must be the number 0.0, not the string '0.0'", ERROR),
    Case("version-1.0", "version: 1.0\nos: linux\n", "version", 1,
         "unsupported appspec version 1.0", ERROR),
    Case("version-missing", "os: linux\n", "version", 1, "required key 'version'", ERROR),
    Case("os-missing", "version: 0.0\n", "os", 1, "required key 'os' is missing", ERROR),
    Case("os-macos", "version: 0.0\nos: macos\n", "os", 2, "invalid value 'macos'", ERROR),
    Case("os-capitalised", "version: 0.0\nos: Linux\n", "os", 2, "did you mean 'linux'", ERROR),
    Case("files-entry-without-destination", HEAD + "files:\n  - source: app\n",
         "files[0].destination", 4, "required key 'destination' is missing", ERROR),
    Case("files-entry-without-source", HEAD + "files:\n  - destination: /srv/app\n",
         "files[0].source", 4, "required key 'source' is missing", ERROR),
    Case("files-not-a-list", HEAD + "files:\n  source: app\n  destination: /srv\n",
         "files", 4, "expected a list, got a mapping", ERROR),
    Case("files-unknown-key", HEAD + "files:\n  - source: app\n    destination: /srv\n"
         "    overwrite: true\n", "files[0].overwrite", 6, "unknown key 'overwrite'", WARNING),
    Case("files-source-not-found", HEAD + "files:\n  - source: build/web\n"
         "    destination: /srv\n", "files[0].source", 4,
         "it must be in the revision bundle", WARNING),
    Case("file-exists-behavior-bogus", HEAD + "file_exists_behavior: REPLACE\n",
         "file_exists_behavior", 3, "invalid value 'REPLACE'", ERROR),
    Case("unknown-top-level-key", HEAD + "hook:\n  AfterInstall:\n",
         "hook", 3, "did you mean 'hooks'", WARNING),
    Case("unknown-hook", HEAD + "hooks:\n  AfterInstal:\n    - location: scripts/start.sh\n",
         "hooks.AfterInstal", 4, "never runs (did you mean 'AfterInstall'?)", WARNING),
    Case("download-bundle-with-scripts", HEAD + "hooks:\n  DownloadBundle:\n"
         "    - location: scripts/start.sh\n", "hooks.DownloadBundle", 4, "takes no scripts",
         ERROR),
    Case("install-with-scripts", HEAD + "hooks:\n  Install:\n    - location: scripts/start.sh\n",
         "hooks.Install", 4, "takes no scripts", ERROR),
    Case("timeout-zero", HEAD + "hooks:\n  ApplicationStart:\n    - location: scripts/start.sh\n"
         "      timeout: 0\n", "hooks.ApplicationStart[0].timeout", 6, "got '0'", ERROR),
    Case("timeout-not-a-number", HEAD + "hooks:\n  ApplicationStart:\n"
         "    - location: scripts/start.sh\n      timeout: abc\n",
         "hooks.ApplicationStart[0].timeout", 6, "whole number of seconds > 0", ERROR),
    Case("timeouts-sum-over-3600", y("""
        version: 0.0
        os: linux
        hooks:
          ApplicationStart:
            - location: scripts/start.sh
              timeout: 3000
            - location: scripts/stop.sh
              timeout: 900
        """), "hooks.ApplicationStart", 4, "add up to 3900 s", ERROR),
    Case("default-timeouts-sum-over-3600", y("""
        version: 0.0
        os: linux
        hooks:
          AfterInstall:
            - location: scripts/start.sh
            - location: scripts/stop.sh
        """), "hooks.AfterInstall", 4, "add up to 7200 s", ERROR),
    Case("script-without-location", HEAD + "hooks:\n  ApplicationStart:\n    - timeout: 30\n",
         "hooks.ApplicationStart[0].location", 5, "required key 'location' is missing", ERROR),
    Case("script-missing", HEAD + "hooks:\n  ApplicationStart:\n    - location: scripts/nope.sh\n",
         "hooks.ApplicationStart[0].location", 5, "'scripts/nope.sh' not found", ERROR),
    Case("script-not-executable", HEAD + "hooks:\n  ApplicationStart:\n"
         "    - location: scripts/noexec.sh\n", "hooks.ApplicationStart[0].location", 5,
         "is not executable", WARNING),
    Case("script-is-directory", HEAD + "hooks:\n  ApplicationStart:\n    - location: scripts\n",
         "hooks.ApplicationStart[0].location", 5, "is a directory", ERROR),
    Case("script-entry-bare-string", HEAD + "hooks:\n  ApplicationStart:\n"
         "    - scripts/start.sh\n", "hooks.ApplicationStart[0]", 5,
         "expected a mapping, got a string", ERROR),
    Case("hook-value-not-a-list", HEAD + "hooks:\n  ApplicationStart:\n"
         "    location: scripts/start.sh\n", "hooks.ApplicationStart", 5,
         "expected a list, got a mapping", ERROR),
    Case("script-unknown-key", HEAD + "hooks:\n  ApplicationStart:\n"
         "    - location: scripts/start.sh\n      timout: 30\n",
         "hooks.ApplicationStart[0].timout", 6, "did you mean 'timeout'", WARNING),
    Case("hooks-not-a-mapping", HEAD + "hooks:\n  - ApplicationStart\n",
         "hooks", 4, "expected a mapping, got a list", ERROR),
    Case("mode-9999", HEAD + "permissions:\n  - object: /srv/app\n    mode: 9999\n",
         "permissions[0].mode", 5, "1 to 4 octal digits", ERROR),
    Case("mode-abc", HEAD + "permissions:\n  - object: /srv/app\n    mode: abc\n",
         "permissions[0].mode", 5, "got 'abc'", ERROR),
    Case("mode-too-long", HEAD + "permissions:\n  - object: /srv/app\n    mode: 12345\n",
         "permissions[0].mode", 5, "1 to 4 octal digits", ERROR),
    Case("mode-leading-zero-octal", HEAD + "permissions:\n  - object: /srv/app\n    mode: 0644\n",
         "permissions[0].mode", 5, "octal number 420", WARNING),
    Case("mode-leading-zero-invalid", HEAD + "permissions:\n  - object: /srv/app\n"
         "    mode: 0755\n", "permissions[0].mode", 5, "octal number 493", ERROR),
    Case("permission-without-object", HEAD + "permissions:\n  - owner: app\n",
         "permissions[0].object", 4, "required key 'object' is missing", ERROR),
    Case("permission-type-bogus", HEAD + "permissions:\n  - object: /srv\n"
         "    type: [file, socket]\n", "permissions[0].type[1]", 5, "invalid value 'socket'",
         ERROR),
    Case("permission-type-not-a-list", HEAD + "permissions:\n  - object: /srv\n    type: file\n",
         "permissions[0].type", 5, "expected a list", ERROR),
    Case("permissions-on-windows", "version: 0.0\nos: windows\npermissions:\n"
         "  - object: C:\\app\n", "permissions", 3, "only on Linux", ERROR),
    Case("duplicate-hook", HEAD + "hooks:\n  ApplicationStart:\n  ApplicationStart:\n",
         "hooks.ApplicationStart", 5, "duplicate key (first defined on line 4)", ERROR),
    Case("yaml-syntax-error", HEAD + "hooks:\n  ApplicationStart:\n  - location: [a\n",
         "", 6, "YAML syntax error", ERROR),
    Case("top-level-scalar", "just text\n", "", 1, "must be a mapping", ERROR),
]  # fmt: skip


def _matches(finding: Finding, case: Case) -> bool:
    return (
        finding.key_path == case.key_path
        and finding.line == case.line
        and case.message in finding.message
        and finding.severity is case.severity
    )


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_malformed_appspec_is_reported(case: Case, bundle: Path) -> None:
    spec = bundle / "appspec.yml"
    spec.write_text(case.text)
    findings = validate_appspec(spec)
    assert any(_matches(f, case) for f in findings), "\n".join(map(str, findings))


def test_warning_cases_have_no_errors(bundle: Path) -> None:
    for case in (c for c in CASES if c.severity is WARNING):
        findings = validate_appspec(bundle / "appspec.yml", text=case.text)
        assert [f for f in findings if f.is_error] == [], case.id


def _load(bundle: Path, text: str) -> tuple[list[Finding], Path]:
    spec = bundle / "appspec.yml"
    spec.write_text(y(text))
    findings = validate_appspec(spec)
    assert [f for f in findings if f.is_error] == [], "\n".join(map(str, findings))
    return findings, spec


FULL = """
    version: 0.0
    os: linux
    files:
      - source: app
        destination: /srv/app
    file_exists_behavior: OVERWRITE
    permissions:
      - object: /srv/app
        pattern: "**"
        except: [secret.txt]
        owner: app
        group: app
        mode: 750
        type:
          - directory
    hooks:
      ValidateService:
        - location: scripts/start.sh
          timeout: 60
      ApplicationStop:
      ApplicationStart:
        - location: scripts/start.sh
          timeout: "300"
          runas: app
        - location: /scripts/stop.sh
          timeout: 120
    """


def test_valid_appspec_model(bundle: Path) -> None:
    findings, spec = _load(bundle, FULL)
    assert findings == []
    model = load_appspec(spec)
    assert (model.version, model.os) == ("0.0", AppspecOS.LINUX)
    assert model.file_exists_behavior is FileExistsBehavior.OVERWRITE
    assert [(f.source, f.destination) for f in model.files] == [("app", "/srv/app")]
    permission = model.permissions[0]
    assert (permission.mode, permission.except_) == ("750", ["secret.txt"])
    assert permission.type == [PermissionType.DIRECTORY]


def test_hooks_in_execution_order_with_blank_hook_skipped(bundle: Path) -> None:
    _, spec = _load(bundle, FULL)
    hooks = load_appspec(spec).hooks
    assert list(hooks) == [
        LifecycleEvent.APPLICATION_STOP,
        LifecycleEvent.APPLICATION_START,
        LifecycleEvent.VALIDATE_SERVICE,
    ]
    assert hooks[LifecycleEvent.APPLICATION_STOP] == []
    assert hooks[LifecycleEvent.APPLICATION_START] == [
        HookScript("scripts/start.sh", 300, "app"),
        HookScript("/scripts/stop.sh", 120, None),
    ]


def test_timeout_defaults_to_3600(bundle: Path) -> None:
    text = HEAD + "hooks:\n  AfterInstall:\n    - location: scripts/start.sh\n"
    scripts = load_appspec(bundle / "appspec.yml", text=text).hooks[LifecycleEvent.AFTER_INSTALL]
    assert scripts == [HookScript("scripts/start.sh", 3600, None)]


def test_defaults(bundle: Path) -> None:
    model = load_appspec(bundle / "appspec.yml", text="version: 0\nos: windows\n")
    assert model.os is AppspecOS.WINDOWS
    assert model.file_exists_behavior is FileExistsBehavior.DISALLOW
    assert (model.files, model.permissions, model.hooks) == ([], [], {})


def test_permission_defaults(bundle: Path) -> None:
    text = HEAD + "permissions:\n  - object: /srv/app\n    mode: 644\n"
    permission = load_appspec(bundle / "appspec.yml", text=text).permissions[0]
    assert (permission.pattern, permission.mode) == ("**", "644")
    assert permission.type == [PermissionType.FILE, PermissionType.DIRECTORY]


def test_lifecycle_events_know_which_take_scripts() -> None:
    reserved = [e for e in LifecycleEvent if not e.takes_scripts]
    assert reserved == [
        LifecycleEvent.BLOCK_TRAFFIC,
        LifecycleEvent.DOWNLOAD_BUNDLE,
        LifecycleEvent.INSTALL,
        LifecycleEvent.ALLOW_TRAFFIC,
    ]
    order = list(LifecycleEvent)
    assert order.index(LifecycleEvent.APPLICATION_STOP) < order.index(LifecycleEvent.INSTALL)
    assert order.index(LifecycleEvent.INSTALL) < order.index(LifecycleEvent.VALIDATE_SERVICE)


def test_load_balancer_hooks_are_accepted(bundle: Path) -> None:
    text = HEAD + "hooks:\n  BeforeAllowTraffic:\n    - location: scripts/start.sh\n"
    hooks = load_appspec(bundle / "appspec.yml", text=text).hooks
    assert LifecycleEvent.BEFORE_ALLOW_TRAFFIC in hooks


def test_check_paths_false_skips_script_checks(tmp_path: Path) -> None:
    text = HEAD + "hooks:\n  ApplicationStart:\n    - location: scripts/nope.sh\n"
    assert validate_appspec(tmp_path / "appspec.yml", text=text, check_paths=False) == []


def test_load_appspec_raises_spec_error_with_findings(bundle: Path) -> None:
    text = 'version: "0.0"\nos: linux\nhooks:\n  Bogus:\n'
    with pytest.raises(SpecError) as info:
        load_appspec("appspec.yml", text=text, check_paths=False)
    assert str(info.value).startswith("appspec.yml: 1 error (first: line 1: version: must be")
    assert [f.severity for f in info.value.findings] == [ERROR, WARNING]
