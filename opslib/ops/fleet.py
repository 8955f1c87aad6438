"""The fleet as an operator sees it: every instance's state, endpoint, version, health, CPU.

Instances are the ones CodeDeploy deploys to — the fleet tag of the config
(``DeploymentGroup=Production-Fleet``) — of this stack (tag ``opslib:stack``). Each is
asked over HTTP what it serves (``/health``: status and version; ``/version``: the commit),
and CloudWatch for its ``AWS/EC2 CPUUtilization`` (one GetMetricData call for the whole
fleet). Where an instance answers: the ``opslib:endpoint`` tag the emulator sets, else its
public DNS name or address and the app port — the same rule as ``opslib status``.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from opslib import render
from opslib.config import StackConfig
from opslib.render import MIN_SPAN, Chart, series_style, time_axis
from opslib.runbooks.verdict import Verdict
from opslib.stack.network import ENDPOINT_TAG
from opslib.stack.tags import STACK_TAG
from opslib.target import Session, aws_errors

if TYPE_CHECKING:
    import pandas

LIVE_STATES = ("pending", "running", "stopping", "stopped", "shutting-down")
PROBE_TIMEOUT = 3.0
METRIC_QUERIES_PER_CALL = 500  # GetMetricData's limit


@dataclass(frozen=True)
class Instance:
    """An instance of the fleet as DescribeInstances shows it."""

    instance_id: str
    name: str
    state: str
    endpoint: str
    launched: datetime | None = None


@dataclass(frozen=True)
class Probe:
    """What an instance's app answered: health status, version and commit served."""

    health: str  # "ok", the app's own status, "HTTP 503" or "unreachable: <why>"
    version: str = ""
    commit: str = ""
    latency_ms: float | None = None

    @property
    def ok(self) -> bool:
        return self.health == "ok"


@dataclass(frozen=True)
class InstanceHealth:
    """One row of the fleet report."""

    instance_id: str
    name: str
    state: str
    endpoint: str
    health: str
    version: str
    commit: str
    cpu_percent: float | None

    @property
    def healthy(self) -> bool:
        return self.state == "running" and self.health == "ok"


@dataclass(frozen=True)
class CpuPoint:
    """One CPUUtilization datapoint of one instance."""

    instance_id: str
    time: datetime
    percent: float


@dataclass
class FleetReport:
    """The whole fleet at one moment, with the CPU series behind the chart."""

    stack: str
    checked_at: datetime
    instances: list[InstanceHealth]
    cpu: list[CpuPoint] = field(default_factory=list)
    minutes: int = 30  # the CPU window asked for

    @property
    def unhealthy(self) -> list[InstanceHealth]:
        return [i for i in self.instances if not i.healthy]

    @property
    def healthy(self) -> bool:
        return bool(self.instances) and not self.unhealthy

    @property
    def versions(self) -> list[str]:
        return sorted({i.version for i in self.instances if i.version})

    def frame(self) -> pandas.DataFrame:
        """One row per instance: state, endpoint, health, version, commit, CPU (missing when
        CloudWatch has no datapoint for it yet: a report shows a dash)."""
        import pandas

        columns = ["instance", "name", "state", "endpoint", "health", "version", "commit", "cpu %"]
        rows = [
            [i.instance_id, i.name, i.state, i.endpoint, i.health, i.version, i.commit[:12],
             None if i.cpu_percent is None else round(i.cpu_percent, 2)]
            for i in self.instances
        ]  # fmt: skip
        return pandas.DataFrame(rows, columns=columns)

    def cpu_frame(self) -> pandas.DataFrame:
        """The CPU series: time, instance, percent."""
        import pandas

        rows = [(p.time, p.instance_id, p.percent) for p in self.cpu]
        return pandas.DataFrame(rows, columns=["time", "instance", "cpu %"])

    def summary(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "checked_at": self.checked_at.isoformat(),
            "healthy": self.healthy,
            "versions": self.versions,
            "instances": [
                {**{k: getattr(i, k) for k in InstanceHealth.__dataclass_fields__},
                 "healthy": i.healthy}
                for i in self.instances
            ],
        }  # fmt: skip


def _tags(instance: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in instance.get("Tags") or []}


def endpoint_of(instance: dict[str, Any], app_port: int) -> str:
    """Where the instance's app answers: the emulator's tag, else public DNS/IP + app port."""
    tagged = _tags(instance).get(ENDPOINT_TAG)
    if tagged:
        return tagged
    address = instance.get("PublicDnsName") or instance.get("PublicIpAddress")
    return f"http://{address}:{app_port}" if address else ""


def describe_instances(session: Session, config: StackConfig) -> list[Instance]:
    """The stack's fleet instances that are not terminated, ordered by name."""
    fleet = config.fleet
    filters = [
        {"Name": f"tag:{fleet.tag_key}", "Values": [fleet.tag_value]},
        {"Name": f"tag:{STACK_TAG}", "Values": [config.stack]},
        {"Name": "instance-state-name", "Values": list(LIVE_STATES)},
    ]
    paginator = session.client("ec2").get_paginator("describe_instances")
    found = []
    with aws_errors("ec2", "DescribeInstances"):
        for page in paginator.paginate(Filters=filters):
            found += [i for r in page["Reservations"] for i in r["Instances"]]
    instances = [
        Instance(
            instance_id=i["InstanceId"],
            name=_tags(i).get("Name", ""),
            state=i["State"]["Name"],
            endpoint=endpoint_of(i, config.network.app_port),
            launched=i.get("LaunchTime"),
        )
        for i in found
    ]
    return sorted(instances, key=lambda i: (i.name, i.instance_id))


def _get_json(url: str, timeout: float) -> tuple[int, Any]:
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        body = response.read()
        return response.status, json.loads(body) if body else None


def probe(endpoint: str, timeout: float = PROBE_TIMEOUT) -> Probe:
    """Ask an app for ``/health`` (status, version) and ``/version`` (commit)."""
    if not endpoint:
        return Probe("unreachable: no public address")
    started = time.monotonic()
    try:
        status, health = _get_json(f"{endpoint}/health", timeout)
        latency = (time.monotonic() - started) * 1000
        _, version = _get_json(f"{endpoint}/version", timeout)
    except urllib.error.HTTPError as exc:
        return Probe(f"HTTP {exc.code}")
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return Probe(f"unreachable: {reason}")
    health = health if isinstance(health, dict) else {}
    version = version if isinstance(version, dict) else {}
    return Probe(
        health=str(health.get("status", f"HTTP {status}")),
        version=str(health.get("version") or version.get("version") or ""),
        commit=str(version.get("commit") or ""),
        latency_ms=round(latency, 1),
    )


def probe_all(instances: Iterable[Instance], timeout: float = PROBE_TIMEOUT) -> dict[str, Probe]:
    """Probe every running instance at once (a fleet of 100 takes one timeout, not 100)."""
    running = [i for i in instances if i.state == "running"]
    if not running:
        return {}
    with ThreadPoolExecutor(max_workers=min(16, len(running))) as pool:
        probes = pool.map(lambda i: probe(i.endpoint, timeout), running)
        return {i.instance_id: p for i, p in zip(running, probes, strict=True)}


def cpu_utilization(
    session: Session,
    instance_ids: list[str],
    minutes: int = 30,
    end: datetime | None = None,
    period: int = 60,
) -> list[CpuPoint]:
    """``AWS/EC2 CPUUtilization`` (Average per ``period``) of each instance, oldest first."""
    end = end or datetime.now(UTC)
    points: list[CpuPoint] = []
    client = session.client("cloudwatch")
    for offset in range(0, len(instance_ids), METRIC_QUERIES_PER_CALL):
        chunk = instance_ids[offset : offset + METRIC_QUERIES_PER_CALL]
        queries = [
            _cpu_query(f"cpu{n}", instance_id, period) for n, instance_id in enumerate(chunk)
        ]
        with aws_errors("cloudwatch", "GetMetricData"):
            pages = client.get_paginator("get_metric_data").paginate(
                MetricDataQueries=queries,
                StartTime=end - timedelta(minutes=minutes),
                EndTime=end,
                ScanBy="TimestampAscending",
            )
            for page in pages:
                for result in page["MetricDataResults"]:
                    instance_id = chunk[int(result["Id"].removeprefix("cpu"))]
                    points += [
                        CpuPoint(instance_id, t, float(v))
                        for t, v in zip(result["Timestamps"], result["Values"], strict=True)
                    ]
    return sorted(points, key=lambda p: (p.instance_id, p.time))


def _cpu_query(query_id: str, instance_id: str, period: int) -> dict[str, Any]:
    metric = {
        "Namespace": "AWS/EC2",
        "MetricName": "CPUUtilization",
        "Dimensions": [{"Name": "InstanceId", "Value": instance_id}],
    }
    return {
        "Id": query_id,
        "MetricStat": {"Metric": metric, "Period": period, "Stat": "Average"},
        "ReturnData": True,
    }


def latest_cpu(points: Iterable[CpuPoint]) -> dict[str, float]:
    """Each instance's most recent CPU percent."""
    latest: dict[str, CpuPoint] = {}
    for point in points:
        if point.instance_id not in latest or point.time >= latest[point.instance_id].time:
            latest[point.instance_id] = point
    return {k: p.percent for k, p in latest.items()}


def assemble(
    stack: str,
    instances: list[Instance],
    probes: dict[str, Probe],
    cpu: list[CpuPoint],
    checked_at: datetime | None = None,
    minutes: int = 30,
) -> FleetReport:
    """The report from what was gathered (pure: the unit tests build reports with it)."""
    cpu_now = latest_cpu(cpu)
    rows = []
    for instance in instances:
        answer = probes.get(instance.instance_id) or Probe(f"not probed ({instance.state})")
        rows.append(
            InstanceHealth(
                instance.instance_id,
                instance.name,
                instance.state,
                instance.endpoint,
                answer.health,
                answer.version,
                answer.commit,
                cpu_now.get(instance.instance_id),
            )
        )
    return FleetReport(stack, checked_at or datetime.now(UTC), rows, cpu, minutes)


def check_fleet(session: Session, config: StackConfig, minutes: int = 30) -> FleetReport:
    """Every instance of the fleet: state, endpoint, health, version served, CPU."""
    instances = describe_instances(session, config)
    probes = probe_all(instances)
    cpu = cpu_utilization(session, [i.instance_id for i in instances], minutes)
    return assemble(config.stack, instances, probes, cpu, minutes=minutes)


def serves(report: FleetReport, commit: str = "", version: str = "") -> list[InstanceHealth]:
    """The instances not (yet) healthy on the expected commit (prefix) and version."""
    return [
        i
        for i in report.instances
        if not i.healthy
        or (commit and not i.commit.startswith(commit))
        or (version and i.version != version)
    ]


def verify(
    session: Session,
    config: StackConfig,
    commit: str = "",
    version: str = "",
    timeout: float = 120.0,
    poll: float = 2.0,
    check: Callable[[Session, StackConfig], FleetReport] | None = None,
) -> FleetReport:
    """Poll until every instance is healthy on ``commit``/``version``, or the deadline.

    Returns the last report either way; :func:`verdict` says whether it is good. A fleet
    takes a moment to settle after a deployment (an app restarting), hence the polling.
    """
    check = check or (lambda s, c: check_fleet(s, c, minutes=10))
    deadline = time.monotonic() + timeout
    while True:
        report = check(session, config)
        if report.instances and not serves(report, commit, version):
            return report
        if time.monotonic() >= deadline:
            return report
        time.sleep(poll)  # the apps give no push when they are ready


def headline(report: FleetReport) -> str:
    """The figure a history of fleet-health runs shows: ``2/3 healthy``."""
    total = len(report.instances)
    return f"{total - len(report.unhealthy)}/{total} healthy"


def verdict(report: FleetReport, commit: str = "", version: str = "") -> Verdict:
    """✓ when every instance is running, healthy and serving what is expected."""
    if not report.instances:
        return Verdict(False, f"stack {report.stack} has no fleet instances (run 'opslib up')")
    wrong = serves(report, commit, version)
    total = len(report.instances)
    wanted = version or commit[:12]
    if not wrong:
        served = ", ".join(report.versions) or "unknown version"
        return Verdict(True, f"all {total} instance(s) healthy, serving {served}")
    expected = f" on {wanted}" if wanted else ""
    details = "; ".join(
        f"{i.name or i.instance_id}: {i.state}, {i.health}, serving {i.version or 'nothing'}"
        for i in wrong
    )
    return Verdict(False, f"{len(wrong)} of {total} instance(s) not healthy{expected}: {details}")


NO_CPU_DATA = "no CPUUtilization data yet"


def _no_data_note(report: FleetReport) -> str:
    return (
        f"{NO_CPU_DATA}: CloudWatch has no AWS/EC2 CPUUtilization datapoint for this fleet in "
        f"the last {report.minutes} minutes. The first ones arrive a few minutes after an "
        "instance starts; run this again then."
    )


def cpu_chart(report: FleetReport) -> Chart:
    """A small line chart of CPU % per instance over the window (a note when no data)."""
    title = f"{report.stack}: CPU utilization per instance"
    figure, axes = render.new_figure(title, width=7, height=2.8)
    if not report.cpu:
        axes.set_axis_off()
        axes.text(0.5, 0.5, NO_CPU_DATA, ha="center", transform=axes.transAxes)
        return Chart(figure, note=_no_data_note(report))
    names = {i.instance_id: i.name or i.instance_id for i in report.instances}
    # in the table's order (by name), so the legend reads like the table above it
    series_ids = sorted({p.instance_id for p in report.cpu}, key=lambda i: (names.get(i, i), i))
    with render.styled():
        for n, instance_id in enumerate(series_ids):
            series = [p for p in report.cpu if p.instance_id == instance_id]
            times: list[Any] = [p.time for p in series]  # matplotlib plots datetimes as dates
            label = names.get(instance_id, instance_id)
            axes.plot(times, [p.percent for p in series], label=label, **series_style(n))
    end = max(p.time for p in report.cpu)
    time_axis(axes, min(min(p.time for p in report.cpu), end - MIN_SPAN), end + MIN_SPAN / 10)
    axes.set_ylim(0, max(1.0, 1.2 * max(p.percent for p in report.cpu)))  # room above the top
    axes.set_ylabel("CPU %")
    render.finish(axes)
    return Chart(figure)


def healthy_headline(report: FleetReport | None) -> render.Headline:
    """``2 of 2`` healthy instances, good only when every one is."""
    if report is None:
        return render.Headline("fleet healthy", render.NO_VALUE, "fleet not checked",
                               render.Status.UNKNOWN)  # fmt: skip
    total = len(report.instances)
    well = total - len(report.unhealthy)
    status = render.Status.GOOD if report.healthy else render.Status.BAD
    return render.Headline("fleet healthy", f"{well} of {total}", "answer /health ok", status)


def headlines(report: FleetReport) -> tuple[render.Headline, ...]:
    """The fleet-health card: healthy instances, versions served, the busiest CPU."""
    cpu = [i.cpu_percent for i in report.instances if i.cpu_percent is not None]
    busiest = f"{max(cpu):.1f} %" if cpu else render.NO_VALUE
    return (
        healthy_headline(report),
        render.Headline("serving", ", ".join(report.versions) or render.NO_VALUE,
                        f"{len(report.versions)} version(s)"),
        render.Headline("busiest CPU", busiest, "latest datapoint" if cpu else
                        "no CPUUtilization datapoint yet"),
    )  # fmt: skip
