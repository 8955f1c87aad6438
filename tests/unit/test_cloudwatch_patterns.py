"""CloudWatch Logs filter patterns match as AWS documents (FilterAndPatternSyntax examples)."""

from __future__ import annotations

import json

import pytest

from opslib.emulator.cloudwatch.patterns import (
    FilterPatternError,
    MetricValueError,
    PatternKind,
    field_reference,
    parse_filter_pattern,
    parse_metric_value,
    split_delimited,
)

pytestmark = pytest.mark.unit

# The guide's unstructured examples.
REQUESTS = [
    "[ERROR 400] BAD REQUEST",
    "[ERROR 401] UNAUTHORIZED REQUEST",
    "[ERROR 419] MISSING ARGUMENTS",
    "[ERROR 420] INVALID ARGUMENTS",
    "[ERROR 500] INTERNAL SERVER ERROR",
]
LEVELS = ["ERROR WARN message", "ERROR message", "WARN message"]

# The guide's JSON examples.
TRAIL = json.dumps(
    {
        "eventType": "UpdateTrail",
        "sourceIPAddress": "111.111.111.111",
        "arrayKey": ["value", "another value"],
        "objectList": [{"name": "a", "id": 1}, {"name": "b", "id": 2}],
        "SomeObject": None,
        "ThisFlag": True,
    }
)
USERS = json.dumps(
    {
        "user": {"id": 1, "email": "John.Stiles@example.com"},
        "users": [
            {"id": 2, "email": "John.Doe@example.com"},
            {"id": 3, "email": "Jane.Doe@example.com"},
        ],
        "actions": ["GET", "PUT", "DELETE"],
        "coordinates": [[0, 1, 2], [4, 5, 6], [7, 8, 9]],
    }
)
NUMBERS = json.dumps({"latency": 500, "numbers": [0.001, 1000], "errorCode": 400})

# The guide's space-delimited example.
APACHE = '127.0.0.1 Prod frank [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 404 1534'


def matching(pattern: str, messages: list[str]) -> list[str]:
    parsed = parse_filter_pattern(pattern)
    return [message for message in messages if parsed.matches(message)]


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("", REQUESTS),
        ("   ", REQUESTS),
        ('" "', REQUESTS),
        ("ERROR", REQUESTS),
        ("ERROR ARGUMENTS", REQUESTS[2:4]),
        ("?ERROR ?ARGUMENTS", REQUESTS),
        ("?BAD ?ARGUMENTS", REQUESTS[0:1] + REQUESTS[2:4]),
        ('"INTERNAL SERVER ERROR"', REQUESTS[4:]),
        ("ERROR -ARGUMENTS", REQUESTS[0:2] + REQUESTS[4:]),
        ("error", []),  # case-sensitive
        ("ERROR ?400 ?401 -BAD", REQUESTS[1:2]),
        ("%4[0-9]{2}%", REQUESTS[:4]),
        ("%^.ERROR.5%", REQUESTS[4:]),
        ("-%ERROR.4%", REQUESTS[4:]),
        ("REQUEST ERROR", REQUESTS[0:2]),
    ],
)
def test_term_patterns_match_the_guides_examples(pattern: str, expected: list[str]) -> None:
    assert matching(pattern, REQUESTS) == expected


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("ERROR", LEVELS[0:2]),
        ("?ERROR ?WARN", LEVELS),
        ("ERROR WARN", LEVELS[0:1]),
        ("ERROR -WARN", LEVELS[1:2]),
    ],
)
def test_or_terms_as_the_guide_shows(pattern: str, expected: list[str]) -> None:
    assert matching(pattern, LEVELS) == expected


def test_terms_match_inside_words_and_quotes_escape() -> None:
    assert parse_filter_pattern("ERROR").matches("Exiting with ERRORCODE: -1")
    assert not parse_filter_pattern('ERROR -"Exiting"').matches("Exiting with ERRORCODE: -1")
    assert not parse_filter_pattern('ERROR - "Exiting"').matches("Exiting with ERRORCODE: -1")
    assert parse_filter_pattern('"say \\"hi\\""').matches('they say "hi" twice')
    assert parse_filter_pattern('"a\\\\b"').matches("path a\\b")
    assert parse_filter_pattern('" "').matches("no-blank-at-all")


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ('{ $.eventType = "UpdateTrail" }', TRAIL),
        ("{ $.sourceIPAddress != 123.123.* }", TRAIL),
        ('{ $.arrayKey[0] = "value" }', TRAIL),
        ("{ $.objectList[1].id = 2 }", TRAIL),
        ("{ $.SomeObject IS NULL }", TRAIL),
        ("{ $.SomeOtherObject NOT EXISTS }", TRAIL),
        ("{ $.ThisFlag IS TRUE }", TRAIL),
        ("{ $.ThisFlag is true }", TRAIL),
        ('{ $.eventType = "*" && $.sourceIPAddress != 123.123.* }', TRAIL),
        ("{ $.eventType = Update* }", TRAIL),
        ("{ $.eventType = *Trail }", TRAIL),
        ("{ $.eventType = *ateTr* }", TRAIL),
        ("{ $.eventType = %Trail$% }", TRAIL),
        ("{$.eventType=UpdateTrail}", TRAIL),
        ("{ $.eventType = Create* || $.objectList[0].name = a }", TRAIL),
        ('{ ($.user.id = 1) && ($.users[0].email = "John.Doe@example.com") }', USERS),
        (
            '{ $.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = nonmatch'
            " && $.actions[2] = nomatch }",
            USERS,
        ),
        ("{ $.coordinates[1][2] = 6 }", USERS),
        ("{ $.latency >= 500 }", NUMBERS),
        ("{ $.numbers[0] < 10e-3 }", NUMBERS),
        ("{ $.numbers[0] = 1e-3 }", NUMBERS),
        ("{ $.numbers[1] < 10e3 }", NUMBERS),
        ("{ $.errorCode = 400 }", NUMBERS),
        ("{ $.errorCode != 500 }", NUMBERS),
        ('{ $.errorCode = "400" }', NUMBERS),
        ("{ $.errorCode = 4* }", NUMBERS),
        ("{ $.latency > -1 }", NUMBERS),
    ],
)
def test_json_patterns_match(pattern: str, message: str) -> None:
    parsed = parse_filter_pattern(pattern)
    assert parsed.kind is PatternKind.JSON
    assert parsed.matches(message)


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ('{ $.eventType = "CreateTrail" }', TRAIL),
        ("{ $.sourceIPAddress != 111.111.* }", TRAIL),
        ('{ $.arrayKey[2] = "value" }', TRAIL),
        ('{ $.arrayKey = "value" }', TRAIL),  # an array is not a value node
        ('{ $.arrayKey != "value" }', TRAIL),  # ... neither for != (the guide)
        ("{ $.SomeObject NOT EXISTS }", TRAIL),  # present, though null
        ("{ $.eventType IS NULL }", TRAIL),
        ("{ $.ThisFlag IS FALSE }", TRAIL),
        ('{ $.missing != "x" }', TRAIL),
        ("{ $.eventType = Up*Trail }", TRAIL),  # a middle * is a literal (the guide's Ev*ent)
        ('{ $.eventType = "updatetrail" }', TRAIL),
        ("{ $.objectList.id = 1 }", TRAIL),
        ('{ ($.user.id = 2 && $.users[0].email = "nonmatch") || $.actions[2] = "GET" }', USERS),
        (
            '{ ($.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = nonmatch)'
            " && $.actions[2] = nomatch }",
            USERS,
        ),
        ("{ $.users = 1 }", USERS),
        ("{ $.users != 1 }", USERS),
        ("{ $.latency > 500 }", NUMBERS),
        ("{ $.numbers[1] != 1e+3 }", NUMBERS),
        ("{ $.latency > +1000 }", NUMBERS),
        ("{ $.latency = 500 }", "latency 500"),  # not JSON at all
        ("{ $.latency = 500 }", "[500]"),  # JSON, but not an object
        ("{ $.latency > 10 }", json.dumps({"latency": "500"})),  # text is not a number
    ],
)
def test_json_patterns_do_not_match(pattern: str, message: str) -> None:
    assert not parse_filter_pattern(pattern).matches(message)


@pytest.mark.parametrize(
    ("message", "matches"),
    [
        ({"level": "warn", "code": 503}, True),
        ({"level": "error", "code": "500"}, True),
        ({"level": "info", "code": 500}, False),
        ({"level": "warn", "code": 200}, False),
        ({"code": 500, "note": "level error"}, False),
    ],
)
def test_or_inside_and_needs_only_what_every_branch_needs(
    message: dict[str, object], matches: bool
) -> None:
    pattern = parse_filter_pattern('{ ($.level = "error" || $.level = warn) && $.code = 5* }')
    assert pattern.matches(json.dumps(message)) is matches


def test_issue_example_six_of_thirty_json_events_match() -> None:
    events = [
        json.dumps({"level": "error" if i % 3 == 0 else "info", "i": i, "msg": f"event {i}"})
        for i in range(30)
    ]
    pattern = parse_filter_pattern('{ $.level = "error" && $.i > 10 }')
    matched = [json.loads(e)["i"] for e in events if pattern.matches(e)]
    assert matched == [12, 15, 18, 21, 24, 27]


@pytest.mark.parametrize(
    ("pattern", "matches"),
    [
        ("[ip, user, username, timestamp, request =*.html*, status_code = 4*, bytes]", True),
        ("[..., request =*.html*, status_code = 4*, bytes]", True),
        (
            "[ip, user, username, timestamp, request =*.html*,"
            " status_code = 404 || status_code = 410, bytes]",
            True,
        ),
        ("[ip, user, username, timestamp, request, status_code, bytes > 1000]", True),
        ("[ip, user, username, timestamp, request, status_code, bytes > 2000]", False),
        ("[ip, user, username, timestamp, request, status_code = 200, bytes]", False),
        (
            "[ip, user, username, timestamp, request,"
            " status_code = 4* && status_code != 403, bytes]",
            True,
        ),
        ("[ip, user, username, timestamp, request, status_code != 404, bytes]", False),
        ('[ip, user = "Prod", ...]', True),
        ("[ip, user, ...]", True),
        ("[..., status_code, bytes]", True),
        ("[..., status_code = 404, ...]", True),
        ("[ip = 127.0.0.*, ...]", True),
        ("[ip, user]", False),  # without ... the number of fields is exact
        ("[a, b, c, d, e, f, g, h]", False),
        ("[..., request = %index\\.html%, ...]", True),
    ],
)
def test_space_delimited_patterns(pattern: str, matches: bool) -> None:
    parsed = parse_filter_pattern(pattern)
    assert parsed.kind is PatternKind.DELIMITED
    assert parsed.matches(APACHE) is matches


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("[w1=ERROR, w2]", ["ERROR message"]),
        ("[w1=ERROR || W1=WARN, w2]", ["ERROR message", "WARN message"]),
        ("[w1!=ERROR && w1!=WARN, w2]", ["INFO message"]),
        ("[w1=%^ERR%, w2]", ["ERROR message"]),
    ],
)
def test_space_delimited_positional_terms(pattern: str, expected: list[str]) -> None:
    assert matching(pattern, [*LEVELS, "INFO message"]) == expected


def test_space_delimited_extraction_is_the_guides() -> None:
    parsed = parse_filter_pattern(
        "[ip, user, username, timestamp, request =*.html*, status_code = 4*, bytes]"
    )
    assert parsed.extract(APACHE) == {
        "$ip": "127.0.0.1",
        "$user": "Prod",
        "$username": "frank",
        "$timestamp": "10/Oct/2000:13:25:15 -0700",
        "$request": "GET /index.html HTTP/1.0",
        "$status_code": "404",
        "$bytes": "1534",
    }
    unnamed = parse_filter_pattern("[..., request=*.html*, status_code=4*,]")
    assert unnamed.extract(APACHE.replace("Prod", "-")) == {
        "$1": "127.0.0.1",
        "$2": "-",
        "$3": "frank",
        "$4": "10/Oct/2000:13:25:15 -0700",
        "$request": "GET /index.html HTTP/1.0",
        "$status_code": "404",
        "$7": "1534",
    }
    assert parsed.extract("too short") is None


def test_split_delimited_keeps_brackets_and_quotes_whole() -> None:
    assert split_delimited('a  [b c] "d \\" e" f') == ["a", "b c", 'd \\" e', "f"]
    assert split_delimited("") == []


def test_json_extraction_gives_the_patterns_selectors() -> None:
    parsed = parse_filter_pattern("{ $.latency = * && $.requestType = GET }")
    message = json.dumps({"latency": 50, "requestType": "GET", "other": 1})
    assert parsed.fields == {"$.latency", "$.requestType"}
    assert parsed.extract(message) == {"$.latency": "50", "$.requestType": "GET"}
    assert parsed.extract(json.dumps({"latency": 50, "requestType": "PUT"})) is None


@pytest.mark.parametrize(
    ("pattern", "metric_value", "message", "value"),
    [
        ("{ $.latency = * }", "$.latency", json.dumps({"latency": 50}), 50.0),
        ("{ $.latency = * }", "$.latency", json.dumps({"latency": "12.5"}), 12.5),
        ("{ $.latency = * }", "$.latency", json.dumps({"latency": "fast"}), None),
        ("{ $.latency = * }", "$.latency", json.dumps({"latency": True}), None),
        ("{ $.latency = * }", "1", json.dumps({"latency": "fast"}), 1.0),
        ("{ $.a.b[0] = * }", "$.a.b[0]", json.dumps({"a": {"b": [7]}}), 7.0),
        ("[ip, user, username, timestamp, request, status_code, bytes]", "$bytes", APACHE, 1534.0),
        ("[ip, user, username, timestamp, request, status_code, bytes]", "$request", APACHE, None),
        ("[..., status_code, bytes]", "$status_code", APACHE, 404.0),
        ("[..., status_code, bytes]", "$1", APACHE, None),  # ellipsis fields by position
        ("ERROR", "2.5", "ERROR here", 2.5),
    ],
)
def test_metric_values_read_from_matched_events(
    pattern: str, metric_value: str, message: str, value: float | None
) -> None:
    parsed = parse_filter_pattern(pattern)
    fields = parsed.extract(message)
    assert fields is not None
    assert parse_metric_value(metric_value, parsed).value_for(fields) == value


@pytest.mark.parametrize(
    ("pattern", "metric_value"),
    [
        ("{ $.latency = * }", "$.duration"),  # the field must be in the pattern
        ("{ $.latency = * }", "$latency"),
        ("[a, b]", "$c"),
        ("[a, b]", "$.a"),
        ("ERROR", "$.latency"),  # unstructured patterns have no fields
        ("ERROR", "latency"),
        ("{ $.a = 1 }", '$."a"'),
    ],
)
def test_metric_values_that_cannot_be_read_are_refused(pattern: str, metric_value: str) -> None:
    with pytest.raises(MetricValueError, match="Invalid metric value"):
        parse_metric_value(metric_value, parse_filter_pattern(pattern))


def test_dimension_references_resolve_like_metric_values() -> None:
    parsed = parse_filter_pattern('{ $.eventType = "*" && $.sourceIPAddress != 123.123.* }')
    key = field_reference(" $.eventType ", parsed)
    fields = parsed.extract(TRAIL)
    assert fields is not None and fields[key] == "UpdateTrail"


@pytest.mark.parametrize(
    ("pattern", "detail", "position"),
    [
        # AWS's own wording, seen in its responses:
        ("email@domain.com", "Invalid character(s) in term '@'", 5),
        ("?Status: timeout", "Invalid character(s) in term ':'", 7),
        ('""', "Invalid character(s) in term '\"\"'", 0),
        ('{ $."sc-status" = 5* }', "Invalid character(s) in term '$.\"'", 2),
        ("{ $.a = 1", "If a filter pattern starts with '{' it must end with '}'", 8),
        ("%a(b)%", "Invalid character(s) in term '('", 2),
        ("%a b%", "Invalid character(s) in term ' '", 2),
        ("{ $.a = x@y }", "Invalid character(s) in term '@'", 9),
        ("[a-b]", "Invalid character(s) in term '-'", 2),
        ('"abc"def', "Invalid character(s) in term 'd'", 5),
        ("ERROR -", "Invalid character(s) in term '-'", 6),
        # the emulator's own words where AWS only says "Invalid filter pattern":
        ('"unterminated', "unterminated quoted string", 0),
        ("%%", "empty regular expression", 0),
        ("%abc", "unterminated regular expression (missing '%')", 0),
        ("%a[%", "invalid regular expression: unterminated character set at position 1", 1),
        ("[ip", "If a filter pattern starts with '[' it must end with ']'", 2),
        ("{ $.a EXISTS }", "EXISTS is not supported; use NOT EXISTS or '= *'", 6),
        ("{ $.a IS NOT NULL }", "IS NOT is not supported (IS NULL, IS TRUE, IS FALSE)", 9),
        ("{ $.a = }", "unexpected end of pattern", 8),
        ("{ $.a = 1 && }", "unexpected end of pattern", 13),
        ("{ ($.a = 1 }", "unexpected end of pattern", 11),
        ("{ $.a > abc }", "'>' needs a number, not 'abc'", 8),
        ("{ a = 1 }", "unexpected 'a'", 2),
        ("{ $ = 1 }", "a selector starts with '$.'", 2),
        ("{ $.a[x] = 1 }", "an array index is [NUMBER]", 5),
        ("{ $.a = 1 }}", "Invalid character(s) in term '}'", 10),
        ("{ $.a 1 }", "unexpected '1'", 6),
        (
            "[ip, user, username, timestamp, request, status_code = 4* && bytes > 1000]",
            "a condition in field 'status_code' can only test that field, not 'bytes'",
            61,
        ),
        ("[a, b =]", "unexpected end of pattern", 7),
        ("[a, b > x]", "'>' needs a number, not 'x'", 8),
        ("[a, b c]", "unexpected 'c'", 6),
        ("[]", "a space-delimited pattern names at least one field", 1),
    ],
)
def test_malformed_patterns_say_why_and_where(pattern: str, detail: str, position: int) -> None:
    with pytest.raises(FilterPatternError) as raised:
        parse_filter_pattern(pattern)
    assert raised.value.detail == detail
    assert raised.value.position == position
    assert raised.value.message == f"Invalid filter pattern: {detail}"
    assert str(raised.value) == raised.value.message


@pytest.mark.parametrize(
    ("pattern", "kind"),
    [
        ("", PatternKind.ALL),
        ("ERROR", PatternKind.TERMS),
        ("  { $.a = 1 }  ", PatternKind.JSON),
        (" [a, ...] ", PatternKind.DELIMITED),
    ],
)
def test_pattern_kinds(pattern: str, kind: PatternKind) -> None:
    assert parse_filter_pattern(pattern).kind is kind


def test_term_and_all_patterns_extract_no_fields() -> None:
    assert parse_filter_pattern("ERROR").extract("ERROR x") == {}
    assert parse_filter_pattern("ERROR").extract("fine") is None
    assert parse_filter_pattern("").extract("anything") == {}
