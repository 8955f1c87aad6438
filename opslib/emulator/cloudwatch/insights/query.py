"""A Logs Insights query string parsed into its commands (``fields | filter | stats ...``)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from opslib.emulator.cloudwatch.insights.aggregates import AGGREGATES, Aggregate
from opslib.emulator.cloudwatch.insights.errors import MalformedQueryError
from opslib.emulator.cloudwatch.insights.expressions import Expr, ExpressionParser, field_expr
from opslib.emulator.cloudwatch.insights.functions import FUNCTIONS
from opslib.emulator.cloudwatch.insights.lexer import Lexer, Token

# Commands AWS has that this emulator does not run: refused by name, not as a typo.
UNSUPPORTED_COMMANDS = frozenset(
    {"dedup", "unmask", "pattern", "diff", "anomaly", "filterindex", "source", "lookup"}
)


@dataclass(frozen=True)
class Item:
    """An expression with the column name it produces (its alias, else its text)."""

    name: str
    expr: Expr


@dataclass(frozen=True)
class FieldsCommand:
    items: tuple[Item, ...]


@dataclass(frozen=True)
class DisplayCommand:
    names: tuple[str, ...]


@dataclass(frozen=True)
class FilterCommand:
    condition: Expr


@dataclass(frozen=True)
class ParseCommand:
    source: Expr
    regex: re.Pattern[str]
    names: tuple[str, ...]  # one per glob * in order, or the regex's named groups


@dataclass(frozen=True)
class AggregateCall:
    name: str
    aggregate: Aggregate
    argument: Expr | None  # None for count() / count(*)
    percent: float = 0.0  # pct's second argument


@dataclass(frozen=True)
class StatsCommand:
    calls: tuple[AggregateCall, ...]
    groups: tuple[Item, ...]


@dataclass(frozen=True)
class SortCommand:
    keys: tuple[tuple[str, bool], ...]  # (field, descending)


@dataclass(frozen=True)
class LimitCommand:
    count: int


Command = (
    FieldsCommand
    | DisplayCommand
    | FilterCommand
    | ParseCommand
    | StatsCommand
    | SortCommand
    | LimitCommand
)


@dataclass(frozen=True)
class Query:
    """A parsed query: its commands in order, and the columns its results show."""

    source: str
    commands: tuple[Command, ...]

    @property
    def has_stats(self) -> bool:
        return any(isinstance(command, StatsCommand) for command in self.commands)

    @property
    def output_fields(self) -> tuple[str, ...]:
        """The last ``display``; else the ``fields`` (and ``stats`` columns, by-fields first,
        which reset what came before); else ``@timestamp`` and ``@message``."""
        display: tuple[str, ...] | None = None
        shown: list[str] = []
        for command in self.commands:
            if isinstance(command, DisplayCommand):
                display = command.names
            elif isinstance(command, StatsCommand):
                shown = [g.name for g in command.groups] + [c.name for c in command.calls]
            elif isinstance(command, FieldsCommand):
                shown += [item.name for item in command.items if item.name not in shown]
        if display is not None:
            return display
        return tuple(shown) if shown else ("@timestamp", "@message")


def parse_query(query: str) -> Query:
    """Parse a query string; raises :class:`MalformedQueryError` as AWS would refuse it."""
    return QueryParser(query).parse()


class QueryParser:
    """Commands separated by ``|``; each command's own grammar below."""

    def __init__(self, query: str) -> None:
        self.query = query
        self.lexer = Lexer(query)
        self.exprs = ExpressionParser(self.lexer, frozenset(AGGREGATES))
        self.commands: dict[str, Callable[[Token], Command]] = {
            "fields": self._fields,
            "display": self._display,
            "filter": self._filter,
            "parse": self._parse,
            "stats": self._stats,
            "sort": self._sort,
            "limit": self._limit,
        }

    def parse(self) -> Query:
        commands = [self._command()]
        while True:
            token = self.lexer.take()
            if token.kind == "end":
                return Query(self.query, tuple(commands))
            if token.kind != "|":
                raise self.exprs.unexpected(token)
            commands.append(self._command())

    def _command(self) -> Command:
        token = self.lexer.take()
        name = token.value.lower() if token.kind == "ident" else ""
        if name in self.commands:
            return self.commands[name](token)
        if name in UNSUPPORTED_COMMANDS:
            raise self._error(f"command {token.value} is not supported by this emulator", token)
        raise self.exprs.unexpected(token)

    def _error(self, reason: str, token: Token) -> MalformedQueryError:
        return MalformedQueryError(reason, self.query, token.start, token.end)

    def _name(self) -> str:
        token = self.lexer.take()
        if token.kind != "ident":
            raise self.exprs.unexpected(token)
        return token.value

    def _alias(self, default: str) -> str:
        """The name after ``as``, else ``default``."""
        if self.lexer.peek().is_word("as"):
            self.lexer.take()
            return self._name()
        return default

    def _item(self) -> Item:
        expr = self.exprs.expression()
        return Item(self._alias(expr.text), expr)

    def _items(self) -> tuple[Item, ...]:
        items = [self._item()]
        while self.lexer.peek().kind == ",":
            self.lexer.take()
            items.append(self._item())
        return tuple(items)

    def _names(self) -> tuple[str, ...]:
        names = [self._name()]
        while self.lexer.peek().kind == ",":
            self.lexer.take()
            names.append(self._name())
        return tuple(names)

    def _fields(self, token: Token) -> Command:
        return FieldsCommand(self._items())

    def _display(self, token: Token) -> Command:
        return DisplayCommand(self._names())

    def _filter(self, token: Token) -> Command:
        return FilterCommand(self.exprs.expression())

    def _limit(self, token: Token) -> Command:
        count = self.lexer.take()
        if count.kind != "number" or not count.text.isdigit() or int(count.text) < 1:
            raise self.exprs.unexpected(count)
        return LimitCommand(int(count.text))

    def _sort(self, token: Token) -> Command:
        keys = [self._sort_key()]
        while self.lexer.peek().kind == ",":
            self.lexer.take()
            keys.append(self._sort_key())
        return SortCommand(tuple(keys))

    def _sort_key(self) -> tuple[str, bool]:
        """A field (not an expression: AWS refuses ``sort bin(1d)``) and its direction."""
        name = self._name()
        direction = self.lexer.peek()
        if direction.is_word("asc", "desc"):
            self.lexer.take()
            return name, direction.value.lower() == "desc"
        return name, False  # ascending unless told (verify)

    def _parse(self, token: Token) -> Command:
        ahead = self.lexer.peek(regex=True)
        if ahead.kind in ("string", "regex"):
            source = field_expr("@message", ahead)
        else:
            source = field_expr(self._name(), ahead)
        pattern = self.lexer.take(regex=True)
        if pattern.kind == "string":
            return self._glob_parse(source, pattern)
        if pattern.kind == "regex":
            return self._regex_parse(source, pattern)
        raise self.exprs.unexpected(pattern)

    def _glob_parse(self, source: Expr, pattern: Token) -> Command:
        stars = pattern.value.count("*")
        if stars == 0:
            raise self._error("a parse pattern needs at least one *", pattern)
        if not self.lexer.peek().is_word("as"):
            raise self.exprs.unexpected(self.lexer.peek())
        self.lexer.take()
        names = self._names()
        if len(names) != stars:
            reason = f"the parse pattern has {stars} * but {len(names)} names follow as"
            raise self._error(reason, pattern)
        return ParseCommand(source, glob_regex(pattern.value), names)

    def _regex_parse(self, source: Expr, pattern: Token) -> Command:
        body = re.sub(r"\(\?<(?=[A-Za-z_])", "(?P<", pattern.value)
        try:
            regex = re.compile(body, re.DOTALL)
        except re.error as exc:
            raise self._error(f"invalid regular expression {pattern.text}: {exc}", pattern) from exc
        if not regex.groupindex:
            raise self._error("a parse regex names its fields with (?<name>...) groups", pattern)
        return ParseCommand(source, regex, tuple(regex.groupindex))

    def _stats(self, token: Token) -> Command:
        calls = [self._aggregate()]
        while self.lexer.peek().kind == ",":
            self.lexer.take()
            calls.append(self._aggregate())
        groups: tuple[Item, ...] = ()
        if self.lexer.peek().is_word("by"):
            self.lexer.take()
            groups = self._items()
        return StatsCommand(tuple(calls), groups)

    def _aggregate(self) -> AggregateCall:
        token = self.lexer.take()
        found = AGGREGATES.get(token.value.lower()) if token.kind == "ident" else None
        if found is None:
            if token.kind == "ident" and token.value.lower() in FUNCTIONS:
                raise self._error(f"{token.value} is not an aggregation function", token)
            raise self.exprs.unexpected(token)
        self.exprs.expect("(")
        argument, inner, percent = self._aggregate_arguments(token, found)
        self.exprs.expect(")")
        name = self._alias(f"{token.value}({inner})")
        return AggregateCall(name, found, argument, percent)

    def _aggregate_arguments(
        self, token: Token, found: Aggregate
    ) -> tuple[Expr | None, str, float]:
        ahead = self.lexer.peek()
        if found.star and ahead.kind in ("*", ")"):
            if ahead.kind == "*":
                self.lexer.take()
            return None, ahead.text if ahead.kind == "*" else "", 0.0
        argument = self.exprs.expression()
        if not found.percent:
            return argument, argument.text, 0.0
        self.exprs.expect(",")
        percent = self.lexer.take()
        if percent.kind != "number" or not 0 <= float(percent.text) <= 100:
            raise self._error(f"{token.value} takes a percentile from 0 to 100", percent)
        return argument, f"{argument.text},{percent.text}", float(percent.text)


def glob_regex(pattern: str) -> re.Pattern[str]:
    """``"[*] * The error was: *"``: each ``*`` captures lazily, a final one to the end."""
    pieces = [re.escape(piece) for piece in pattern.split("*")]
    regex = pieces[0]
    for index, piece in enumerate(pieces[1:], start=1):
        last = index == len(pieces) - 1
        regex += ("(.*)" if last and piece == "" else "(.*?)") + piece
    return re.compile(regex, re.DOTALL)
