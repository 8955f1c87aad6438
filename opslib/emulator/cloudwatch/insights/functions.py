"""Scalar functions of Logs Insights (CWL_QuerySyntax "Supported operations and functions").

A registry: name (lower case) to arity and implementation over already evaluated
arguments. Absent arguments are ``None``; a function of absent input is absent, except
the presence tests. ``bin(period)`` is ``datefloor(@timestamp, period)`` (the parser
rewrites it).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from opslib.emulator.cloudwatch.insights.values import (
    Period,
    Timestamp,
    ceil_period,
    floor_period,
    to_number,
    to_text,
)

Args = list[Any]


@dataclass(frozen=True)
class Function:
    """A scalar function: ``arity`` is (min, max) arguments, max None for any number."""

    arity: tuple[int, int | None]
    call: Callable[[Args], Any]


def _numeric(fn: Callable[[float], Any]) -> Callable[[Args], Any]:
    def call(args: Args) -> Any:
        number = to_number(args[0])
        if number is None:
            return None
        try:
            return fn(number)
        except ValueError:  # log or sqrt outside their domain
            return None

    return call


def _textual(fn: Callable[..., Any]) -> Callable[[Args], Any]:
    def call(args: Args) -> Any:
        text = to_text(args[0])
        return None if text is None else fn(text, *[to_text(a) or "" for a in args[1:]])

    return call


def _extreme(pick: Callable[..., Any]) -> Callable[[Args], Any]:
    def call(args: Args) -> Any:
        numbers = [n for n in (to_number(a) for a in args) if n is not None]
        return pick(numbers) if numbers else None

    return call


def _time(fn: Callable[[int, Period], Timestamp]) -> Callable[[Args], Any]:
    def call(args: Args) -> Any:
        millis, period = to_number(args[0]), args[1]
        if millis is None or not isinstance(period, Period):
            return None
        return fn(int(millis), period)

    return call


def _trim(strip: Callable[[str, str | None], str]) -> Callable[[Args], Any]:
    def call(args: Args) -> Any:
        text = to_text(args[0])
        if text is None:
            return None
        chars = to_text(args[1]) if len(args) > 1 else None
        return strip(text, chars)

    return call


def _substr(args: Args) -> Any:
    text, start = to_text(args[0]), to_number(args[1])
    if text is None or start is None:
        return None
    begin = int(start)
    if len(args) < 3:
        return text[begin:]
    length = to_number(args[2])
    return None if length is None else text[begin : begin + int(length)]


def _concat(args: Args) -> Any:
    return "".join(to_text(a) or "" for a in args)


def _coalesce(args: Args) -> Any:
    return next((a for a in args if a is not None), None)


def _from_millis(args: Args) -> Any:
    number = to_number(args[0])
    return None if number is None else Timestamp(int(number))


def _to_millis(args: Args) -> Any:
    number = to_number(args[0])
    return None if number is None else int(number)


FUNCTIONS: dict[str, Function] = {
    "ispresent": Function((1, 1), lambda a: a[0] is not None),
    "isempty": Function((1, 1), lambda a: a[0] is None or to_text(a[0]) == ""),
    "isblank": Function((1, 1), lambda a: a[0] is None or (to_text(a[0]) or "").strip() == ""),
    "coalesce": Function((1, None), _coalesce),
    "abs": Function((1, 1), _numeric(abs)),
    "ceil": Function((1, 1), _numeric(math.ceil)),
    "floor": Function((1, 1), _numeric(math.floor)),
    "log": Function((1, 1), _numeric(math.log)),
    "sqrt": Function((1, 1), _numeric(math.sqrt)),
    "greatest": Function((1, None), _extreme(max)),
    "least": Function((1, None), _extreme(min)),
    "concat": Function((1, None), _concat),
    "strlen": Function((1, 1), _textual(len)),
    "toupper": Function((1, 1), _textual(str.upper)),
    "tolower": Function((1, 1), _textual(str.lower)),
    "trim": Function((1, 2), _trim(lambda s, c: s.strip(c))),
    "ltrim": Function((1, 2), _trim(lambda s, c: s.lstrip(c))),
    "rtrim": Function((1, 2), _trim(lambda s, c: s.rstrip(c))),
    "substr": Function((2, 3), _substr),
    "replace": Function((3, 3), _textual(lambda s, old, new: s.replace(old, new))),
    "strcontains": Function((2, 2), _textual(lambda s, part: 1 if part in s else 0)),
    "datefloor": Function((2, 2), _time(floor_period)),
    "dateceil": Function((2, 2), _time(ceil_period)),
    "frommillis": Function((1, 1), _from_millis),
    "tomillis": Function((1, 1), _to_millis),
}
