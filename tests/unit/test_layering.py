"""The house's layering (docs/architecture.md): no import circles, every room imports downward.

Imports are read with ``ast`` from every module under ``opslib/`` — at module level, inside
functions and under ``if TYPE_CHECKING:`` alike, because a type-only arrow is still an arrow
(a circle through TYPE_CHECKING is still a circle). Implicit parent-package imports are not
arrows: importing ``opslib.emulator.core.store`` runs ``opslib/emulator/__init__.py``, but
that is Python's doing, not a dependency the module chose.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
PACKAGE = "opslib"

# What each room of opslib/ may import besides itself (dotted prefixes under opslib.).
# A room is a top-level module or package of opslib/. A new room needs a row here and a
# paragraph in docs/architecture.md.
_STORIES = frozenset(  # make demo and the setup walkthrough: above ops, below the CLI
    {"config", "exceptions", "log", "params", "target", "specs", "stack", "ops", "runbooks"}
)
ROOMS: dict[str, frozenset[str]] = {
    "opslib": frozenset(),  # the package's __init__: the version only
    "log": frozenset(),
    # SpecError carries the findings; findings.py imports nothing (checked below).
    "exceptions": frozenset({"specs.findings"}),
    "inputfiles": frozenset(),  # bounded reading of a user's YAML file: imports nothing
    "schedexpr": frozenset(),  # Scheduler's expressions: syntax and next fires, imports nothing
    "render": frozenset(),  # the one look of every report: a leaf every room that shows may use
    "config": frozenset({"exceptions", "inputfiles", "schedexpr"}),
    "params": frozenset({"config", "exceptions"}),
    # the local target starts the emulator on demand: its public API only
    "target": frozenset({"config", "exceptions", "emulator"}),
    "specs": frozenset({"exceptions", "inputfiles"}),
    "emulator": frozenset({"opslib", "config", "exceptions", "specs"}),
    "stack": frozenset({"config", "exceptions", "target", "specs"}),
    "runbooks": frozenset({"config", "exceptions", "params", "target", "render"}),
    "ops": frozenset(
        {"config", "exceptions", "params", "target", "specs", "stack", "runbooks", "schedexpr"}
        | {"render"}
    ),
    # drills: Chaos Toolkit providers over the operator's verbs (what ops imports, and ops);
    # region-failure's outage is the emulator's fault switch: its public API only
    "drills": frozenset(
        {"config", "exceptions", "params", "target", "specs", "stack", "runbooks", "ops"}
        | {"render", "emulator"}
    ),
    # the stack's history as frames: reads through target's session, names from stack
    "telemetry": frozenset({"config", "exceptions", "target", "stack"}),
    # pure computations over the frames (no session): the frames' schema only
    "reports": frozenset({"config", "exceptions", "telemetry.schema", "render"}),
    "demo": _STORIES | {"cli.progress"},  # a terminal entry point: renders progress as the CLI
    "walkthrough": _STORIES,
    "cli": frozenset(
        {
            *("opslib", "config", "exceptions", "log", "params", "target"),
            *("specs", "stack", "ops", "runbooks", "emulator"),
        }
    ),
}

# Inside opslib/emulator/: what each room may import besides itself. ``core`` is the floor
# every service stands on; services talk to each other through the AWS API (Runtime's
# clients), never by import — except CodeDeploy's agent, which lives on EC2's hosts. A
# service package without a row may import core only.
EMULATOR_ROOMS: dict[str, frozenset[str]] = {
    "__init__": frozenset({"core"}),  # opslib.emulator: the public API, from core.lifecycle
    "core": frozenset(),
    "ec2": frozenset({"core"}),
    "codebuild": frozenset({"core"}),
    "codedeploy": frozenset({"core", "ec2"}),
    "codepipeline": frozenset({"core"}),
    "fis": frozenset({"core"}),  # its effects go through the API; faults through core's switch
    "scheduler": frozenset({"core"}),  # fires schedules into the other services via the API
    "server": frozenset({"*"}),  # the process: composes every service
    # simulate-history writes what each service would have recorded, in its own words and
    # stores (AWS has no backfill, so there is no API to write it through)
    "history": frozenset({"core", "codebuild", "codedeploy", "codepipeline", "cloudwatch"}),
}
EMULATOR_DEFAULT = frozenset({"core"})


@dataclass(frozen=True)
class Arrow:
    """One import: from a module to a module, with where it is written."""

    source: str
    target: str
    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.source} imports {self.target}"


def modules(root: Path, package: str) -> dict[str, Path]:
    """Every module of a package by dotted name (a package by its ``__init__``)."""
    found: dict[str, Path] = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _resolve(name: str, known: Mapping[str, Path]) -> str | None:
    """The innermost known module a dotted name lies in, or None outside the package."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def _base(module: str, path: Path, node: ast.ImportFrom) -> str:
    """The absolute module a ``from ... import`` reads from (relative imports resolved)."""
    if not node.level:
        return node.module or ""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for _ in range(node.level - 1):
        package = package.rpartition(".")[0]
    return f"{package}.{node.module}" if node.module else package


def imported(
    tree: ast.AST, module: str, path: Path, known: Mapping[str, Path]
) -> Iterator[tuple[str, int]]:
    """(target module, line) for every import in a tree that names a known module."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _base(module, path, node)
            # ``from pkg import sub`` imports the submodule; ``from pkg import Name``, pkg
            names = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                for alias in node.names
            ]
        else:
            continue
        for name in names:
            target = _resolve(name, known)
            if target:
                yield target, node.lineno


def arrows(root: Path, package: str) -> list[Arrow]:
    """Every import between modules of the package."""
    known = modules(root, package)
    out: list[Arrow] = []
    for module, path in known.items():
        tree = ast.parse(path.read_text(), str(path))
        rel = str(path.relative_to(root))
        for target, line in sorted(set(imported(tree, module, path, known))):
            if target != module:
                out.append(Arrow(module, target, rel, line))
    return out


def circles(edges: list[Arrow]) -> list[list[str]]:
    """Each import circle once, as the modules around it (Tarjan's strongly connected sets)."""
    graph: dict[str, set[str]] = {}
    for arrow in edges:
        graph.setdefault(arrow.source, set()).add(arrow.target)
        graph.setdefault(arrow.target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def room(module: str) -> str:
    """``opslib.stack.model`` -> ``stack``; ``opslib`` -> ``opslib``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def emulator_room(module: str) -> str:
    """``opslib.emulator.codebuild.run`` -> ``codebuild``; ``opslib.emulator`` -> ``__init__``."""
    parts = module.split(".")
    return parts[2] if len(parts) > 2 else "__init__"


def _allowed(target: str, prefixes: frozenset[str]) -> bool:
    name = target.removeprefix(f"{PACKAGE}.") if target != PACKAGE else PACKAGE
    return any(name == p or name.startswith(f"{p}.") for p in prefixes)


def room_breaks(edges: list[Arrow]) -> list[str]:
    """Imports across rooms of opslib/ that the ROOMS table does not allow."""
    out = []
    for arrow in edges:
        source, target = room(arrow.source), room(arrow.target)
        if source not in ROOMS:
            out.append(f"{arrow.file}: room '{source}' has no row in ROOMS (what may it import?)")
        elif source != target and not _allowed(arrow.target, ROOMS[source]):
            out.append(f"{arrow} — '{source}' may import only {sorted(ROOMS[source])}")
    return sorted(set(out))


def emulator_breaks(edges: list[Arrow]) -> list[str]:
    """Imports between the emulator's rooms that EMULATOR_ROOMS does not allow."""
    out = []
    for arrow in edges:
        if room(arrow.source) != "emulator" or room(arrow.target) != "emulator":
            continue
        source, target = emulator_room(arrow.source), emulator_room(arrow.target)
        allowed = EMULATOR_ROOMS.get(source, EMULATOR_DEFAULT)
        if source != target and "*" not in allowed and target not in allowed:
            out.append(f"{arrow} — emulator/{source} may import only {sorted(allowed)}")
    return out


def internal_uses(edges: list[Arrow]) -> list[str]:
    """Imports of ``opslib.emulator.<internal>`` from outside ``opslib/emulator/``."""
    return [
        str(a)
        for a in edges
        if room(a.source) != "emulator" and a.target.startswith(f"{PACKAGE}.emulator.")
    ]


def _notebook_code(path: Path) -> str:
    cells = json.loads(path.read_text())["cells"]
    lines = [
        line
        for cell in cells
        if cell["cell_type"] == "code"
        for line in "".join(cell["source"]).splitlines()
        if not line.lstrip().startswith(("%", "!"))  # IPython magics are not Python
    ]
    return "\n".join(lines)


# Pure cores (standard library only, no server): a bench script may measure them in-process.
BENCHED_PURE_CORES = tuple(
    f"{PACKAGE}.emulator.cloudwatch.{name}"
    for name in (
        *("patterns", "insights"),  # Logs
        *("statistics", "timeseries", "metricmath", "mathfunctions", "metricdata"),  # metrics
        *("metricerrors", "alarms", "composite", "notifications"),  # alarms
        "tokens",  # the parsers' token cursor (metric math, alarm rules)
    )
)


def client_internal_uses(repo: Path) -> list[str]:
    """The same rule for the clients beside the library: bench scripts and notebooks."""
    known = modules(repo, PACKAGE)
    sources = [(p, p.read_text()) for p in sorted((repo / "bench").glob("*.py"))]
    for folder in ("runbooks", "notebooks"):
        sources += [(p, _notebook_code(p)) for p in sorted((repo / folder).glob("*.ipynb"))]
    out = []
    for path, code in sources:
        tree = ast.parse(code, str(path))
        for target, line in imported(tree, "__client__", path, known):
            benched = path.parent.name == "bench" and target.startswith(BENCHED_PURE_CORES)
            if target.startswith(f"{PACKAGE}.emulator.") and not benched:
                out.append(f"{path.relative_to(repo)}:{line}: imports {target}")
    return out


# -- the house ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def house() -> list[Arrow]:
    return arrows(REPO, PACKAGE)


def test_benched_pure_cores_import_only_the_standard_library(house: list[Arrow]) -> None:
    outside = [
        str(a) for a in house
        if a.source.startswith(BENCHED_PURE_CORES) and not a.target.startswith(BENCHED_PURE_CORES)
    ]  # fmt: skip
    assert outside == []


def test_no_import_circles(house: list[Arrow]) -> None:
    assert circles(house) == []


def test_rooms_import_only_downward(house: list[Arrow]) -> None:
    assert room_breaks(house) == []


def test_emulator_services_stand_on_core_only(house: list[Arrow]) -> None:
    assert emulator_breaks(house) == []


def test_nothing_outside_the_emulator_imports_its_internals(house: list[Arrow]) -> None:
    assert internal_uses(house) == []
    assert client_internal_uses(REPO) == []


def test_findings_stand_alone(house: list[Arrow]) -> None:
    """exceptions may reach up into specs.findings only because findings imports nothing."""
    assert [a for a in house if a.source == f"{PACKAGE}.specs.findings"] == []


def test_every_room_is_in_the_table(house: list[Arrow]) -> None:
    present = {room(m) for m in modules(REPO, PACKAGE)}
    assert present - set(ROOMS) == set()


def test_the_tables_themselves_have_no_circle() -> None:
    """Floors, not a web: the allowed arrows between rooms form no circle either.

    The one exception is exceptions -> specs.findings (a leaf, see test_findings_stand_alone)
    against specs -> exceptions; it is left out here.
    """
    top = [
        Arrow(source, target.split(".")[0], "ROOMS", 0)
        for source, targets in ROOMS.items()
        for target in targets
        if (source, target) != ("exceptions", "specs.findings")
    ]
    inner = [
        Arrow(source, target, "EMULATOR_ROOMS", 0)
        for source, targets in EMULATOR_ROOMS.items()
        for target in targets
        if target != "*"
    ]
    assert circles(top) == []
    assert circles(inner) == []


# -- the checker itself, on a package made for it ---------------------------------------------
def _write(root: Path, files: Mapping[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_a_circle_through_type_checking_is_found(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "from pkg.b import B\n",
            "pkg/b.py": (
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n"
                "    from pkg.a import A\n"
                "B = 1\n"
            ),
            "pkg/c.py": "from pkg import a\n",
        },
    )
    assert circles(arrows(tmp_path, "pkg")) == [["pkg.a", "pkg.b"]]


def test_imports_inside_functions_and_relative_ones_are_arrows(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/sub/__init__.py": "",
            "pkg/sub/x.py": "def f():\n    from . import y\n    from ..z import Z\n",
            "pkg/sub/y.py": "",
            "pkg/z.py": "import pkg.sub.x\nZ = 1\n",
        },
    )
    found = {(a.source, a.target) for a in arrows(tmp_path, "pkg")}
    assert found == {("pkg.sub.x", "pkg.sub.y"), ("pkg.sub.x", "pkg.z"), ("pkg.z", "pkg.sub.x")}
    assert circles(arrows(tmp_path, "pkg")) == [["pkg.sub.x", "pkg.z"]]


def test_a_name_from_a_package_points_at_the_package(tmp_path: Path) -> None:
    _write(tmp_path, {"pkg/__init__.py": "N = 1\n", "pkg/m.py": "from pkg import N\n"})
    assert [(a.source, a.target) for a in arrows(tmp_path, "pkg")] == [("pkg.m", "pkg")]


@pytest.mark.parametrize(
    ("source", "target", "broken"),
    [
        ("opslib.emulator.codebuild.run", "opslib.emulator.core.store", False),
        ("opslib.emulator.codedeploy.agent", "opslib.emulator.ec2.hosts", False),
        ("opslib.emulator.codedeploy.agent", "opslib.emulator.codebuild.artifacts", True),
        ("opslib.emulator.core.runtime", "opslib.emulator.ec2.hosts", True),
        ("opslib.emulator.cloudwatch.alarms", "opslib.emulator.codebuild.run", True),
        ("opslib.emulator.server", "opslib.emulator.codepipeline.service", False),
    ],
)
def test_emulator_rooms_table(source: str, target: str, broken: bool) -> None:
    assert bool(emulator_breaks([Arrow(source, target, "f.py", 1)])) is broken


@pytest.mark.parametrize(
    ("source", "target", "broken"),
    [
        ("opslib.specs.lint", "opslib.stack.model", True),
        ("opslib.emulator.core.gateway", "opslib.ops.fleet", True),
        ("opslib.emulator.codebuild.run", "opslib.target", True),
        ("opslib.stack.engine", "opslib.emulator", True),
        ("opslib.ops.fleet", "opslib.stack.tags", False),
        ("opslib.exceptions", "opslib.specs.findings", False),
        ("opslib.exceptions", "opslib.specs.loading", True),
        ("opslib.cli.emulator", "opslib.emulator", False),
        ("opslib.newroom", "opslib.config", True),
    ],
)
def test_rooms_table(source: str, target: str, broken: bool) -> None:
    assert bool(room_breaks([Arrow(source, target, "f.py", 1)])) is broken


def test_internal_use_from_outside_is_caught() -> None:
    edges = [
        Arrow("opslib.cli.emulator", "opslib.emulator", "a.py", 1),
        Arrow("opslib.cli.emulator", "opslib.emulator.core.lifecycle", "a.py", 2),
        Arrow("opslib.emulator.server", "opslib.emulator.core.lifecycle", "b.py", 3),
    ]
    assert internal_uses(edges) == [
        "a.py:2: opslib.cli.emulator imports opslib.emulator.core.lifecycle"
    ]
