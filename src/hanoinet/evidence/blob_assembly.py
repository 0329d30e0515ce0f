"""The receiving side of a sealed transfer between nodes: ``RecordOpener`` authenticates another vault's records
as they arrive, and ``BlobAssembly`` stores them as a blob of this vault, resumable across crashes, published
like an ingest once the whole is what was promised.

Kept apart from the store because it is a protocol of its own, with its own state (an assembly file held under a
lock, a hasher thread, a verified prefix to resume from); the store only opens assemblies and, on the sending
side, reads its records verbatim (``BlobStore.seal_info``, ``BlobStore.read_records``).

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
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidTag

from hanoinet.evidence.blob_format import (
    _LAST,
    _RECORD,
    HEADER_SIZE,
    RECORD_OVERHEAD,
    _check_chunk_size,
    _check_hex,
    _Header,
    _HeaderError,
    _seal_into,
)
from hanoinet.evidence.blob_io import _fsync_dir, _pread_into, _write_all, _Writeback
from hanoinet.evidence.blob_pipeline import _END, _Channel, _Crew, _Hash, _StoppedError
from hanoinet.evidence.blob_results import (
    AssemblyBusy,
    AssemblyCorrupt,
    AssemblyMismatch,
    ChunkRejected,
    ProblemKind,
    StoredBlob,
    VaultError,
    VaultWriteError,
)
from hanoinet.evidence.ports import SealedContent

if TYPE_CHECKING:
    from hanoinet.evidence.vault import BlobStore

log = logging.getLogger("hanoinet.evidence.vault")  # the vault's one logger, whichever of its modules logs

_ASSEMBLY_IN_FLIGHT = 2  # chunks queued for an assembly's hasher, besides the one it is hashing


class RecordOpener:
    """Authenticate and decrypt another vault's records, one at a time, with the fields of its ``SealedBlob``.

    ``open`` checks the framing (length, flags, byte count) and the tag, which covers the record's index, its
    length and flags and its blob's header: a record that was altered, moved, reordered or taken from another blob
    is refused with ``ChunkRejected`` naming the index.
    """

    def __init__(self, *, data_key: bytes, nonce_prefix: bytes, header_hash: bytes, chunk_size: int) -> None:
        if len(data_key) != 32 or len(nonce_prefix) != 4 or len(header_hash) != 32:
            raise ValueError("a sealed blob has a 32-byte data key, a 4-byte nonce prefix and a 32-byte header hash")
        self.chunk_size = _check_chunk_size(chunk_size)
        self._header = _Header(chunk_size, bytes(nonce_prefix), bytes(header_hash), bytes(data_key))

    @classmethod
    def for_blob(cls, sealed: SealedContent) -> RecordOpener:
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
            fd = _claim_assembly(store, name, chunk_size)
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
            header = self._store._envelope.parse_header(os.pread(self._fd, HEADER_SIZE, 0))
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


def _claim_assembly(store: BlobStore, name: str, chunk_size: int) -> int:
    """Open and lock the assembly file, creating it (with its header) if there is none; raise ``AssemblyBusy``."""
    path = store._assembly_path(name)
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError:
            created = _create_assembly(store, path, chunk_size)
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


def _create_assembly(store: BlobStore, path: Path, chunk_size: int) -> int | None:
    """Write a fresh header into a locked partial file, fsync it and link it under the assembly's name, so that
    the name only ever shows a whole, durable header; return the locked descriptor, or None if the name was
    taken meanwhile."""
    fd, partial = store._new_partial()
    try:
        raw, _ = store._envelope.new_header(chunk_size)
        _write_all(fd, memoryview(raw))
        os.fsync(fd)
        try:
            path.hardlink_to(partial)  # the lock on the inode now covers the assembly's name too
        except FileExistsError:
            os.close(fd)
            return None
        _fsync_dir(store._tmp)
    except BaseException:
        os.close(fd)
        raise
    finally:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
    return fd
