"""Read a YAML file a user hands to opslib (the config, a spec) within fixed bounds.

Whatever path a user names, reading it must end, quickly and in little memory: a FIFO
blocks ``open`` until someone writes to it, ``/dev/zero`` never ends, and PyYAML's composer
recurses once per nesting level (``[[[[...]]]]`` raises RecursionError) and spends seconds
per megabyte. So only regular files are read, at most :data:`MAX_BYTES` of them, and the
nesting depth is measured with the event parser (a loop, no recursion) *before* anything
builds a tree. These are opslib's own bounds: a real opslib.yml is a few hundred bytes, a
buildspec a few kilobytes.

Problems are raised as :class:`UnusableFile` (not an OpslibError: the caller knows which
file it was and turns the reason into its own error or lint finding).
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import yaml

MAX_BYTES = 1 << 20  # 1 MiB
MAX_DEPTH = 64  # nested mappings/lists; the specs need fewer than 10
_KINDS = {
    stat.S_ISFIFO: "a FIFO (named pipe)",
    stat.S_ISSOCK: "a socket",
    stat.S_ISCHR: "a character device",
    stat.S_ISBLK: "a block device",
}
_EventParser = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when installed


class UnusableFile(Exception):
    """A file opslib refuses to read: why (without the file's name) and where, if known."""

    def __init__(self, reason: str, line: int = 0) -> None:
        super().__init__(f"line {line}: {reason}" if line else reason)
        self.reason = reason
        self.line = line


def read_bounded(path: Path, max_bytes: int = MAX_BYTES) -> str:
    """The UTF-8 text of a regular file of at most ``max_bytes`` bytes.

    Opened non-blocking so that a FIFO is refused instead of waited on; OSErrors (missing
    file, permission) propagate as they are, UnicodeDecodeError too.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "rb") as handle:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
        if not stat.S_ISREG(mode):
            raise UnusableFile(f"is {_kind(mode)}, not a regular file")
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise UnusableFile(f"is larger than {_size(max_bytes)}; opslib reads at most that")
    return data.decode("utf-8")


def check_depth(text: str, max_depth: int = MAX_DEPTH) -> None:
    """Refuse YAML nested deeper than ``max_depth`` levels, before any tree is built.

    A syntax error stops the scan silently: the real parse reports it with its line.
    """
    reason = f"nested deeper than {max_depth} levels; opslib reads at most that"
    depth = 0
    try:
        for event in yaml.parse(text, Loader=_EventParser):
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > max_depth:
                    mark = event.start_mark
                    raise UnusableFile(reason, mark.line + 1 if mark is not None else 0)
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.MarkedYAMLError as exc:
        # libyaml scans ahead and stops at its own limit (1000) before yielding the events
        if "nesting depth" in str(exc.problem) and exc.problem_mark is not None:
            raise UnusableFile(reason, exc.problem_mark.line + 1) from exc
    except yaml.YAMLError:
        return


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS.items() if test(mode)), "of an unknown kind")


def _size(count: int) -> str:
    return f"{count // (1 << 20)} MiB" if count % (1 << 20) == 0 else f"{count} bytes"
