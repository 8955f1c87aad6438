"""Artifacts are selected, named and zipped the way CodeBuild does it."""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path

import pytest

from opslib.emulator.codebuild.artifacts import collect, glob_regex
from opslib.emulator.core.zips import extract_zip, write_zip
from opslib.exceptions import ExecutionError
from opslib.specs import Artifacts

pytestmark = pytest.mark.unit

TREE = [
    "appspec.yml",
    "package.json",
    "src/app.js",
    "src/lib/util.js",
    "scripts/start.sh",
    "dist/index.js",
    "dist/maps/index.js.map",
    "node_modules/dep/index.js",
]


@pytest.fixture
def source(tmp_path: Path) -> Path:
    root = tmp_path / "src-dir"
    for rel in TREE:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(rel)
    return root


def names(source: Path, **spec: object) -> list[str]:
    return [name for _, name in collect(source, Artifacts(**spec))]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("**/*", "a/b/c.txt", True),
        ("**/*", "top.txt", True),
        ("src/**/*", "src/lib/util.js", True),
        ("src/**/*", "srcx/a.js", False),
        ("*.js", "src/app.js", False),
        ("src/*.js", "src/app.js", True),
        ("./appspec.yml", "appspec.yml", True),
        ("dist/**/*.map", "dist/maps/index.js.map", True),
        ("file?.[ch]", "file1.c", True),
        ("file[!0-9].c", "file1.c", False),
    ],
)
def test_glob_semantics(pattern: str, path: str, matches: bool) -> None:
    assert bool(glob_regex(pattern).match(path)) is matches


def test_all_files_keep_their_relative_paths(source: Path) -> None:
    assert names(source, files=["**/*"]) == sorted(TREE)


def test_plain_names_and_directory_globs(source: Path) -> None:
    assert names(source, files=["appspec.yml", "scripts/**/*"]) == [
        "appspec.yml",
        "scripts/start.sh",
    ]


def test_discard_paths_keeps_only_basenames(source: Path) -> None:
    assert names(source, files=["src/**/*"], discard_paths=True) == ["app.js", "util.js"]


def test_exclude_paths_drop_matches(source: Path) -> None:
    got = names(source, files=["**/*"], exclude_paths=["node_modules/**/*", "**/*.map"])
    assert "node_modules/dep/index.js" not in got and "dist/maps/index.js.map" not in got
    assert "dist/index.js" in got


def test_base_directory_roots_the_globs_and_the_names(source: Path) -> None:
    assert names(source, files=["**/*"], base_directory="dist") == ["index.js", "maps/index.js.map"]


@pytest.mark.parametrize(
    "spec",
    [
        {"files": ["build/**/*"]},
        {"files": ["**/*"], "base_directory": "missing"},
        {"files": ["**/*"], "exclude_paths": ["**/*"]},
    ],
)
def test_nothing_matching_is_codebuilds_client_error(source: Path, spec: dict[str, object]) -> None:
    with pytest.raises(ExecutionError, match="^no matching artifact paths found"):
        names(source, **spec)


def test_modes_survive_write_and_extract(source: Path, tmp_path: Path) -> None:
    (source / "scripts/start.sh").chmod(0o755)
    (source / "appspec.yml").chmod(0o640)
    archive = tmp_path / "out" / "bundle.zip"
    size = write_zip(collect(source, Artifacts(files=["**/*"])), archive)
    assert size == archive.stat().st_size > 0
    extract_zip(archive, tmp_path / "unzipped")
    assert stat.S_IMODE((tmp_path / "unzipped/scripts/start.sh").stat().st_mode) == 0o755
    assert stat.S_IMODE((tmp_path / "unzipped/appspec.yml").stat().st_mode) == 0o640
    assert (tmp_path / "unzipped/src/lib/util.js").read_text() == "src/lib/util.js"


@pytest.mark.parametrize("name", ["../evil.sh", "a/../../evil.sh", "/etc/evil", "C:/evil"])
def test_extract_refuses_paths_outside_the_destination(tmp_path: Path, name: str) -> None:
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(name, "boom")
    with pytest.raises(ExecutionError, match="outside"):
        extract_zip(archive, tmp_path / "dest")
    assert not (tmp_path / "evil.sh").exists()


def test_extract_refuses_a_symlink_pointing_outside(tmp_path: Path) -> None:
    archive = tmp_path / "link.zip"
    info = zipfile.ZipInfo("link")
    info.create_system = 3
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(info, "../../etc/passwd")
    with pytest.raises(ExecutionError, match="points outside"):
        extract_zip(archive, tmp_path / "dest")


def test_extract_of_a_non_zip_names_the_file(tmp_path: Path) -> None:
    bogus = tmp_path / "source.zip"
    bogus.write_text("not a zip")
    with pytest.raises(ExecutionError, match="source.zip is not a valid zip"):
        extract_zip(bogus, tmp_path / "dest")
