"""The token cursor the metric math and composite alarm rule parsers share (pure).

Each parser scans its own language into :class:`Token` s (the last one of kind ``end``)
and walks them by recursive descent from a :class:`TokenCursor`: the token at hand,
advancing past it, and failing with the parser's own error class at a token's position.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NoReturn


@dataclass(frozen=True)
class Token:
    kind: str  # the scanner's name for it; the last token's is "end"
    text: str
    pos: int  # 0-based character offset in the text


class TokenCursor:
    """A parser's place in its tokens; ``fail`` raises ``error(message, position)``."""

    def __init__(self, tokens: Sequence[Token], error: Callable[[str, int], Exception]) -> None:
        self.tokens = tokens
        self.index = 0
        self.error = error

    @property
    def token(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.token
        self.index += 1
        return token

    def fail(self, message: str, token: Token | None = None) -> NoReturn:
        token = token or self.token
        raise self.error(f"{message} at position {token.pos}", token.pos)
