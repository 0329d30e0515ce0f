"""The vault's POSIX plumbing: reading until a buffer is full, writing all of one, fsyncing a directory, and
steady writeback of what ingest writes (``_Writeback``, over Linux's ``sync_file_range``, which Python's ``os``
lacks).

Kept apart because none of it knows the blob format or the pipelines: ingest, reading, the assembly and the store
share these few helpers, and what is platform-specific (``ctypes``, the page size) stays in one place.
"""

from __future__ import annotations

import collections
import ctypes
import errno
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from hanoinet.evidence.blob_results import VaultError

_WRITEBACK_UNIT = 4 * 1024 * 1024  # ingest hands written data to the kernel for writeback in units of this size
_WRITEBACK_LAG = 8  # … and waits for the unit handed over this many units ago to be on disk before going on
_PAGE = 4096


def _fill(readinto: Callable[[memoryview], int | None], view: memoryview) -> int:
    """Read until ``view`` is full or the source ends; return the bytes read (short only at the end)."""
    got = 0
    total = len(view)
    while got < total:
        n = readinto(view[got:])
        if n is None:
            raise VaultError("the source gave no data without reaching its end (a non-blocking stream?)")
        if n == 0:
            break
        got += n
    return got


def _readinto_of(source: BinaryIO) -> Callable[[memoryview], int | None]:
    """``source.readinto`` when it has one (no copy), else a fallback through ``read``."""
    readinto: Callable[[memoryview], int | None] | None = getattr(source, "readinto", None)
    if readinto is not None:
        return readinto

    def via_read(view: memoryview) -> int:
        data = source.read(len(view))
        view[: len(data)] = data
        return len(data)

    return via_read


def _write_all(fd: int, view: memoryview) -> None:
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_SYNC_FILE_RANGE_WAIT_BEFORE = 1
_SYNC_FILE_RANGE_WRITE = 2
_SYNC_FILE_RANGE_WAIT_AFTER = 4


def _load_sync_file_range() -> Callable[[int, int, int, int], int] | None:
    """Linux's sync_file_range(2), which Python's ``os`` lacks; None elsewhere (ingest then relies on fsync)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    function.restype = ctypes.c_int

    def call(fd: int, offset: int, nbytes: int, flags: int) -> int:
        if function(fd, offset, nbytes, flags) == 0:
            return 0
        return ctypes.get_errno()

    return call


_sync_file_range = _load_sync_file_range()


class _Writeback:
    """Start writing ingested data to disk as soon as a few MiB are in the page cache; wait for the data written
    ``_WRITEBACK_LAG`` units earlier and drop it from the cache. Dirty data stays bounded, the disk works while the
    CPU hashes, and the final fsync only flushes the tail (instead of the whole file at the end)."""

    def __init__(self, fd: int, start: int) -> None:
        self._fd = fd
        self._start = start  # first byte not yet handed to the kernel for writeback
        self._units: collections.deque[tuple[int, int]] = collections.deque()
        self._enabled = _sync_file_range is not None

    def wrote(self, end: int) -> None:
        """Bytes up to offset ``end`` have been written."""
        aligned = end - end % _PAGE
        if not self._enabled or aligned - self._start < _WRITEBACK_UNIT:
            return
        self._call(self._start, aligned - self._start, _SYNC_FILE_RANGE_WRITE)
        self._units.append((self._start, aligned - self._start))
        self._start = aligned
        if len(self._units) > _WRITEBACK_LAG:
            offset, length = self._units.popleft()
            self._call(
                offset, length, _SYNC_FILE_RANGE_WAIT_BEFORE | _SYNC_FILE_RANGE_WRITE | _SYNC_FILE_RANGE_WAIT_AFTER
            )
            if self._enabled and hasattr(os, "posix_fadvise"):
                os.posix_fadvise(self._fd, offset, length, os.POSIX_FADV_DONTNEED)

    def _call(self, offset: int, length: int, flags: int) -> None:
        if not self._enabled or _sync_file_range is None:
            return
        code = _sync_file_range(self._fd, offset, length, flags)
        if code in (errno.EINVAL, errno.ENOSYS, errno.ESPIPE, errno.EOPNOTSUPP):
            self._enabled = False  # a file system without it: the final fsync does all the work
        elif code:
            raise OSError(code, os.strerror(code))


def _pread_into(fd: int, view: memoryview, offset: int) -> int:
    """Read from ``offset`` until ``view`` is full or the file ends; return the bytes read."""
    got = 0
    while got < len(view):
        n = os.preadv(fd, [view[got:]], offset + got)
        if n == 0:
            break
        got += n
    return got
