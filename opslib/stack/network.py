"""Network and compute: the fleet's security group and its EC2 instances."""

from __future__ import annotations

from typing import Any

from opslib.exceptions import TargetError
from opslib.stack import tags
from opslib.stack.api import Api
from opslib.stack.context import Context
from opslib.stack.hostconfig import latest_ami, user_data
from opslib.stack.model import Resource, State, changed_under
from opslib.stack.tags import STACK_TAG

SSH_PORT = 22
INDEX_TAG = "opslib:fleet-index"
ENDPOINT_TAG = "opslib:endpoint"
LIVE_STATES = ["pending", "running", "stopping", "stopped"]


def ingress_rules(ctx: Context) -> list[str]:
    """``tcp/<port> from <cidr>`` for every open port: the configured ones, SSH only by CIDR."""
    network = ctx.config.network
    rules = {f"tcp/{port} from {network.ingress_cidr}" for port in network.ingress_ports}
    if network.ssh_cidr:  # config validation refuses 0.0.0.0/0 for SSH
        rules.add(f"tcp/{SSH_PORT} from {network.ssh_cidr}")
    return sorted(rules)


def _permission(rule: str) -> dict[str, Any]:
    port_part, cidr = rule.split(" from ")
    port = int(port_part.split("/")[1])
    return {"IpProtocol": "tcp", "FromPort": port, "ToPort": port, "IpRanges": [{"CidrIp": cidr}]}


def _rules(permissions: list[dict[str, Any]]) -> list[str]:
    rules = set()
    for perm in permissions:
        for ip_range in perm.get("IpRanges", []):
            rules.add(f"{perm['IpProtocol']}/{perm.get('FromPort')} from {ip_range['CidrIp']}")
    return sorted(rules)


def default_vpc(api: Api, ctx: Context) -> str:
    """The region's default VPC (the fleet lives there), remembered as a fact."""
    if "vpc_id" not in ctx.facts:
        filters = [{"Name": "is-default", "Values": ["true"]}]
        vpcs = api.call("ec2", "describe_vpcs", Filters=filters)["Vpcs"]
        if not vpcs:
            raise TargetError(
                f"no default VPC in {ctx.region}: create one with 'aws ec2 create-default-vpc'"
            )
        ctx.facts["vpc_id"] = vpcs[0]["VpcId"]
    return ctx.facts["vpc_id"]


class SecurityGroup(Resource):
    """The fleet's security group: the app's ports; SSH only from an explicit CIDR."""

    kind = "ec2 security group"

    def desired(self, ctx: Context) -> State:
        return {"ingress": ingress_rules(ctx), "tags": ctx.tags(self.name)}

    def read(self, api: Api, ctx: Context) -> State | None:
        filters = [
            {"Name": "group-name", "Values": [self.name]},
            {"Name": "vpc-id", "Values": [default_vpc(api, ctx)]},
        ]
        groups = api.call("ec2", "describe_security_groups", Filters=filters)["SecurityGroups"]
        if not groups:
            return None
        group = groups[0]
        return {
            "ingress": _rules(group.get("IpPermissions", [])),
            "tags": tags.to_dict(group.get("Tags")),
            "_id": group["GroupId"],
        }

    def facts(self, current: State) -> dict[str, str]:
        return {"security_group_id": current["_id"]}

    def create(self, api: Api, ctx: Context, desired: State) -> None:
        spec = [{"ResourceType": "security-group", "Tags": tags.to_list(desired["tags"])}]
        api.call(
            "ec2",
            "create_security_group",
            GroupName=self.name,
            Description=f"opslib stack {ctx.stack}: the fleet's app ports",
            VpcId=default_vpc(api, ctx),
            TagSpecifications=spec,
        )
        self.update(api, ctx, desired, ["ingress"])

    def update(self, api: Api, ctx: Context, desired: State, changed: list[str]) -> None:
        current = self.read(api, ctx)
        assert current is not None
        group_id = current["_id"]
        if changed_under(changed, "ingress"):
            add = [_permission(r) for r in desired["ingress"] if r not in current["ingress"]]
            drop = [_permission(r) for r in current["ingress"] if r not in desired["ingress"]]
            if drop:
                api.call(
                    "ec2", "revoke_security_group_ingress", GroupId=group_id, IpPermissions=drop
                )
            if add:
                api.call(
                    "ec2", "authorize_security_group_ingress", GroupId=group_id, IpPermissions=add
                )
        if changed_under(changed, "tags"):
            api.call("ec2", "create_tags", Resources=[group_id], Tags=tags.to_list(desired["tags"]))

    def delete(self, api: Api, ctx: Context, current: State) -> None:
        api.call("ec2", "delete_security_group", GroupId=current["_id"])


def fleet_instances(api: Api, stack: str) -> list[dict[str, Any]]:
    """The stack's live instances (pending, running, stopping, stopped)."""
    filters = [
        {"Name": f"tag:{STACK_TAG}", "Values": [stack]},
        {"Name": "instance-state-name", "Values": LIVE_STATES},
    ]
    reservations = api.pages("ec2", "describe_instances", "Reservations", Filters=filters)
    return [i for r in reservations for i in r["Instances"]]


def _instance_state(instance: dict[str, Any]) -> dict[str, Any]:
    profile_arn = instance.get("IamInstanceProfile", {}).get("Arn", "")
    groups = instance.get("SecurityGroups") or [{}]
    return {
        "instance_type": instance["InstanceType"],
        "instance_profile": profile_arn.rsplit("/", 1)[-1] or None,
        "security_group": groups[0].get("GroupId"),
        "tags": tags.to_dict(instance.get("Tags")),
    }


class Fleet(Resource):
    """The fleet: ``fleet.size`` instances, each tagged with its index and the deploy tag."""

    kind = "ec2 fleet"

    def _instance(self, ctx: Context, index: int) -> State:
        fleet = ctx.config.fleet
        return {
            "instance_type": fleet.instance_type,
            "instance_profile": ctx.names.instance_profile,
            "security_group": ctx.fact("security_group_id"),
            "tags": {
                **ctx.tags(f"{self.name}-{index}"),
                fleet.tag_key: fleet.tag_value,
                INDEX_TAG: str(index),
            },
        }

    def desired(self, ctx: Context) -> State:
        size = ctx.config.fleet.size
        instances = {str(i): self._instance(ctx, i) for i in range(1, size + 1)}
        return {"size": size, "instances": instances, "tags": ctx.tags()}

    def read(self, api: Api, ctx: Context) -> State | None:
        found = fleet_instances(api, ctx.stack)
        if not found:
            return None
        by_index = {tags.to_dict(i.get("Tags")).get(INDEX_TAG, i["InstanceId"]): i for i in found}
        return {
            "size": len(found),
            "instances": {k: _instance_state(i) for k, i in by_index.items()},
            "tags": {STACK_TAG: ctx.stack},
            "_ids": {k: i["InstanceId"] for k, i in sorted(by_index.items())},
            "_endpoints": {i["InstanceId"]: endpoint(i, ctx) for i in found},
        }

    def facts(self, current: State) -> dict[str, str]:
        return {"instance_ids": ",".join(current["_ids"].values())}

    def create(self, api: Api, ctx: Context, desired: State) -> None:
        image = latest_ami(api)
        for index in desired["instances"]:
            self._run(api, ctx, image, desired["instances"][index])

    def _run(self, api: Api, ctx: Context, image: str, instance: State) -> None:
        spec = [{"ResourceType": "instance", "Tags": tags.to_list(instance["tags"])}]
        api.call_after_iam(
            "ec2",
            "run_instances",
            ImageId=image,
            InstanceType=instance["instance_type"],
            MinCount=1,
            MaxCount=1,
            IamInstanceProfile={"Name": instance["instance_profile"]},
            SecurityGroupIds=[instance["security_group"]],
            UserData=user_data(ctx.names),
            TagSpecifications=spec,
        )

    def update(self, api: Api, ctx: Context, desired: State, changed: list[str]) -> None:
        current = self.read(api, ctx) or {"instances": {}, "_ids": {}}
        want, have, ids = desired["instances"], current["instances"], current["_ids"]
        replace = [k for k in have if k in want and _differs(want[k], have[k], "tags")]
        self._terminate(api, [ids[k] for k in have if k not in want or k in replace])
        missing = [k for k in want if k not in have or k in replace]
        image = latest_ami(api) if missing else ""
        for index in missing:
            self._run(api, ctx, image, want[index])
        for index in want:
            if index in have and index not in replace and _differs(want[index], have[index]):
                tag_list = tags.to_list(want[index]["tags"])
                api.call("ec2", "create_tags", Resources=[ids[index]], Tags=tag_list)

    def _terminate(self, api: Api, ids: list[str]) -> None:
        if ids:
            api.call("ec2", "terminate_instances", InstanceIds=ids)

    def delete(self, api: Api, ctx: Context, current: State) -> None:
        ids = list(current["_ids"].values())
        self._terminate(api, ids)
        # The security group can only go once its instances are gone.
        api.client("ec2").get_waiter("instance_terminated").wait(InstanceIds=ids)


def _differs(want: State, have: State, *ignore: str) -> bool:
    """Whether ``have`` differs from ``want`` on want's fields (tags: only want's keys)."""
    for key, value in want.items():
        if key in ignore:
            continue
        if key == "tags":
            if any(have.get("tags", {}).get(k) != v for k, v in value.items()):
                return True
        elif have.get(key) != value:
            return True
    return False


def endpoint(instance: dict[str, Any], ctx: Context) -> str:
    """Where an instance's app answers: the emulator's tag, else public DNS/IP + app port."""
    tagged = tags.to_dict(instance.get("Tags")).get(ENDPOINT_TAG)
    if tagged:
        return tagged
    address = instance.get("PublicDnsName") or instance.get("PublicIpAddress")
    return f"http://{address}:{ctx.config.network.app_port}" if address else "(no public address)"
