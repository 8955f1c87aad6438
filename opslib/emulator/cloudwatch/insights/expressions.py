"""Expressions of ``fields``, ``filter`` and ``stats ... by``, parsed straight into closures.

Precedence, loosest first: ``or``, ``and``, ``not``, comparisons (``= != < <= > >=``,
``like``, ``not like``, ``=~``, ``in [...]``, ``not in``), ``+ -``, ``* / %``, ``^``,
unary ``-``, then literals (numbers, strings, periods such as ``5m``), fields (``@x``,
``a.b.0.c``, ```odd-name```), function calls and parentheses. Each :class:`Expr` keeps
its text the way AWS names an unaliased result column: the tokens without blanks
(``abs(f3-f4)``, ``bin(5m)``; verify).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from opslib.emulator.cloudwatch.insights.errors import MalformedQueryError
from opslib.emulator.cloudwatch.insights.functions import FUNCTIONS
from opslib.emulator.cloudwatch.insights.lexer import Lexer, Token
from opslib.emulator.cloudwatch.insights.records import Record
from opslib.emulator.cloudwatch.insights.values import (
    MS_PER_UNIT,
    Period,
    Timestamp,
    equals,
    floor_period,
    order,
    parse_period,
    to_number,
    to_text,
    truthy,
)

Evaluator = Callable[[Record], Any]
KEYWORDS = frozenset({"and", "or", "not", "like", "in", "as", "by", "asc", "desc"})
_ORDERINGS: dict[str, Callable[[int], bool]] = {
    "<": lambda c: c < 0,
    "<=": lambda c: c <= 0,
    ">": lambda c: c > 0,
    ">=": lambda c: c >= 0,
}
_ARITHMETIC: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "%": operator.mod,
    "^": operator.pow,
}


@dataclass(frozen=True)
class Expr:
    """A parsed expression: its column text, its evaluator and its source span."""

    text: str
    evaluate: Evaluator
    start: int
    end: int


def constant(text: str, value: Any, token: Token) -> Expr:
    return Expr(text, lambda record: value, token.start, token.end)


def field_expr(name: str, token: Token) -> Expr:
    return Expr(name, lambda record: record.get(name), token.start, token.end)


class ExpressionParser:
    """Recursive descent over a :class:`Lexer`; ``aggregates`` names what only stats allows."""

    def __init__(self, lexer: Lexer, aggregates: frozenset[str]) -> None:
        self.lexer = lexer
        self.query = lexer.query
        self.aggregates = aggregates

    def error(self, reason: str, start: int, end: int | None = None) -> MalformedQueryError:
        return MalformedQueryError(reason, self.query, start, end)

    def unexpected(self, token: Token) -> MalformedQueryError:
        found = token.text if token.kind != "end" else "<EOF>"
        return self.error(f"unexpected symbol found {found}", token.start, token.end)

    def expect(self, kind: str) -> Token:
        token = self.lexer.take()
        if token.kind != kind:
            raise self.unexpected(token)
        return token

    def expression(self) -> Expr:
        return self._or()

    def _or(self) -> Expr:
        left = self._and()
        while self.lexer.peek().is_word("or"):
            self.lexer.take()
            right = self._and()
            left = _boolean(left, right, "or")
        return left

    def _and(self) -> Expr:
        left = self._not()
        while self.lexer.peek().is_word("and"):
            self.lexer.take()
            right = self._not()
            left = _boolean(left, right, "and")
        return left

    def _not(self) -> Expr:
        token = self.lexer.peek()
        if token.is_word("not"):
            self.lexer.take()
            inner = self._not()
            fn = inner.evaluate
            return Expr(f"not{inner.text}", lambda r: not truthy(fn(r)), token.start, inner.end)
        return self._comparison()

    def _comparison(self) -> Expr:
        left = self._additive()
        token = self.lexer.peek()
        if token.kind in ("=", "!=", "<", "<=", ">", ">="):
            self.lexer.take()
            return _compare(left, token.kind, self._additive())
        if token.kind == "=~":
            self.lexer.take()
            return self._match(left, "=~", negate=False)
        if token.is_word("like", "in"):
            self.lexer.take()
            return self._membership(left, token.value.lower(), negate=False)
        if token.is_word("not"):
            saved = self.lexer.position
            self.lexer.take()
            following = self.lexer.peek()
            if following.is_word("like", "in"):
                self.lexer.take()
                return self._membership(left, following.value.lower(), negate=True)
            self.lexer.position = saved
        return left

    def _membership(self, left: Expr, word: str, negate: bool) -> Expr:
        if word == "like":
            return self._match(left, "like", negate)
        return self._in_list(left, negate)

    def _match(self, left: Expr, op: str, negate: bool) -> Expr:
        """``like "text"`` (substring), ``like /re/`` and ``=~ /re/`` (regex search)."""
        token = self.lexer.take(regex=True)
        if token.kind == "string" and op == "like":
            part = token.value
            test: Callable[[str], bool] = lambda s: part in s  # noqa: E731
        elif token.kind in ("regex", "string"):
            search = self._regex(token).search
            test = lambda s: search(s) is not None  # noqa: E731
        else:
            raise self.unexpected(token)
        fn = left.evaluate

        def evaluate(record: Record) -> bool:
            text = to_text(fn(record))
            return text is not None and test(text)

        prefix = "not" if negate else ""
        expr = Expr(f"{left.text}{prefix}{op}{token.text}", evaluate, left.start, token.end)
        return _negated(expr) if negate else expr

    def _regex(self, token: Token) -> re.Pattern[str]:
        try:
            return re.compile(token.value)
        except re.error as exc:
            reason = f"invalid regular expression {token.text}: {exc}"
            raise self.error(reason, token.start, token.end) from exc

    def _in_list(self, left: Expr, negate: bool) -> Expr:
        self.expect("[")
        items = [self._additive()]
        while self.lexer.peek().kind == ",":
            self.lexer.take()
            items.append(self._additive())
        closer = self.expect("]")
        fn, members = left.evaluate, [item.evaluate for item in items]

        def evaluate(record: Record) -> bool:
            value = fn(record)
            return any(equals(value, member(record)) for member in members)

        listed = ",".join(item.text for item in items)
        word = "notin" if negate else "in"
        expr = Expr(f"{left.text}{word}[{listed}]", evaluate, left.start, closer.end)
        return _negated(expr) if negate else expr

    def _additive(self) -> Expr:
        left = self._multiplicative()
        while self.lexer.peek().kind in ("+", "-"):
            op = self.lexer.take().kind
            left = _arithmetic(left, op, self._multiplicative())
        return left

    def _multiplicative(self) -> Expr:
        left = self._power()
        while self.lexer.peek().kind in ("*", "/", "%"):
            op = self.lexer.take().kind
            left = _arithmetic(left, op, self._power())
        return left

    def _power(self) -> Expr:
        left = self._unary()
        if self.lexer.peek().kind == "^":
            self.lexer.take()
            return _arithmetic(left, "^", self._power())
        return left

    def _unary(self) -> Expr:
        token = self.lexer.peek()
        if token.kind == "-":
            self.lexer.take()
            inner = self._unary()
            fn = inner.evaluate
            return Expr(f"-{inner.text}", lambda r: _negate(fn(r)), token.start, inner.end)
        return self._primary()

    def _primary(self) -> Expr:
        token = self.lexer.take()
        if token.kind == "number":
            number = float(token.text) if any(c in token.text for c in ".eE") else int(token.text)
            return constant(token.text, number, token)
        if token.kind == "string":
            return constant(token.text, token.value, token)
        if token.kind == "period":
            return self._period(token)
        if token.kind == "(":
            inner = self.expression()
            closer = self.expect(")")
            return Expr(f"({inner.text})", inner.evaluate, token.start, closer.end)
        if token.kind == "ident" and token.value.lower() not in KEYWORDS:
            if self.lexer.peek().kind == "(" and not token.text.startswith("`"):
                return self.call(token)
            return field_expr(token.value, token)
        raise self.unexpected(token)

    def _period(self, token: Token) -> Expr:
        period = parse_period(token.text)
        if period is None:
            raise self.error(f"invalid time period {token.text}", token.start, token.end)
        return constant(token.text, period, token)

    def call(self, name: Token) -> Expr:
        """A scalar function call; ``bin(p)`` is ``datefloor(@timestamp, p)``."""
        function = name.value.lower()
        if function in self.aggregates:
            raise self.error(
                f"aggregate function {name.value} is only allowed in stats", name.start, name.end
            )
        self.expect("(")
        args = self.arguments()
        closer = self.expect(")")
        text = f"{name.value}({','.join(a.text for a in args)})"
        if function == "bin":
            return self._bin(name, args, text, closer)
        found = FUNCTIONS.get(function)
        if found is None:
            raise self.error(f"unknown function {name.value}", name.start, name.end)
        low, high = found.arity
        if len(args) < low or (high is not None and len(args) > high):
            raise self.error(f"wrong number of arguments to {name.value}", name.start, closer.end)
        call, evaluators = found.call, [a.evaluate for a in args]
        return Expr(text, lambda r: call([e(r) for e in evaluators]), name.start, closer.end)

    def arguments(self) -> list[Expr]:
        if self.lexer.peek().kind == ")":
            return []
        args = [self.expression()]
        while self.lexer.peek().kind == ",":
            self.lexer.take()
            args.append(self.expression())
        return args

    def _bin(self, name: Token, args: list[Expr], text: str, closer: Token) -> Expr:
        period = args[0].evaluate(Record.row({})) if len(args) == 1 else None
        if not isinstance(period, Period):  # only a literal such as 5m evaluates without data
            raise self.error("bin takes one time period such as 5m", name.start, closer.end)
        size = period.count * MS_PER_UNIT.get(period.unit, 0)

        def evaluate(record: Record) -> Any:
            millis = record.get("@timestamp")
            if millis is None:
                return None
            if size:
                return Timestamp(millis - millis % size)
            return floor_period(millis, period)

        return Expr(text, evaluate, name.start, closer.end)


def _boolean(left: Expr, right: Expr, word: str) -> Expr:
    a, b = left.evaluate, right.evaluate
    if word == "and":
        fn: Evaluator = lambda r: truthy(a(r)) and truthy(b(r))  # noqa: E731
    else:
        fn = lambda r: truthy(a(r)) or truthy(b(r))  # noqa: E731
    return Expr(f"{left.text}{word}{right.text}", fn, left.start, right.end)


def _negated(expr: Expr) -> Expr:
    fn = expr.evaluate
    return Expr(expr.text, lambda r: not fn(r), expr.start, expr.end)


def _compare(left: Expr, op: str, right: Expr) -> Expr:
    a, b = left.evaluate, right.evaluate
    if op == "=":
        fn: Evaluator = lambda r: equals(a(r), b(r))  # noqa: E731
    elif op == "!=":

        def fn(record: Record) -> bool:
            x, y = a(record), b(record)
            return x is not None and y is not None and not equals(x, y)

    else:
        accept = _ORDERINGS[op]

        def fn(record: Record) -> bool:
            compared = order(a(record), b(record))
            return compared is not None and accept(compared)

    return Expr(f"{left.text}{op}{right.text}", fn, left.start, right.end)


def _arithmetic(left: Expr, op: str, right: Expr) -> Expr:
    a, b, apply = left.evaluate, right.evaluate, _ARITHMETIC[op]

    def evaluate(record: Record) -> Any:
        x, y = to_number(a(record)), to_number(b(record))
        if x is None or y is None:
            return None
        try:
            return apply(x, y)
        except (ZeroDivisionError, OverflowError):
            return None

    return Expr(f"{left.text}{op}{right.text}", evaluate, left.start, right.end)


def _negate(value: Any) -> Any:
    number = to_number(value)
    return None if number is None else -number
