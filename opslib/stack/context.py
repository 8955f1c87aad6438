"""What every resource of a stack needs to know: names, account, region and learned facts.

Names are derived from the config alone (plus the account id, which the bucket name needs
because S3 names are global), so the same config always means the same resources. Facts
are ids AWS assigns (a security group id, a connection ARN): learned while planning or
applying, and :data:`UNKNOWN` until then.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from opslib.config import StackConfig
from opslib.stack.tags import STACK_TAG

BUCKET_NAME_MAX = 63
CONNECTION_NAME_MAX = 32
AGENT_CONFIG_PARAMETER = "AmazonCloudWatch-linux"
LOCAL_REPOSITORY_TAG = "opslib:local-repository"
UNKNOWN = "(known after apply)"  # a fact not learned yet (the id AWS will assign)


@dataclass(frozen=True)
class Names:
    """Every name of the stack, derived from the stack name."""

    stack: str
    account: str
    region: str

    @property
    def bucket(self) -> str:
        """``<stack>-artifacts-<account>-<region>``: S3 names are global, so account+region.

        Falls back to ``<stack>-<account>-<region>`` when that would pass S3's 63 characters.
        """
        name = f"{self.stack}-artifacts-{self.account}-{self.region}"
        return (
            name if len(name) <= BUCKET_NAME_MAX else f"{self.stack}-{self.account}-{self.region}"
        )

    def role(self, service: str) -> str:
        return f"{self.stack}-{service}"

    @property
    def instance_profile(self) -> str:
        return f"{self.stack}-ec2"

    @property
    def security_group(self) -> str:
        return f"{self.stack}-fleet"

    @property
    def project(self) -> str:
        return f"{self.stack}-build"

    def report_group(self, group: str) -> str:
        """``<project>-<group>``: the name CodeBuild gives a buildspec's report group."""
        return f"{self.project}-{group}"

    @property
    def application(self) -> str:
        return f"{self.stack}-app"

    @property
    def deployment_group(self) -> str:
        return f"{self.stack}-fleet"

    @property
    def connection(self) -> str:
        """Connection names are at most 32 characters: the stack part is cut to fit."""
        suffix = "-github"
        return self.stack[: CONNECTION_NAME_MAX - len(suffix)] + suffix

    @property
    def pipeline(self) -> str:
        return f"{self.stack}-pipeline"

    @property
    def topic(self) -> str:
        return f"{self.stack}-notifications"

    @property
    def build_log_group(self) -> str:
        return f"/aws/codebuild/{self.project}"

    @property
    def app_log_group(self) -> str:
        return f"/{self.stack}/app"

    @property
    def deploy_log_group(self) -> str:
        return f"/{self.stack}/codedeploy-agent-deployments"

    @property
    def events_log_group(self) -> str:
        return f"/aws/events/{self.stack}"

    @property
    def events_rule(self) -> str:
        return f"{self.stack}-telemetry"

    @property
    def logs_resource_policy(self) -> str:
        return f"{self.stack}-events-to-logs"

    def alarm(self, what: str) -> str:
        return f"{self.stack}-{what}"

    @property
    def dashboard(self) -> str:
        return f"{self.stack}-pipeline"

    @property
    def metric_namespace(self) -> str:
        return f"opslib/{self.stack}"

    @property
    def agent_config_parameter(self) -> str:
        return AGENT_CONFIG_PARAMETER

    # --- scheduled reports (only when the config has schedules) ---

    @property
    def reports_project(self) -> str:
        return f"{self.stack}-reports"

    @property
    def reports_log_group(self) -> str:
        return f"/aws/codebuild/{self.reports_project}"

    @property
    def reports_bucket(self) -> str:
        """``<stack>-reports-<account>-<region>``, ``<stack>-r-...`` past S3's 63 characters."""
        name = f"{self.stack}-reports-{self.account}-{self.region}"
        return (
            name if len(name) <= BUCKET_NAME_MAX else f"{self.stack}-r-{self.account}-{self.region}"
        )

    @property
    def schedule_group(self) -> str:
        return self.stack


@dataclass
class Context:
    """The config, the account and region, the names, and the facts learned so far."""

    config: StackConfig
    account: str
    partition: str = "aws"
    facts: dict[str, str] = field(default_factory=dict)

    @property
    def stack(self) -> str:
        return self.config.stack

    @property
    def region(self) -> str:
        return self.config.region

    @property
    def names(self) -> Names:
        return Names(self.config.stack, self.account, self.config.region)

    def fact(self, key: str) -> str:
        """A learned id or ARN, or UNKNOWN when the resource does not exist yet."""
        return self.facts.get(key, UNKNOWN)

    def tags(self, name: str | None = None, **extra: str) -> dict[str, str]:
        """The stack's tag (plus ``Name`` and any extra tags)."""
        tags = {STACK_TAG: self.stack, **extra}
        if name:
            tags["Name"] = name
        return tags

    def arn(
        self, service: str, resource: str, *, regional: bool = True, account: bool = True
    ) -> str:
        region = self.region if regional else ""
        owner = self.account if account else ""
        return f"arn:{self.partition}:{service}:{region}:{owner}:{resource}"

    def role_arn(self, service: str) -> str:
        return self.arn("iam", f"role/{self.names.role(service)}", regional=False)

    def log_group_arn(self, group: str) -> str:
        return self.arn("logs", f"log-group:{group}")

    @property
    def topic_arn(self) -> str:
        return self.arn("sns", self.names.topic)

    @property
    def bucket_arn(self) -> str:
        return f"arn:{self.partition}:s3:::{self.names.bucket}"

    @property
    def reports_bucket_arn(self) -> str:
        return f"arn:{self.partition}:s3:::{self.names.reports_bucket}"

    def local_repository(self) -> str:
        """The git repository the pipeline builds locally, absolute (config-relative)."""
        return str((self.config.base_dir() / self.config.source.repository).resolve())
