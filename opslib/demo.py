"""``make demo``: the whole story on the embedded default target, step by step.

1. lint buildspec.yml and appspec.yml;
2. start the local emulator (on demand, like every command on the local target);
3. ``opslib up``: provision the stack (bucket, roles, fleet of local hosts, CodeBuild,
   CodeDeploy, the pipeline, logs, events, alarms);
4. release the current commit: follow the pipeline — the source is this repository's
   branch head, the build really runs npm ci, eslint and jest, CodeDeploy really runs the
   hook scripts on every host (OneAtATime);
5. ask every host's app how it is;
6. run the fleet-health runbook into reports/;
7. the pipeline report and the cost report over the runs just made;
8. say where everything is.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

from opslib import stack
from opslib.cli.progress import Progress
from opslib.config import StackConfig, load_config
from opslib.exceptions import ExecutionError, OpslibError
from opslib.ops import fleet, pipeline
from opslib.ops.release import start_release
from opslib.specs import Severity, lint_path
from opslib.stack import display
from opslib.target import Session, connect

REPO = Path(__file__).resolve().parent.parent


def say(text: str) -> None:
    print(text, flush=True)


def step(number: int, text: str) -> None:
    say(f"\n== {number}. {text}")


def lint_specs() -> None:
    findings = lint_path(REPO)
    for finding in findings:
        say(f"   {finding}")
    errors = sum(f.severity is Severity.ERROR for f in findings)
    if errors:
        raise ExecutionError(f"{errors} error(s) in the specs; fix them first")
    say(f"   buildspec.yml and appspec.yml: no errors ({len(findings)} warning(s))")


def demo_config() -> StackConfig:
    """The stack's config; without an opslib.yml, the branch checked out here is released."""
    config = load_config()
    if config.source_file is None:
        branch = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--abbrev-ref", "HEAD"],
            capture_output=True, text=True, check=False,
        ).stdout.strip()  # fmt: skip
        if branch and branch != "HEAD":
            source = dataclasses.replace(config.source, repository=str(REPO), branch=branch)
            config = dataclasses.replace(config, source=source)
    return config


def provision(session: Session, config: StackConfig) -> None:
    with Progress(indent="   ") as shown:
        result = stack.apply(session, config, shown.step)
    say(f"   {display.run_summary(result, 'up')}")


def release(session: Session, config: StackConfig) -> pipeline.ExecutionReport:
    started = start_release(session, config)
    how = "attached to the running execution" if started.attached else "started execution"
    what = f"commit {started.commit[:12]}" if started.commit else "the branch head"
    say(f"   {how} {started.execution_id} of {started.pipeline} for {what}")
    with Progress(indent="   ") as shown:
        report = pipeline.follow(
            session, started.pipeline, started.execution_id, shown.action, on_job=shown.job
        )
    if not report.succeeded:
        for line in report.log_tail or []:
            say(f"     | {line}")
        failed = report.failed_action
        where = f" at {failed.stage}/{failed.action}" if failed else ""
        raise ExecutionError(f"the release {report.status.lower()}{where}")
    pipeline.require_commit(report, started.commit)
    say(f"   released commit {report.revision[:12]}")
    return report


def ask_the_fleet(session: Session, config: StackConfig) -> None:
    instances = fleet.describe_instances(session, config)
    for instance_id, probe in fleet.probe_all(instances).items():
        endpoint = next(i.endpoint for i in instances if i.instance_id == instance_id)
        say(f"   {instance_id} {endpoint}/health -> {probe.health}, version {probe.version}")


def runbook_report(config: StackConfig, name: str, **params: object) -> Path:
    """Run a runbook into reports/ as `opslib runbook run` does; the HTML record's path."""
    from opslib.runbooks.catalog import find_runbook
    from opslib.runbooks.runner import run_runbook

    record = run_runbook(
        find_runbook(name),
        {"config": config.source_file or "", **params},
        reports_dir=REPO / "reports",
    )
    if not record.ok:
        raise ExecutionError(f"{name} failed: {record.failed_cell or record.error}")
    say(f"   {record.verdict}")
    say(f"   {record.paths.html}")
    return record.paths.html


def main() -> None:
    config = demo_config()
    step(1, "Lint the build and deploy specs")
    lint_specs()
    step(2, "Start the local emulator")
    session = connect(config)
    endpoint = session.target.endpoint_url
    say(f"   emulator at {endpoint} (state {config.state_dir()})")
    step(3, f"Provision stack '{config.stack}' (opslib up)")
    provision(session, config)
    step(4, f"Release the head of branch '{config.source.branch}' through the pipeline")
    release(session, config)
    step(5, "Every host's app, asked directly")
    ask_the_fleet(session, config)
    step(6, "Fleet health runbook")
    output = runbook_report(config, "fleet-health")
    step(7, "The pipeline report and the cost report over today's runs")
    runbook_report(config, "pipeline-report", days=1)
    runbook_report(config, "cost-report", days=1)
    say("\nDone. Where things are:")
    say(f"   reports:   {output.parent}")
    say(f"   emulator:  {endpoint}  (opslib emulator status | logs | stop)")
    say(f"   any tool:  AWS_ENDPOINT_URL={endpoint} aws codepipeline get-pipeline-state "
        f"--name {pipeline.pipeline_name(config.stack)}")  # fmt: skip
    say("   again:     opslib run   ·   opslib status   ·   opslib down --yes")


if __name__ == "__main__":
    try:
        main()
    except OpslibError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        sys.exit(1)
