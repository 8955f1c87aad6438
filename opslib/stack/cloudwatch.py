"""CloudWatch and friends: log groups, the events rule and its log-group policy, the SNS
topic for notifications, and the pipeline's dashboard."""

from __future__ import annotations

import json
from typing import Any

from opslib.stack import tags
from opslib.stack.api import Api
from opslib.stack.context import Context
from opslib.stack.model import Resource, State, changed_under
from opslib.stack.policies import events_to_logs_policy
from opslib.stack.tags import STACK_TAG

EVENT_SOURCES = ["aws.codebuild", "aws.codedeploy", "aws.codepipeline", "aws.ec2", "aws.cloudwatch"]
EVENT_TYPES = [
    "CloudWatch Alarm State Change",
    "CodeBuild Build Phase Change",
    "CodeBuild Build State Change",
    "CodeDeploy Deployment State-change Notification",
    "CodeDeploy Instance State-change Notification",
    "CodePipeline Action Execution State Change",
    "CodePipeline Pipeline Execution State Change",
    "CodePipeline Stage Execution State Change",
    "EC2 Instance State-change Notification",
]
EVENTS_TARGET_ID = "events-log-group"


class LogGroup(Resource):
    """A log group with the stack's retention."""

    kind = "logs log group"

    def _arn(self, ctx: Context) -> str:
        return ctx.log_group_arn(self.name)

    def desired(self, ctx: Context) -> State:
        return {"retention": ctx.config.log_retention_days, "tags": ctx.tags()}

    def read(self, api: Api, ctx: Context) -> State | None:
        groups = api.call("logs", "describe_log_groups", logGroupNamePrefix=self.name)["logGroups"]
        group = next((g for g in groups if g["logGroupName"] == self.name), None)
        if group is None:
            return None
        listed = api.call("logs", "list_tags_for_resource", resourceArn=self._arn(ctx))
        return {"retention": group.get("retentionInDays"), "tags": dict(listed.get("tags", {}))}

    def create(self, api: Api, ctx: Context, desired: State) -> None:
        api.call("logs", "create_log_group", logGroupName=self.name, tags=desired["tags"])
        self.update(api, ctx, desired, ["retention"])

    def update(self, api: Api, ctx: Context, desired: State, changed: list[str]) -> None:
        if changed_under(changed, "retention"):
            days = desired["retention"]
            api.call("logs", "put_retention_policy", logGroupName=self.name, retentionInDays=days)
        if changed_under(changed, "tags"):
            api.call("logs", "tag_resource", resourceArn=self._arn(ctx), tags=desired["tags"])

    def delete(self, api: Api, ctx: Context, current: State) -> None:
        api.call("logs", "delete_log_group", logGroupName=self.name)


class LogsResourcePolicy(Resource):
    """Lets EventBridge write to the events log group (AWS requires it for that target).

    Resource policies take no tags: it counts as the stack's when it names the stack's
    events log group, which is all it may grant.
    """

    kind = "logs resource policy"

    def desired(self, ctx: Context) -> State:
        return {"policy": events_to_logs_policy(ctx)}

    def read(self, api: Api, ctx: Context) -> State | None:
        policies = api.call("logs", "describe_resource_policies")["resourcePolicies"]
        found = next((p for p in policies if p["policyName"] == self.name), None)
        if found is None:
            return None
        policy = json.loads(found["policyDocument"])
        ours = ctx.log_group_arn(ctx.names.events_log_group) in found["policyDocument"]
        return {"policy": policy, "tags": {STACK_TAG: ctx.stack} if ours else {}}

    def create(self, api: Api, ctx: Context, desired: State) -> None:
        document = json.dumps(desired["policy"])
        api.call("logs", "put_resource_policy", policyName=self.name, policyDocument=document)

    def update(self, api: Api, ctx: Context, desired: State, changed: list[str]) -> None:
        self.create(api, ctx, desired)

    def delete(self, api: Api, ctx: Context, current: State) -> None:
        api.call("logs", "delete_resource_policy", policyName=self.name)


def event_pattern() -> dict[str, Any]:
    """The events the telemetry contract needs: pipeline, build, deploy, EC2, alarms."""
    return {"source": list(EVENT_SOURCES), "detail-type": list(EVENT_TYPES)}


class EventsRule(Resource):
    """EventBridge rule sending the pipeline's events to the events log group."""

    kind = "events rule"

    def _arn(self, ctx: Context) -> str:
        return ctx.arn("events", f"rule/{self.name}")

    def desired(self, ctx: Context) -> State:
        target = {"Id": EVENTS_TARGET_ID, "Arn": ctx.log_group_arn(ctx.names.events_log_group)}
        return {
            "pattern": event_pattern(),
            "state": "ENABLED",
            "targets": [target],
            "tags": ctx.tags(self.name),
        }

    def read(self, api: Api, ctx: Context) -> State | None:
        rule = api.find("events", "describe_rule", Name=self.name)
        if rule is None:
            return None
        targets = api.call("events", "list_targets_by_rule", Rule=self.name)["Targets"]
        listed = api.call("events", "list_tags_for_resource", ResourceARN=self._arn(ctx))
        return {
            "pattern": json.loads(rule.get("EventPattern") or "{}"),
            "state": rule.get("State"),
            "targets": [{"Id": t["Id"], "Arn": t["Arn"]} for t in targets],
            "tags": tags.to_dict(listed.get("Tags")),
        }

    def create(self, api: Api, ctx: Context, desired: State) -> None:
        api.call(
            "events",
            "put_rule",
            Name=self.name,
            EventPattern=json.dumps(desired["pattern"]),
            State=desired["state"],
            Description=f"opslib stack {ctx.stack}: pipeline telemetry to CloudWatch Logs",
            Tags=tags.to_list(desired["tags"]),
        )
        api.call("events", "put_targets", Rule=self.name, Targets=desired["targets"])

    def update(self, api: Api, ctx: Context, desired: State, changed: list[str]) -> None:
        if changed_under(changed, "pattern", "state"):
            pattern = json.dumps(desired["pattern"])
            api.call(
                "events", "put_rule", Name=self.name, EventPattern=pattern, State=desired["state"]
            )
        if changed_under(changed, "targets"):
            api.call("events", "put_targets", Rule=self.name, Targets=desired["targets"])
        if changed_under(changed, "tags"):
            tag_list = tags.to_list(desired["tags"])
            api.call("events", "tag_resource", ResourceARN=self._arn(ctx), Tags=tag_list)

    def delete(self, api: Api, ctx: Context, current: State) -> None:
        ids = [t["Id"] for t in current["targets"]]
        if ids:
            api.call("events", "remove_targets", Rule=self.name, Ids=ids)
        api.call("events", "delete_rule", Name=self.name)


class Topic(Resource):
    """The SNS topic alarms and approvals notify."""

    kind = "sns topic"

    def desired(self, ctx: Context) -> State:
        return {"tags": ctx.tags(self.name)}

    def read(self, api: Api, ctx: Context) -> State | None:
        found = api.find("sns", "get_topic_attributes", ("NotFound",), TopicArn=ctx.topic_arn)
        if found is None:
            return None
        listed = api.call("sns", "list_tags_for_resource", ResourceArn=ctx.topic_arn)
        return {"tags": tags.to_dict(listed.get("Tags"))}

    def create(self, api: Api, ctx: Context, desired: State) -> None:
        api.call("sns", "create_topic", Name=self.name, Tags=tags.to_list(desired["tags"]))

    def update(self, api: Api, ctx: Context, desired: State, changed: list[str]) -> None:
        tag_list = tags.to_list(desired["tags"])
        api.call("sns", "tag_resource", ResourceArn=ctx.topic_arn, Tags=tag_list)

    def delete(self, api: Api, ctx: Context, current: State) -> None:
        api.call("sns", "delete_topic", TopicArn=ctx.topic_arn)
