from __future__ import annotations

from pathlib import Path

import pytest

from opslib.config import StackConfig, load_config, override, parse_config
from opslib.exceptions import ConfigError


def test_no_file_means_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OPSLIB_CONFIG", raising=False)
    config = load_config()
    assert config == StackConfig()
    assert config.target == "local"
    assert config.deploy.config == "CodeDeployDefault.OneAtATime"


def test_file_values_override_defaults(tmp_path: Path) -> None:
    path = tmp_path / "opslib.yml"
    path.write_text("stack: shop-prod\nfleet:\n  size: 5\nnetwork:\n  ingress_ports: [443]\n")
    config = load_config(path)
    assert config.stack == "shop-prod"
    assert config.fleet.size == 5
    assert config.fleet.instance_type == "t2.micro"
    assert config.network.ingress_ports == (443,)
    assert config.source_file == str(path.resolve())


def test_state_dir_is_relative_to_the_config_file(tmp_path: Path) -> None:
    path = tmp_path / "opslib.yml"
    path.write_text("emulator:\n  state_dir: state\n")
    assert load_config(path).state_dir() == tmp_path / "state"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"fleet": {"size": "three"}}, "fleet.size: expected an integer from 1 to 100, got 'thr"),
        ({"fleet": {"size": 0}}, "fleet.size: expected an integer from 1 to 100"),
        ({"fleet": {"size": True}}, "fleet.size: expected an integer"),
        ({"target": "gcp"}, "target: expected one of local, aws, got 'gcp'"),
        ({"region": "mars-1"}, "region: expected an AWS region"),
        ({"stack": "Shop_Prod"}, "stack: expected 3-32 lowercase"),
        ({"fleet": {"sise": 2}}, "fleet.sise: unknown key (did you mean 'size'?)"),
        ({"colour": "red"}, "colour: unknown key; known keys: stack, target"),
        ({"fleet": 3}, "fleet: expected a mapping, got 3"),
        ({"network": {"ssh_cidr": "0.0.0.0/0"}}, "network.ssh_cidr: SSH may not be opened"),
        ({"network": {"ssh_cidr": "10.0.0.1"}}, "network.ssh_cidr: expected an IPv4 CIDR"),
        ({"network": {"ingress_ports": [80, 70000]}}, "network.ingress_ports: expected a list"),
        ({"deploy": {"config": "Fast"}}, "deploy.config: expected one of CodeDeployDefault"),
        ({"deploy": {"approval": "yes"}}, "deploy.approval: expected true or false"),
        ({"objectives": {"success_rate": 1.5}}, "objectives.success_rate: expected a number"),
        ({"emulator": {"port": -1}}, "emulator.port: expected an integer from 0 to 65535"),
        (["a"], "expected a mapping of settings at the top level"),
    ],
)
def test_invalid_values_name_file_and_key(data: object, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(data, "opslib.yml")
    assert str(err.value).startswith("opslib.yml: ")
    assert message in str(err.value)


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "opslib.yml"
    path.write_text("stack: a\nfleet: [1,\n")
    with pytest.raises(ConfigError, match=r"opslib.yml: line \d+: not valid YAML"):
        load_config(path)


def test_missing_explicit_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the config file"):
        load_config(tmp_path / "nope.yml")


def test_override_validates_flags() -> None:
    assert override(StackConfig(), target="aws", region=None).target == "aws"
    with pytest.raises(ConfigError, match="command line: region"):
        override(StackConfig(), region="nowhere")
