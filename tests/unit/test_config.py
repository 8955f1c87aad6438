from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from opslib.config import (
    StackConfig,
    check_local_source,
    check_state_dir,
    load_config,
    override,
    parse_config,
)
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


# --- values AWS or the OS would refuse (issue 11, item 12) ----------------------------------

REFUSED = {
    "cidr-leading-zero": ("network:\n  ssh_cidr: 0.0.0.00/0\n", "network.ssh_cidr: expected an"),
    "cidr-octets-and-prefix": (
        "network:\n  ssh_cidr: 999.999.999.999/99\n",
        "network.ssh_cidr: expected an IPv4 CIDR such as 203.0.113.7/32 (octets 0-255",
    ),
    "ingress-cidr-300": ("network:\n  ingress_cidr: 300.1.1.1/33\n", "ingress_cidr: expected an"),
    "cidr-host-bits": ("network:\n  ingress_cidr: 10.0.0.5/24\n", "write 10.0.0.0/24"),
    "unknown-region": ("region: xx-nowhere-9\n", "region: expected an AWS region that botocore"),
    "region-typo": ("region: eu-wset-1\n", "(did you mean 'eu-west-1'?)"),
    "retention-15": ("log_retention_days: 15\n", "log_retention_days: expected a number of days"),
    "retention-0": ("log_retention_days: 0\n", "CloudWatch Logs accepts: 1, 3, 5, 7, 14, 30"),
    "instance-type": ("fleet:\n  instance_type: t2.nonexistent\n", "fleet.instance_type: expected"),
    "instance-type-typo": ("fleet:\n  instance_type: t3.micr\n", "(did you mean 't3.micro'?)"),
    "section-twice": (
        "fleet:\n  size: 2\nstack: shop\nfleet:\n  size: 5\n",
        "fleet: key given twice (lines 1 and 4)",
    ),
    "key-twice-in-section": (
        "fleet:\n  size: 2\n  size: 5\n",
        "fleet.size: key given twice (lines 2 and 3)",
    ),
    "deep": ("stack: a\nx: " + "[" * 3000 + "]" * 3000 + "\n", "nested deeper than 64 levels"),
    "larger-than-1-MiB": ("#" + "x" * (1 << 20) + "\n", "is larger than 1 MiB"),
    "huge-value-shown-short": ("stack: " + "a" * 5000 + "\n", "... (5002 characters)"),
}  # fmt: skip


@pytest.mark.parametrize(("text", "message"), REFUSED.values(), ids=REFUSED.keys())
def test_values_aws_refuses_are_one_line_errors(text: str, message: str, tmp_path: Path) -> None:
    path = tmp_path / "opslib.yml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value).startswith(f"{path}: ")
    assert message in str(err.value)
    assert "\n" not in str(err.value) and len(str(err.value)) < 400


ACCEPTED = {
    "china-region": "region: cn-north-1\n",
    "govcloud-region": "region: us-gov-west-1\n",
    "newer-instance-type": "fleet:\n  instance_type: m7g.large\n",
    "longest-retention": "log_retention_days: 3653\n",
    "private-ingress": "network:\n  ingress_cidr: 10.0.0.0/8\n  ssh_cidr: 203.0.113.7/32\n",
    "same-key-in-two-sections": "fleet: {size: 2}\nobjectives: {rto_minutes: 2}\n",
}


@pytest.mark.parametrize("text", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_values_aws_accepts_load(text: str, tmp_path: Path) -> None:
    path = tmp_path / "opslib.yml"
    path.write_text(text)
    load_config(path)


def test_binary_config_is_a_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "opslib.yml"
    path.write_bytes(b"stack: a\n\xff\xfe\x00garbage")
    with pytest.raises(ConfigError, match=r"opslib.yml: not a YAML text file \(not UTF-8"):
        load_config(path)


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n"])
def test_an_empty_config_file_means_every_default(text: str, tmp_path: Path) -> None:
    path = tmp_path / "opslib.yml"
    path.write_text(text)
    config = load_config(path)
    assert config == StackConfig(source_file=str(path.resolve()))


def test_dev_null_means_every_default_with_paths_from_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_config(os.devnull)
    assert config == StackConfig()
    assert config.state_dir() == tmp_path / ".opslib" / "emulator"


# --- what depends on this machine -------------------------------------------------------------


def _config(tmp_path: Path, text: str) -> StackConfig:
    path = tmp_path / "opslib.yml"
    path.write_text(text)
    return load_config(path)


@pytest.mark.parametrize(
    ("state_dir", "message"),
    [
        ("afile", "emulator.state_dir: {tmp}/afile is a file; name a directory"),
        ("afile/sub", "{tmp}/afile/sub cannot be created: {tmp}/afile is a file"),
    ],
)
def test_state_dir_that_is_a_file_is_a_config_error(
    state_dir: str, message: str, tmp_path: Path
) -> None:
    (tmp_path / "afile").write_text("x")
    config = _config(tmp_path, f"emulator:\n  state_dir: {state_dir}\n")
    with pytest.raises(ConfigError) as err:
        check_state_dir(config)
    assert message.format(tmp=tmp_path) in str(err.value)


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_state_dir_in_an_unwritable_place_is_a_config_error(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    config = _config(tmp_path, "emulator:\n  state_dir: locked/state\n")
    with pytest.raises(ConfigError, match="cannot be created in .*locked"):
        check_state_dir(config)


def test_state_dir_that_can_be_created_is_fine(tmp_path: Path) -> None:
    config = _config(tmp_path, "emulator:\n  state_dir: new/state\n")
    assert check_state_dir(config) == tmp_path / "new" / "state"
    assert not (tmp_path / "new").exists()  # checking creates nothing


def _git_repo(path: Path) -> Path:
    path.mkdir()
    for args in (["init", "-q", "-b", "main"], ["commit", "-q", "--allow-empty", "-m", "init"]):
        subprocess.run(
            ["git", "-C", str(path), "-c", "user.name=t", "-c", "user.email=t@e", *args],
            check=True,
        )
    return path


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{repository: nowhere}", "source.repository: {tmp}/nowhere does not exist"),
        ("{repository: plain}", "source.repository: {tmp}/plain is not a git repository"),
        ("{repository: repo, branch: nope}", "source.branch: no branch 'nope' in {tmp}/repo"),
    ],
)
def test_local_source_must_exist(source: str, message: str, tmp_path: Path) -> None:
    _git_repo(tmp_path / "repo")
    (tmp_path / "plain").mkdir()
    config = _config(tmp_path, f"source: {source}\n")
    with pytest.raises(ConfigError) as err:
        check_local_source(config)
    assert message.format(tmp=tmp_path) in str(err.value)
    assert "(branches: main)" in str(err.value) or "branch" not in message


def test_local_source_that_exists_is_fine_and_aws_is_not_checked(tmp_path: Path) -> None:
    _git_repo(tmp_path / "repo")
    check_local_source(_config(tmp_path, "source: {repository: repo, branch: main}\n"))
    check_local_source(_config(tmp_path, "target: aws\nsource: {repository: nowhere}\n"))
