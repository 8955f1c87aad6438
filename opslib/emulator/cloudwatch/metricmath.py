"""Metric math for GetMetricData and math alarms: parse and evaluate expressions.

What this implements (CloudWatch User Guide, using-metric-math; API reference of
GetMetricData, MetricDataQuery and MetricDataResult):

- Expressions over the Ids of the request's queries: numbers, ``+ - * / ^`` and unary ``-``
  with scalar/series/array broadcasting, comparisons ``== != <= >= < >`` giving 1/0, logical
  ``AND``/``&&`` and ``OR``/``||``, parentheses, array literals ``[m1, m2]``, string
  arguments and the functions of :mod:`mathfunctions`. Between two series a point present in
  only one counts the other as 0; a point whose computation fails (division by zero) is
  dropped. Precedence, lowest first: OR, AND, comparison, ``+ -``, ``* /``, unary ``-``,
  ``^`` (right-associative, so ``-2^2`` is -4).
- Parse errors and type errors carry the 0-based offset into the expression
  (:class:`MetricMathError`); functions are uppercase, Ids start with a lowercase letter.
- Ids resolve through the request (:mod:`metricdata`), which also runs whole query lists.

Deliberately left out: Metrics Insights queries (SELECT ...), SEARCH and the functions listed
as left out in :mod:`mathfunctions`.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import NoReturn, Protocol

from opslib.emulator.cloudwatch.mathfunctions import FUNCTIONS
from opslib.emulator.cloudwatch.metricerrors import MetricMathError
from opslib.emulator.cloudwatch.timeseries import (
    BinaryFn,
    Keyword,
    SeriesArray,
    Text,
    TimeSeries,
    Value,
    combine,
    describe,
    guarded,
    map_points,
    with_scalar,
)
from opslib.emulator.cloudwatch.tokens import Token, TokenCursor

MAX_EXPRESSION_LENGTH = 2048
KEYWORDS = frozenset({"REPEAT", "LINEAR"})
ID_RE = re.compile(r"[a-z][A-Za-z0-9_]*")

# ---------------------------------------------------------------------------------------------
# Syntax tree


@dataclass(frozen=True)
class Number:
    pos: int
    value: float


@dataclass(frozen=True)
class Ref:
    pos: int
    name: str


@dataclass(frozen=True)
class String:
    pos: int
    value: str


@dataclass(frozen=True)
class Word:
    pos: int
    name: str


@dataclass(frozen=True)
class Negate:
    pos: int
    operand: Node


@dataclass(frozen=True)
class Binary:
    pos: int
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Call:
    pos: int
    name: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Array:
    pos: int
    items: tuple[Node, ...]


Node = Number | Ref | String | Word | Negate | Binary | Call | Array


@dataclass(frozen=True)
class Expression:
    """A parsed expression: its text, syntax tree and the Ids it references."""

    text: str
    tree: Node
    refs: frozenset[str]


# ---------------------------------------------------------------------------------------------
# Tokens and parser

_TOKEN_RE = re.compile(
    r"""(?P<ws>\s+)
    |(?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
    |(?P<name>[A-Za-z_][A-Za-z0-9_]*)
    |(?P<string>"[^"]*"|'[^']*'|\u201c[^\u201d]*\u201d)
    |(?P<op>==|!=|<=|>=|&&|\|\||[-+*/^<>(),\[\]])""",
    re.VERBOSE,
)
_COMPARISONS = ("==", "!=", "<=", ">=", "<", ">")


def _tokens(text: str) -> list[Token]:
    """Kinds: number | name | string | op | end."""
    out: list[Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN_RE.match(text, pos)
        if match is None:
            raise MetricMathError(f"Unexpected character {text[pos]!r} at position {pos}", pos)
        kind = match.lastgroup or ""
        if kind != "ws":
            out.append(Token(kind, match.group(), pos))
        pos = match.end()
    out.append(Token("end", "", len(text)))
    return out


class _Parser(TokenCursor):
    """Recursive descent over the tokens; each method parses one precedence level."""

    def __init__(self, text: str) -> None:
        super().__init__(_tokens(text), MetricMathError)

    def expect(self, text: str) -> Token:
        if self.token.text != text or self.token.kind not in ("op",):
            found = "end of expression" if self.token.kind == "end" else repr(self.token.text)
            self.fail(f"Expected {text!r} but found {found}")
        return self.advance()

    def is_op(self, *texts: str) -> bool:
        token = self.token
        return (token.kind == "op" and token.text in texts) or (
            token.kind == "name" and token.text in texts
        )

    def parse(self) -> Node:
        if self.token.kind == "end":
            self.fail("Empty expression")
        node = self.logical_or()
        if self.token.kind != "end":
            self.fail(f"Unexpected {self.token.text!r}")
        return node

    def _left_assoc(self, ops: tuple[str, ...], operand: Callable[[], Node]) -> Node:
        node = operand()
        while self.is_op(*ops):
            token = self.advance()
            node = Binary(token.pos, _canonical(token.text), node, operand())
        return node

    def logical_or(self) -> Node:
        return self._left_assoc(("OR", "||"), self.logical_and)

    def logical_and(self) -> Node:
        return self._left_assoc(("AND", "&&"), self.comparison)

    def comparison(self) -> Node:
        return self._left_assoc(_COMPARISONS, self.additive)

    def additive(self) -> Node:
        return self._left_assoc(("+", "-"), self.multiplicative)

    def multiplicative(self) -> Node:
        return self._left_assoc(("*", "/"), self.unary)

    def unary(self) -> Node:
        if self.is_op("-"):
            token = self.advance()
            return Negate(token.pos, self.unary())
        if self.is_op("+"):
            self.advance()
            return self.unary()
        return self.power()

    def power(self) -> Node:
        base = self.primary()
        if self.is_op("^"):
            token = self.advance()
            return Binary(token.pos, "^", base, self.unary())
        return base

    def primary(self) -> Node:
        token = self.token
        if token.kind == "number":
            self.advance()
            return Number(token.pos, float(token.text))
        if token.kind == "string":
            self.advance()
            return String(token.pos, token.text[1:-1])
        if token.kind == "name":
            return self.name()
        if self.is_op("("):
            self.advance()
            node = self.logical_or()
            self.expect(")")
            return node
        if self.is_op("["):
            return self.array()
        if token.kind == "end":
            self.fail("Unexpected end of expression")
        self.fail(f"Unexpected {token.text!r}")

    def name(self) -> Node:
        token = self.advance()
        if ID_RE.fullmatch(token.text):
            return Ref(token.pos, token.text)
        if self.is_op("("):
            return self.call(token)
        if token.text in KEYWORDS:
            return Word(token.pos, token.text)
        if token.text in FUNCTIONS:
            self.fail(f"Function {token.text} must be followed by '('", self.token)
        self.fail(f"Unknown name {token.text!r} (Ids start with a lowercase letter)", token)

    def call(self, name: Token) -> Node:
        spec = FUNCTIONS.get(name.text)
        if spec is None:
            self.fail(f"Unknown function {name.text}", name)
        self.expect("(")
        args = self.items(")")
        if not spec.min_args <= len(args) <= spec.max_args:
            self.fail(
                f"{name.text} takes {_arity(spec.min_args, spec.max_args)}, got {len(args)}", name
            )
        return Call(name.pos, name.text, args)

    def array(self) -> Node:
        start = self.expect("[")
        items = self.items("]")
        if not items:
            self.fail("An array needs at least one element", start)
        return Array(start.pos, items)

    def items(self, close: str) -> tuple[Node, ...]:
        items: list[Node] = []
        if not self.is_op(close):
            items.append(self.logical_or())
            while self.is_op(","):
                self.advance()
                items.append(self.logical_or())
        self.expect(close)
        return tuple(items)


def _canonical(op: str) -> str:
    return {"AND": "&&", "OR": "||"}.get(op, op)


def _arity(low: int, high: int) -> str:
    if low == high:
        return f"{low} argument{'s' if low != 1 else ''}"
    return f"{low} to {high} arguments"


def _walk(node: Node) -> Iterator[Node]:
    yield node
    if isinstance(node, Negate):
        yield from _walk(node.operand)
    elif isinstance(node, Binary):
        yield from _walk(node.left)
        yield from _walk(node.right)
    elif isinstance(node, Call | Array):
        children = node.args if isinstance(node, Call) else node.items
        for child in children:
            yield from _walk(child)


def parse_expression(text: str) -> Expression:
    """Parse a metric math expression; raises :class:`MetricMathError` with the position."""
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise MetricMathError(
            f"The expression is {len(text)} characters long; the maximum is "
            f"{MAX_EXPRESSION_LENGTH}",
            MAX_EXPRESSION_LENGTH,
        )
    tree = _Parser(text).parse()
    refs = frozenset(n.name for n in _walk(tree) if isinstance(n, Ref))
    return Expression(text, tree, refs)


# ---------------------------------------------------------------------------------------------
# Evaluation


def _power(a: float, b: float) -> float:
    return math.pow(a, b)


def _truth(fn: Callable[[bool, bool], bool]) -> BinaryFn:
    return lambda a, b: 1.0 if fn(a != 0, b != 0) else 0.0


def _compare(fn: Callable[[float, float], bool]) -> BinaryFn:
    return lambda a, b: 1.0 if fn(a, b) else 0.0


_BINARY: dict[str, BinaryFn] = {
    "+": guarded(operator.add),
    "-": guarded(operator.sub),
    "*": guarded(operator.mul),
    "/": guarded(operator.truediv),
    "^": guarded(_power),
    "==": _compare(operator.eq),
    "!=": _compare(operator.ne),
    "<=": _compare(operator.le),
    ">=": _compare(operator.ge),
    "<": _compare(operator.lt),
    ">": _compare(operator.gt),
    "&&": _truth(lambda a, b: a and b),
    "||": _truth(lambda a, b: a or b),
}


@dataclass(frozen=True)
class MathContext:
    """The query range: FILL and TIME_SERIES fill ``[start, end)`` every ``period`` seconds."""

    start: int
    end: int
    period: int


def apply_binary(fn: BinaryFn, left: Value, right: Value) -> Value | None:
    """Broadcast a binary operator over scalars, series and arrays; None if not applicable."""
    if isinstance(left, float) and isinstance(right, float):
        return fn(left, right)
    if isinstance(left, TimeSeries) and isinstance(right, float):
        return with_scalar(left, right, fn, scalar_left=False)
    if isinstance(left, float) and isinstance(right, TimeSeries):
        return with_scalar(right, left, fn, scalar_left=True)
    if isinstance(left, TimeSeries) and isinstance(right, TimeSeries):
        return combine(left, right, fn)
    if isinstance(left, tuple) and isinstance(right, tuple):
        if len(left) != len(right):
            return None
        return _array(apply_binary(fn, a, b) for a, b in zip(left, right, strict=True))
    if isinstance(left, tuple) and isinstance(right, float | TimeSeries):
        return _array(apply_binary(fn, a, right) for a in left)
    if isinstance(right, tuple) and isinstance(left, float | TimeSeries):
        return _array(apply_binary(fn, left, b) for b in right)
    return None


def _array(values: Iterator[Value | None]) -> SeriesArray | None:
    out = tuple(values)
    if all(isinstance(v, TimeSeries) for v in out):
        return tuple(v for v in out if isinstance(v, TimeSeries))
    return None


class Resolver(Protocol):
    """Where an evaluation finds the values of Ids and the request's metrics."""

    ctx: MathContext

    def resolve(self, query_id: str, pos: int, within: str) -> Value:
        """The value of the query ``query_id``, referenced at ``pos`` of expression ``within``."""
        ...

    def metric_series(self) -> SeriesArray:
        """Every MetricStat query's series, in request order (what METRICS() returns)."""
        ...


class Evaluation:
    """One expression's evaluation; Ids are resolved by the request it belongs to."""

    def __init__(self, request: Resolver, query_id: str) -> None:
        self.request = request
        self.query_id = query_id
        self.start, self.end, self.period = request.ctx.start, request.ctx.end, request.ctx.period

    def value(self, node: Node) -> Value:
        if isinstance(node, Number):
            return node.value
        if isinstance(node, String):
            return Text(node.value)
        if isinstance(node, Word):
            return Keyword(node.name)
        if isinstance(node, Ref):
            return self.request.resolve(node.name, node.pos, self.query_id)
        if isinstance(node, Negate):
            return self.negate(node)
        if isinstance(node, Binary):
            return self.binary(node)
        if isinstance(node, Array):
            return self.array(node)
        return self.call(node)

    def fail_at(self, pos: int, message: str) -> NoReturn:
        raise MetricMathError(
            f"Error in expression {self.query_id}: {message} at position {pos}", pos
        )

    def negate(self, node: Negate) -> Value:
        operand = self.value(node.operand)
        if isinstance(operand, float):
            return -operand
        if isinstance(operand, TimeSeries):
            return map_points(operand, operator.neg)
        if isinstance(operand, tuple):
            return tuple(map_points(s, operator.neg) for s in operand)
        self.fail_at(node.pos, f"cannot negate {describe(operand)}")

    def binary(self, node: Binary) -> Value:
        left, right = self.value(node.left), self.value(node.right)
        result = apply_binary(_BINARY[node.op], left, right)
        if result is None:
            self.fail_at(
                node.pos, f"'{node.op}' cannot combine {describe(left)} and {describe(right)}"
            )
        return result

    def array(self, node: Array) -> Value:
        series: list[TimeSeries] = []
        for item in node.items:
            value = self.value(item)
            if isinstance(value, TimeSeries):
                series.append(value)
            elif isinstance(value, tuple):
                series.extend(value)
            else:
                self.fail_at(
                    getattr(item, "pos", node.pos),
                    f"an array holds time series, not {describe(value)}",
                )
        return tuple(series)

    def call(self, node: Call) -> Value:
        args = [self.value(arg) for arg in node.args]
        return FUNCTIONS[node.name].run(_CallSite(self, node), args)


class _CallSite:
    """The :class:`CallContext` a function runs in: the range, METRICS(), failing at the call."""

    def __init__(self, evaluation: Evaluation, node: Call) -> None:
        self.evaluation = evaluation
        self.node = node
        self.start, self.end, self.period = evaluation.start, evaluation.end, evaluation.period

    def metrics(self) -> SeriesArray:
        return self.evaluation.request.metric_series()

    def fail(self, message: str) -> NoReturn:
        self.evaluation.fail_at(self.node.pos, message)
