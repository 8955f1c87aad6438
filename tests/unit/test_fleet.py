"""opslib.ops.fleet: instances, probes, CPU, the report, the verdict and the chart (by data)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast

import pytest

from opslib.config import StackConfig, parse_config
from opslib.ops import fleet
from opslib.target import Session
from tests.unit.runbook_fakes import FakeSession

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
COMMIT = "4c330b05ae72ecee5b4c4294d9f855c5f282b08b"


def instance(
    instance_id: str, name: str, state: str = "running", endpoint: str = "http://h:1"
) -> fleet.Instance:
    return fleet.Instance(instance_id, name, state, endpoint)


def probe(version: str = "1.0.0+4c330b0", health: str = "ok", commit: str = COMMIT) -> fleet.Probe:
    return fleet.Probe(health, version, commit if version else "", 1.0)


@pytest.fixture
def config() -> StackConfig:
    return parse_config({"stack": "demo", "fleet": {"tag_key": "Group", "tag_value": "Prod"}})


class App(BaseHTTPRequestHandler):
    """The sample app's /health and /version, as a fixture server answers them."""

    status = 200

    def do_GET(self) -> None:  # http.server calls do_<METHOD>
        bodies = {
            "/health": {"status": "ok", "version": "1.0.0+4c330b0", "uptime": 1.0},
            "/version": {"version": "1.0.0+4c330b0", "commit": COMMIT},
        }
        body = json.dumps(bodies.get(self.path, {})).encode()
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture
def app() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), App)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_probe_reads_health_version_and_commit(app: str) -> None:
    answer = fleet.probe(app)
    assert (answer.health, answer.version, answer.commit) == ("ok", "1.0.0+4c330b0", COMMIT)
    assert answer.ok and answer.latency_ms is not None


def test_probe_reports_http_errors(app: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(App, "status", 503)
    assert fleet.probe(app).health == "HTTP 503"


def test_probe_reports_an_unreachable_app() -> None:
    answer = fleet.probe("http://127.0.0.1:9", timeout=1.0)  # discard port: nothing listens
    assert answer.health.startswith("unreachable:") and not answer.ok
    assert fleet.probe("").health == "unreachable: no public address"


def test_probe_all_skips_instances_that_are_not_running(app: str) -> None:
    probes = fleet.probe_all([instance("i-1", "a", endpoint=app), instance("i-2", "b", "stopped")])
    assert list(probes) == ["i-1"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            {"Tags": [{"Key": "opslib:endpoint", "Value": "http://127.0.0.1:5"}]},
            "http://127.0.0.1:5",
        ),
        (
            {"PublicDnsName": "ec2-1.compute.amazonaws.com"},
            "http://ec2-1.compute.amazonaws.com:3000",
        ),
        ({"PublicDnsName": "", "PublicIpAddress": "203.0.113.9"}, "http://203.0.113.9:3000"),
        ({}, ""),
    ],
)
def test_endpoint_of(raw: dict[str, Any], expected: str) -> None:
    assert fleet.endpoint_of(raw, 3000) == expected


def test_describe_instances_filters_by_fleet_and_stack_tags(config: StackConfig) -> None:
    reservation = {
        "Instances": [
            {"InstanceId": "i-2", "State": {"Name": "running"}, "PublicIpAddress": "203.0.113.2",
             "Tags": [{"Key": "Name", "Value": "demo-fleet-2"}]},
            {"InstanceId": "i-1", "State": {"Name": "stopped"},
             "Tags": [{"Key": "Name", "Value": "demo-fleet-1"}]},
        ]
    }  # fmt: skip
    session = FakeSession(ec2={"describe_instances": {"Reservations": [reservation]}})
    found = fleet.describe_instances(cast(Session, session), config)
    assert [(i.instance_id, i.state, i.endpoint) for i in found] == [
        ("i-1", "stopped", ""),
        ("i-2", "running", "http://203.0.113.2:3000"),
    ]
    filters = session.clients["ec2"].calls[0][1]["Filters"]
    assert {"Name": "tag:Group", "Values": ["Prod"]} in filters
    assert {"Name": "tag:opslib:stack", "Values": ["demo"]} in filters


def test_cpu_utilization_asks_one_query_per_instance_and_maps_results_back() -> None:
    def answer(**kwargs: Any) -> dict[str, Any]:
        queries = kwargs["MetricDataQueries"]
        asked = [q["MetricStat"]["Metric"]["Dimensions"][0]["Value"] for q in queries]
        assert asked == ["i-a", "i-b"]
        assert {q["MetricStat"]["Stat"] for q in queries} == {"Average"}
        assert kwargs["EndTime"] - kwargs["StartTime"] == timedelta(minutes=30)
        return {
            "MetricDataResults": [
                {
                    "Id": "cpu1",
                    "Timestamps": [NOW, NOW - timedelta(minutes=1)],
                    "Values": [4.0, 2.0],
                },
                {"Id": "cpu0", "Timestamps": [], "Values": []},
            ]
        }

    session = FakeSession(cloudwatch={"get_metric_data": answer})
    points = fleet.cpu_utilization(cast(Session, session), ["i-a", "i-b"], 30, end=NOW)
    assert [(p.instance_id, p.percent) for p in points] == [("i-b", 2.0), ("i-b", 4.0)]
    assert fleet.latest_cpu(points) == {"i-b": 4.0}


def report(*rows: tuple[fleet.Instance, fleet.Probe | None]) -> fleet.FleetReport:
    instances = [r[0] for r in rows]
    probes = {r[0].instance_id: r[1] for r in rows if r[1] is not None}
    cpu = [fleet.CpuPoint("i-1", NOW, 12.5)]
    return fleet.assemble("demo", instances, probes, cpu, checked_at=NOW)


def test_assemble_builds_one_row_per_instance_with_its_latest_cpu() -> None:
    built = report(
        (instance("i-1", "demo-fleet-1"), probe()), (instance("i-2", "b", "stopped"), None)
    )
    frame = built.frame()
    assert list(frame.columns) == [
        "instance", "name", "state", "endpoint", "health", "version", "commit", "cpu %"
    ]  # fmt: skip
    assert frame.to_dict("records")[0] == {
        "instance": "i-1", "name": "demo-fleet-1", "state": "running", "endpoint": "http://h:1",
        "health": "ok", "version": "1.0.0+4c330b0", "commit": COMMIT[:12], "cpu %": 12.5,
    }  # fmt: skip
    assert frame.loc[1, "health"] == "not probed (stopped)"
    assert built.versions == ["1.0.0+4c330b0"] and not built.healthy
    summary = built.summary()
    assert summary["healthy"] is False and summary["instances"][0]["healthy"] is True


def test_verdict_all_healthy() -> None:
    built = report((instance("i-1", "a"), probe()), (instance("i-2", "b"), probe()))
    verdict = fleet.verdict(built)
    assert verdict.ok and str(verdict) == "✓ all 2 instance(s) healthy, serving 1.0.0+4c330b0"


def test_verdict_names_each_unhealthy_instance() -> None:
    built = report(
        (instance("i-1", "a"), probe()),
        (instance("i-2", "b"), probe("", "unreachable: refused")),
        (instance("i-3", "c", "stopped"), None),
    )
    verdict = fleet.verdict(built)
    assert not verdict.ok
    assert str(verdict).startswith("✗ 2 of 3 instance(s) not healthy: b: running, unreachable")
    assert "c: stopped, not probed (stopped), serving nothing" in verdict.sentence


def test_verdict_checks_the_expected_commit_and_version() -> None:
    built = report((instance("i-1", "a"), probe()))
    assert fleet.verdict(built, commit=COMMIT[:7]).ok
    assert not fleet.verdict(built, commit="deadbeef").ok
    assert "not healthy on 2.0.0" in fleet.verdict(built, version="2.0.0").sentence


def test_verdict_without_instances() -> None:
    assert "has no fleet instances" in fleet.verdict(report()).sentence


def test_verify_polls_until_the_fleet_serves_the_commit() -> None:
    old = report((instance("i-1", "a"), probe("1.0.0+0000000", commit="0" * 40)))
    new = report((instance("i-1", "a"), probe()))
    answers = iter([old, old, new])
    got = fleet.verify(
        cast(Session, None), parse_config({}), commit=COMMIT, poll=0.0,
        check=lambda s, c: next(answers),
    )  # fmt: skip
    assert got is new


def test_verify_returns_the_last_report_at_the_deadline() -> None:
    old = report((instance("i-1", "a"), probe("", "HTTP 500")))
    got = fleet.verify(cast(Session, None), parse_config({}), timeout=0.0, check=lambda s, c: old)
    assert got is old


def test_cpu_chart_plots_one_labelled_series_per_instance() -> None:
    built = fleet.assemble(
        "demo",
        [instance("i-1", "demo-fleet-1"), instance("i-2", "demo-fleet-2")],
        {},
        [fleet.CpuPoint("i-1", NOW, 1.0), fleet.CpuPoint("i-1", NOW + timedelta(minutes=1), 3.0),
         fleet.CpuPoint("i-2", NOW, 7.0)],
    )  # fmt: skip
    chart = fleet.cpu_chart(built)
    axes = chart.figure.axes[0]
    assert axes.get_title() == "demo: CPU utilization per instance"
    assert axes.get_ylabel() == "CPU %"
    assert [line.get_label() for line in axes.lines] == ["demo-fleet-1", "demo-fleet-2"]
    assert list(axes.lines[0].get_ydata()) == [1.0, 3.0]
    assert chart._repr_png_().startswith(b"\x89PNG")


def test_cpu_chart_says_when_there_is_no_data() -> None:
    empty = fleet.assemble("demo", [instance("i-1", "a")], {"i-1": probe()}, [])
    axes = fleet.cpu_chart(empty).figure.axes[0]
    assert not axes.lines
    assert [t.get_text() for t in axes.texts] == ["no CPUUtilization data yet"]


def every_20s(instance_id: str, percent: float, points: int = 10) -> list[fleet.CpuPoint]:
    return [fleet.CpuPoint(instance_id, NOW + timedelta(seconds=20 * n), percent)
            for n in range(points)]  # fmt: skip


def drawn_tick_labels(chart: fleet.Chart) -> list[str]:
    chart.figure.draw_without_rendering()
    return [t.get_text() for t in chart.figure.axes[0].get_xticklabels()]


@pytest.mark.parametrize("points", [1, 4, 10, 90])  # 0 s, 1 min, 3 min, 30 min of data
def test_cpu_chart_time_axis_says_each_time_once_in_utc(points: int) -> None:
    built = fleet.assemble("demo", [instance("i-1", "a")], {}, every_20s("i-1", 2.0, points))
    chart = fleet.cpu_chart(built)
    labels = [label for label in drawn_tick_labels(chart) if label]
    assert len(labels) >= 2
    assert len(labels) == len(set(labels)), labels
    axes = chart.figure.axes[0]
    assert axes.get_xlabel() == "time (UTC)"
    start, end = axes.get_xlim()
    assert end > start  # never the 00:00 -> 00:00 axis of nothing


def test_cpu_chart_lines_that_coincide_stay_distinguishable() -> None:
    cpu = every_20s("i-1", 2.0) + every_20s("i-2", 2.0) + every_20s("i-3", 2.0)
    names = [instance("i-1", "demo-fleet-1"), instance("i-2", "demo-fleet-2"),
             instance("i-3", "demo-fleet-3")]  # fmt: skip
    axes = fleet.cpu_chart(fleet.assemble("demo", names, {}, cpu)).figure.axes[0]
    looks = {(line.get_linestyle(), line.get_marker()) for line in axes.lines}
    assert len(looks) == 3  # same data, three different lines
    legend = axes.get_legend()
    assert legend is not None
    assert [t.get_text() for t in legend.get_texts()] == [
        "demo-fleet-1", "demo-fleet-2", "demo-fleet-3"
    ]  # fmt: skip


def test_cpu_chart_of_one_instance_needs_no_legend() -> None:
    built = fleet.assemble("demo", [instance("i-1", "a")], {}, every_20s("i-1", 2.0))
    assert fleet.cpu_chart(built).figure.axes[0].get_legend() is None


def test_without_cpu_data_the_record_says_so_in_words_not_with_empty_axes() -> None:
    empty = fleet.assemble("demo", [instance("i-1", "a")], {"i-1": probe()}, [], minutes=30)
    chart = fleet.cpu_chart(empty)
    assert chart._repr_png_() is None  # no picture of nothing
    note = chart._repr_markdown_()
    assert note is not None and "no CPUUtilization data yet" in note
    assert "in the last 30 minutes" in note
    assert not chart.figure.axes[0].axison


def test_a_chart_with_data_is_a_picture_only() -> None:
    built = fleet.assemble("demo", [instance("i-1", "a")], {}, every_20s("i-1", 2.0))
    assert fleet.cpu_chart(built)._repr_markdown_() is None


def test_the_fleet_table_shows_a_dash_not_none_for_missing_cpu() -> None:
    from opslib.runbooks import display

    built = fleet.assemble("demo", [instance("i-1", "a")], {"i-1": probe()}, [])
    for shown in (display.table_html(built.frame()), display.table_text(built.frame())):
        assert "None" not in shown and "NaN" not in shown and "–" in shown
    assert built.summary()["instances"][0]["cpu_percent"] is None  # the data stays null


def test_cpu_chart_series_follow_the_tables_order_by_name() -> None:
    names = [instance("i-b", "demo-fleet-1"), instance("i-a", "demo-fleet-2")]
    cpu = every_20s("i-a", 1.0) + every_20s("i-b", 2.0)
    axes = fleet.cpu_chart(fleet.assemble("demo", names, {}, cpu)).figure.axes[0]
    assert [line.get_label() for line in axes.lines] == ["demo-fleet-1", "demo-fleet-2"]
