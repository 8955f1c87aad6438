"""environment.yml (conda) must carry the same dependency set as pyproject.toml."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
_CONDA_ONLY = {"python", "nodejs", "pip"}


def _normalize(requirement: str) -> tuple[str, str]:
    match = re.match(r"^\s*([A-Za-z0-9_.-]+)(\[[^\]]*\])?\s*(.*)$", requirement)
    assert match, requirement
    name = re.sub(r"[-_.]+", "-", match.group(1)).lower()
    return name, (match.group(2) or "") + match.group(3).replace(" ", "")


def _pyproject_requirements() -> dict[str, str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    requirements = project["dependencies"] + project["optional-dependencies"]["dev"]
    return dict(_normalize(r) for r in requirements)


def _conda_requirements() -> dict[str, str]:
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    found: dict[str, str] = {}
    for dep in env["dependencies"]:
        for item in dep["pip"] if isinstance(dep, dict) else [dep]:
            name, spec = _normalize(item)
            if name not in _CONDA_ONLY:
                found[name] = spec
    return found


def test_environment_yml_matches_pyproject() -> None:
    assert _conda_requirements() == _pyproject_requirements()


def test_environment_yml_pins_python_and_node() -> None:
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    plain = [d for d in env["dependencies"] if isinstance(d, str)]
    assert "python=3.11" in plain
    assert "nodejs=20" in plain


def test_normalize_ignores_case_and_separators() -> None:
    assert _normalize("Types_PyYAML >= 6.0") == ("types-pyyaml", ">=6.0")
    assert _normalize("moto[server]==5.2.5") == ("moto", "[server]==5.2.5")
