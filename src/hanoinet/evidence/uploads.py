"""Resumable uploads: a client sends a large file in pieces and, after any interruption, resumes at the offset
the node reports (the node's offset is the truth: what was durably written).

Pieces are appended to ``DATA_DIR/uploads/<id>.part`` (0600) and fsynced before the new offset is reported; the
owner is recorded beside it so that nobody else can continue or complete someone's upload. When the upload is
complete the vault ingests the file and the partial file is removed.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
from collections.abc import Iterable
from pathlib import Path

from hanoinet.platform.errors import Conflict, NotFound

MAX_UPLOAD_BYTES = 1 << 44  # 16 TiB: far beyond any disk image; a bound so a typo cannot fill the disk forever


class UploadStore:
    """Partial uploads on disk, one file each plus a small JSON record of who owns it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(mode=0o700, parents=True, exist_ok=True)

    def _paths(self, upload_id: str) -> tuple[Path, Path]:
        if not upload_id.isalnum():
            raise NotFound(f"no upload {upload_id!r}")
        return self.root / f"{upload_id}.part", self.root / f"{upload_id}.json"

    def create(self, owner: str, expected_size: int | None) -> str:
        """Start an upload for ``owner``; return its id."""
        upload_id = secrets.token_hex(16)
        data, meta = self._paths(upload_id)
        os.close(os.open(data, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        meta.write_text(json.dumps({"owner": owner, "expected_size": expected_size}))
        return upload_id

    def status(self, upload_id: str, owner: str) -> tuple[int, int | None]:
        """Return (bytes durably received, expected size); NotFound unless ``owner`` started it."""
        data, meta = self._paths(upload_id)
        if not meta.exists() or json.loads(meta.read_text())["owner"] != owner:
            raise NotFound(f"no upload {upload_id!r}")
        return data.stat().st_size, json.loads(meta.read_text())["expected_size"]

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
        size, expected = self.status(upload_id, owner)
        if offset != size:
            raise Conflict(f"upload {upload_id} has {size} bytes; send from offset {size}, not {offset}")
        limit = expected if expected is not None else MAX_UPLOAD_BYTES
        return Appender(self._paths(upload_id)[0], upload_id, offset, limit)

    def path(self, upload_id: str, owner: str) -> Path:
        """The file of a complete upload, for ingest."""
        size, expected = self.status(upload_id, owner)
        if expected is not None and size != expected:
            raise Conflict(f"upload {upload_id} has {size} of {expected} bytes; resume it before completing")
        return self._paths(upload_id)[0]

    def delete(self, upload_id: str, owner: str) -> None:
        """Forget an upload and its bytes."""
        self.status(upload_id, owner)
        for path in self._paths(upload_id):
            path.unlink(missing_ok=True)


class Appender:
    """Writes one request's bytes to an upload; ``finish`` makes them durable, ``abort`` takes them back."""

    def __init__(self, path: Path, upload_id: str, offset: int, limit: int) -> None:
        self.upload_id = upload_id
        self.start = self.size = offset
        self.limit = limit
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # one writer per upload, across processes
        except BlockingIOError:
            os.close(self.fd)
            raise Conflict(f"upload {upload_id} is being written by another request; ask for its offset") from None
        if os.fstat(self.fd).st_size != offset:  # another writer finished between our check and the lock
            os.close(self.fd)
            raise Conflict(f"upload {upload_id} moved on; ask for its offset and resume from there")

    def write(self, piece: bytes) -> None:
        """Append one piece; refuse to grow beyond the declared size."""
        if self.size + len(piece) > self.limit:
            raise Conflict(f"upload {self.upload_id} would exceed its declared size of {self.limit} bytes")
        os.write(self.fd, piece)
        self.size += len(piece)

    def finish(self) -> int:
        """Make the appended bytes durable and return the new size."""
        try:
            os.fsync(self.fd)
        finally:
            os.close(self.fd)
        return self.size

    def abort(self) -> None:
        """Take back what this request appended, so the offset stays where the client can resume from."""
        try:
            os.ftruncate(self.fd, self.start)
        finally:
            os.close(self.fd)
