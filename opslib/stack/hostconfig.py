"""What runs on each instance: user data, and the CloudWatch agent's config in SSM.

The agent's config lives in the SSM parameter ``AmazonCloudWatch-linux``; user data tells
the agent to fetch it. The emulator's host-log shipper reads the same parameter, so one
config says which files go to which log group on both targets.
"""

from __future__ import annotations

import json
from typing import Any

from opslib.stack import tags
from opslib.stack.api import Api
from opslib.stack.context import Context, Names
from opslib.stack.model import Resource, State, changed_under

AMI_PARAMETER = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
APP_LOG = "/var/log/sample-app/app.log"
DEPLOY_LOG = (
    "/opt/codedeploy-agent/deployment-root/deployment-logs/codedeploy-agent-deployments.log"
)

_USER_DATA = """#!/bin/bash
# opslib stack {stack}: CodeDeploy agent, Node.js 20 and the CloudWatch agent (Amazon Linux 2023).
set -euxo pipefail
dnf install -y ruby wget nodejs20 amazon-cloudwatch-agent
ln -sf /usr/bin/node-20 /usr/local/bin/node
ln -sf /usr/bin/npm-20 /usr/local/bin/npm
cd /tmp
wget -q https://aws-codedeploy-{region}.s3.{region}.amazonaws.com/latest/install
chmod +x ./install
./install auto
systemctl enable --now codedeploy-agent
mkdir -p /var/log/sample-app
/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl \\
  -a fetch-config -m ec2 -s -c ssm:{parameter}
"""


def user_data(names: Names) -> str:
    """The instance's first-boot script (the same on every instance of the fleet)."""
    return _USER_DATA.format(
        stack=names.stack, region=names.region, parameter=names.agent_config_parameter
    )


def agent_config(names: Names, retention_days: int) -> dict[str, Any]:
    """The CloudWatch agent's JSON config: app and deployment logs to the stack's groups."""

    def collect(path: str, group: str) -> dict[str, Any]:
        return {
            "file_path": path,
            "log_group_name": group,
            "log_stream_name": "{instance_id}",
            "retention_in_days": retention_days,
        }

    files = [
        collect(APP_LOG, names.app_log_group),
        collect(DEPLOY_LOG, names.deploy_log_group),
    ]
    return {
        "agent": {"run_as_user": "root"},
        "logs": {"logs_collected": {"files": {"collect_list": files}}},
    }


class AgentConfigParameter(Resource):
    """The SSM parameter holding the CloudWatch agent's config."""

    kind = "ssm parameter"

    def desired(self, ctx: Context) -> State:
        config = agent_config(ctx.names, ctx.config.log_retention_days)
        return {"value": config, "tags": ctx.tags()}

    def read(self, api: Api, ctx: Context) -> State | None:
        found = api.find("ssm", "get_parameter", Name=self.name)
        if found is None:
            return None
        listed = api.call(
            "ssm", "list_tags_for_resource", ResourceType="Parameter", ResourceId=self.name
        )
        value = found["Parameter"]["Value"]
        try:
            parsed: Any = json.loads(value)
        except ValueError:
            parsed = value
        return {"value": parsed, "tags": tags.to_dict(listed["TagList"])}

    def create(self, api: Api, ctx: Context, desired: State) -> None:
        api.call(
            "ssm",
            "put_parameter",
            Name=self.name,
            Type="String",
            Value=json.dumps(desired["value"], indent=2),
            Description=f"CloudWatch agent config of opslib stack {ctx.stack}",
            Tags=tags.to_list(desired["tags"]),
        )

    def update(self, api: Api, ctx: Context, desired: State, changed: list[str]) -> None:
        if changed_under(changed, "value"):
            api.call(
                "ssm",
                "put_parameter",
                Name=self.name,
                Type="String",
                Value=json.dumps(desired["value"], indent=2),
                Overwrite=True,
            )
        if changed_under(changed, "tags"):
            api.call(
                "ssm",
                "add_tags_to_resource",
                ResourceType="Parameter",
                ResourceId=self.name,
                Tags=tags.to_list(desired["tags"]),
            )

    def delete(self, api: Api, ctx: Context, current: State) -> None:
        api.call("ssm", "delete_parameter", Name=self.name)


def latest_ami(api: Api) -> str:
    """Amazon Linux 2023's current AMI id, from the public SSM parameter AWS maintains."""
    return str(api.call("ssm", "get_parameter", Name=AMI_PARAMETER)["Parameter"]["Value"])
