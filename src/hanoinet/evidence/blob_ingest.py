"""Ingest's pipeline: the rest of a source read, hashed (SHA-256, and any extra hashes in the same pass),
encrypted and written as the records of a new blob file, in constant memory (``_Ingest``).

Kept apart from the store, which opens the partial file, writes its header and publishes the result: this is
only the streaming part, and the one whose threads and their order decide ingest's speed (see
``blob_pipeline``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import BinaryIO

from hanoinet.evidence.blob_format import HEADER_SIZE, RECORD_OVERHEAD, _Header, _seal_into
from hanoinet.evidence.blob_io import _readinto_of, _write_all, _Writeback
from hanoinet.evidence.blob_pipeline import _END, _POOL_CHUNKS, _Channel, _Crew, _drain, _Hash, _Pool, _Slot
from hanoinet.evidence.blob_results import VaultError

_CACHE_STEP = 512 * 1024  # bytes read then hashed at once, while still in the CPU's L2 cache


class _SourceError(Exception):
    """Carries an exception raised by an ingest's source out of the reader thread, so that it is not mistaken
    for a failure of the vault (an ``OSError`` reading the source is not a vault write error)."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


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
