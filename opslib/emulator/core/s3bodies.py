"""S3 object bodies as files beside the snapshots, so a write costs what it writes.

moto keeps each object's bytes in the key (a spooled temp file) and pickles them with the
key, so every mutating S3 request re-wrote every byte stored: a 1-byte PutObject took
712 ms with 100 MB of objects stored. Here a key pickles only a reference:

- the first time a key is snapshotted its body is written to ``<state>/moto/s3-bodies/<digest>``
  (content-addressed: a copy, or the same bytes under another key or version, is stored
  once), fsynced, and renamed into place *before* the snapshot that names it is written,
  so a ``kill -9`` never leaves a snapshot pointing at a missing body; the digest is kept
  on the key, so later snapshots re-write neither the body nor its hash;
- a restored key reads its body from that file when asked (:class:`StoredBody`), so a
  restart does not copy gigabytes back into memory; a new value replaces it with moto's
  own spooled buffer;
- after each S3 snapshot is on disk, bodies no snapshot names any more (deleted objects
  and versions, expired by lifecycle or by hand) are removed.

Outside :func:`bodies_in` (a deepcopy, moto used without the emulator) keys pickle as
moto made them.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

DIGEST_ATTRIBUTE = "_opslib_body"  # the key's body digest, kept on the key once stored
_CHUNK = 16 * 1024 * 1024

_directory: Path | None = None  # set only while a snapshot is pickled or loaded
_named: set[str] = set()  # the digests named by that pickle


@contextmanager
def bodies_in(directory: Path) -> Iterator[set[str]]:
    """Pickle or load S3 keys with their bodies in ``directory``; yields the digests named.

    Outside this block keys pickle as moto made them (``copy.deepcopy`` of a key, moto used
    without the emulator).
    """
    global _directory
    directory.mkdir(parents=True, exist_ok=True)
    previous, _directory = _directory, directory
    _named.clear()
    try:
        yield _named
    finally:
        _directory = previous


def remove_stale(directory: Path) -> None:
    """Temp files of body writes a crash cut short (nothing names them); call at start."""
    for stale in directory.glob(".*.tmp"):
        stale.unlink(missing_ok=True)


def collect_garbage(directory: Path, named: set[str]) -> int:
    """Remove the bodies the S3 snapshot on disk (naming ``named``) no longer names."""
    removed = 0
    for path in directory.iterdir() if directory.is_dir() else ():
        if not path.name.startswith(".") and path.name not in named:
            path.unlink(missing_ok=True)
            removed += 1
    if removed:
        logger.debug("removed %d S3 bodies no snapshot names", removed)
    return removed


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)  # the rename itself survives a power cut
    finally:
        os.close(descriptor)


def _write_body(directory: Path, buffer: Any) -> str:
    """Stream ``buffer`` into the store, hashing as it goes; returns its digest."""
    hasher = hashlib.blake2b(digest_size=20)
    handle, tmp = tempfile.mkstemp(dir=directory, prefix=".body.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            buffer.seek(0)
            for chunk in iter(lambda: buffer.read(_CHUNK), b""):
                hasher.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        digest = hasher.hexdigest()
        if (directory / digest).exists():
            Path(tmp).unlink()  # the same bytes are stored already (a copy, a version)
        else:
            os.replace(tmp, directory / digest)
            _fsync_directory(directory)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return digest


def store_body(key: Any) -> str | None:
    """The digest of ``key``'s body, written to the body store if not there yet.

    None for a key whose buffer is closed (moto pickles its disposed keys as empty).
    """
    assert _directory is not None
    digest = key.__dict__.get(DIGEST_ATTRIBUTE)
    if digest is None or not (_directory / digest).exists():
        try:
            with key.lock:
                digest = _write_body(_directory, key._value_buffer)
        except ValueError:  # the buffer is closed: the key was disposed of
            return None
        key.__dict__[DIGEST_ATTRIBUTE] = digest
    _named.add(digest)
    return str(digest)


class StoredBody:
    """A read-only stand-in for moto's spooled buffer, reading the stored file on demand.

    It holds no open file, so a restored bucket of 10,000 objects keeps no 10,000 handles.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.position = 0
        self.closed = False

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        size = self.path.stat().st_size
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self.position, os.SEEK_END: size}[whence]
        self.position = base + offset
        return self.position

    def tell(self) -> int:
        return self.position

    def read(self, size: int = -1) -> bytes:
        if self.closed:
            raise ValueError("I/O operation on closed file.")
        with self.path.open("rb") as handle:
            handle.seek(self.position)
            data = handle.read() if size is None or size < 0 else handle.read(size)
        self.position += len(data)
        return data

    def close(self) -> None:
        self.closed = True


def install(models: Any) -> None:
    """Patch moto's FakeKey: inside :func:`bodies_in`, pickle a reference to the stored body
    and read it back lazily."""
    key_class = models.FakeKey
    moto_getstate: Callable[[Any], dict[str, Any]] = key_class.__getstate__
    moto_setstate: Callable[[Any, dict[str, Any]], None] = key_class.__setstate__
    moto_setter = key_class.value.fset

    def getstate(self: Any) -> dict[str, Any]:
        if _directory is None:
            return moto_getstate(self)
        state: dict[str, Any] = self.__dict__.copy()
        del state["_value_buffer"], state["lock"]
        state["opslib_body"] = store_body(self)
        return state

    def setstate(self: Any, state: dict[str, Any]) -> None:
        if "opslib_body" not in state:
            moto_setstate(self, state)
            return
        digest = state["opslib_body"]
        self.__dict__.update({k: v for k, v in state.items() if k != "opslib_body"})
        self.lock = threading.Lock()
        if digest is None or _directory is None:  # a disposed key is empty, as moto has it
            self._value_buffer = tempfile.SpooledTemporaryFile(max_size=self._max_buffer_size)
        else:
            self._value_buffer = StoredBody(_directory / digest)
            _named.add(digest)

    def set_value(self: Any, new_value: bytes) -> None:
        if isinstance(self._value_buffer, StoredBody):
            self._value_buffer = tempfile.SpooledTemporaryFile(max_size=self._max_buffer_size)
        self.__dict__.pop(DIGEST_ATTRIBUTE, None)
        moto_setter(self, new_value)

    key_class.__getstate__ = getstate
    key_class.__setstate__ = setstate
    key_class.value = key_class.value.setter(set_value)
