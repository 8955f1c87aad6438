"""The artifact bucket: versioned, encrypted, private, TLS only, with a lifecycle."""

from __future__ import annotations

import json
from typing import Any

from opslib.stack import tags
from opslib.stack.api import Api
from opslib.stack.context import Context
from opslib.stack.model import Resource, State, changed_under
from opslib.stack.policies import bucket_policy

NONCURRENT_DAYS = 30
ABORT_UPLOAD_DAYS = 7
_PUBLIC_ACCESS_BLOCK = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}
_LIFECYCLE_RULE = {
    "ID": "expire-noncurrent-artifacts",
    "Status": "Enabled",
    "Filter": {"Prefix": ""},
    "NoncurrentVersionExpiration": {"NoncurrentDays": NONCURRENT_DAYS},
    "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": ABORT_UPLOAD_DAYS},
}
_MISSING = (
    "ServerSideEncryptionConfigurationNotFoundError",
    "NoSuchPublicAccessBlockConfiguration",
    "NoSuchBucketPolicy",
    "NoSuchLifecycleConfiguration",
    "NoSuchTagSet",
    "404",
)


class Bucket(Resource):
    """The S3 bucket CodePipeline keeps its artifacts in."""

    kind = "s3 bucket"

    def desired(self, ctx: Context) -> State:
        return {
            "versioning": "Enabled",
            "encryption": "AES256",
            "public_access_block": dict(_PUBLIC_ACCESS_BLOCK),
            "policy": bucket_policy(ctx),
            "lifecycle": [_LIFECYCLE_RULE],
            "tags": ctx.tags(self.name),
        }

    def _get(self, api: Api, method: str) -> Any:
        return api.find("s3", method, _MISSING, Bucket=self.name) or {}

    def read(self, api: Api, ctx: Context) -> State | None:
        if api.find("s3", "head_bucket", ("404", "403"), Bucket=self.name) is None:
            return None
        encryption = self._get(api, "get_bucket_encryption").get(
            "ServerSideEncryptionConfiguration", {}
        )
        rules = encryption.get("Rules") or [{}]
        policy = self._get(api, "get_bucket_policy").get("Policy")
        return {
            "versioning": self._get(api, "get_bucket_versioning").get("Status"),
            "encryption": rules[0]
            .get("ApplyServerSideEncryptionByDefault", {})
            .get("SSEAlgorithm"),
            "public_access_block": self._get(api, "get_public_access_block").get(
                "PublicAccessBlockConfiguration", {}
            ),
            "policy": json.loads(policy) if policy else None,
            "lifecycle": self._get(api, "get_bucket_lifecycle_configuration").get("Rules"),
            "tags": tags.to_dict(self._get(api, "get_bucket_tagging").get("TagSet")),
        }

    def create(self, api: Api, ctx: Context, desired: State) -> None:
        params: dict[str, Any] = {"Bucket": self.name}
        if ctx.region != "us-east-1":  # us-east-1 rejects an explicit LocationConstraint
            params["CreateBucketConfiguration"] = {"LocationConstraint": ctx.region}
        api.call("s3", "create_bucket", **params)
        self.update(api, ctx, desired, list(desired))

    def update(self, api: Api, ctx: Context, desired: State, changed: list[str]) -> None:
        bucket = self.name
        if changed_under(changed, "tags"):
            tagging = {"TagSet": tags.to_list(desired["tags"])}
            api.call("s3", "put_bucket_tagging", Bucket=bucket, Tagging=tagging)
        if changed_under(changed, "versioning"):
            status = {"Status": desired["versioning"]}
            api.call("s3", "put_bucket_versioning", Bucket=bucket, VersioningConfiguration=status)
        if changed_under(changed, "encryption"):
            rule = {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": desired["encryption"]}}
            config = {"Rules": [rule]}
            api.call(
                "s3",
                "put_bucket_encryption",
                Bucket=bucket,
                ServerSideEncryptionConfiguration=config,
            )
        if changed_under(changed, "public_access_block"):
            block = desired["public_access_block"]
            api.call(
                "s3", "put_public_access_block", Bucket=bucket, PublicAccessBlockConfiguration=block
            )
        if changed_under(changed, "policy"):
            policy = json.dumps(desired["policy"])
            api.call("s3", "put_bucket_policy", Bucket=bucket, Policy=policy)
        if changed_under(changed, "lifecycle"):
            lifecycle = {"Rules": desired["lifecycle"]}
            api.call(
                "s3",
                "put_bucket_lifecycle_configuration",
                Bucket=bucket,
                LifecycleConfiguration=lifecycle,
            )

    def delete(self, api: Api, ctx: Context, current: State) -> None:
        empty_bucket(api, self.name)
        api.call("s3", "delete_bucket", Bucket=self.name)


def empty_bucket(api: Api, bucket: str) -> int:
    """Delete every object version and delete marker (a versioned bucket must be empty)."""
    deleted = 0
    while True:
        listing = api.call("s3", "list_object_versions", Bucket=bucket, MaxKeys=1000)
        entries = listing.get("Versions", []) + listing.get("DeleteMarkers", [])
        if not entries:
            return deleted
        objects = [{"Key": e["Key"], "VersionId": e["VersionId"]} for e in entries]
        api.call("s3", "delete_objects", Bucket=bucket, Delete={"Objects": objects, "Quiet": True})
        deleted += len(objects)
