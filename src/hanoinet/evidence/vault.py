"""The vault's blob engine: evidence content streamed in constant memory, hashed, encrypted, content-addressed,
written once and crash-safe. It knows nothing of cases or custody: the service layer keeps metadata and the
custody ledger in the database and calls this engine for the bytes.

Layout under the vault root (directories 0700, files 0600)::

    blobs/ab/ab12…ef    one file per distinct content, named by the SHA-256 of the plaintext (hex)
    tmp/<random>.partial  an ingest in progress (or the leftover of a killed one, removed by sweep_partials)
    tmp/<name>.assembly   a blob being received from another node (kept across crashes; never swept)

Crash safety: an ingest writes ``tmp/<random>.partial`` (holding an ``flock`` on it while alive), fsyncs it once
complete, then links it to ``blobs/xx/<sha256>`` (a hard link: atomic like a rename, but it never replaces an
existing blob, so two racing ingests cannot swap content under a reader) and fsyncs the directory. A blob name
therefore only ever points at complete, durable content; a killed ingest leaves at most an unlocked partial file,
which ``sweep_partials`` (run at the start of every ingest) deletes.

The master key is used only to wrap and unwrap data keys; it is never stored on the object in the clear, put in a
message, a ``repr`` or a log; nor is a blob's data key, which leaves the vault only in a ``SealedBlob``, for the
caller to encrypt to the receiving node.

This module is the engine's face: ``BlobStore``, which owns the layout above (partial files, publishing, sweeping,
destroying) and serves every request, and every name that callers use, re-exported from the module that holds it.
Each part of the engine lives in a module of its own, because each changes for its own reasons:

    blob_format    the file format v1 and its cryptography: headers, the master key's envelope, sealed records
    blob_results   what the vault answers: StoredBlob, SealedBlob, BlobCheck and its findings, the errors
    blob_pipeline  threads joined by bounded queues over a pool of chunk buffers, and why it performs
    blob_io        POSIX plumbing: whole reads and writes, directory fsync, steady writeback
    blob_ingest    the ingest pipeline: read and hash, encrypt and write, in constant memory
    blob_reading   the walk over stored records behind ``verify`` and ``open_stream``
    blob_assembly  the receiving side of a sealed transfer: RecordOpener and BlobAssembly
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import io
import logging
import os
import re
import secrets
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

from hanoinet.evidence.blob_assembly import BlobAssembly, RecordOpener
from hanoinet.evidence.blob_format import (
    _LAST,
    _RECORD,
    _SHA256_HEX,
    DEFAULT_CHUNK_SIZE,
    FORMAT_VERSION,
    HEADER_SIZE,
    MAGIC,
    MASTER_KEY_BYTES,
    MAX_CHUNK_SIZE,
    RECORD_OVERHEAD,
    _check_chunk_size,
    _check_hex,
    _Envelope,
    _file_size_for,
    _Header,
    _HeaderError,
)
from hanoinet.evidence.blob_ingest import _Ingest, _SourceError
from hanoinet.evidence.blob_io import _fsync_dir, _write_all
from hanoinet.evidence.blob_pipeline import _Crew, _drain
from hanoinet.evidence.blob_reading import _conclude, _Payload, _Walk
from hanoinet.evidence.blob_results import (
    AssemblyBusy,
    AssemblyCorrupt,
    AssemblyMismatch,
    BlobCheck,
    BlobCorrupt,
    BlobMissing,
    BlobProblem,
    ChunkRejected,
    ProblemKind,
    SealedBlob,
    StoredBlob,
    VaultError,
    VaultWriteError,
)
from hanoinet.evidence.ports import SealedContent

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "EXTRA_HASHES",
    "FORMAT_VERSION",
    "HEADER_SIZE",
    "MAGIC",
    "MASTER_KEY_BYTES",
    "MAX_CHUNK_SIZE",
    "RECORD_OVERHEAD",
    "AssemblyBusy",
    "AssemblyCorrupt",
    "AssemblyMismatch",
    "BlobAssembly",
    "BlobCheck",
    "BlobCorrupt",
    "BlobMissing",
    "BlobProblem",
    "BlobStore",
    "ChunkRejected",
    "ProblemKind",
    "RecordOpener",
    "SealedBlob",
    "StoredBlob",
    "VaultError",
    "VaultWriteError",
]

log = logging.getLogger(__name__)

EXTRA_HASHES = ("sha1", "md5")
"""Hashes that can be computed besides SHA-256, in the same pass, for legacy court systems."""

_PARTIAL_SUFFIX = ".partial"
_ASSEMBLY_SUFFIX = ".assembly"
_ASSEMBLY_NAME = re.compile(r"[0-9a-z-]{1,80}")


def _check_assembly_name(name: str) -> str:
    """Refuse anything but 1 to 80 of 0-9, a-z and '-': the name becomes a path."""
    if not isinstance(name, str) or not _ASSEMBLY_NAME.fullmatch(name):
        raise ValueError(f"an assembly name is 1 to 80 of 0-9, a-z and '-', not {name!r}"[:160])
    return name


def _amount(size: int) -> str:
    """A byte count for people: 3.2 GiB, 812.0 KiB, 17 bytes."""
    value, unit = float(size), "bytes"
    for larger in ("KiB", "MiB", "GiB"):
        if value < 1024:
            break
        value, unit = value / 1024, larger
    return f"{size} bytes" if unit == "bytes" else f"{value:.1f} {unit}"


class BlobStore:
    """Encrypted, content-addressed, write-once blob files under ``root``; see the module docstring."""

    def __init__(self, root: Path, master_key: bytes, *, chunk_size: int = DEFAULT_CHUNK_SIZE) -> None:
        self._envelope = _Envelope(master_key)  # checks the key first
        self.chunk_size = _check_chunk_size(chunk_size)
        self.root = Path(root)
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
            raw, header = self._envelope.new_header(self.chunk_size)
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
        return self._envelope.parse_header(file.read(HEADER_SIZE) or b"")

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
        _check_assembly_name(name)
        return BlobAssembly(self, name, _check_chunk_size(chunk_size))

    def opener(self, sealed: SealedContent) -> RecordOpener:
        """A checker for the records of a blob sealed by another vault (the framing and key its offer gave)."""
        return RecordOpener.for_blob(sealed)

    def discard_assembly(self, name: str) -> bool:
        """Delete the assembly ``name`` unless it is open (``AssemblyBusy``); return whether there was one."""
        path = self._assembly_path(_check_assembly_name(name))
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
