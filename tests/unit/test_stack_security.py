"""Security as tests: every IAM document lints clean, no wildcards beyond what AWS forces,
TLS-only bucket, SSH never open to the internet."""

from __future__ import annotations

import json
from typing import Any

import pytest
from parliament import analyze_policy_string

from opslib.config import parse_config
from opslib.exceptions import ConfigError
from opslib.stack import policies
from opslib.stack.network import SSH_PORT, ingress_rules
from tests.unit.stack_fixtures import make_context

# A trust policy has no Resource by definition; parliament only knows identity policies.
_TRUST_POLICY_FINDING = "Statement contains neither Resource nor NotResource"


def _permission_documents() -> dict[str, dict[str, Any]]:
    ctx = make_context(deploy={"approval": True}, network={"ssh_cidr": "203.0.113.7/32"})
    documents = {f"role {s}": build(ctx) for s, build in policies.ROLE_POLICIES.items()}
    documents["bucket policy"] = policies.bucket_policy(ctx)
    documents["logs resource policy"] = policies.events_to_logs_policy(ctx)
    return documents


PERMISSIONS = _permission_documents()
TRUSTS = {s: policies.trust(s) for s in policies.ROLE_POLICIES}


def _findings(document: dict[str, Any]) -> list[str]:
    policy = analyze_policy_string(json.dumps(document), include_community_auditors=True)
    return [f"{f.issue}: {f.detail}" for f in policy.findings]


def _statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    statements = document["Statement"]
    return statements if isinstance(statements, list) else [statements]


def _as_list(value: Any) -> list[str]:
    return value if isinstance(value, list) else [value]


@pytest.mark.parametrize("name", sorted(PERMISSIONS))
def test_policy_passes_parliament_without_findings(name: str) -> None:
    assert _findings(PERMISSIONS[name]) == []


@pytest.mark.parametrize("service", sorted(TRUSTS))
def test_trust_policy_passes_parliament_and_names_one_principal_per_statement(
    service: str,
) -> None:
    findings = [f for f in _findings(TRUSTS[service]) if _TRUST_POLICY_FINDING not in f]
    assert findings == []
    for statement in _statements(TRUSTS[service]):
        assert statement["Action"] == "sts:AssumeRole"
        assert statement["Principal"] == {"Service": f"{service}.amazonaws.com"}


@pytest.mark.parametrize("name", sorted(PERMISSIONS))
def test_no_action_wildcard(name: str) -> None:
    for statement in _statements(PERMISSIONS[name]):
        for action in _as_list(statement.get("Action", [])):
            assert action != "*" and not action.endswith(":*") or statement["Effect"] == "Deny"


@pytest.mark.parametrize("name", sorted(PERMISSIONS))
def test_resource_wildcard_only_for_actions_that_accept_nothing_narrower(name: str) -> None:
    for statement in _statements(PERMISSIONS[name]):
        if "*" in _as_list(statement.get("Resource", [])):
            unexplained = set(_as_list(statement["Action"])) - set(policies.WILDCARD_ACTIONS)
            assert unexplained == set(), f"{name} {statement.get('Sid')}: {unexplained}"


# Resources outside the stack's names, and why they are still narrow.
_SHARED = (
    ":deploymentconfig:CodeDeployDefault.",  # the one named AWS-owned deployment config
    ":instance/*",  # SSM registration: the instance's own ARN is unknown before launch
    ":connection/",  # the stack's connection; AWS picks the id
    ":parameter/AmazonCloudWatch-linux",  # the agent config the stack writes (fixed name)
)


def test_every_allowed_resource_is_scoped_to_this_stack_or_is_a_documented_wildcard() -> None:
    for name, document in PERMISSIONS.items():
        if not name.startswith("role"):
            continue
        for statement in _statements(document):
            for resource in _as_list(statement["Resource"]):
                scoped = "demo" in resource or any(s in resource for s in _SHARED)
                assert resource == "*" or scoped, (name, resource)


def test_bucket_policy_denies_every_request_without_tls() -> None:
    (statement,) = _statements(PERMISSIONS["bucket policy"])
    assert statement["Effect"] == "Deny"
    assert statement["Principal"] == "*"
    assert statement["Action"] == "s3:*"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    bucket = make_context().bucket_arn
    assert statement["Resource"] == [bucket, f"{bucket}/*"]


@pytest.mark.parametrize(
    "network",
    [
        {},
        {"ssh_cidr": "203.0.113.7/32"},
        {"ingress_ports": [22, 80], "ingress_cidr": "10.0.0.0/8"},
    ],
)
def test_port_22_is_never_open_to_the_internet(network: dict[str, Any]) -> None:
    for rule in ingress_rules(make_context(network=network)):
        assert not (rule.startswith(f"tcp/{SSH_PORT} ") and rule.endswith("0.0.0.0/0")), rule


@pytest.mark.parametrize("cidr", ["0.0.0.0/0", "::/0"])
def test_config_refuses_ssh_from_anywhere(cidr: str) -> None:
    with pytest.raises(ConfigError, match="SSH"):
        parse_config({"network": {"ssh_cidr": cidr}})


def test_ssh_is_closed_by_default() -> None:
    assert not any(r.startswith(f"tcp/{SSH_PORT} ") for r in ingress_rules(make_context()))
