"""IAM: the service roles (pipeline, build, deploy, FIS), the EC2 role and its profile."""

from __future__ import annotations

import json

from opslib.stack import tags
from opslib.stack.api import Api
from opslib.stack.context import Context
from opslib.stack.model import Resource, State, changed_under
from opslib.stack.policies import ROLE_POLICIES, trust

INLINE_POLICY = "least-privilege"
_DESCRIPTIONS = {
    "codepipeline": "CodePipeline service role",
    "codebuild": "CodeBuild service role",
    "codedeploy": "CodeDeploy service role",
    "ec2": "Role of the fleet's EC2 instances",
    "reports": "Scheduled reports' CodeBuild role (read-only)",
    "scheduler": "EventBridge Scheduler role that starts the reports build",
    "fis": "AWS FIS experiment role of the drills",
}


class Role(Resource):
    """A service role with one inline least-privilege policy, scoped to this stack."""

    kind = "iam role"

    def __init__(self, name: str, service: str) -> None:
        super().__init__(name)
        self.service = service

    def desired(self, ctx: Context) -> State:
        return {
            "trust": trust(self.service),
            "policy": ROLE_POLICIES[self.service](ctx),
            "tags": ctx.tags(self.name),
        }

    def read(self, api: Api, ctx: Context) -> State | None:
        role = api.find("iam", "get_role", RoleName=self.name)
        if role is None:
            return None
        policy = api.find("iam", "get_role_policy", RoleName=self.name, PolicyName=INLINE_POLICY)
        return {
            "trust": role["Role"]["AssumeRolePolicyDocument"],
            "policy": policy["PolicyDocument"] if policy else None,
            "tags": tags.to_dict(role["Role"].get("Tags")),
            "_arn": role["Role"]["Arn"],
        }

    def create(self, api: Api, ctx: Context, desired: State) -> None:
        api.call(
            "iam",
            "create_role",
            RoleName=self.name,
            AssumeRolePolicyDocument=json.dumps(desired["trust"]),
            Description=f"{_DESCRIPTIONS[self.service]} of stack {ctx.stack} (opslib)",
            Tags=tags.to_list(desired["tags"]),
        )
        self.update(api, ctx, desired, ["policy"])

    def update(self, api: Api, ctx: Context, desired: State, changed: list[str]) -> None:
        if changed_under(changed, "trust"):
            document = json.dumps(desired["trust"])
            api.call(
                "iam", "update_assume_role_policy", RoleName=self.name, PolicyDocument=document
            )
        if changed_under(changed, "policy"):
            api.call(
                "iam",
                "put_role_policy",
                RoleName=self.name,
                PolicyName=INLINE_POLICY,
                PolicyDocument=json.dumps(desired["policy"]),
            )
        if changed_under(changed, "tags"):
            api.call("iam", "tag_role", RoleName=self.name, Tags=tags.to_list(desired["tags"]))

    def delete(self, api: Api, ctx: Context, current: State) -> None:
        for name in api.call("iam", "list_role_policies", RoleName=self.name)["PolicyNames"]:
            api.call("iam", "delete_role_policy", RoleName=self.name, PolicyName=name)
        attached = api.call("iam", "list_attached_role_policies", RoleName=self.name)
        for policy in attached["AttachedPolicies"]:
            api.call("iam", "detach_role_policy", RoleName=self.name, PolicyArn=policy["PolicyArn"])
        profiles = api.call("iam", "list_instance_profiles_for_role", RoleName=self.name)
        for profile in profiles["InstanceProfiles"]:
            api.call(
                "iam",
                "remove_role_from_instance_profile",
                InstanceProfileName=profile["InstanceProfileName"],
                RoleName=self.name,
            )
        api.call("iam", "delete_role", RoleName=self.name)


class InstanceProfile(Resource):
    """The instance profile that hands the EC2 role to the fleet."""

    kind = "iam instance profile"

    def __init__(self, name: str, role: str) -> None:
        super().__init__(name)
        self.role = role

    def desired(self, ctx: Context) -> State:
        return {"roles": [self.role], "tags": ctx.tags(self.name)}

    def read(self, api: Api, ctx: Context) -> State | None:
        found = api.find("iam", "get_instance_profile", InstanceProfileName=self.name)
        if found is None:
            return None
        profile = found["InstanceProfile"]
        return {
            "roles": sorted(r["RoleName"] for r in profile["Roles"]),
            "tags": tags.to_dict(profile.get("Tags")),
            "_arn": profile["Arn"],
        }

    def create(self, api: Api, ctx: Context, desired: State) -> None:
        api.call(
            "iam",
            "create_instance_profile",
            InstanceProfileName=self.name,
            Tags=tags.to_list(desired["tags"]),
        )
        self.update(api, ctx, desired, ["roles"])

    def update(self, api: Api, ctx: Context, desired: State, changed: list[str]) -> None:
        if changed_under(changed, "roles"):
            current = self.read(api, ctx) or {"roles": []}
            for role in set(current["roles"]) - set(desired["roles"]):
                api.call(
                    "iam",
                    "remove_role_from_instance_profile",
                    InstanceProfileName=self.name,
                    RoleName=role,
                )
            for role in set(desired["roles"]) - set(current["roles"]):
                api.call(
                    "iam",
                    "add_role_to_instance_profile",
                    InstanceProfileName=self.name,
                    RoleName=role,
                )
        if changed_under(changed, "tags"):
            api.call(
                "iam",
                "tag_instance_profile",
                InstanceProfileName=self.name,
                Tags=tags.to_list(desired["tags"]),
            )

    def delete(self, api: Api, ctx: Context, current: State) -> None:
        for role in current["roles"]:
            api.call(
                "iam",
                "remove_role_from_instance_profile",
                InstanceProfileName=self.name,
                RoleName=role,
            )
        api.call("iam", "delete_instance_profile", InstanceProfileName=self.name)
