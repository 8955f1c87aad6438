"""CodeDeploy: the application and the deployment group over the tagged fleet."""

from __future__ import annotations

from typing import Any

from opslib.stack import tags
from opslib.stack.api import Api
from opslib.stack.context import Context
from opslib.stack.model import Resource, State, changed_under

ROLLBACK_EVENTS = ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"]
# The alarms that stop (and roll back) a deployment. Not the deployment-failure alarm:
# it stays in ALARM after a failure and would stop the very next deployment at once.
DEPLOYMENT_ALARMS = ("app-errors",)


class Application(Resource):
    """The CodeDeploy application (EC2/on-premises)."""

    kind = "codedeploy application"

    def _arn(self, ctx: Context) -> str:
        return ctx.arn("codedeploy", f"application:{self.name}")

    def desired(self, ctx: Context) -> State:
        return {"computePlatform": "Server", "tags": ctx.tags(self.name)}

    def read(self, api: Api, ctx: Context) -> State | None:
        found = api.find("codedeploy", "get_application", applicationName=self.name)
        if found is None:
            return None
        listed = api.call("codedeploy", "list_tags_for_resource", ResourceArn=self._arn(ctx))
        return {
            "computePlatform": found["application"].get("computePlatform"),
            "tags": tags.to_dict(listed.get("Tags")),
        }

    def create(self, api: Api, ctx: Context, desired: State) -> None:
        api.call(
            "codedeploy",
            "create_application",
            applicationName=self.name,
            computePlatform=desired["computePlatform"],
            tags=tags.to_list(desired["tags"]),
        )

    def update(self, api: Api, ctx: Context, desired: State, changed: list[str]) -> None:
        tag_list = tags.to_list(desired["tags"])
        api.call("codedeploy", "tag_resource", ResourceArn=self._arn(ctx), Tags=tag_list)

    def delete(self, api: Api, ctx: Context, current: State) -> None:
        api.call("codedeploy", "delete_application", applicationName=self.name)


class DeploymentGroup(Resource):
    """In-place deployments to the instances carrying the fleet tag, rolled back on failure."""

    kind = "codedeploy deployment group"

    def __init__(self, name: str, application: str) -> None:
        super().__init__(name)
        self.application = application

    def _arn(self, ctx: Context) -> str:
        return ctx.arn("codedeploy", f"deploymentgroup:{self.application}/{self.name}")

    def desired(self, ctx: Context) -> State:
        fleet = ctx.config.fleet
        alarms = [{"name": ctx.names.alarm(a)} for a in DEPLOYMENT_ALARMS]
        return {
            "deploymentConfigName": ctx.config.deploy.config,
            "ec2TagFilters": [
                {"Key": fleet.tag_key, "Value": fleet.tag_value, "Type": "KEY_AND_VALUE"}
            ],
            "serviceRoleArn": ctx.role_arn("codedeploy"),
            "autoRollbackConfiguration": {"enabled": True, "events": sorted(ROLLBACK_EVENTS)},
            "alarmConfiguration": {
                "enabled": True,
                "ignorePollAlarmFailure": False,
                "alarms": alarms,
            },
            "deploymentStyle": {
                "deploymentType": "IN_PLACE",
                "deploymentOption": "WITHOUT_TRAFFIC_CONTROL",
            },
            "tags": ctx.tags(self.name),
        }

    def read(self, api: Api, ctx: Context) -> State | None:
        found = api.find(
            "codedeploy",
            "get_deployment_group",
            applicationName=self.application,
            deploymentGroupName=self.name,
        )
        if found is None:
            return None
        info: dict[str, Any] = dict(found["deploymentGroupInfo"])
        rollback = dict(info.get("autoRollbackConfiguration") or {})
        rollback["events"] = sorted(rollback.get("events", []))
        info["autoRollbackConfiguration"] = rollback
        listed = api.call("codedeploy", "list_tags_for_resource", ResourceArn=self._arn(ctx))
        info["tags"] = tags.to_dict(listed.get("Tags"))
        return info

    def _settings(self, desired: State) -> dict[str, Any]:
        return {k: v for k, v in desired.items() if k != "tags"}

    def create(self, api: Api, ctx: Context, desired: State) -> None:
        api.call_after_iam(
            "codedeploy",
            "create_deployment_group",
            applicationName=self.application,
            deploymentGroupName=self.name,
            tags=tags.to_list(desired["tags"]),
            **self._settings(desired),
        )

    def update(self, api: Api, ctx: Context, desired: State, changed: list[str]) -> None:
        if any(not changed_under([p], "tags") for p in changed):
            api.call_after_iam(
                "codedeploy",
                "update_deployment_group",
                applicationName=self.application,
                currentDeploymentGroupName=self.name,
                **self._settings(desired),
            )
        if changed_under(changed, "tags"):
            tag_list = tags.to_list(desired["tags"])
            api.call("codedeploy", "tag_resource", ResourceArn=self._arn(ctx), Tags=tag_list)

    def delete(self, api: Api, ctx: Context, current: State) -> None:
        api.call(
            "codedeploy",
            "delete_deployment_group",
            applicationName=self.application,
            deploymentGroupName=self.name,
        )
