"""The token cursor shared by the metric math and composite alarm rule parsers."""

from __future__ import annotations

import pytest

from opslib.emulator.cloudwatch.composite import RuleError, parse_alarm_rule
from opslib.emulator.cloudwatch.metricerrors import MetricMathError
from opslib.emulator.cloudwatch.metricmath import parse_expression
from opslib.emulator.cloudwatch.tokens import Token, TokenCursor


class _Refused(Exception):
    def __init__(self, message: str, position: int) -> None:
        super().__init__(message)
        self.position = position


def test_the_cursor_walks_its_tokens_and_fails_with_the_parsers_error() -> None:
    cursor = TokenCursor([Token("word", "ALARM", 0), Token("end", "", 5)], _Refused)
    assert cursor.advance().text == "ALARM"
    assert cursor.token.kind == "end"
    with pytest.raises(_Refused, match="^Unexpected end at position 5$") as refused:
        cursor.fail("Unexpected end")
    assert refused.value.position == 5
    with pytest.raises(_Refused, match="at position 0$"):
        cursor.fail("Bad word", cursor.tokens[0])


def test_both_parsers_report_the_position_through_it() -> None:
    with pytest.raises(RuleError, match=r"Unexpected 'x'.* at position 13") as rule:
        parse_alarm_rule("ALARM(a) AND x")
    assert rule.value.position == 13
    with pytest.raises(MetricMathError, match="at position 4") as expression:
        parse_expression("m1 +")
    assert expression.value.position == 4
