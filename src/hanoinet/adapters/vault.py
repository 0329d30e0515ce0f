"""The vault's blob engine: evidence content streamed in constant memory, hashed, encrypted, content-addressed,
written once and crash-safe. It knows nothing of cases or custody: the service layer keeps metadata and the
custody ledger in the database and calls this engine for the bytes.

Layout under the vault root (directories 0700, files 0600)::

    blobs/ab/ab12…ef    one file per distinct content, named by the SHA-256 of the plaintext (hex)
    tmp/<random>.partial  an ingest in progress (or the leftover of a killed one, removed by sweep_partials)

Blob file format, version 1 (all integers big-endian)::

    header, 84 bytes
      0  magic          4   b"HNVB"
      4  version        2   1
      6  header length  2   84
      8  chunk size     4   plaintext bytes per chunk (every chunk but the last is exactly this long)
     12  nonce prefix   4   random, per blob
     16  key id         8   HMAC-SHA256(master key, "hanoinet vault key id v1")[:8]: which master key wrapped it
     24  wrap nonce    12   random
     36  wrapped key   48   AES-256-GCM(master key, wrap nonce, data key, AAD = header bytes 0..35):
                            the blob's fresh random 256-bit data key (32 bytes) and its tag (16 bytes)
    then one record per chunk, at least one (empty content is a single empty last chunk)
      0  length         4   plaintext bytes in this chunk (= chunk size unless last)
      4  flags          1   bit 0: last chunk; other bits zero
      5  ciphertext  length AES-256-GCM(data key, nonce, plaintext, AAD)
         tag           16
        nonce = nonce prefix (4) || chunk index (8)
        AAD   = SHA-256(header) (32) || chunk index (8) || the record's length and flags (5)

Why this shape: the data key lives only in the header, wrapped, so destroying the header destroys the content
(cryptographic erasure) and the master key never touches content. A fresh key per blob means nonces never repeat
under one key. The header hash in every chunk's AAD ties the chunks to their header; the index stops reordering;
the flags stop truncation at a chunk boundary (the last chunk is the only one that may say "last") and the clear
length lets ``verify`` tell truncation and appended bytes apart from altered bytes. Every header byte is
authenticated by the key unwrap (bytes 0..35 as its AAD, the wrapped key by its tag). Records sit at fixed
offsets (header + index x (chunk size + 21)), so one damaged chunk does not hide the state of the others.

Crash safety: an ingest writes ``tmp/<random>.partial`` (holding an ``flock`` on it while alive), fsyncs it once
complete, then links it to ``blobs/xx/<sha256>`` (a hard link: atomic like a rename, but it never replaces an
existing blob, so two racing ingests cannot swap content under a reader) and fsyncs the directory. A blob name
therefore only ever points at complete, durable content; a killed ingest leaves at most an unlocked partial file,
which ``sweep_partials`` (run at the start of every ingest) deletes.

Performance: ingest, ``open_stream`` and ``verify`` are pipelines of threads joined by bounded queues over a small
pool of preallocated chunk buffers, so memory stays flat for any size; hashlib and cryptography's AES-GCM release
the GIL on large buffers, so the stages run on separate cores. Where the work is split matters more than how much
is split: hashing data that another core has just written runs markedly slower (its cache lines must travel), so
SHA-256, the bottleneck, always runs on data the same thread has just produced: ingest's reader reads each chunk
in 512 KiB steps and hashes each step at once, like ``openssl dgst``, while another thread encrypts and writes
(and one thread per extra hash reads the shared buffers); verify's reader fills record buffers while the checker
decrypts each record into a buffer of its own and hashes it straight away. Ingest asks the kernel to start writing
as soon as a few MiB are written (``sync_file_range``) and waits for data a few units behind, so the disk works
while the CPU hashes and the final fsync only flushes the tail, rather than the whole file at the end; written
pages are then dropped from the page cache (evidence is large, rarely re-read at once, and should not evict
everything else).

The master key is used only to wrap and unwrap data keys; it is never stored on the object in the clear, put in a
message, a ``repr`` or a log.
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import errno
import fcntl
import hashlib
import hmac
import io
import logging
import os
import queue
import re
import secrets
import struct
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import BinaryIO, Generic, Protocol, TypeVar

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

log = logging.getLogger(__name__)

MAGIC = b"HNVB"
FORMAT_VERSION = 1
DEFAULT_CHUNK_SIZE = 4 * 1024 * 1024
MAX_CHUNK_SIZE = 64 * 1024 * 1024
"""Upper bound on the chunk size: the pipelines hold a few chunks in memory at once."""
MASTER_KEY_BYTES = 32

_HEADER = struct.Struct(">4sHHI4s8s12s48s")
HEADER_SIZE = _HEADER.size  # 84
_HEADER_FIELDS = struct.Struct(">4sHHI4s8s12s")  # what precedes the wrapped key, authenticated by the key wrap
_WRAP_AAD_END = _HEADER_FIELDS.size  # 36
_RECORD = struct.Struct(">IB")
_TAG = 16
RECORD_OVERHEAD = _RECORD.size + _TAG  # 21 bytes per chunk on disk: length, flags, tag
_LAST = 0x01
_INDEX = struct.Struct(">Q")
_KEY_ID_LABEL = b"hanoinet vault key id v1"

EXTRA_HASHES = ("sha1", "md5")
"""Hashes that can be computed besides SHA-256, in the same pass, for legacy court systems."""

_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_PARTIAL_SUFFIX = ".partial"
_POOL_CHUNKS = 6  # chunk buffers in flight per pipeline: enough to keep every stage busy, small enough to stay flat
_READ_AHEAD = 4  # records read ahead of the checker
_CACHE_STEP = 512 * 1024  # bytes read then hashed at once, while still in the CPU's L2 cache
_WRITEBACK_UNIT = 4 * 1024 * 1024  # ingest hands written data to the kernel for writeback in units of this size
_WRITEBACK_LAG = 8  # … and waits for the unit handed over this many units ago to be on disk before going on
_PAGE = 4096
_MAX_REPORTED_CHUNKS = 1000  # verify lists this many failed chunks one by one, then counts the rest


class VaultError(Exception):
    """Base class of the vault's errors."""


class VaultWriteError(VaultError):
    """Content could not be stored (disk full, I/O error, …); nothing was left in the vault."""


class BlobCorrupt(VaultError):  # noqa: N818 - the name the service layer and API use
    """Stored content is damaged or cannot be authenticated; ``chunk`` says where, if it is one chunk.

    Raised by ``open_stream`` the moment a problem shows: bytes already yielded came from chunks that authenticated,
    but the content as a whole is trustworthy only if the stream ends without this error.
    """

    def __init__(self, sha256: str, reason: str, *, chunk: int | None = None, kind: ProblemKind | None = None) -> None:
        self.sha256 = sha256
        self.reason = reason
        self.chunk = chunk
        self.kind = kind
        super().__init__(f"blob {sha256}: {reason}")


class BlobMissing(BlobCorrupt):
    """No blob with this hash is stored (for a reader that expected it, a form of corruption)."""


class ProblemKind(StrEnum):
    """What can be wrong with a stored blob."""

    MISSING = "missing"
    BAD_HEADER = "bad header"
    CHUNK_FAILED = "chunk failed authentication"
    TRUNCATED = "truncated"
    EXTRA_DATA = "extra data"
    SIZE_MISMATCH = "size mismatch"
    HASH_MISMATCH = "hash mismatch"
    UNREADABLE = "unreadable"


@dataclass(frozen=True)
class BlobProblem:
    """One thing wrong with a blob; ``chunk`` is the chunk index when the problem is in one chunk."""

    kind: ProblemKind
    message: str
    chunk: int | None = None

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class StoredBlob:
    """Content the vault holds. ``deduplicated`` is true when identical content was already stored (this ingest
    added nothing); ``hashes`` maps each algorithm name to its hex digest, SHA-256 always included."""

    sha256: str
    size: int
    hashes: dict[str, str]
    chunk_size: int
    chunks: int
    deduplicated: bool
    path: Path


@dataclass(frozen=True)
class BlobCheck:
    """The outcome of ``verify``: every problem found, in file order, and what could be established."""

    sha256: str
    findings: tuple[BlobProblem, ...]
    size: int | None = None
    """Content bytes, when the blob's framing is complete (its authenticated last chunk was found)."""
    chunks: int = 0
    """Chunk records examined."""
    chunk_size: int | None = None
    computed_sha256: str | None = None
    """SHA-256 of the decrypted content, when every chunk authenticated."""

    @property
    def ok(self) -> bool:
        """True when nothing is wrong."""
        return not self.findings

    @property
    def problems(self) -> tuple[str, ...]:
        """The findings as sentences, for people and for the custody record."""
        return tuple(p.message for p in self.findings)

    @property
    def failed_chunks(self) -> tuple[int, ...]:
        """Indices of the chunks that failed authentication."""
        return tuple(p.chunk for p in self.findings if p.kind is ProblemKind.CHUNK_FAILED and p.chunk is not None)


# --------------------------------------------------------------------------------------------------------------
# Threads joined by bounded queues


class _StoppedError(Exception):
    """A pipeline was stopped (another stage failed, or the consumer went away)."""


_T = TypeVar("_T")


class _SourceError(Exception):
    """Carries an exception raised by an ingest's source out of the reader thread, so that it is not mistaken
    for a failure of the vault (an ``OSError`` reading the source is not a vault write error)."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


class _Hash(Protocol):
    def update(self, data: memoryview, /) -> None: ...
    def hexdigest(self) -> str: ...


_POLL = 0.05  # seconds a blocked stage waits before looking at the cancel flag again


class _Channel(Generic[_T]):
    """A bounded queue whose blocking calls give up when the pipeline is cancelled."""

    def __init__(self, cancel: threading.Event, maxsize: int) -> None:
        self._queue: queue.Queue[_T] = queue.Queue(maxsize)
        self._cancel = cancel

    def put(self, item: _T) -> None:
        while True:
            if self._cancel.is_set():
                raise _StoppedError
            try:
                self._queue.put(item, timeout=_POLL)
            except queue.Full:
                continue
            return

    def get(self) -> _T:
        while True:
            if self._cancel.is_set():
                raise _StoppedError
            try:
                return self._queue.get(timeout=_POLL)
            except queue.Empty:
                continue


class _Crew:
    """Worker threads that stop together: the first exception cancels the rest and ``join`` re-raises it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.cancel = threading.Event()
        self._threads: list[threading.Thread] = []
        self._error: BaseException | None = None
        self._lock = threading.Lock()

    def start(self, target: Callable[[], None], role: str) -> None:
        thread = threading.Thread(target=self._run, args=(target,), name=f"{self.name}-{role}", daemon=True)
        self._threads.append(thread)
        thread.start()

    def _run(self, target: Callable[[], None]) -> None:
        try:
            target()
        except _StoppedError:
            pass
        except BaseException as exc:
            with self._lock:
                if self._error is None:
                    self._error = exc
            self.cancel.set()

    def join(self) -> None:
        """Wait for every worker; re-raise the first failure."""
        for thread in self._threads:
            thread.join()
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def stop(self) -> None:
        """Cancel and wait for every worker, discarding their failures (the caller is already failing)."""
        self.cancel.set()
        for thread in self._threads:
            thread.join()
        self._error = None


@dataclass(eq=False)
class _Slot:
    """A preallocated chunk buffer, returned to its pool when the last stage using it is done."""

    buf: bytearray
    view: memoryview
    n: int = 0
    users: int = 0


class _Pool:
    """A fixed set of chunk buffers shared by several stages (reference counted)."""

    def __init__(self, crew: _Crew, count: int, size: int) -> None:
        self._free = _Channel[_Slot](crew.cancel, count)
        self._lock = threading.Lock()
        for _ in range(count):
            buf = bytearray(size)
            self._free.put(_Slot(buf, memoryview(buf)))

    def take(self, users: int) -> _Slot:
        slot = self._free.get()
        slot.users = users
        return slot

    def release(self, slot: _Slot) -> None:
        with self._lock:
            slot.users -= 1
            done = slot.users == 0
        if done:
            self._free.put(slot)


_END = None  # end-of-stream marker on a channel


def _drain(crew: _Crew, channel: _Channel[_T | None]) -> Iterator[_T]:
    """Items from the last stage of a crew until its end marker; then join the crew. If a stage failed, its
    exception is raised here (rather than the bare cancellation the channel saw)."""
    stopped = False
    try:
        while (item := channel.get()) is not None:
            yield item
    except _StoppedError:
        stopped = True
    crew.join()  # outside the except clause, so the stage's error is not shown as raised "while handling" a stop
    if stopped:
        raise _StoppedError  # cancelled from outside, without a failure


# --------------------------------------------------------------------------------------------------------------
# Small I/O helpers


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


# --------------------------------------------------------------------------------------------------------------
# Header


@dataclass(frozen=True)
class _Header:
    chunk_size: int
    nonce_prefix: bytes
    digest: bytes
    cipher: AESGCM

    def nonce(self, index: int) -> bytes:
        return self.nonce_prefix + _INDEX.pack(index)

    def aad(self, index: int, length: int, flags: int) -> bytes:
        return self.digest + _INDEX.pack(index) + _RECORD.pack(length, flags)


class _HeaderError(Exception):
    def __init__(self, kind: ProblemKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


def _file_size_for(size: int, chunk_size: int) -> int:
    """The length of a well-formed blob file holding ``size`` content bytes."""
    chunks = max(1, -(-size // chunk_size))
    return HEADER_SIZE + chunks * RECORD_OVERHEAD + size


def _amount(size: int) -> str:
    """A byte count for people: 3.2 GiB, 812.0 KiB, 17 bytes."""
    value, unit = float(size), "bytes"
    for larger in ("KiB", "MiB", "GiB"):
        if value < 1024:
            break
        value, unit = value / 1024, larger
    return f"{size} bytes" if unit == "bytes" else f"{value:.1f} {unit}"


def _check_hex(sha256: str) -> str:
    """Refuse anything but 64 lowercase hex digits: the name becomes a path."""
    if not isinstance(sha256, str) or not _SHA256_HEX.fullmatch(sha256):
        raise ValueError(f"not a SHA-256 in lowercase hex: {sha256!r}"[:120])
    return sha256


# --------------------------------------------------------------------------------------------------------------
# Reading records back


@dataclass(eq=False)
class _Payload:
    """One chunk's authenticated plaintext (``data`` is dropped once hashed, unless a reader wants the bytes)."""

    index: int
    length: int
    last: bool
    data: bytes | memoryview | None


@dataclass(eq=False)
class _Record:
    """One record as read from the file: ``slot.view[:slot.n]``; ``short`` if the file shrank meanwhile."""

    index: int
    slot: _Slot
    final: bool
    short: bool


class _Walk:
    """Read a blob's records, authenticate and hash each, and say precisely what is wrong.

    Two threads: a reader fills record buffers from the file (at fixed offsets: the header, then every
    ``chunk size + 21`` bytes), and a checker decrypts each record and hashes its plaintext at once, while it is in
    the CPU cache. Because records sit at fixed offsets, the chunks after a damaged one are still checked; the
    stored length and flags of the final record tell a cut-off file (truncation) from bytes added after the real
    end (extra data). The checker sends each authenticated chunk (``_Payload``) and each problem (``BlobProblem``)
    to ``output``, in file order, then ``None``.
    """

    def __init__(
        self,
        crew: _Crew,
        file: io.FileIO,
        file_size: int,
        header: _Header,
        *,
        keep_plaintext: bool,
        stop_at_first: bool,
    ) -> None:
        self.crew = crew
        self.file = file
        self.file_size = file_size
        self.header = header
        self.keep_plaintext = keep_plaintext
        self.stop_at_first = stop_at_first
        self.stride = header.chunk_size + RECORD_OVERHEAD
        self.output = _Channel[_Payload | BlobProblem | None](crew.cancel, 2 if keep_plaintext else _POOL_CHUNKS)
        self._records = _Channel[_Record | None](crew.cancel, _READ_AHEAD)
        self._pool = _Pool(crew, _READ_AHEAD + 1, min(self.stride, max(file_size - HEADER_SIZE, 1)))
        self._plain = memoryview(bytearray(header.chunk_size))
        self._stop_reading = threading.Event()
        self._hasher = hashlib.sha256()
        self.records = 0  # records examined
        self.size = 0  # plaintext bytes of the chunks hashed, in order
        self.intact = True  # every chunk so far authenticated, in order
        self.complete = False  # the authenticated last chunk was found
        self.digest = ""

    def start(self) -> None:
        self.crew.start(self._read, "read")
        self.crew.start(self._check, "check")

    def _read(self) -> None:
        body = self.file_size - HEADER_SIZE
        count = -(-body // self.stride) if body > 0 else 0
        self.file.seek(HEADER_SIZE)
        for index in range(count):
            if self._stop_reading.is_set():
                break
            avail = min(self.stride, self.file_size - HEADER_SIZE - index * self.stride)
            slot = self._pool.take(1)
            slot.n = _fill(self.file.readinto, slot.view[:avail])
            self._records.put(_Record(index, slot, index == count - 1, slot.n < avail))
        self._records.put(_END)

    def _check(self) -> None:
        if self.file_size <= HEADER_SIZE:
            self._fault(BlobProblem(ProblemKind.TRUNCATED, "the file ends right after its header: no chunk at all"))
        going = self.file_size > HEADER_SIZE
        while (record := self._records.get()) is not None:
            if going:
                self.records = record.index + 1
                if record.short:
                    message = "the file shrank while it was being read"
                    going = self._truncated(record.index, message)
                else:
                    going = self._record(record.index, record.slot.view[: record.slot.n], final=record.final)
                if not going:
                    self._stop_reading.set()  # and drain what was read ahead
            self._pool.release(record.slot)
        self.digest = self._hasher.hexdigest()
        self.output.put(_END)

    def _decrypt(self, index: int, record: memoryview, length: int, flags: int) -> _Payload | None:
        nonce, aad = self.header.nonce(index), self.header.aad(index, length, flags)
        sealed = record[_RECORD.size : RECORD_OVERHEAD + length]
        cipher = self.header.cipher
        try:
            if self.keep_plaintext:
                data: bytes | memoryview = cipher.decrypt(nonce, sealed, aad)
            elif _HAS_INTO:
                data = self._plain[:length]
                cipher.decrypt_into(nonce, sealed, aad, data)
            else:  # cryptography < 46
                data = self._plain[:length]
                data[:] = cipher.decrypt(nonce, bytes(sealed), aad)
        except InvalidTag:
            return None
        return _Payload(index, length, bool(flags & _LAST), data)

    def _emit(self, payload: _Payload) -> None:
        if payload.index == self.records - 1 and self.intact:
            assert payload.data is not None
            self._hasher.update(payload.data)
            self.size += payload.length
        else:
            self.intact = False  # an earlier chunk failed: the hash can no longer be the content's
        if not self.keep_plaintext:
            payload.data = None
        self.output.put(payload)

    def _fault(self, problem: BlobProblem) -> bool:
        if problem.kind is ProblemKind.CHUNK_FAILED:
            self.intact = False
        self.output.put(problem)
        return not self.stop_at_first

    def _record(self, index: int, record: memoryview, *, final: bool) -> bool:
        """Check one record; return whether to go on to the next."""
        if len(record) < RECORD_OVERHEAD:
            missing = RECORD_OVERHEAD - len(record)
            return self._truncated(index, f"the file ends inside chunk {index}, at least {missing} bytes short")
        length, flags = _RECORD.unpack_from(record)
        cs = self.header.chunk_size
        sane = (flags == _LAST and length <= cs) or (flags == 0 and length == cs)
        if sane and RECORD_OVERHEAD + length <= len(record):
            return self._as_stated(index, record, length, flags, final=final)
        if sane and final:
            return self._cut_short(index, record, length)
        return self._as_placed(index, record, final=final)

    def _as_stated(self, index: int, record: memoryview, length: int, flags: int, *, final: bool) -> bool:
        """A record whose length and flags are plausible: authenticate it as it stands."""
        payload = self._decrypt(index, record, length, flags)
        if payload is None:
            return self._failed(index)
        self._emit(payload)
        if payload.last:
            self.complete = True
            end = HEADER_SIZE + index * self.stride + RECORD_OVERHEAD + length
            if end < self.file_size:
                extra = self.file_size - end
                message = f"{extra} bytes were added after the last chunk (chunk {index})"
                self._fault(BlobProblem(ProblemKind.EXTRA_DATA, message))
            return False
        if final:
            message = f"the file ends after chunk {index}, which is not the last chunk: the rest is missing"
            return self._truncated(index + 1, message)
        return True

    def _cut_short(self, index: int, record: memoryview, length: int) -> bool:
        """The final record claims more bytes than the file holds: a cut-off file, or an altered length field."""
        if len(record) - RECORD_OVERHEAD <= self.header.chunk_size:
            payload = self._decrypt(index, record, len(record) - RECORD_OVERHEAD, _LAST)
            if payload is not None:
                return self._reframed(index, payload)
        missing = RECORD_OVERHEAD + length - len(record)
        return self._truncated(index, f"the file ends inside chunk {index}: {missing} bytes of it are missing")

    def _as_placed(self, index: int, record: memoryview, *, final: bool) -> bool:
        """Impossible length or flags: try the framing the record's position implies."""
        length, flags = (len(record) - RECORD_OVERHEAD, _LAST) if final else (self.header.chunk_size, 0)
        payload = self._decrypt(index, record, length, flags)
        if payload is None:
            return self._failed(index)
        return self._reframed(index, payload)

    def _truncated(self, chunk: int, message: str) -> bool:
        self._fault(BlobProblem(ProblemKind.TRUNCATED, message, chunk))
        return False

    def _failed(self, index: int) -> bool:
        message = (
            f"chunk {index} failed authentication: its bytes were altered, or it was moved from elsewhere"
            f" (file bytes {HEADER_SIZE + index * self.stride} onwards)"
        )
        return self._fault(BlobProblem(ProblemKind.CHUNK_FAILED, message, index))

    def _reframed(self, index: int, payload: _Payload) -> bool:
        """The chunk's content authenticated, but only under framing other than what the file states: the content
        is intact (and hashed), the record's length or flags bytes were altered."""
        message = f"chunk {index} failed authentication: its length and flags bytes were altered (content intact)"
        self._emit(payload)
        self.complete = payload.last
        self.output.put(BlobProblem(ProblemKind.CHUNK_FAILED, message, index))
        return not self.stop_at_first and not payload.last


class _Ingest:
    """One ingest's pipeline. The reader thread reads each chunk in cache-sized steps and hashes every step with
    SHA-256 right after reading it, while it is still in the CPU cache (as ``openssl dgst`` does: handing fresh data
    to a hasher on another core costs more than it gains); the encrypter-writer thread and a thread per extra
    hash take the filled chunk buffers; the calling thread relays progress. A buffer goes back to the pool when
    every stage is done with it, so memory is a fixed handful of chunks."""

    def __init__(self, fd: int, header: _Header, source: BinaryIO, names: Sequence[str]) -> None:
        self.fd = fd
        self.header = header
        self.readinto = _readinto_of(source)
        self.crew = _Crew("vault-ingest")
        self.pool = _Pool(self.crew, _POOL_CHUNKS, header.chunk_size)
        self.sha256 = hashlib.sha256()
        self.extra: dict[str, _Hash] = {n: hashlib.new(n, usedforsecurity=False) for n in names if n != "sha256"}
        cancel = self.crew.cancel
        self.hash_queues = [_Channel[_Slot | None](cancel, _POOL_CHUNKS) for _ in self.extra]
        self.write_queue = _Channel[_Slot | None](cancel, _POOL_CHUNKS)
        self.events = _Channel[int | None](cancel, 4 * _POOL_CHUNKS)
        self.size = 0  # content bytes stored so far
        self.chunks = 0
        self.offset = HEADER_SIZE
        self.out = memoryview(bytearray(header.chunk_size + RECORD_OVERHEAD))

    def run(self, progress: Callable[[int], None] | None) -> dict[str, str]:
        """Store everything; return the digests. ``self.size`` counts the bytes stored, even after a failure."""
        self.crew.start(self._read, "read")
        for (name, hasher), channel in zip(self.extra.items(), self.hash_queues, strict=True):
            self.crew.start(self._hasher(hasher, channel), f"hash-{name}")
        self.crew.start(self._encrypt_and_write, "write")
        try:
            for n in _drain(self.crew, self.events):
                self.size += n
                if progress is not None and n:
                    progress(n)
        except BaseException:
            self.crew.stop()
            raise
        return {"sha256": self.sha256.hexdigest()} | {name: h.hexdigest() for name, h in self.extra.items()}

    def _read(self) -> None:
        consumers = (*self.hash_queues, self.write_queue)
        while True:
            slot = self.pool.take(len(consumers))
            slot.n = self._fill_hashing(slot.view)
            if slot.n == 0:
                slot.users = 1
                self.pool.release(slot)
                break
            for channel in consumers:
                channel.put(slot)
            if slot.n < len(slot.view):
                break  # a short fill means the source ended
        for channel in consumers:
            channel.put(_END)

    def _fill_hashing(self, view: memoryview) -> int:
        """Fill ``view`` from the source (short only at its end), hashing each step as soon as it is read."""
        got = 0
        while got < len(view):
            try:
                n = self.readinto(view[got : got + _CACHE_STEP])
            except Exception as exc:
                raise _SourceError(exc) from exc
            if n is None:
                raise VaultError("the source gave no data without reaching its end (a non-blocking stream?)")
            if n == 0:
                break
            self.sha256.update(view[got : got + n])
            got += n
        return got

    def _hasher(self, hasher: _Hash, channel: _Channel[_Slot | None]) -> Callable[[], None]:
        def run() -> None:
            while (slot := channel.get()) is not None:
                hasher.update(slot.view[: slot.n])
                self.pool.release(slot)

        return run

    def _encrypt_and_write(self) -> None:
        writeback = _Writeback(self.fd, 0)
        held: _Slot | None = None  # a chunk is written once we know whether it is the last
        while (slot := self.write_queue.get()) is not None:
            if held is not None:
                self._put(held.view[: held.n], last=False, writeback=writeback)
                self.pool.release(held)
            held = slot
        if held is None:
            self._put(memoryview(b""), last=True, writeback=writeback)  # empty content: one empty last chunk
        else:
            self._put(held.view[: held.n], last=True, writeback=writeback)
            self.pool.release(held)
        self.events.put(_END)

    def _put(self, data: memoryview, *, last: bool, writeback: _Writeback) -> None:
        n = len(data)
        flags = _LAST if last else 0
        _RECORD.pack_into(self.out, 0, n, flags)
        end = RECORD_OVERHEAD + n
        index = self.chunks
        nonce, aad = self.header.nonce(index), self.header.aad(index, n, flags)
        if _HAS_INTO:
            self.header.cipher.encrypt_into(nonce, data, aad, self.out[_RECORD.size : end])
        else:  # cryptography < 46: one allocation per chunk
            self.out[_RECORD.size : end] = self.header.cipher.encrypt(nonce, bytes(data), aad)
        _write_all(self.fd, self.out[:end])
        self.offset += end
        self.chunks = index + 1
        writeback.wrote(self.offset)
        self.events.put(n)


# --------------------------------------------------------------------------------------------------------------
# The store


class BlobStore:
    """Encrypted, content-addressed, write-once blob files under ``root``; see the module docstring."""

    def __init__(self, root: Path, master_key: bytes, *, chunk_size: int = DEFAULT_CHUNK_SIZE) -> None:
        if not isinstance(master_key, bytes | bytearray) or len(master_key) != MASTER_KEY_BYTES:
            got = f"{len(master_key)} bytes" if isinstance(master_key, bytes | bytearray) else type(master_key).__name__
            raise ValueError(f"the vault master key must be {MASTER_KEY_BYTES} bytes, not {got}")
        if not 1 <= chunk_size <= MAX_CHUNK_SIZE:
            raise ValueError(f"chunk size must be between 1 byte and {MAX_CHUNK_SIZE} bytes, not {chunk_size}")
        self.root = Path(root)
        self.chunk_size = chunk_size
        self._wrapper = AESGCM(bytes(master_key))
        self._key_id = hmac.new(bytes(master_key), _KEY_ID_LABEL, hashlib.sha256).digest()[:8]
        self._blobs = self.root / "blobs"
        self._tmp = self.root / "tmp"
        for directory in (self.root, self._blobs, self._tmp):
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        for directory in (self._blobs, self._tmp):
            if directory.stat().st_mode & 0o077:
                directory.chmod(0o700)

    def __repr__(self) -> str:
        return f"BlobStore(root={str(self.root)!r}, chunk_size={self.chunk_size})"

    # ---- paths and listing

    def path_of(self, sha256: str) -> Path:
        """Where the blob with this hash lives (whether or not it exists)."""
        _check_hex(sha256)
        return self._blobs / sha256[:2] / sha256

    def exists(self, sha256: str) -> bool:
        """True if a blob with this hash is stored (intact or not: ``verify`` says which)."""
        return self.path_of(sha256).is_file()

    def iter_blobs(self) -> Iterator[str]:
        """The hashes of every stored blob, in order."""
        if not self._blobs.is_dir():
            return
        for fan in sorted(self._blobs.iterdir()):
            if not fan.is_dir() or len(fan.name) != 2:
                continue
            for blob in sorted(fan.iterdir()):
                if _SHA256_HEX.fullmatch(blob.name) and blob.name[:2] == fan.name and blob.is_file():
                    yield blob.name

    def sweep_partials(self) -> int:
        """Delete the partial files of ingests that died (killed, crashed); return how many.

        An ingest in progress holds an exclusive ``flock`` on its partial file, released by the kernel when its
        process dies, so partials of live ingests (in this or another process) are left alone.
        """
        removed = 0
        for path in self._tmp.glob(f"*{_PARTIAL_SUFFIX}"):
            try:
                fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
            except FileNotFoundError:
                continue
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # a live ingest
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                    removed += 1
            finally:
                os.close(fd)
        if removed:
            log.info("removed %d partial file(s) left by interrupted ingests in %s", removed, self._tmp)
        return removed

    # ---- writing

    def ingest(
        self,
        source: BinaryIO,
        *,
        extra_hashes: Sequence[str] = (),
        progress: Callable[[int], None] | None = None,
    ) -> StoredBlob:
        """Store the rest of ``source`` durably and return what was stored, in constant memory.

        SHA-256 always, plus any of ``EXTRA_HASHES`` requested, are computed in the same pass as the encryption.
        The blob becomes visible only once complete and fsynced (renamed into place), so a crash at any moment
        leaves either nothing or the whole blob. If identical content is already stored intact, the new copy is
        discarded and the existing one returned with ``deduplicated=True``. ``progress`` is called in the calling
        thread with the number of bytes just stored. Vault-side failures (disk full, I/O errors) raise
        ``VaultWriteError``; errors raised by ``source`` propagate unchanged. Either way nothing is left behind.
        """
        names = self._hash_names(extra_hashes)
        self.sweep_partials()
        try:
            fd, partial = self._new_partial()
        except OSError as exc:
            raise self._write_error(exc, 0) from exc
        pipeline: _Ingest | None = None
        try:
            raw, header = self._new_header()
            _write_all(fd, memoryview(raw))
            pipeline = _Ingest(fd, header, source, names)
            digests = pipeline.run(progress)
            os.fsync(fd)
            # The lock is held until the blob is in place, so that no sweep can take the partial file from under us.
            return self._publish(partial, pipeline.size, pipeline.chunks, digests)
        except _SourceError as failure:
            raise failure.error from None  # the source's own error, unchanged: the vault is not at fault
        except OSError as exc:
            raise self._write_error(exc, pipeline.size if pipeline else 0) from exc
        finally:
            os.close(fd)
            with contextlib.suppress(OSError):
                partial.unlink(missing_ok=True)

    @staticmethod
    def _hash_names(extra_hashes: Sequence[str]) -> list[str]:
        names = ["sha256"]
        for name in extra_hashes:
            if name not in (*EXTRA_HASHES, "sha256"):
                raise ValueError(f"unknown hash {name!r}: the vault computes sha256 and, on request, sha1 and md5")
            if name not in names:
                names.append(name)
        return names

    def _write_error(self, exc: OSError, written: int) -> VaultWriteError:
        code = exc.errno
        if code == errno.ENOSPC:
            what = f"no space left in the vault at {self.root}"
        elif code == errno.EDQUOT:
            what = f"disk quota exceeded in the vault at {self.root}"
        elif code == errno.EFBIG:
            what = f"file too large for the vault at {self.root} (file size limit reached)"
        else:
            what = f"could not write to the vault at {self.root}: {exc.strerror or exc}"
        return VaultWriteError(f"{what}; nothing was stored (failed after {_amount(written)} of content)")

    def _new_partial(self) -> tuple[int, Path]:
        """Create and lock ``tmp/<random>.partial``; the lock tells ``sweep_partials`` it is in use."""
        while True:
            path = self._tmp / f"{secrets.token_hex(16)}{_PARTIAL_SUFFIX}"
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                if os.fstat(fd).st_ino == path.stat().st_ino:
                    return fd, path
            except (BlockingIOError, FileNotFoundError):
                pass  # a concurrent sweep took it between create and lock: try another name
            except BaseException:
                os.close(fd)
                raise
            os.close(fd)

    def _new_header(self) -> tuple[bytes, _Header]:
        """A fresh header: a new random data key, wrapped by the master key, and a new nonce prefix."""
        data_key = AESGCM.generate_key(bit_length=256)
        prefix, wrap_nonce = secrets.token_bytes(4), secrets.token_bytes(12)
        fields = _HEADER_FIELDS.pack(
            MAGIC, FORMAT_VERSION, HEADER_SIZE, self.chunk_size, prefix, self._key_id, wrap_nonce
        )
        raw = fields + self._wrapper.encrypt(wrap_nonce, data_key, fields)
        return raw, _Header(self.chunk_size, prefix, hashlib.sha256(raw).digest(), AESGCM(data_key))

    def _publish(self, partial: Path, size: int, chunks: int, hashes: dict[str, str]) -> StoredBlob:
        """Make the fsynced partial file the blob for its hash, unless intact identical content is there."""
        sha256 = hashes["sha256"]
        final = self.path_of(sha256)
        fan = final.parent
        if not fan.is_dir():
            fan.mkdir(mode=0o700, exist_ok=True)
            _fsync_dir(self._blobs)
        existing = self._intact(final, size)
        if existing is not None:
            return StoredBlob(sha256, size, hashes, existing, max(1, -(-size // existing)), True, final)
        try:
            final.hardlink_to(partial)  # never replaces: write-once even when two ingests race
        except FileExistsError:
            existing = self._intact(final, size)
            if existing is not None:
                return StoredBlob(sha256, size, hashes, existing, max(1, -(-size // existing)), True, final)
            # Damaged content under this name (truncated, bad header): the hash proves ours is the same content.
            log.warning("replacing damaged blob %s with a freshly ingested copy of the same content", sha256)
            partial.replace(final)
        _fsync_dir(fan)
        return StoredBlob(sha256, size, hashes, self.chunk_size, chunks, False, final)

    def _intact(self, path: Path, size: int) -> int | None:
        """The chunk size of the blob at ``path`` if its header authenticates and its length fits ``size``."""
        try:
            with path.open("rb", buffering=0) as file:
                header = self._read_header(file)
                if os.fstat(file.fileno()).st_size != _file_size_for(size, header.chunk_size):
                    return None
        except (OSError, _HeaderError):
            return None
        return header.chunk_size

    def destroy(self, sha256: str) -> None:
        """Destroy a blob for good: overwrite its header (the only copy of its data key), then unlink it.

        Without the data key the ciphertext is noise even to the holder of the master key. Caveat: a file system or
        SSD may keep an old copy of the overwritten block somewhere; recovering it would also need the master key.
        Destroying a blob that is not there does nothing, so a disposal interrupted by a crash can be run again.
        """
        path = self.path_of(sha256)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError:
            return
        try:
            length = min(HEADER_SIZE, os.fstat(fd).st_size)
            os.pwrite(fd, secrets.token_bytes(length), 0)
            os.fsync(fd)
        finally:
            os.close(fd)
        path.unlink()
        _fsync_dir(path.parent)

    # ---- reading

    def _read_header(self, file: io.FileIO) -> _Header:
        """Read and authenticate a blob's header (the key unwrap covers every byte); raise ``_HeaderError``."""
        raw = file.read(HEADER_SIZE) or b""
        if len(raw) < HEADER_SIZE:
            message = f"the file ends inside its header ({len(raw)} of {HEADER_SIZE} bytes)"
            raise _HeaderError(ProblemKind.TRUNCATED, message)
        magic, version, length, chunk_size, prefix, key_id, wrap_nonce, wrapped = _HEADER.unpack(raw)
        if magic != MAGIC:
            raise _HeaderError(ProblemKind.BAD_HEADER, "bad header: not a vault blob (wrong magic bytes)")
        if version != FORMAT_VERSION or length != HEADER_SIZE:
            message = f"bad header: format version {version}, header length {length} (this vault reads version 1)"
            raise _HeaderError(ProblemKind.BAD_HEADER, message)
        if not 1 <= chunk_size <= MAX_CHUNK_SIZE:
            raise _HeaderError(ProblemKind.BAD_HEADER, f"bad header: impossible chunk size {chunk_size}")
        try:
            data_key = self._wrapper.decrypt(wrap_nonce, wrapped, raw[:_WRAP_AAD_END])
        except InvalidTag:
            if hmac.compare_digest(key_id, self._key_id):
                message = "bad header: the data key does not unwrap (the header bytes were altered)"
            else:
                message = (
                    "bad header: the data key was wrapped by another master key"
                    f" (key id {key_id.hex()}, this vault's is {self._key_id.hex()}) or the key id bytes were altered"
                )
            raise _HeaderError(ProblemKind.BAD_HEADER, message) from None
        return _Header(chunk_size, prefix, hashlib.sha256(raw).digest(), AESGCM(data_key))

    def _open(self, sha256: str) -> tuple[io.FileIO, int, _Header]:
        """Open a blob and authenticate its header; raise ``BlobMissing`` or ``_HeaderError``."""
        path = self.path_of(sha256)
        try:
            file = path.open("rb", buffering=0)
        except FileNotFoundError:
            raise BlobMissing(sha256, "the blob is missing from the vault", kind=ProblemKind.MISSING) from None
        try:
            size = os.fstat(file.fileno()).st_size
            if hasattr(os, "posix_fadvise"):
                os.posix_fadvise(file.fileno(), 0, 0, os.POSIX_FADV_SEQUENTIAL)
            header = self._read_header(file)
        except BaseException:
            file.close()
            raise
        return file, size, header

    def verify(
        self, sha256: str, *, size: int | None = None, progress: Callable[[int], None] | None = None
    ) -> BlobCheck:
        """Recompute everything about a blob without returning its content, and say exactly what is wrong.

        Findings name the missing blob, a bad header, each chunk that fails authentication, truncation, bytes added
        after the end, a size other than ``size`` (when given), a SHA-256 other than the blob's name, or a read
        error. Corruption never raises. ``progress`` is called in the calling thread with bytes just checked.
        """
        try:
            file, file_size, header = self._open(sha256)
        except BlobMissing as exc:
            return BlobCheck(sha256, (BlobProblem(ProblemKind.MISSING, exc.reason),))
        except _HeaderError as exc:
            return BlobCheck(sha256, (BlobProblem(exc.kind, exc.message),))
        except OSError as exc:
            return BlobCheck(sha256, (BlobProblem(ProblemKind.UNREADABLE, f"the blob cannot be read: {exc}"),))
        findings: list[BlobProblem] = []
        with file:
            crew = _Crew("vault-verify")
            walk = _Walk(crew, file, file_size, header, keep_plaintext=False, stop_at_first=False)
            walk.start()
            try:
                items: Iterator[_Payload | BlobProblem] = _drain(crew, walk.output)
                for item in items:
                    if isinstance(item, BlobProblem):
                        findings.append(item)
                    elif progress is not None and item.length:
                        progress(item.length)
            except OSError as exc:
                findings.append(BlobProblem(ProblemKind.UNREADABLE, f"the blob cannot be read: {exc}"))
            finally:
                crew.stop()
        return _conclude(sha256, size, header, walk, findings)

    def open_stream(self, sha256: str) -> Iterator[bytes]:
        """Yield a blob's content, decrypted and checked chunk by chunk as it is read.

        A missing blob (``BlobMissing``) or a bad header (``BlobCorrupt``) is reported at once, by this call; any
        other damage raises ``BlobCorrupt`` from the iteration the moment it shows: a chunk that does not
        authenticate, a cut-off file, added bytes. Each yielded chunk authenticated, so its bytes were not altered,
        but the whole-content SHA-256 can only be checked at the end, so the final chunk is held back until it
        matches. A consumer must treat what it received as untrustworthy unless the iteration ends normally.
        """
        try:
            file, _, _ = self._open(sha256)
        except _HeaderError as exc:
            raise BlobCorrupt(sha256, exc.message, kind=exc.kind) from None
        file.close()  # opened again by the generator, which may never be started
        return self._stream(sha256)

    def _stream(self, sha256: str) -> Iterator[bytes]:
        try:
            file, file_size, header = self._open(sha256)
        except _HeaderError as exc:
            raise BlobCorrupt(sha256, exc.message, kind=exc.kind) from None
        with file:
            crew = _Crew("vault-read")
            walk = _Walk(crew, file, file_size, header, keep_plaintext=True, stop_at_first=True)
            walk.start()
            try:
                held = b""  # the latest chunk, released once the next one (or the final hash check) is through
                items: Iterator[_Payload | BlobProblem] = _drain(crew, walk.output)
                for item in items:
                    if isinstance(item, BlobProblem):
                        raise BlobCorrupt(sha256, item.message, chunk=item.chunk, kind=item.kind)
                    if held:
                        yield held
                    held = bytes(item.data or b"")
                if walk.digest != sha256:
                    reason = f"hash mismatch: the content's SHA-256 is {walk.digest}, not the blob's name"
                    raise BlobCorrupt(sha256, reason, kind=ProblemKind.HASH_MISMATCH)
                if held:
                    yield held
            except OSError as exc:
                raise BlobCorrupt(sha256, f"the blob cannot be read: {exc}", kind=ProblemKind.UNREADABLE) from exc
            finally:
                crew.stop()


def _conclude(sha256: str, size: int | None, header: _Header, walk: _Walk, findings: list[BlobProblem]) -> BlobCheck:
    """Add what only the whole tells (size, hash) to a walk's findings, and cap a flood of failed chunks."""
    failed = [p for p in findings if p.kind is ProblemKind.CHUNK_FAILED]
    if len(failed) > _MAX_REPORTED_CHUNKS:
        dropped = {id(p) for p in failed[_MAX_REPORTED_CHUNKS:]}
        findings = [p for p in findings if id(p) not in dropped]
        message = f"… and {len(dropped)} more chunks failed authentication"
        findings.append(BlobProblem(ProblemKind.CHUNK_FAILED, message))
    content_size = walk.size if walk.complete and walk.intact else None
    computed = walk.digest if walk.complete and walk.intact else None
    if content_size is not None and size is not None and content_size != size:
        message = f"size mismatch: the blob holds {content_size} bytes, {size} were expected"
        findings.append(BlobProblem(ProblemKind.SIZE_MISMATCH, message))
    if computed is not None and computed != sha256:
        message = f"hash mismatch: the content's SHA-256 is {computed}, not the blob's name"
        findings.append(BlobProblem(ProblemKind.HASH_MISMATCH, message))
    return BlobCheck(sha256, tuple(findings), content_size, walk.records, header.chunk_size, computed)


_HAS_INTO = hasattr(AESGCM, "encrypt_into") and hasattr(AESGCM, "decrypt_into")
"""cryptography >= 46 encrypts and decrypts into a caller's buffer: no allocation per chunk."""
