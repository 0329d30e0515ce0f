"""Reading a stored blob back: ``_Walk`` reads its records at their fixed offsets, authenticates and hashes each,
and says precisely what is wrong (a chunk that fails, truncation, bytes added after the end); ``_conclude`` adds
what only the whole tells (size, hash) for ``verify``.

Kept apart from the store because it is the one engine behind both ``BlobStore.verify`` (every problem, no
content) and ``BlobStore.open_stream`` (the content, stopping at the first problem), and the largest piece of the
vault's logic: telling one kind of damage from another (altered bytes, altered framing, truncation, appended bytes).
"""

from __future__ import annotations

import hashlib
import io
import threading
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag

from hanoinet.evidence.blob_format import _HAS_INTO, _LAST, _RECORD, HEADER_SIZE, RECORD_OVERHEAD, _Header
from hanoinet.evidence.blob_io import _fill
from hanoinet.evidence.blob_pipeline import _END, _POOL_CHUNKS, _Channel, _Crew, _Pool, _Slot
from hanoinet.evidence.blob_results import BlobCheck, BlobProblem, ProblemKind

_READ_AHEAD = 4  # records read ahead of the checker
_MAX_REPORTED_CHUNKS = 1000  # verify lists this many failed chunks one by one, then counts the rest


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
