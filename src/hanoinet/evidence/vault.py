"""The vault's blob engine: evidence content streamed in constant memory, hashed, encrypted, content-addressed,
written once and crash-safe. It knows nothing of cases or custody: the service layer keeps metadata and the
custody ledger in the database and calls this engine for the bytes.

Layout under the vault root (directories 0700, files 0600)::

    blobs/ab/ab12…ef    one file per distinct content, named by the SHA-256 of the plaintext (hex)
    tmp/<random>.partial  an ingest in progress (or the leftover of a killed one, removed by sweep_partials)
    tmp/<name>.assembly   a blob being received from another node (kept across crashes; never swept)

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

Sealed transfer between nodes: the sender streams a blob's records verbatim (``read_records``: no decryption, no
hashing, just reads at fixed offsets, the cheapest possible) and hands the receiver, inside an encrypted message,
the blob's data key, nonce prefix, header hash and chunk size (``seal_info``, a ``SealedBlob``). The receiver
authenticates each record as it arrives (``RecordOpener``: the tag covers the index, the framing and the sender's
header, so an altered, reordered, truncated or foreign record is refused at once, by index), then hashes the
plaintext and encrypts it again under a fresh data key of its own, wrapped by its own master key, into an
assembly (``BlobStore.assembly``): an ordinary blob file in ``tmp/``, with the sender's chunk size so that one
received record is one stored record and chunk counts agree on both sides. The sender's key never protects
anything the receiver stores, and the receiver never trusts bytes it has not authenticated. An assembly is
resumable across crashes and restarts: reopening it authenticates its header, walks its records (decrypting and
hashing each) and cuts the file right after the last one that authenticates, so what is kept is exactly a verified
prefix and the transfer goes on from ``chunks_done``. ``finish`` compares the whole SHA-256 and size with the
manifest's and publishes like ingest (fsync, hard link, directory fsync), or discards the assembly on a mismatch.
An assembly holds an ``flock`` while open (``AssemblyBusy`` for anyone else) and, not being a ``.partial`` file,
is never swept: a transfer that is abandoned for good is removed with ``discard_assembly``.

The master key is used only to wrap and unwrap data keys; it is never stored on the object in the clear, put in a
message, a ``repr`` or a log; nor is a blob's data key, which leaves the vault only in a ``SealedBlob``, for the
caller to encrypt to the receiving node.
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
import weakref
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import BinaryIO, Generic, Protocol, TypeVar

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from hanoinet.evidence.ports import AssemblyDamaged, AssemblyInUse, ChunkRefused, ContentMismatch, SealedContent

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
_ASSEMBLY_SUFFIX = ".assembly"
_ASSEMBLY_NAME = re.compile(r"[0-9a-z-]{1,80}")
_ASSEMBLY_IN_FLIGHT = 2  # chunks queued for an assembly's hasher, besides the one it is hashing
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


class ChunkRejected(VaultError, ChunkRefused):  # noqa: N818 - the name the transfer protocol uses
    """A received record is not chunk ``index`` of the promised blob (malformed, altered, misplaced or foreign);
    ``reason`` says which."""

    def __init__(self, index: int, reason: str) -> None:
        self.index = index
        self.reason = reason
        super().__init__(f"chunk {index} rejected: {reason}")


class AssemblyBusy(VaultError, AssemblyInUse):  # noqa: N818 - the name the transfer protocol uses
    """The assembly is open elsewhere: another process, or another object in this one, holds its lock."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"assembly {name} is in use elsewhere (another process or object holds its lock)")


class AssemblyCorrupt(VaultError, AssemblyDamaged):  # noqa: N818 - like BlobCorrupt
    """An assembly's file cannot be resumed (its header is cut short or does not authenticate): discard it with
    ``BlobStore.discard_assembly`` and start the transfer again."""

    def __init__(self, name: str, reason: str, *, kind: ProblemKind) -> None:
        self.name = name
        self.reason = reason
        self.kind = kind
        super().__init__(f"assembly {name}: {reason}")


class AssemblyMismatch(VaultError, ContentMismatch):  # noqa: N818 - the name the transfer protocol uses
    """What was assembled is not what was promised (size or SHA-256), or the assembly under this name was started
    with another chunk size."""

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        self.reason = reason
        super().__init__(f"assembly {name}: {reason}")


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
class SealedBlob:
    """What a receiver needs to authenticate a stored blob's records as they arrive (see ``RecordOpener``): its
    data key, nonce prefix, header hash and chunk size, and how many records it has. The data key opens the
    content: it travels only inside an encrypted message, and never shows in a ``repr`` or a log."""

    sha256: str
    chunk_size: int
    records: int
    nonce_prefix: bytes
    header_hash: bytes
    data_key: bytes = field(repr=False)


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

    def offer(self, item: _T) -> bool:
        """Put without waiting; return whether there was room."""
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            return False
        return True

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
    key: bytes = field(repr=False)  # the blob's data key: handed on only by ``seal_info``
    cipher: AESGCM = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "cipher", AESGCM(self.key))

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
        end = _seal_into(self.header, self.chunks, data, last=last, out=self.out)
        _write_all(self.fd, self.out[:end])
        self.offset += end
        self.chunks += 1
        writeback.wrote(self.offset)
        self.events.put(len(data))


def _seal_into(header: _Header, index: int, data: bytes | memoryview, *, last: bool, out: memoryview) -> int:
    """Encrypt one chunk as record ``index`` (length, flags, ciphertext, tag) into ``out``; return its length."""
    n = len(data)
    flags = _LAST if last else 0
    _RECORD.pack_into(out, 0, n, flags)
    end = RECORD_OVERHEAD + n
    nonce, aad = header.nonce(index), header.aad(index, n, flags)
    if _HAS_INTO:
        header.cipher.encrypt_into(nonce, data, aad, out[_RECORD.size : end])
    else:  # cryptography < 46: one allocation per chunk
        out[_RECORD.size : end] = header.cipher.encrypt(nonce, bytes(data), aad)
    return end


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
            raw, header = self._new_header(self.chunk_size)
            _write_all(fd, memoryview(raw))
            pipeline = _Ingest(fd, header, source, names)
            digests = pipeline.run(progress)
            os.fsync(fd)
            # The lock is held until the blob is in place, so that no sweep can take the partial file from under us.
            return self._publish(partial, pipeline.size, pipeline.chunks, digests, header.chunk_size)
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

    def _write_error(self, exc: OSError, written: int, outcome: str = "nothing was stored") -> VaultWriteError:
        code = exc.errno
        if code == errno.ENOSPC:
            what = f"no space left in the vault at {self.root}"
        elif code == errno.EDQUOT:
            what = f"disk quota exceeded in the vault at {self.root}"
        elif code == errno.EFBIG:
            what = f"file too large for the vault at {self.root} (file size limit reached)"
        else:
            what = f"could not write to the vault at {self.root}: {exc.strerror or exc}"
        return VaultWriteError(f"{what}; {outcome} (failed after {_amount(written)} of content)")

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

    def _new_header(self, chunk_size: int) -> tuple[bytes, _Header]:
        """A fresh header: a new random data key, wrapped by the master key, and a new nonce prefix."""
        data_key = AESGCM.generate_key(bit_length=256)
        prefix, wrap_nonce = secrets.token_bytes(4), secrets.token_bytes(12)
        fields = _HEADER_FIELDS.pack(MAGIC, FORMAT_VERSION, HEADER_SIZE, chunk_size, prefix, self._key_id, wrap_nonce)
        raw = fields + self._wrapper.encrypt(wrap_nonce, data_key, fields)
        return raw, _Header(chunk_size, prefix, hashlib.sha256(raw).digest(), data_key)

    def _publish(self, partial: Path, size: int, chunks: int, hashes: dict[str, str], chunk_size: int) -> StoredBlob:
        """Make the fsynced partial file (of ``chunk_size`` chunks) the blob for its hash, unless intact identical
        content is there."""
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
        return StoredBlob(sha256, size, hashes, chunk_size, chunks, False, final)

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
        return self._parse_header(file.read(HEADER_SIZE) or b"")

    def _parse_header(self, raw: bytes) -> _Header:
        """Authenticate a blob's header bytes (the key unwrap covers every byte); raise ``_HeaderError``."""
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
        return _Header(chunk_size, prefix, hashlib.sha256(raw).digest(), data_key)

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

    # ---- sealed transfer: sending

    def seal_info(self, sha256: str) -> SealedBlob:
        """What a receiver needs to authenticate this blob's records on arrival (``RecordOpener``), the data key
        included: hand it on only inside an encrypted message.

        The header is authenticated with the master key (``BlobMissing``, or ``BlobCorrupt`` for a bad header, as
        ``open_stream`` raises them), and the file must hold whole records (else ``BlobCorrupt``, truncated). The
        records themselves are not read: the receiver authenticates each one.
        """
        file, header, records, _ = self._open_sealed(sha256)
        file.close()
        return SealedBlob(sha256, header.chunk_size, records, header.nonce_prefix, header.digest, header.key)

    def read_records(self, sha256: str, start: int = 0) -> Iterator[bytes]:
        """Yield a blob's records exactly as stored (length, flags, ciphertext, tag), from record ``start`` to the
        end, one at a time: nothing is decrypted or hashed here, the receiver authenticates each record.

        A missing blob (``BlobMissing``), a bad header or a file that is not whole records (``BlobCorrupt``) is
        reported at once, by this call; ``start`` may be the record count (then nothing is yielded).
        """
        if start < 0:
            raise ValueError(f"the first record must be 0 or more, not {start}")
        file, _, records, _ = self._open_sealed(sha256)
        file.close()  # opened again by the generator, which may never be started
        if start > records:
            raise ValueError(f"blob {sha256} has {records} records: there is no record {start}")
        return self._records(sha256, start)

    def _records(self, sha256: str, start: int) -> Iterator[bytes]:
        file, header, records, file_size = self._open_sealed(sha256)
        with file:
            stride = header.chunk_size + RECORD_OVERHEAD
            offset = HEADER_SIZE + start * stride
            try:
                file.seek(offset)
                for index in range(start, records):
                    want = min(stride, file_size - offset)
                    record = file.read(want) or b""
                    while 0 < len(record) < want and (more := file.read(want - len(record))):
                        record += more
                    if len(record) != want:
                        message = f"truncated: the file shrank while chunk {index} was being read"
                        raise BlobCorrupt(sha256, message, chunk=index, kind=ProblemKind.TRUNCATED)
                    offset += want
                    yield record
            except OSError as exc:
                raise BlobCorrupt(sha256, f"the blob cannot be read: {exc}", kind=ProblemKind.UNREADABLE) from exc

    def _open_sealed(self, sha256: str) -> tuple[io.FileIO, _Header, int, int]:
        """Open a blob, authenticate its header and count its records; raise ``BlobMissing`` or ``BlobCorrupt``."""
        try:
            file, file_size, header = self._open(sha256)
        except _HeaderError as exc:
            raise BlobCorrupt(sha256, exc.message, kind=exc.kind) from None
        try:
            records = _whole_records(sha256, file.fileno(), file_size, header.chunk_size)
        except BaseException:
            file.close()
            raise
        return file, header, records, file_size

    # ---- sealed transfer: receiving

    def assembly(self, name: str, chunk_size: int) -> BlobAssembly:
        """Open the assembly ``tmp/<name>.assembly``, creating it or resuming it from its verified chunks.

        A new assembly gets a fresh header (a new data key wrapped by this vault's master key) with the sender's
        ``chunk_size``, so that each received record becomes one stored record. An existing one is checked record
        by record and cut back to its longest prefix that authenticates (see ``BlobAssembly``). Raises
        ``AssemblyBusy`` if it is open elsewhere, ``AssemblyCorrupt`` if its header is damaged and
        ``AssemblyMismatch`` if it was started with another chunk size (discard it with ``discard_assembly``).
        """
        if not isinstance(name, str) or not _ASSEMBLY_NAME.fullmatch(name):
            raise ValueError(f"an assembly name is 1 to 80 of 0-9, a-z and '-', not {name!r}"[:160])
        if not 1 <= chunk_size <= MAX_CHUNK_SIZE:
            raise ValueError(f"chunk size must be between 1 byte and {MAX_CHUNK_SIZE} bytes, not {chunk_size}")
        return BlobAssembly(self, name, chunk_size)

    def opener(self, sealed: SealedContent) -> RecordOpener:
        """A checker for the records of a blob sealed by another vault (the framing and key its offer gave)."""
        return RecordOpener(
            data_key=sealed.data_key,
            nonce_prefix=sealed.nonce_prefix,
            header_hash=sealed.header_hash,
            chunk_size=sealed.chunk_size,
        )

    def discard_assembly(self, name: str) -> bool:
        """Delete the assembly ``name`` unless it is open (``AssemblyBusy``); return whether there was one."""
        if not isinstance(name, str) or not _ASSEMBLY_NAME.fullmatch(name):
            raise ValueError(f"an assembly name is 1 to 80 of 0-9, a-z and '-', not {name!r}"[:160])
        path = self._assembly_path(name)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError:
            return False
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise AssemblyBusy(name) from None
            path.unlink(missing_ok=True)
        finally:
            os.close(fd)
        return True

    def _assembly_path(self, name: str) -> Path:
        return self._tmp / f"{name}{_ASSEMBLY_SUFFIX}"

    def _claim_assembly(self, name: str, chunk_size: int) -> int:
        """Open and lock the assembly file, creating it (with its header) if there is none; raise ``AssemblyBusy``."""
        path = self._assembly_path(name)
        while True:
            try:
                fd = os.open(path, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
            except FileNotFoundError:
                created = self._create_assembly(path, chunk_size)
                if created is not None:
                    return created
                continue  # another opener created it first: open theirs (and find it busy)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                held = os.fstat(fd)
                try:
                    named = path.lstat()
                except FileNotFoundError:
                    named = None
            except BlockingIOError:
                os.close(fd)
                raise AssemblyBusy(name) from None
            except BaseException:
                os.close(fd)
                raise
            if named is not None and (named.st_dev, named.st_ino) == (held.st_dev, held.st_ino):
                return fd
            os.close(fd)  # finished or discarded by its holder between our open and our lock: look again

    def _create_assembly(self, path: Path, chunk_size: int) -> int | None:
        """Write a fresh header into a locked partial file, fsync it and link it under the assembly's name, so that
        the name only ever shows a whole, durable header; return the locked descriptor, or None if the name was
        taken meanwhile."""
        fd, partial = self._new_partial()
        try:
            raw, _ = self._new_header(chunk_size)
            _write_all(fd, memoryview(raw))
            os.fsync(fd)
            try:
                path.hardlink_to(partial)  # the lock on the inode now covers the assembly's name too
            except FileExistsError:
                os.close(fd)
                return None
            _fsync_dir(self._tmp)
        except BaseException:
            os.close(fd)
            raise
        finally:
            with contextlib.suppress(OSError):
                partial.unlink(missing_ok=True)
        return fd


def _whole_records(sha256: str, fd: int, file_size: int, chunk_size: int) -> int:
    """How many records a blob file holds; raise ``BlobCorrupt`` unless it is a header and whole records whose final
    one says it is the last (the record framing is checked, not authenticated: the receiver does that)."""
    stride = chunk_size + RECORD_OVERHEAD
    body = file_size - HEADER_SIZE
    if body <= 0:
        message = "truncated: the file ends right after its header: no chunk at all"
        raise BlobCorrupt(sha256, message, kind=ProblemKind.TRUNCATED)
    count = -(-body // stride)
    final = count - 1
    tail = body - final * stride  # bytes of the final record, 1 to stride
    if tail < RECORD_OVERHEAD:
        message = f"truncated: the file ends inside chunk {final}, at least {RECORD_OVERHEAD - tail} bytes short"
        raise BlobCorrupt(sha256, message, chunk=final, kind=ProblemKind.TRUNCATED)
    length, flags = _RECORD.unpack(os.pread(fd, _RECORD.size, file_size - tail))
    if flags == 0 and length == chunk_size == tail - RECORD_OVERHEAD:
        message = f"truncated: the file ends after chunk {final}, which is not the last chunk: the rest is missing"
        raise BlobCorrupt(sha256, message, chunk=count, kind=ProblemKind.TRUNCATED)
    if flags != _LAST or length > chunk_size or RECORD_OVERHEAD + length != tail:
        message = (
            f"truncated or extended: the final record (chunk {final}, {tail} bytes in the file) states"
            f" {length} content bytes and flags {flags:#04x}, which do not fit the file's size"
        )
        raise BlobCorrupt(sha256, message, chunk=final, kind=ProblemKind.TRUNCATED)
    return count


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


# --------------------------------------------------------------------------------------------------------------
# Sealed transfer: authenticating records on arrival, and assembling them into a blob


class RecordOpener:
    """Authenticate and decrypt another vault's records, one at a time, with the fields of its ``SealedBlob``.

    ``open`` checks the framing (length, flags, byte count) and the tag, which covers the record's index, its
    length and flags and its blob's header: a record that was altered, moved, reordered or taken from another blob
    is refused with ``ChunkRejected`` naming the index.
    """

    def __init__(self, *, data_key: bytes, nonce_prefix: bytes, header_hash: bytes, chunk_size: int) -> None:
        if len(data_key) != 32 or len(nonce_prefix) != 4 or len(header_hash) != 32:
            raise ValueError("a sealed blob has a 32-byte data key, a 4-byte nonce prefix and a 32-byte header hash")
        if not 1 <= chunk_size <= MAX_CHUNK_SIZE:
            raise ValueError(f"chunk size must be between 1 byte and {MAX_CHUNK_SIZE} bytes, not {chunk_size}")
        self.chunk_size = chunk_size
        self._header = _Header(chunk_size, bytes(nonce_prefix), bytes(header_hash), bytes(data_key))

    @classmethod
    def for_blob(cls, sealed: SealedBlob) -> RecordOpener:
        """An opener for the records of the blob ``sealed`` describes."""
        return cls(
            data_key=sealed.data_key,
            nonce_prefix=sealed.nonce_prefix,
            header_hash=sealed.header_hash,
            chunk_size=sealed.chunk_size,
        )

    def __repr__(self) -> str:
        return f"RecordOpener(chunk_size={self.chunk_size})"

    def open(self, index: int, record: bytes | bytearray | memoryview) -> tuple[bytes, bool]:
        """The plaintext of record ``index`` and whether it is the last chunk; raise ``ChunkRejected``."""
        if index < 0:
            raise ValueError(f"a chunk index is 0 or more, not {index}")
        view = memoryview(record).cast("B")
        n = len(view)
        if n < RECORD_OVERHEAD:
            raise ChunkRejected(index, f"{n} bytes is too short for a record (at least {RECORD_OVERHEAD})")
        length, flags = _RECORD.unpack_from(view)
        cs = self.chunk_size
        if flags & ~_LAST:
            raise ChunkRejected(index, f"unknown flag bits {flags:#04x} (only bit 0, last chunk, exists)")
        last = bool(flags & _LAST)
        if length > cs:
            raise ChunkRejected(index, f"it states {length} content bytes, more than the chunk size ({cs})")
        if not last and length != cs:
            raise ChunkRejected(index, f"it is not the last chunk but states {length} content bytes, not {cs}")
        if last and length == 0 and index > 0:
            raise ChunkRejected(index, "an empty last chunk is only valid as chunk 0 (empty content)")
        if n != RECORD_OVERHEAD + length:
            what = "cut short" if n < RECORD_OVERHEAD + length else "followed by extra bytes"
            raise ChunkRejected(index, f"{n} bytes where its length field implies {RECORD_OVERHEAD + length}: {what}")
        header = self._header
        nonce, aad = header.nonce(index), header.aad(index, length, flags)
        try:
            plaintext = header.cipher.decrypt(nonce, view[_RECORD.size :], aad)
        except InvalidTag:
            reason = "it failed authentication: altered, out of order, or from another blob"
            raise ChunkRejected(index, reason) from None
        return plaintext, last


def _hash_chunks(hasher: _Hash, channel: _Channel[bytes | None]) -> Callable[[], None]:
    """A hasher thread's work: hash each chunk from ``channel`` until its end marker. (It holds no reference to
    its assembly, so that an assembly dropped without ``close`` can still be collected and its finalizer run.)"""

    def run() -> None:
        while (data := channel.get()) is not None:
            hasher.update(memoryview(data))

    return run


def _release(crew: _Crew, channel: _Channel[bytes | None], fd: int) -> None:
    """Stop an assembly's hasher and close its file (which releases its lock)."""
    crew.cancel.set()
    channel.offer(_END)  # wakes a hasher waiting for work at once, rather than at its next poll
    crew.stop()
    os.close(fd)


class BlobAssembly:
    """A blob being received chunk by chunk into ``tmp/<name>.assembly``, made by ``BlobStore.assembly``.

    The file is an ordinary blob file (format v1) under this vault's master key and a fresh data key: ``append``
    encrypts each chunk as the record with its index, exactly as ingest would. Opening an existing assembly
    authenticates its header, then reads its records in order, decrypting and hashing each, and cuts the file
    after the last record that authenticates (a record cut short by a crash, or damaged): ``chunks_done`` and
    ``size_done`` then describe exactly the verified prefix, from which the transfer resumes. ``sync`` makes what
    was appended durable; ``finish`` checks size and SHA-256 against what was promised and publishes the blob as
    ingest does. The assembly holds an exclusive ``flock`` on its file while open (``AssemblyBusy`` for any other
    opener); ``close`` (or leaving a ``with`` block) keeps the file for a later resume, ``discard`` deletes it.

    SHA-256 runs in a thread of its own, behind a queue of a couple of chunks, while the calling thread encrypts
    and writes: memory stays flat, and a failure of that thread is raised by the next call. One caller at a time:
    an assembly is not meant to be shared between threads.
    """

    def __init__(self, store: BlobStore, name: str, chunk_size: int) -> None:
        self.name = name
        self.path = store._assembly_path(name)
        self._store = store
        self._chunk_size = chunk_size
        self._chunks = 0
        self._size = 0
        self._complete = False
        self._state = "open"  # then "closed" (the file is kept) or "gone" (finished or discarded)
        self._failure: str | None = None
        self._sha256: str | None = None
        try:
            fd = store._claim_assembly(name, chunk_size)
        except OSError as exc:
            raise store._write_error(exc, 0, f"assembly {name} could not be opened") from exc
        self._fd = fd
        self._crew = _Crew("vault-assembly")
        self._hasher = hashlib.sha256()
        self._hashing = _Channel[bytes | None](self._crew.cancel, _ASSEMBLY_IN_FLIGHT)
        self._finalizer = weakref.finalize(self, _release, self._crew, self._hashing, fd)
        try:
            self._crew.start(_hash_chunks(self._hasher, self._hashing), "hash")
            self._header = self._authenticate()
            self._offset = self._resume()
        except OSError as exc:
            self._close()
            raise store._write_error(exc, self._size, f"assembly {name} could not be resumed") from exc
        except BaseException:
            self._close()
            raise
        self._out = memoryview(bytearray(chunk_size + RECORD_OVERHEAD))
        self._writeback = _Writeback(fd, self._offset)

    def __repr__(self) -> str:
        return (
            f"BlobAssembly(name={self.name!r}, chunk_size={self._chunk_size}, chunks_done={self._chunks},"
            f" size_done={self._size}, complete={self._complete}, state={self._state!r})"
        )

    def __enter__(self) -> BlobAssembly:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def chunk_size(self) -> int:
        """Plaintext bytes per chunk (every chunk but the last is exactly this long)."""
        return self._chunk_size

    @property
    def chunks_done(self) -> int:
        """Chunks received (verified on resume, or appended since)."""
        return self._chunks

    @property
    def size_done(self) -> int:
        """Content bytes received."""
        return self._size

    @property
    def complete(self) -> bool:
        """True once the last chunk is in."""
        return self._complete

    # ---- opening

    def _authenticate(self) -> _Header:
        try:
            header = self._store._parse_header(os.pread(self._fd, HEADER_SIZE, 0))
        except _HeaderError as exc:
            raise AssemblyCorrupt(self.name, exc.message, kind=exc.kind) from None
        if header.chunk_size != self._chunk_size:
            reason = (
                f"it was started with chunk size {header.chunk_size}, not {self._chunk_size}"
                " (discard it to start again)"
            )
            raise AssemblyMismatch(self.name, reason)
        return header

    def _resume(self) -> int:
        """Walk the records already in the file, hashing each that authenticates; cut the file after the last one
        that does; return where the next record goes."""
        fd = self._fd
        opener = RecordOpener(
            data_key=self._header.key,
            nonce_prefix=self._header.nonce_prefix,
            header_hash=self._header.digest,
            chunk_size=self._chunk_size,
        )
        file_size = os.fstat(fd).st_size
        end = HEADER_SIZE
        if file_size > end:
            if hasattr(os, "posix_fadvise"):
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)
            buffer = memoryview(bytearray(self._chunk_size + RECORD_OVERHEAD))
            while end < file_size and not self._complete:
                n = _pread_into(fd, buffer, end)
                if n < RECORD_OVERHEAD:
                    break
                length, _ = _RECORD.unpack_from(buffer)
                try:
                    plaintext, last = opener.open(self._chunks, buffer[: min(n, RECORD_OVERHEAD + length)])
                except ChunkRejected:
                    break
                self._feed(plaintext)
                self._chunks += 1
                self._size += len(plaintext)
                self._complete = last
                end += RECORD_OVERHEAD + len(plaintext)
        if end < file_size:
            if os.fstat(fd).st_nlink > 1:  # never cut a file that is also linked elsewhere (a published blob)
                reason = f"its file is also linked elsewhere and holds {file_size - end} unverified bytes"
                raise AssemblyCorrupt(self.name, reason, kind=ProblemKind.EXTRA_DATA)
            log.info(
                "assembly %s resumes from its %d verified chunks; %d unverified bytes after them were cut",
                self.name,
                self._chunks,
                file_size - end,
            )
            os.ftruncate(fd, end)
            os.fsync(fd)
        os.lseek(fd, end, os.SEEK_SET)
        return end

    # ---- receiving

    def append(self, plaintext: bytes | bytearray | memoryview, *, last: bool) -> None:
        """Store the next chunk: hash it, encrypt it as the next record and write it (not yet durable: ``sync``).

        Every chunk but the last must be exactly ``chunk_size`` bytes; the last may be shorter (empty only if it is
        the only chunk). Vault-side failures raise ``VaultWriteError``; the assembly then refuses further work
        until it is opened again (which resumes from its verified chunks).
        """
        self._usable()
        n = memoryview(plaintext).nbytes
        if self._complete:
            raise ValueError(f"assembly {self.name} is complete: its last chunk is in already")
        if n > self._chunk_size:
            raise ValueError(f"a chunk of {n} bytes is longer than the chunk size ({self._chunk_size})")
        if not last and n != self._chunk_size:
            raise ValueError(f"only the last chunk may be shorter than the chunk size ({self._chunk_size}), not {n}")
        if last and n == 0 and self._chunks:
            raise ValueError("an empty last chunk is only valid for empty content (as chunk 0)")
        data = plaintext if isinstance(plaintext, bytes) else bytes(plaintext)  # the hasher keeps it a while
        try:
            self._feed(data)  # hashed in the other thread while this one encrypts and writes
            end = _seal_into(self._header, self._chunks, data, last=last, out=self._out)
            _write_all(self._fd, self._out[:end])
            self._offset += end
            self._writeback.wrote(self._offset)
        except OSError as exc:
            self._failure = f"a write failed: {exc.strerror or exc}"
            raise self._write_error(exc) from exc
        except BaseException as exc:
            self._failure = f"{type(exc).__name__}: {exc}"
            raise
        self._chunks += 1
        self._size += n
        self._complete = last

    def sync(self) -> None:
        """Make every chunk appended so far durable (``chunks_done`` can then be reported as received)."""
        self._usable()
        try:
            os.fsync(self._fd)
        except OSError as exc:
            self._failure = f"fsync failed: {exc.strerror or exc}"
            raise self._write_error(exc) from exc

    def finish(self, expected_sha256: str, expected_size: int) -> StoredBlob:
        """Check the complete content against the promised SHA-256 and size, and publish it as ingest does.

        On a mismatch the assembly is discarded (its content is not what was promised) and ``AssemblyMismatch``
        raised: nothing is published. Otherwise the file is fsynced and linked into place (or dropped for an intact
        identical blob already stored, ``deduplicated``) and the assembly is gone.
        """
        _check_hex(expected_sha256)
        self._usable()
        if not self._complete:
            raise ValueError(f"assembly {self.name} is not complete: {self._chunks} chunks in, the last one is not")
        try:
            digest = self._digest()
        except BaseException as exc:
            self._failure = f"{type(exc).__name__}: {exc}"
            raise
        problems = []
        if self._size != expected_size:
            problems.append(f"size mismatch: {self._size} bytes arrived, {expected_size} were promised")
        if digest != expected_sha256:
            problems.append(f"hash mismatch: the content's SHA-256 is {digest}, {expected_sha256} was promised")
        if problems:
            self.discard()
            raise AssemblyMismatch(self.name, "; ".join(problems) + " (the assembly was discarded)")
        try:
            os.fsync(self._fd)
            # The lock is held until the blob is in place, as ingest does.
            stored = self._store._publish(self.path, self._size, self._chunks, {"sha256": digest}, self._chunk_size)
        except OSError as exc:
            self._failure = f"publishing failed: {exc.strerror or exc}"
            raise self._write_error(exc) from exc
        with contextlib.suppress(OSError):
            self.path.unlink(missing_ok=True)
        self._close("gone")
        return stored

    # ---- ending

    def close(self) -> None:
        """Stop the hasher and release the lock; the file stays, to be resumed. Does nothing if already closed."""
        if self._state == "open":
            self._close()

    def discard(self) -> None:
        """Delete the assembly's file and close it. Does nothing if it is already gone (finished or discarded)."""
        if self._state == "gone":
            return
        if self._state == "closed":
            raise ValueError(f"assembly {self.name} is closed: open it again, or use BlobStore.discard_assembly")
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()  # while the lock is still held
        self._close("gone")

    def _close(self, state: str = "closed") -> None:
        self._state = state
        self._finalizer()  # runs once: stops the hasher, closes the file

    # ---- internals

    def _usable(self) -> None:
        """Refuse work on a closed or failed assembly; raise a failure of the hasher thread."""
        if self._state != "open":
            raise ValueError(f"assembly {self.name} is {self._state}")
        if self._failure is not None:
            raise VaultError(
                f"assembly {self.name} failed earlier ({self._failure});"
                " close it and open it again to resume from its verified chunks"
            )
        if self._crew.cancel.is_set():
            try:
                self._crew.join()  # raises the hasher's error
            except BaseException as exc:
                self._failure = f"hashing failed: {type(exc).__name__}: {exc}"
                raise
            self._failure = "the hashing thread stopped"
            raise VaultError(f"assembly {self.name}: {self._failure}")

    def _feed(self, data: bytes) -> None:
        """Queue a chunk for the hasher (waiting while a couple are queued already)."""
        try:
            self._hashing.put(data)
        except _StoppedError:
            self._crew.join()  # raises the hasher's error
            raise VaultError(f"assembly {self.name}: the hashing thread stopped") from None

    def _digest(self) -> str:
        """The SHA-256 of everything received, once the hasher has drained its queue."""
        if self._sha256 is None:
            with contextlib.suppress(_StoppedError):  # the hasher failed: join says why
                self._hashing.put(_END)
            self._crew.join()  # raises the hasher's error, if it failed
            if self._crew.cancel.is_set():
                raise VaultError(f"assembly {self.name}: the hashing thread stopped")
            self._sha256 = self._hasher.hexdigest()
        return self._sha256

    def _write_error(self, exc: OSError) -> VaultWriteError:
        outcome = (
            f"assembly {self.name} keeps what it verified for a resume; open it again to continue"
            f" ({self._chunks} chunks appended)"
        )
        return self._store._write_error(exc, self._size, outcome)


def _pread_into(fd: int, view: memoryview, offset: int) -> int:
    """Read from ``offset`` until ``view`` is full or the file ends; return the bytes read."""
    got = 0
    while got < len(view):
        n = os.preadv(fd, [view[got:]], offset + got)
        if n == 0:
            break
        got += n
    return got
