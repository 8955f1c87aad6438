"""Pages of a listing API: ``maxResults`` checked, ``nextToken`` made and read back.

The token is the offset of the next item, opaque to clients as AWS's are; a token the
emulator did not give is refused with the service's own error code, as AWS refuses one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from opslib.emulator.core.gateway import ApiException


@dataclass(frozen=True)
class Page:
    """Where a page starts and how many items it holds."""

    offset: int
    size: int

    def split(self, found: list[Any]) -> tuple[list[Any], str | None]:
        """A read of ``size + 1`` items: this page's items and the token, when more follow.

        One item more than the page tells whether another page follows without counting
        every matching record.
        """
        items = found[: self.size]
        return items, (str(self.offset + self.size) if len(found) > self.size else None)


def page_of(
    params: dict[str, Any],
    *,
    default: int,
    maximum: int,
    token_error: str = "InvalidNextTokenException",
    size_key: str | None = "maxResults",
) -> Page:
    """The page a request asks for: ``default`` items unless ``size_key`` sets how many.

    ``size_key`` None: the API has no page-size parameter (ListBuildsForProject,
    ListDeployments).
    """
    raw = params.get("nextToken")
    if raw in (None, ""):
        offset = 0
    elif isinstance(raw, str) and raw.isdigit():
        offset = int(raw)
    else:
        raise ApiException(token_error, "The next token was specified in an invalid format")
    size = params.get(size_key) if size_key else None
    if size is None:
        return Page(offset, default)
    if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= maximum:
        raise ApiException(
            "ValidationException",
            f"1 validation error detected: Value '{size}' at '{size_key}' failed to satisfy "
            f"constraint: Member must have value less than or equal to {maximum}",
        )
    return Page(offset, size)
