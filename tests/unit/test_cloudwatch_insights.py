"""Logs Insights queries answer as GetQueryResults does (CWL_QuerySyntax examples)."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime

import pytest

from opslib.emulator.cloudwatch.insights import (
    DEFAULT_LIMIT,
    LogEvent,
    MalformedQueryError,
    discover_json,
    parse_query,
    run_query,
)
from opslib.emulator.cloudwatch.insights.values import (
    Period,
    ceil_period,
    floor_period,
    format_value,
    parse_period,
)

pytestmark = pytest.mark.unit

BASE = int(datetime(2024, 1, 31, 12, 0, tzinfo=UTC).timestamp() * 1000)  # a Wednesday


def app_events(count: int = 30) -> list[LogEvent]:
    """The issue's stream: every third event an error, one a minute, two streams."""
    return [
        LogEvent(
            timestamp=BASE + i * 60_000,
            message=json.dumps(
                {
                    "level": "error" if i % 3 == 0 else "info",
                    "i": i,
                    "latency": i * 1.5,
                    "path": f"/p{i % 3}",
                }
            ),
            logStream=f"web-{i % 2}",
            logGroup="/app",
            ptr=f"ptr-{i}",
        )
        for i in range(count)
    ]


def text_events(*messages: str) -> list[LogEvent]:
    return [
        LogEvent(timestamp=BASE + i, message=m, logStream="s", logGroup="/g")
        for i, m in enumerate(messages)
    ]


def column(query: str, name: str, events: list[LogEvent] | None = None) -> list[str]:
    """The values of one column, one per row (blank where the row lacks it)."""
    result = run_query(query, app_events() if events is None else events)
    return [next((f["value"] for f in row if f["field"] == name), "") for row in result.results]


def test_fields_rows_carry_values_as_aws_prints_them_and_a_ptr() -> None:
    result = run_query(
        "fields @timestamp, @message, @logStream, @log, level, i | limit 2", app_events()
    )
    assert result.fields == ("@timestamp", "@message", "@logStream", "@log", "level", "i")
    assert result.results[1] == [
        {"field": "@timestamp", "value": "2024-01-31 12:01:00.000"},
        {"field": "@message", "value": app_events()[1]["message"]},
        {"field": "@logStream", "value": "web-1"},
        {"field": "@log", "value": "123456789012:/app"},
        {"field": "level", "value": "info"},
        {"field": "i", "value": "1"},
        {"field": "@ptr", "value": "ptr-1"},
    ]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ('filter level = "error" and i > 10', [12, 15, 18, 21, 24, 27]),  # the case
        ("filter i > 25", [26, 27, 28, 29]),
        ("filter i >= 28 or i < 1", [0, 28, 29]),
        ("filter not (i < 28)", [28, 29]),
        ("filter (i=10 or i>28)", [10, 29]),
        ("filter i in [1, 2, 3]", [1, 2, 3]),
        ('filter i not in [0, 1, "2"] and i < 4', [3]),
        ("filter i != 0 and i <= 2", [1, 2]),
        ('filter path like "p1" and i < 10', [1, 4, 7]),
        ('filter @message like /"i": 2[0-9],/', list(range(20, 30))),
        ('filter @message =~ /"i": 1\\d,/', list(range(10, 20))),
        ("filter path not like /p[01]/ and i < 9", [2, 5, 8]),
        ("filter level like /(?i)ERROR/ and i < 7", [0, 3, 6]),
        ("filter ispresent(latency) and not ispresent(nope) and i < 2", [0, 1]),
        ('filter @logStream = "web-1" and i < 6', [1, 3, 5]),
        ("filter latency * 2 = 3", [1]),
        ("filter i % 10 = 0", [0, 10, 20]),
        ("filter i ^ 2 > 800", [29]),
        ("filter -i < -27", [28, 29]),
        ("filter strlen(path) = 3 and i < 2", [0, 1]),
        ("filter nope = 1 or nope != 1", []),  # an absent field compares false
        (f"filter @timestamp >= {BASE + 28 * 60_000}", [28, 29]),
        (f"filter toMillis(@timestamp) = {BASE + 29 * 60_000}", [29]),
    ],
)
def test_filter_expressions(query: str, expected: list[int]) -> None:
    assert column(f"{query} | fields i", "i") == [str(i) for i in expected]


def test_fields_compute_aliases_with_functions() -> None:
    query = (
        'fields i * 2 as twice, concat(level, "-", path) as tag, abs(0 - i) as a,'
        " toupper(level), coalesce(nope, path) as c, ispresent(nope) as p, i / 4 as q"
        " | filter i = 3"
    )
    result = run_query(query, app_events())
    values = {f["field"]: f["value"] for f in result.results[0]}
    assert values == {
        "twice": "6",
        "tag": "error-/p0",
        "a": "3",
        "toupper(level)": "ERROR",
        "c": "/p0",
        "p": "0",
        "q": "0.75",
        "@ptr": "ptr-3",
    }


def test_fields_with_backticks_and_later_commands_see_them() -> None:
    events = text_events(json.dumps({"foo-bar": 7, "x": 1}))
    result = run_query("fields `foo-bar` + x as total | filter total = 8 | display total", events)
    assert [f["field"] for f in result.results[0]] == ["total", "@ptr"]
    assert result.results[0][0]["value"] == "8"


GUIDE_LINE = (
    "25 May 2019 10:24:39,474 [ERROR] {foo=2, bar=data} The error was: DataIntegrityException"
)


@pytest.mark.parametrize(
    "query",
    [
        'parse @message "[*] * The error was: *" as level, config, exception',
        "parse @message '[*] * The error was: *' as level, config, exception",
        'parse "[*] * The error was: *" as level, config, exception',
        "parse @message /\\[(?<level>\\S+)\\]\\s+(?<config>\\{.*\\})\\s+The error was:"
        " (?<exception>\\S+)/",
    ],
)
def test_parse_glob_and_regex_as_in_the_guide(query: str) -> None:
    result = run_query(f"{query} | display level, config, exception", text_events(GUIDE_LINE))
    row = result.results[0]
    assert [f["value"] for f in row if f["field"] != "@ptr"] == [
        "ERROR",
        "{foo=2, bar=data}",
        "DataIntegrityException",
    ]
    assert row[-1]["field"] == "@ptr"


def test_parse_then_stats_as_in_the_guide() -> None:
    events = text_events(
        "25 May 2019 10:24:39,474 user=user1234, method:get, latency := 216",
        "25 May 2019 10:24:40,474 user=user1234, method:get, latency := 100",
        "25 May 2019 10:24:41,474 user=other, method:put, latency := 7",
        "no match here",
    )
    query = (
        "parse @message /user=(?<user2>.*?), method:(?<method2>.*?), latency := (?<latency2>.*)/"
        " | stats avg(latency2) by method2, user2"
    )
    result = run_query(query, events)
    assert result.fields == ("method2", "user2", "avg(latency2)")
    assert result.results == [
        [
            {"field": "method2", "value": "get"},
            {"field": "user2", "value": "user1234"},
            {"field": "avg(latency2)", "value": "158"},
        ],
        [
            {"field": "method2", "value": "put"},
            {"field": "user2", "value": "other"},
            {"field": "avg(latency2)", "value": "7"},
        ],
        [],  # the unparsed event: a group without by-values or average, so no fields
    ]


def test_parse_keeps_records_that_do_not_match() -> None:
    events = text_events("a=1", "nothing")
    result = run_query('parse @message "a=*" as a | fields @message, a', events)
    assert [[f["field"] for f in row] for row in result.results] == [
        ["@message", "a", "@ptr"],
        ["@message", "@ptr"],
    ]


@pytest.mark.parametrize(
    ("query", "fields", "rows"),
    [
        (
            "stats count(*) by bin(5m)",
            ("bin(5m)", "count(*)"),
            [[f"2024-01-31 12:{m:02d}:00.000", "5"] for m in range(0, 30, 5)],
        ),
        (
            "stats count() as n by bin(10m) | sort n desc | limit 1",
            ("bin(10m)", "n"),
            [["2024-01-31 12:00:00.000", "10"]],
        ),
        (
            "filter level = 'error' | stats count(*) as errors, sum(i), avg(i), min(i), max(i)",
            ("errors", "sum(i)", "avg(i)", "min(i)", "max(i)"),
            [["10", "135", "13.5", "0", "27"]],
        ),
        ("stats count(nope), count(i)", ("count(nope)", "count(i)"), [["0", "30"]]),
        (
            "stats pct(i, 90), pct(i, 50) as median, pct(latency, 100)",
            ("pct(i,90)", "median", "pct(latency,100)"),
            [["26", "14", "43.5"]],
        ),
        (
            "stats count(*) by level, @logStream",
            ("level", "@logStream", "count(*)"),
            [
                ["error", "web-0", "5"],
                ["error", "web-1", "5"],
                ["info", "web-0", "10"],
                ["info", "web-1", "10"],
            ],
        ),
        (
            "stats count_distinct(path) as paths, earliest(i), latest(i) by level",
            ("level", "paths", "earliest(i)", "latest(i)"),
            [["error", "1", "0", "27"], ["info", "2", "1", "29"]],
        ),
        ("stats stddev(i) as sd | fields sd", ("sd",), [["8.8034"]]),
        (
            "stats count(*) as n by level | stats sum(n) as total, count(*) as groups",
            ("total", "groups"),
            [["30", "2"]],
        ),
        (
            "stats count(*) by bin(1h) as hour",
            ("hour", "count(*)"),
            [["2024-01-31 12:00:00.000", "30"]],
        ),
        (
            "stats max(path) as top, min(level) as low",
            ("top", "low"),
            [["/p2", "error"]],
        ),
    ],
)
def test_stats(query: str, fields: tuple[str, ...], rows: list[list[str]]) -> None:
    result = run_query(query, app_events())
    assert result.fields == fields
    assert [[f["value"] for f in row] for row in result.results] == rows
    assert all(f["field"] != "@ptr" for row in result.results for f in row)


def test_statistics_count_scanned_bytes_and_matched_events() -> None:
    events = app_events()
    expected_bytes = float(sum(len(e["message"].encode()) for e in events))
    plain = run_query('filter level = "error" | fields i | limit 2', events)
    assert plain.statistics == {
        "recordsMatched": 10.0,  # matched, though only 2 rows are returned
        "recordsScanned": 30.0,
        "bytesScanned": expected_bytes,
    }
    stats = run_query('filter level = "error" | stats count(*) by @logStream', events)
    assert len(stats.results) == 2
    assert stats.statistics["recordsMatched"] == 10.0  # the events, not the 2 rows
    utf8 = run_query("fields @message", text_events("héllo"))
    assert utf8.statistics["bytesScanned"] == 6.0


def test_limits_the_query_the_api_and_the_default() -> None:
    assert len(run_query("fields i | limit 5", app_events()).results) == 5
    assert len(run_query("fields i", app_events(), limit=3).results) == 3
    assert len(run_query("fields i | limit 2", app_events(), limit=7).results) == 2
    assert len(run_query("fields i | limit 20 | limit 4", app_events()).results) == 4
    assert column("limit 3 | stats count(*) as n", "n") == ["3"]
    many = text_events(*(f"m{i}" for i in range(DEFAULT_LIMIT + 5)))
    result = run_query("fields @message", many)
    assert len(result.results) == DEFAULT_LIMIT
    assert result.statistics["recordsMatched"] == DEFAULT_LIMIT + 5
    with pytest.raises(ValueError, match="limit must be from 1 to 100000"):
        run_query("fields i", app_events(), limit=0)


def test_sort_uses_awss_natural_order() -> None:
    # CWL_QuerySyntax-Sort's example, in its ascending order.
    documented = "!: # *%04 0# 5A 111A 2345_ @ @_ A A9876fghj a12345hfh 0 01 1 2 3".split()
    shuffled = documented[:]
    random.Random(7).shuffle(shuffled)
    query = 'parse @message "*" as v | sort v asc | display v'
    assert column(query, "v", text_events(*shuffled)) == documented
    descending = column(query.replace("asc", "desc"), "v", text_events(*shuffled))
    assert descending == documented[::-1]


def test_sort_by_several_keys_with_absent_values_last() -> None:
    events = text_events(
        json.dumps({"g": "b", "n": 2}),
        json.dumps({"g": "a", "n": 1}),
        json.dumps({"n": 9}),
        json.dumps({"g": "a", "n": 10}),
        json.dumps({"g": "b", "n": 1}),
    )
    assert column("sort g asc, n desc | fields n", "n", events) == ["10", "1", "2", "1", "9"]
    assert column("sort g desc, n | fields n", "n", events) == ["1", "2", "1", "10", "9"]
    assert column("sort @timestamp desc | fields n | limit 2", "n", events) == ["1", "10"]


@pytest.mark.parametrize(
    ("query", "fields"),
    [
        ("filter i > 1", ("@timestamp", "@message")),
        ("fields i | fields level, i", ("i", "level")),
        ("fields i, level | display level", ("level",)),
        ("display i | display level", ("level",)),
        ("fields i | stats count(*) by level | fields level", ("level", "count(*)")),
    ],
)
def test_the_columns_a_query_shows(query: str, fields: tuple[str, ...]) -> None:
    assert parse_query(query).output_fields == fields


def test_json_fields_are_discovered_with_dots_and_indexes() -> None:
    message = json.dumps(
        {
            "userIdentity": {"type": "IAMUser"},
            "requestParameters": {"instancesSet": {"items": [{"instanceId": "i-abcde123"}]}},
            "@example.com": 1,
            "ok": True,
            "gone": None,
            "ratio": 0.123456,
        }
    )
    assert discover_json(message) == {
        "userIdentity.type": "IAMUser",
        "requestParameters.instancesSet.items.0.instanceId": "i-abcde123",
        "@@example.com": 1,
        "ok": "true",
        "ratio": "0.123456",  # logged numbers keep their text
    }
    assert discover_json("not json") == {}
    assert discover_json("[1, 2]") == {}
    query = (
        'filter requestParameters.instancesSet.items.0.instanceId="i-abcde123"'
        " | fields userIdentity.type, ratio"
    )
    assert column(query, "ratio", text_events(message, "plain")) == ["0.123456"]


def test_comments_and_case_insensitive_keywords() -> None:
    query = "fields @timestamp, i\n    # | filter i > 100\n    | FILTER i < 2 AND level = 'error'"
    assert column(query, "i") == ["0"]


@pytest.mark.parametrize(
    ("text", "period", "floor", "ceil"),
    [
        ("5m", Period(5, "m"), "2024-01-31 12:05:00.000", "2024-01-31 12:10:00.000"),
        ("2hrs", Period(2, "h"), "2024-01-31 12:00:00.000", "2024-01-31 14:00:00.000"),
        ("30sec", Period(30, "s"), "2024-01-31 12:07:00.000", "2024-01-31 12:07:30.000"),
        ("1d", Period(1, "d"), "2024-01-31 00:00:00.000", "2024-02-01 00:00:00.000"),
        ("1w", Period(1, "w"), "2024-01-29 00:00:00.000", "2024-02-05 00:00:00.000"),
        ("1mo", Period(1, "mo"), "2024-01-01 00:00:00.000", "2024-02-01 00:00:00.000"),
        ("1quarter", Period(1, "q"), "2024-01-01 00:00:00.000", "2024-04-01 00:00:00.000"),
        ("1y", Period(1, "y"), "2024-01-01 00:00:00.000", "2025-01-01 00:00:00.000"),
        ("100ms", Period(100, "ms"), "2024-01-31 12:07:05.100", "2024-01-31 12:07:05.200"),
    ],
)
def test_periods_floor_and_ceil(text: str, period: Period, floor: str, ceil: str) -> None:
    moment = BASE + 7 * 60_000 + 5_123  # 12:07:05.123 on Wednesday 2024-01-31
    assert parse_period(text) == period
    assert format_value(floor_period(moment, period)) == floor
    assert format_value(ceil_period(moment, period)) == ceil


def test_values_print_as_aws_prints_them() -> None:
    assert format_value(30.0) == "30"
    assert format_value(27.65655517578125) == "27.6566"  # as in a real capture
    assert format_value(0.5) == "0.5"
    assert format_value(True) == "1"
    assert format_value("text") == "text"


@pytest.mark.parametrize(
    ("query", "message", "start", "end"),
    [
        ("fields a |", "unexpected symbol found <EOF> at line 1 and position 10", 10, 10),
        ("sort bin(1d) desc", "unexpected symbol found ( at line 1 and position 8", 8, 8),
        (
            "filter @message like /x/i",
            "unexpected symbol found i at line 1 and position 24",
            24,
            24,
        ),
        (
            "fields a\n| filter b = = 1",
            "unexpected symbol found = at line 2 and position 13",
            22,
            22,
        ),
        ("", "unexpected symbol found <EOF> at line 1 and position 0", 0, 0),
        ("filter a =", "unexpected symbol found <EOF> at line 1 and position 10", 10, 10),
        ("fields a b", "unexpected symbol found b at line 1 and position 9", 9, 9),
        ("filter a ! b", "unexpected symbol found ! at line 1 and position 9", 9, 9),
        ("limit 0", "unexpected symbol found 0 at line 1 and position 6", 6, 6),
        ("limit 2.5", "unexpected symbol found 2.5 at line 1 and position 6", 6, 8),
        ("stats foo(x)", "unexpected symbol found foo at line 1 and position 6", 6, 8),
        ("stats abs(x)", "abs is not an aggregation function at line 1 and position 6", 6, 8),
        ("stats pct(a)", "unexpected symbol found ) at line 1 and position 11", 11, 11),
        (
            "stats pct(a, 101)",
            "pct takes a percentile from 0 to 100 at line 1 and position 13",
            13,
            15,
        ),
        (
            "fields count(*)",
            "aggregate function count is only allowed in stats at line 1 and position 7",
            7,
            11,
        ),
        ("fields nofn(a)", "unknown function nofn at line 1 and position 7", 7, 10),
        ("fields abs(a, b)", "wrong number of arguments to abs at line 1 and position 7", 7, 15),
        (
            "stats count(*) by bin(5parsecs)",
            "invalid time period 5parsecs at line 1 and position 22",
            22,
            29,
        ),
        (
            "dedup a",
            "command dedup is not supported by this emulator at line 1 and position 0",
            0,
            4,
        ),
        (
            'parse @message "* *" as a',
            "the parse pattern has 2 * but 1 names follow as at line 1 and position 15",
            15,
            19,
        ),
        (
            'parse @message "abc" as a',
            "a parse pattern needs at least one * at line 1 and position 15",
            15,
            19,
        ),
        (
            "parse @message /(\\d+)/",
            "a parse regex names its fields with (?<name>...) groups at line 1 and position 15",
            15,
            21,
        ),
        ('filter a = "open', 'unterminated string "open at line 1 and position 11', 11, 11),
        (
            "filter a like /(/",
            "invalid regular expression /(/: missing ), unterminated subpattern at position 0"
            " at line 1 and position 14",
            14,
            16,
        ),
        ("filter and", "unexpected symbol found and at line 1 and position 7", 7, 9),
    ],
)
def test_malformed_queries_say_what_and_where(
    query: str, message: str, start: int, end: int
) -> None:
    with pytest.raises(MalformedQueryError) as raised:
        parse_query(query)
    assert raised.value.message == message
    assert raised.value.query_compile_error() == {
        "location": {"startCharOffset": start, "endCharOffset": end},
        "message": message,
    }


def test_run_query_parses_strings_and_reuses_parsed_queries() -> None:
    parsed = parse_query("filter i < 2 | fields i")
    assert (
        run_query(parsed, app_events()).results
        == run_query("filter i < 2 | fields i", app_events()).results
    )
    with pytest.raises(MalformedQueryError):
        run_query("filter", app_events())
