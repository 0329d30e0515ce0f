"""Resumable uploads: a client sends a large file in pieces and, after any interruption, resumes at the offset
the node reports (the node's offset is the truth: what was durably written).

An upload in progress is evidence too, so it is never on disk in the clear (issue 11). Each upload gets a fresh
256-bit key, wrapped by the vault's master key exactly as a blob's data key is (the 84-byte blob header of
``blob_format``, which ``_Envelope`` makes and authenticates), and every piece is sealed with it from its first
byte. Layout, under ``DATA_DIR/uploads`` (directory 0700, files 0600)::

    <id>.part   the header (the wrapped per-upload key), then one record per write:
                  length 4 (plaintext bytes, big-endian) | nonce 12 (random) | ciphertext length | tag 16
                AAD = SHA-256(header) || plaintext offset of the record (8) || length (4)
    <id>.json   who owns it, the declared size, the durable plaintext size and file length, when it was last
                touched (replaced atomically after each piece is fsynced)

Why this shape: appends are arbitrary (a piece is all or nothing and may be taken back, a client resumes where the
node says), so a record's nonce is random rather than its index: a record cut off by an aborted piece and written
again never reuses a nonce with other plaintext. The offset in the AAD stops records being moved or reordered.
The ``.json`` record is the truth about what is durable: bytes after its file length (a piece whose answer never
went out, a crash between the fsync and the record) are cut off before the next append, and never read.

Bounds: an upload nobody touched for ``expiry`` seconds is deleted (swept when uploads are started or listed, and by
``hanoinet evidence uploads-sweep``); an account's uploads in progress hold at most ``quota`` bytes together (the
declared size of each counts from the start, so an upload that declared its size cannot be starved half way).

One request at a time works on an upload: an append and a complete both hold an exclusive ``flock`` on its
``.part`` for as long as they run, so completing during an append is refused with 409 — never a truncated item.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import json
import os
import secrets
import struct
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, cast

from cryptography.exceptions import InvalidTag

from hanoinet.evidence.blob_format import HEADER_SIZE, _Envelope, _Header, _HeaderError
from hanoinet.evidence.blob_io import _fsync_dir, _write_all
from hanoinet.platform.errors import Conflict, NotFound
from hanoinet.platform.keys import load_keys
from hanoinet.platform.settings import Settings

MAX_UPLOAD_BYTES = 1 << 44  # 16 TiB: far beyond any disk image; a bound so a typo cannot fill the disk forever
DEFAULT_EXPIRY_SECONDS = 24 * 3600
DEFAULT_QUOTA_BYTES = 256 << 30
RECORD_PLAINTEXT = 4 * 1024 * 1024
"""Plaintext bytes per sealed record at most: a write of more is sealed as several records."""

_RECORD_HEAD = struct.Struct(">I12s")
_AAD_TAIL = struct.Struct(">QI")
_TAG = 16
RECORD_OVERHEAD = _RECORD_HEAD.size + _TAG


class QuotaExceeded(Conflict):
    """An account's uploads in progress would hold more than the node's per-account quota."""


class UploadDamaged(Conflict):
    """An upload's file does not authenticate (altered on disk, or sealed under another master key)."""


@dataclass(frozen=True)
class UploadInfo:
    """What the node says about one upload in progress."""

    id: str
    offset: int
    size: int | None
    expires_at: float
    """Unix time after which an untouched upload is deleted."""


def _amount(n: int) -> str:
    value, unit = float(n), "bytes"
    for larger in ("KiB", "MiB", "GiB", "TiB"):
        if value < 1024:
            break
        value, unit = value / 1024, larger
    return f"{n} bytes" if unit == "bytes" else f"{value:.1f} {unit} ({n} bytes)"


def _lock(fd: int, upload_id: str, doing: str) -> None:
    """Take the upload's exclusive lock or refuse with 409: one request works on an upload at a time."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise Conflict(
            f"upload {upload_id} is being written or completed by another request; {doing} once it has answered"
        ) from None


class UploadStore:
    """Partial uploads on disk, sealed, one file each plus a small JSON record of who owns it and how far it got.

    ``master_key`` wraps each upload's key (the vault's, so that a node has one key to guard); ``expiry`` is how
    long an untouched upload is kept, in seconds; ``quota`` the bytes one account's uploads may hold together.
    """

    def __init__(
        self,
        root: Path,
        master_key: bytes,
        *,
        expiry: float = DEFAULT_EXPIRY_SECONDS,
        quota: int = DEFAULT_QUOTA_BYTES,
    ) -> None:
        self.root = root
        self._envelope = _Envelope(master_key)
        self.expiry = expiry
        self.quota = quota
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._live: dict[str, Appender] = {}
        """Appenders running in this process: their bytes count against the quota before they are durable."""

    @classmethod
    def for_node(cls, settings: Settings) -> UploadStore:
        """The node's uploads: under its data directory, sealed under its master key, with its limits."""
        return cls(
            settings.data_dir / "uploads",
            load_keys(settings.data_dir / "keys").master_key,
            expiry=settings.upload_expiry_seconds,
            quota=settings.upload_quota_bytes,
        )

    # ---- records

    def _paths(self, upload_id: str) -> tuple[Path, Path]:
        if not (upload_id.isascii() and upload_id.isalnum()) or len(upload_id) > 64:
            raise NotFound(f"no upload {upload_id[:64]!r}")
        return self.root / f"{upload_id}.part", self.root / f"{upload_id}.json"

    def _meta(self, upload_id: str, owner: str | None) -> dict[str, Any]:
        """The upload's record; NotFound if there is none or (when ``owner`` is given) someone else started it."""
        _, meta = self._paths(upload_id)
        try:
            record: dict[str, Any] = json.loads(meta.read_text())
        except (FileNotFoundError, ValueError):
            raise NotFound(f"no upload {upload_id!r}") from None
        if owner is not None and record.get("owner") != owner:
            raise NotFound(f"no upload {upload_id!r}")
        return record

    def _write_meta(self, upload_id: str, record: dict[str, Any]) -> None:
        """Replace the upload's record atomically (a crash leaves the old one or the new one, never half)."""
        _, meta = self._paths(upload_id)
        tmp = meta.with_suffix(".json.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            _write_all(fd, memoryview(json.dumps(record).encode()))
            os.fsync(fd)
        finally:
            os.close(fd)
        tmp.replace(meta)

    def _info(self, upload_id: str, record: dict[str, Any]) -> UploadInfo:
        return UploadInfo(upload_id, int(record["size"]), record["expected_size"], record["touched"] + self.expiry)

    # ---- the quota

    def _charge(self, record: dict[str, Any], live: Appender | None = None) -> int:
        """What an upload holds against its owner's quota: its declared size, or what it holds if more."""
        size = live.size if live is not None else int(record["size"])
        return max(int(record.get("expected_size") or 0), size)

    def _usage(self, owner: str, *, besides: str = "") -> int:
        """Bytes ``owner``'s uploads hold, counting appends still running (call under ``self._lock``)."""
        total = 0
        for upload_id, record in self._records():
            if record.get("owner") == owner and upload_id != besides:
                total += self._charge(record, self._live.get(upload_id))
        return total

    def _refuse_over_quota(self, owner: str, used: int, wanted: int) -> None:
        if used + wanted > self.quota:
            raise QuotaExceeded(
                f"the upload quota of {_amount(self.quota)} per account (HANOINET_UPLOAD_QUOTA_BYTES) would be"
                f" exceeded: {owner}'s uploads in progress hold {_amount(used)}; complete or cancel one first"
            )

    def _records(self) -> Iterator[tuple[str, dict[str, Any]]]:
        for meta in self.root.glob("*.json"):
            with contextlib.suppress(OSError, ValueError):
                yield meta.stem, json.loads(meta.read_text())

    # ---- the use cases

    def create(self, owner: str, expected_size: int | None) -> str:
        """Start an upload for ``owner``; return its id. Abandoned uploads are swept first."""
        if expected_size is not None and expected_size > MAX_UPLOAD_BYTES:
            raise Conflict(f"an upload may declare at most {_amount(MAX_UPLOAD_BYTES)}, not {expected_size}")
        self.sweep()
        upload_id = secrets.token_hex(16)
        data, _ = self._paths(upload_id)
        raw, _ = self._envelope.new_header(RECORD_PLAINTEXT)
        with self._lock:
            self._refuse_over_quota(owner, self._usage(owner), expected_size or 0)
            fd = os.open(data, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                _write_all(fd, memoryview(raw))
                os.fsync(fd)
            finally:
                os.close(fd)
            now = time.time()
            record = {"owner": owner, "expected_size": expected_size, "size": 0, "file_size": len(raw)}
            self._write_meta(upload_id, {**record, "created": now, "touched": now})
        _fsync_dir(self.root)
        return upload_id

    def status(self, upload_id: str, owner: str) -> tuple[int, int | None]:
        """Return (bytes durably received, expected size); NotFound unless ``owner`` started it."""
        record = self._meta(upload_id, owner)
        return int(record["size"]), record["expected_size"]

    def listing(self, owner: str) -> list[UploadInfo]:
        """``owner``'s uploads in progress, oldest first (abandoned ones are swept first)."""
        self.sweep()
        mine = [(r["created"], self._info(i, r)) for i, r in self._records() if r.get("owner") == owner]
        return [info for _, info in sorted(mine, key=lambda pair: pair[0])]

    def append(self, upload_id: str, owner: str, offset: int, pieces: Iterable[bytes]) -> int:
        """Append bytes at ``offset`` (which must be the current size); return the new, durable size."""
        appender = self.appender(upload_id, owner, offset)
        try:
            for piece in pieces:
                appender.write(piece)
        except BaseException:
            appender.abort()
            raise
        return appender.finish()

    def appender(self, upload_id: str, owner: str, offset: int) -> Appender:
        """Open an upload for appending at ``offset``, which must be its current size."""
        size, _ = self.status(upload_id, owner)
        if offset != size:
            raise Conflict(f"upload {upload_id} has {size} bytes; send from offset {size}, not {offset}")
        data, _ = self._paths(upload_id)
        try:
            fd = os.open(data, os.O_RDWR)
        except FileNotFoundError:
            raise NotFound(f"no upload {upload_id!r}") from None
        _lock(fd, upload_id, "ask for its offset")
        try:
            record, header = self._resume(fd, upload_id, owner, offset)
        except BaseException:
            os.close(fd)
            raise
        appender = Appender(self, fd, header, upload_id, record)
        with self._lock:
            self._live[upload_id] = appender
        return appender

    def _resume(self, fd: int, upload_id: str, owner: str, offset: int) -> tuple[dict[str, Any], _Header]:
        """Under the upload's lock: check the offset again (another writer may have moved it on), authenticate the
        header and cut off bytes no record vouches for (a piece taken back, a crash before its record)."""
        record = self._meta(upload_id, owner)
        if int(record["size"]) != offset:
            raise Conflict(f"upload {upload_id} moved on; ask for its offset and resume from there")
        header = self._header(fd, upload_id)
        os.ftruncate(fd, int(record["file_size"]))
        os.lseek(fd, 0, os.SEEK_END)
        return record, header

    def _header(self, fd: int, upload_id: str) -> _Header:
        try:
            return self._envelope.parse_header(os.pread(fd, HEADER_SIZE, 0))
        except _HeaderError as exc:
            message = f"upload {upload_id} cannot be read: {exc.message}; cancel it and start again"
            raise UploadDamaged(message) from None

    @contextlib.contextmanager
    def reading(self, upload_id: str, owner: str) -> Iterator[BinaryIO]:
        """Hold a complete upload for ingest: its content decrypted as it is read, the upload locked meanwhile.

        Refused with 409 while an append is running (the upload would be cut short), and when the declared size is
        not there yet. Nothing can append while the reader is open.
        """
        record = self._meta(upload_id, owner)
        data, _ = self._paths(upload_id)
        try:
            fd = os.open(data, os.O_RDONLY)
        except FileNotFoundError:
            raise NotFound(f"no upload {upload_id!r}") from None
        _lock(fd, upload_id, "complete it")
        try:
            record = self._meta(upload_id, owner)
            size, expected = int(record["size"]), record["expected_size"]
            if expected is not None and size != expected:
                raise Conflict(f"upload {upload_id} has {size} of {expected} bytes; resume it before completing")
            source = _Decrypting(fd, self._header(fd, upload_id), upload_id, size)
            with io.BufferedReader(source, RECORD_PLAINTEXT) as reader:
                yield cast("BinaryIO", reader)
        finally:
            with contextlib.suppress(OSError):
                os.close(fd)

    def delete(self, upload_id: str, owner: str) -> None:
        """Forget an upload and its bytes."""
        self._meta(upload_id, owner)
        self._remove(upload_id)

    def _remove(self, upload_id: str) -> None:
        data, meta = self._paths(upload_id)
        for path in (meta, data, meta.with_suffix(".json.tmp")):
            path.unlink(missing_ok=True)
        with self._lock:
            self._live.pop(upload_id, None)

    def sweep(self, now: float | None = None) -> list[str]:
        """Delete every upload untouched for longer than the expiry (not one being written); return their ids.

        Also removes a ``.part`` without its record (a crash during ``create``) once it is as old.
        """
        now = time.time() if now is None else now
        swept = []
        known = set()
        for upload_id, record in list(self._records()):
            known.add(upload_id)
            if float(record.get("touched", 0)) + self.expiry < now and self._idle(upload_id):
                self._remove(upload_id)
                swept.append(upload_id)
        for part in self.root.glob("*.part"):
            with contextlib.suppress(OSError):
                if part.stem not in known and part.stat().st_mtime + self.expiry < now and self._idle(part.stem):
                    part.unlink()
                    swept.append(part.stem)
        return swept

    def _idle(self, upload_id: str) -> bool:
        """True unless a request (in any process) holds the upload's lock right now."""
        data, _ = self._paths(upload_id)
        try:
            fd = os.open(data, os.O_RDONLY)
        except FileNotFoundError:
            return True
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        finally:
            os.close(fd)
        return True


class Appender:
    """Seals one request's bytes onto an upload; ``finish`` makes them durable, ``abort`` takes them back."""

    def __init__(self, store: UploadStore, fd: int, header: _Header, upload_id: str, record: dict[str, Any]) -> None:
        self.store = store
        self.fd = fd
        self.header = header
        self.upload_id = upload_id
        self.record = record
        self.owner = str(record["owner"])
        self.start = self.size = int(record["size"])
        self.file_size = int(record["file_size"])
        expected = record["expected_size"]
        self.limit = int(expected) if expected is not None else MAX_UPLOAD_BYTES

    def write(self, piece: bytes) -> None:
        """Seal and append one piece; refuse to grow beyond the declared size or the owner's quota."""
        if self.size + len(piece) > self.limit:
            raise Conflict(f"upload {self.upload_id} would exceed its declared size of {self.limit} bytes")
        store = self.store
        with store._lock:
            used = store._usage(self.owner, besides=self.upload_id)
            mine = max(int(self.record["expected_size"] or 0), self.size + len(piece))
            store._refuse_over_quota(self.owner, used, mine)
        view = memoryview(piece)
        for at in range(0, len(view), RECORD_PLAINTEXT):
            self._seal(view[at : at + RECORD_PLAINTEXT])

    def _seal(self, chunk: memoryview) -> None:
        n = len(chunk)
        nonce = secrets.token_bytes(12)
        aad = self.header.digest + _AAD_TAIL.pack(self.size, n)
        sealed = self.header.cipher.encrypt(nonce, bytes(chunk), aad)
        _write_all(self.fd, memoryview(_RECORD_HEAD.pack(n, nonce) + sealed))
        self.size += n
        self.file_size += RECORD_OVERHEAD + n

    def finish(self) -> int:
        """Make the appended bytes durable, record the new size, and return it."""
        try:
            os.fsync(self.fd)
            touched = time.time()
            self.store._write_meta(
                self.upload_id, {**self.record, "size": self.size, "file_size": self.file_size, "touched": touched}
            )
        finally:
            self._close()
        return self.size

    def abort(self) -> None:
        """Take back what this request appended, so the offset stays where the client can resume from."""
        try:
            os.ftruncate(self.fd, int(self.record["file_size"]))
        finally:
            self.size = self.start
            self._close()

    def _close(self) -> None:
        with self.store._lock:
            if self.store._live.get(self.upload_id) is self:
                del self.store._live[self.upload_id]
        os.close(self.fd)


class _Decrypting(io.RawIOBase):
    """An upload's plaintext, record by record, each authenticated before a byte of it is handed on; it ends at
    the durable size its record states (never later, never earlier: a short file is an error, not an end)."""

    def __init__(self, fd: int, header: _Header, upload_id: str, size: int) -> None:
        self._fd = fd
        self._header = header
        self._upload_id = upload_id
        self._size = size
        self._offset = 0
        self._at = HEADER_SIZE
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def close(self) -> None:  # the store closes the descriptor, which holds the upload's lock
        super().close()

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if not self._pending:
            if self._offset >= self._size:
                return 0
            self._pending = memoryview(self._next())
        n = min(len(view), len(self._pending))
        view[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def _next(self) -> bytes:
        head = os.pread(self._fd, _RECORD_HEAD.size, self._at)
        if len(head) != _RECORD_HEAD.size:
            raise UploadDamaged(f"upload {self._upload_id} is cut short at byte {self._offset} of {self._size}")
        n, nonce = _RECORD_HEAD.unpack(head)
        if n > RECORD_PLAINTEXT or self._offset + n > self._size:
            raise UploadDamaged(f"upload {self._upload_id}: a record at byte {self._offset} states {n} bytes")
        sealed = os.pread(self._fd, n + _TAG, self._at + _RECORD_HEAD.size)
        aad = self._header.digest + _AAD_TAIL.pack(self._offset, n)
        try:
            plain = self._header.cipher.decrypt(nonce, sealed, aad)
        except InvalidTag:
            raise UploadDamaged(
                f"upload {self._upload_id}: the record at byte {self._offset} does not authenticate (altered)"
            ) from None
        self._at += RECORD_OVERHEAD + n
        self._offset += n
        return plain
