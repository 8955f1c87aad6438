"""The Install event: copies under the host root, the cleanup list, file_exists_behavior."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from opslib.emulator.codedeploy.install import HostPaths, Installer, remove_previous
from opslib.exceptions import ExecutionError
from opslib.specs import (
    Appspec,
    AppspecOS,
    FileExistsBehavior,
    FileMapping,
    Permission,
    PermissionType,
)

pytestmark = pytest.mark.unit


def _archive(tmp_path: Path) -> Path:
    archive = tmp_path / "archive"
    (archive / "app" / "src").mkdir(parents=True, exist_ok=True)
    (archive / "app" / "src" / "server.js").write_text("// server\n")
    (archive / "app" / "package.json").write_text("{}\n")
    (archive / "config.txt").write_text("x=1\n")
    return archive


def _spec(*files: FileMapping, permissions: list[Permission] | None = None) -> Appspec:
    return Appspec("0.0", AppspecOS.LINUX, list(files), permissions=permissions or [])


APP = FileMapping("app", "/opt/sample-app")


def _install(
    tmp_path: Path,
    appspec: Appspec,
    behavior: FileExistsBehavior = FileExistsBehavior.DISALLOW,
) -> tuple[Installer, Path, list[str]]:
    root = tmp_path / "root"
    root.mkdir(exist_ok=True)
    cleanup_file = tmp_path / "group-cleanup"
    remove_previous(cleanup_file, HostPaths(root))
    warnings: list[str] = []
    with open(cleanup_file, "w") as cleanup:
        installer = Installer(
            _archive(tmp_path), HostPaths(root), behavior, cleanup, warnings.append
        )
        installer.install(appspec)
    return installer, root, warnings


def test_a_directory_source_copies_its_contents_under_the_host_root(tmp_path: Path) -> None:
    installer, root, _ = _install(tmp_path, _spec(APP, FileMapping("config.txt", "/etc/app")))
    assert (root / "opt/sample-app/src/server.js").read_text() == "// server\n"
    assert (root / "etc/app/config.txt").is_file()
    assert sorted(installer.copied) == [
        "/etc/app/config.txt", "/opt/sample-app/package.json", "/opt/sample-app/src/server.js",
    ]  # fmt: skip
    assert "/opt" in installer.made  # missing ancestors are made (and cleaned up later)
    lines = (tmp_path / "group-cleanup").read_text().splitlines()
    assert set(installer.copied) | set(installer.made) == set(lines)


def test_the_next_install_removes_the_files_of_the_previous_one(tmp_path: Path) -> None:
    _install(tmp_path, _spec(APP, FileMapping("config.txt", "/etc/app")))
    _, root, _ = _install(tmp_path, _spec(APP))
    assert not (root / "etc").exists()  # files, then their now-empty directories
    assert (root / "opt/sample-app/src/server.js").is_file()


def test_a_foreign_file_in_a_deployed_directory_is_kept(tmp_path: Path) -> None:
    _, root, _ = _install(tmp_path, _spec(APP))
    (root / "opt/sample-app/src/local.log").write_text("mine\n")
    _install(tmp_path, _spec(FileMapping("config.txt", "/etc/app")))
    assert (root / "opt/sample-app/src/local.log").read_text() == "mine\n"
    assert not (root / "opt/sample-app/src/server.js").exists()


@pytest.mark.parametrize(
    ("behavior", "expected"),
    [(FileExistsBehavior.OVERWRITE, "// server\n"), (FileExistsBehavior.RETAIN, "theirs\n")],
)
def test_file_exists_behavior(tmp_path: Path, behavior: FileExistsBehavior, expected: str) -> None:
    existing = tmp_path / "root/opt/sample-app/src/server.js"
    existing.parent.mkdir(parents=True)
    existing.write_text("theirs\n")
    _install(tmp_path, _spec(APP), behavior)
    assert existing.read_text() == expected


def test_disallow_fails_on_a_file_not_deployed_before(tmp_path: Path) -> None:
    existing = tmp_path / "root/opt/sample-app/package.json"
    existing.parent.mkdir(parents=True)
    existing.write_text("{}\n")
    with pytest.raises(ExecutionError, match="already exists at this location: /opt/sample-app"):
        _install(tmp_path, _spec(APP))


def test_permissions_apply_to_what_the_install_made(tmp_path: Path) -> None:
    permissions = [
        Permission("/opt/sample-app", pattern="**", mode="640", type=[PermissionType.FILE]),
        Permission("/opt/sample-app", pattern="*.json", mode="600", type=[PermissionType.FILE]),
    ]
    _, root, _ = _install(tmp_path, _spec(APP, permissions=permissions))
    mode = stat.S_IMODE((root / "opt/sample-app/src/server.js").stat().st_mode)
    assert mode == 0o640
    assert stat.S_IMODE((root / "opt/sample-app/package.json").stat().st_mode) == 0o600


def test_paths_cannot_escape_the_host_root(tmp_path: Path) -> None:
    paths = HostPaths(tmp_path)
    assert paths.local("/opt/../etc/x") == tmp_path.resolve() / "etc/x"
    assert paths.local("/../../etc/passwd") == tmp_path.resolve() / "etc/passwd"  # as chroot


def test_an_unfinished_cleanup_line_is_ignored(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "a").mkdir(parents=True)
    (root / "a" / "f").write_text("x")
    cleanup = tmp_path / "c"
    cleanup.write_text("/a/f\n/a/partial-na")
    assert remove_previous(cleanup, HostPaths(root)) == 1
    assert not cleanup.exists()
