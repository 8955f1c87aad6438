"""opslib.runbooks.catalog reads parameters as papermill does, without loading papermill;
and ``opslib runbook list`` starts without boto3, moto, papermill or nbformat."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest

from opslib.cli.main import cli
from opslib.exceptions import ConfigError
from opslib.runbooks import catalog

REPO = Path(__file__).resolve().parents[2]
RUNBOOKS = sorted((REPO / "runbooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", RUNBOOKS, ids=lambda p: p.stem)
def test_every_runbooks_parameters_read_as_papermill_reads_them(path: Path) -> None:
    import papermill

    theirs = [
        (p["name"], str(p["inferred_type_name"]), str(p["default"]), str(p["help"]))
        for p in papermill.inspect_notebook(str(path), {}).values()
    ]
    ours = [(p.name, p.type_name, p.default, p.help) for p in catalog.read_runbook(path).parameters]
    assert ours == theirs


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('target: str = "local"  # where', [("target", "str", '"local"', "where")]),
        ("hours = 24  # unannotated", [("hours", "None", "24", "unannotated")]),
        ("ratio: float = 0.5", [("ratio", "float", "0.5", "")]),
        ("n: int = 3  # type: int  how many", [("n", "int", "3", "how many")]),
        ("names: list[str] = [\n  'a',\n  'b',\n]  # the names",
         [("names", "list[str]", "['a', 'b']", "the names")]),
        ("# a comment\n\nimport os\nx.y = 1\na, b = 1, 2\nc: int", []),
    ],
)  # fmt: skip
def test_parameters_of(source: str, expected: list[tuple[str, str, str, str]]) -> None:
    found = [(p.name, p.type_name, p.default, p.help) for p in catalog.parameters_of(source)]
    assert found == expected


def test_a_parameters_cell_that_is_not_python_is_named(tmp_path: Path) -> None:
    path = tmp_path / "bad.ipynb"
    cell = {"cell_type": "code", "metadata": {"tags": ["parameters"]}, "source": ["x = (\n"]}
    path.write_text(json.dumps({"cells": [cell], "nbformat": 4, "nbformat_minor": 5}))
    with pytest.raises(ConfigError, match=r"bad.ipynb: parameters cell: not Python"):
        catalog.read_runbook(path)


@pytest.mark.parametrize("text", ["not json", "[]", '{"cells": "no"}'])
def test_a_file_that_is_no_notebook_is_named(tmp_path: Path, text: str) -> None:
    path = tmp_path / "junk.ipynb"
    path.write_text(text)
    with pytest.raises(ConfigError, match=r"junk.ipynb: not a readable notebook"):
        catalog.read_runbook(path)


def test_runbook_list_loads_neither_aws_nor_jupyter_libraries() -> None:
    # what made 'opslib runbook list' take 7 s: papermill -> nbformat -> jsonschema's
    # grammars, and every command's imports (boto3, moto) before any command ran
    script = (
        "import sys\nfrom opslib.cli.main import cli\n"
        "cli.main(['runbook', 'list'], standalone_mode=False)\n"
        "heavy = ('boto3', 'botocore', 'moto', 'papermill', 'nbformat', 'jsonschema', 'pandas')\n"
        "print('LOADED', sorted(m for m in heavy if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=REPO, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "fleet-health: Fleet health" in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "LOADED []"


def test_every_command_is_still_reachable() -> None:
    from opslib.cli.main import LAZY_COMMANDS
    from opslib.cli.stack import STACK_COMMANDS

    context = click.Context(cli)
    names = cli.list_commands(context)
    for command in STACK_COMMANDS:  # a stack command added later must be listed too
        assert LAZY_COMMANDS.get(str(command.name)) == "opslib.cli.stack"
    assert set(names) == {"config", "lint", *LAZY_COMMANDS}
    for name in names:
        found = cli.get_command(context, name)
        assert found is not None and found.name == name


def test_a_lazy_command_its_module_does_not_define_is_a_clear_mistake() -> None:
    from opslib.cli import lazy

    with pytest.raises(LookupError, match="opslib.cli.run defines no command 'nope'"):
        lazy.load_command("nope", "opslib.cli.run")
