"""CodeBuild: the build project and its report groups."""

from __future__ import annotations

from typing import Any

from opslib.stack import tags
from opslib.stack.api import Api
from opslib.stack.context import Context
from opslib.stack.model import Resource, State

IMAGE = "aws/codebuild/standard:7.0"
COMPUTE = "BUILD_GENERAL1_SMALL"
TIMEOUT_MINUTES = 30
# The buildspec's report groups: CodeBuild names them <project>-<group>.
REPORT_GROUPS = {"jest": "TEST", "coverage": "CODE_COVERAGE"}


class ReportGroup(Resource):
    """A report group created ahead of the build, so that it carries the stack's tag."""

    kind = "codebuild report group"

    def __init__(self, name: str, report_type: str) -> None:
        super().__init__(name)
        self.report_type = report_type

    def _arn(self, ctx: Context) -> str:
        return ctx.arn("codebuild", f"report-group/{self.name}")

    def desired(self, ctx: Context) -> State:
        return {"type": self.report_type, "export": "NO_EXPORT", "tags": ctx.tags(self.name)}

    def read(self, api: Api, ctx: Context) -> State | None:
        found = api.call("codebuild", "batch_get_report_groups", reportGroupArns=[self._arn(ctx)])
        if not found.get("reportGroups"):
            return None
        group = found["reportGroups"][0]
        return {
            "type": group["type"],
            "export": group.get("exportConfig", {}).get("exportConfigType"),
            "tags": tags.to_dict(group.get("tags"), "key", "value"),
        }

    def create(self, api: Api, ctx: Context, desired: State) -> None:
        api.call(
            "codebuild",
            "create_report_group",
            name=self.name,
            type=desired["type"],
            exportConfig={"exportConfigType": desired["export"]},
            tags=tags.to_list(desired["tags"], "key", "value"),
        )

    def update(self, api: Api, ctx: Context, desired: State, changed: list[str]) -> None:
        api.call(
            "codebuild",
            "update_report_group",
            arn=self._arn(ctx),
            exportConfig={"exportConfigType": desired["export"]},
            tags=tags.to_list(desired["tags"], "key", "value"),
        )

    def delete(self, api: Api, ctx: Context, current: State) -> None:
        api.call("codebuild", "delete_report_group", arn=self._arn(ctx), deleteReports=True)


class Project(Resource):
    """The CodeBuild project the pipeline's Build stage runs (buildspec from the source)."""

    kind = "codebuild project"

    def desired(self, ctx: Context) -> State:
        names = ctx.names
        return {
            "source": {"type": "CODEPIPELINE", "buildspec": "buildspec.yml"},
            "artifacts": {"type": "CODEPIPELINE"},
            "environment": {"type": "LINUX_CONTAINER", "image": IMAGE, "computeType": COMPUTE},
            "serviceRole": ctx.role_arn("codebuild"),
            "cache": {"type": "S3", "location": f"{names.bucket}/build-cache"},
            "logsConfig": {
                "cloudWatchLogs": {"status": "ENABLED", "groupName": names.build_log_group}
            },
            "timeoutInMinutes": TIMEOUT_MINUTES,
            "tags": ctx.tags(self.name),
        }

    def read(self, api: Api, ctx: Context) -> State | None:
        found = api.call("codebuild", "batch_get_projects", names=[self.name])["projects"]
        if not found:
            return None
        project: dict[str, Any] = dict(found[0])
        project["tags"] = tags.to_dict(project.get("tags"), "key", "value")
        return project

    def _params(self, desired: State) -> dict[str, Any]:
        params = {k: v for k, v in desired.items() if k != "tags"}
        return {**params, "name": self.name, "tags": tags.to_list(desired["tags"], "key", "value")}

    def create(self, api: Api, ctx: Context, desired: State) -> None:
        api.call_after_iam("codebuild", "create_project", **self._params(desired))

    def update(self, api: Api, ctx: Context, desired: State, changed: list[str]) -> None:
        if changed:
            api.call_after_iam("codebuild", "update_project", **self._params(desired))

    def delete(self, api: Api, ctx: Context, current: State) -> None:
        api.call("codebuild", "delete_project", name=self.name)
