"""CodePipeline (V2): Source → Build → (Approval) → Deploy, artifacts in the stack's bucket."""

from __future__ import annotations

from typing import Any

from opslib.stack import tags
from opslib.stack.api import Api
from opslib.stack.context import Context
from opslib.stack.model import Resource, State, changed_under

SOURCE_ARTIFACT = "SourceArtifact"
BUILD_ARTIFACT = "BuildArtifact"
_ACTION_KEYS = (
    "name",
    "actionTypeId",
    "runOrder",
    "configuration",
    "inputArtifacts",
    "outputArtifacts",
)


def _action(
    name: str,
    category: str,
    provider: str,
    configuration: dict[str, str],
    inputs: tuple[str, ...] = (),
    outputs: tuple[str, ...] = (),
) -> dict[str, Any]:
    return {
        "name": name,
        "actionTypeId": {
            "category": category,
            "owner": "AWS",
            "provider": provider,
            "version": "1",
        },
        "runOrder": 1,
        "configuration": configuration,
        "inputArtifacts": [{"name": a} for a in inputs],
        "outputArtifacts": [{"name": a} for a in outputs],
    }


def stages(ctx: Context) -> list[dict[str, Any]]:
    """The pipeline's stages in order; Approval only when ``deploy.approval`` is set."""
    names, source = ctx.names, ctx.config.source
    source_config = {
        "ConnectionArn": ctx.fact("connection_arn"),
        "FullRepositoryId": source.github,
        "BranchName": source.branch,
        "OutputArtifactFormat": "CODE_ZIP",
        "DetectChanges": "true",
    }
    result = [
        {
            "name": "Source",
            "actions": [
                _action(
                    "Source",
                    "Source",
                    "CodeStarSourceConnection",
                    source_config,
                    outputs=(SOURCE_ARTIFACT,),
                )
            ],
        },
        {
            "name": "Build",
            "actions": [
                _action(
                    "Build",
                    "Build",
                    "CodeBuild",
                    {"ProjectName": names.project},
                    inputs=(SOURCE_ARTIFACT,),
                    outputs=(BUILD_ARTIFACT,),
                )
            ],
        },
    ]
    if ctx.config.deploy.approval:
        approval = {"NotificationArn": ctx.topic_arn, "CustomData": f"Deploy {ctx.stack}?"}
        result.append(
            {"name": "Approval", "actions": [_action("Approval", "Approval", "Manual", approval)]}
        )
    deploy = {"ApplicationName": names.application, "DeploymentGroupName": names.deployment_group}
    result.append(
        {
            "name": "Deploy",
            "actions": [
                _action("Deploy", "Deploy", "CodeDeploy", deploy, inputs=(BUILD_ARTIFACT,))
            ],
        }
    )
    return result


def _normal_stage(stage: dict[str, Any]) -> dict[str, Any]:
    """A stage as read back, reduced to the keys the desired state names."""
    actions = []
    for action in stage.get("actions", []):
        kept = {k: action.get(k) for k in _ACTION_KEYS}
        kept["inputArtifacts"] = [{"name": a["name"]} for a in action.get("inputArtifacts") or []]
        kept["outputArtifacts"] = [{"name": a["name"]} for a in action.get("outputArtifacts") or []]
        kept["runOrder"] = action.get("runOrder", 1)
        kept["configuration"] = action.get("configuration") or {}
        actions.append(kept)
    return {"name": stage["name"], "actions": actions}


class Pipeline(Resource):
    """The V2 pipeline."""

    kind = "codepipeline pipeline"

    def _arn(self, ctx: Context) -> str:
        return ctx.arn("codepipeline", self.name)

    def desired(self, ctx: Context) -> State:
        return {
            "roleArn": ctx.role_arn("codepipeline"),
            "artifactStore": {"type": "S3", "location": ctx.names.bucket},
            "pipelineType": "V2",
            "executionMode": "QUEUED",
            "stages": stages(ctx),
            "tags": ctx.tags(self.name),
        }

    def read(self, api: Api, ctx: Context) -> State | None:
        found = api.find("codepipeline", "get_pipeline", name=self.name)
        if found is None:
            return None
        pipeline = found["pipeline"]
        listed = api.call("codepipeline", "list_tags_for_resource", resourceArn=self._arn(ctx))
        return {
            "roleArn": pipeline.get("roleArn"),
            "artifactStore": pipeline.get("artifactStore"),
            "pipelineType": pipeline.get("pipelineType"),
            "executionMode": pipeline.get("executionMode"),
            "stages": [_normal_stage(s) for s in pipeline.get("stages", [])],
            "tags": tags.to_dict(listed.get("tags"), "key", "value"),
        }

    def _declaration(self, desired: State) -> dict[str, Any]:
        return {"name": self.name, **{k: v for k, v in desired.items() if k != "tags"}}

    def create(self, api: Api, ctx: Context, desired: State) -> None:
        api.call_after_iam(
            "codepipeline",
            "create_pipeline",
            pipeline=self._declaration(desired),
            tags=tags.to_list(desired["tags"], "key", "value"),
        )

    def update(self, api: Api, ctx: Context, desired: State, changed: list[str]) -> None:
        if any(not changed_under([p], "tags") for p in changed):
            api.call_after_iam(
                "codepipeline", "update_pipeline", pipeline=self._declaration(desired)
            )
        if changed_under(changed, "tags"):
            tag_list = tags.to_list(desired["tags"], "key", "value")
            api.call("codepipeline", "tag_resource", resourceArn=self._arn(ctx), tags=tag_list)

    def delete(self, api: Api, ctx: Context, current: State) -> None:
        api.call("codepipeline", "delete_pipeline", name=self.name)
