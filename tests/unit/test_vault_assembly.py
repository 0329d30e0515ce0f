"""Sealed transfer between vaults, on real files: a sender's records streamed verbatim, authenticated on arrival,
re-encrypted under the receiver's own key into an assembly that survives crashes (cut files, flipped bytes, a
SIGKILLed writer, a full disk) and resumes from exactly the records that authenticate, then published as an
ordinary blob only if its size and SHA-256 are what was promised.
"""

from __future__ import annotations

import gc
import hashlib
import io
import logging
import os
import random
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hanoinet.evidence.vault import (
    HEADER_SIZE,
    MAX_CHUNK_SIZE,
    RECORD_OVERHEAD,
    AssemblyBusy,
    AssemblyCorrupt,
    AssemblyMismatch,
    BlobAssembly,
    BlobCorrupt,
    BlobMissing,
    BlobStore,
    ChunkRejected,
    ProblemKind,
    RecordOpener,
    SealedBlob,
    StoredBlob,
)

WORKER = Path(__file__).parents[1] / "integration" / "assembly_worker.py"
SENDER_KEY = bytes(range(32))
RECEIVER_KEY = bytes(range(50, 82))
BIG = 64 * 1024  # the round trips' chunk size
CS = 1024  # the other tests': several chunks cost nothing
STRIDE = CS + RECORD_OVERHEAD
PROPERTIES = settings(max_examples=30, deadline=None)


def content(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


def chunks_of(data: bytes, chunk_size: int) -> list[bytes]:
    return [data[i : i + chunk_size] for i in range(0, len(data), chunk_size)] or [b""]


def scratch() -> tempfile.TemporaryDirectory[str]:
    """A directory of its own (usable inside hypothesis examples, unlike tmp_path)."""
    return tempfile.TemporaryDirectory()


def receive(sender: BlobStore, sha256: str, receiver: BlobStore, name: str, size: int) -> StoredBlob:
    """The whole protocol: seal on the sender, records verbatim, each opened on arrival, assembled, finished."""
    sealed = sender.seal_info(sha256)
    opener = RecordOpener.for_blob(sealed)
    with receiver.assembly(name, sealed.chunk_size) as assembly:
        for index, record in enumerate(sender.read_records(sha256)):
            plaintext, last = opener.open(index, record)
            assembly.append(plaintext, last=last)
        assert assembly.chunks_done == sealed.records
        return assembly.finish(sha256, size)


def append_all(assembly: BlobAssembly, data: bytes, *, start: int = 0) -> None:
    pieces = chunks_of(data, assembly.chunk_size)
    for index in range(start, len(pieces)):
        assembly.append(pieces[index], last=index == len(pieces) - 1)


def assembly_file(root: Path, name: str) -> Path:
    return root / "tmp" / f"{name}.assembly"


# --- round trips


@pytest.mark.parametrize("size", [0, 1, BIG - 1, BIG, BIG + 1, 5 * BIG + 17])
def test_a_blob_crosses_to_another_vault_intact(tmp_path: Path, size: int) -> None:
    sender = BlobStore(tmp_path / "a", SENDER_KEY, chunk_size=BIG)
    receiver = BlobStore(tmp_path / "b", RECEIVER_KEY)  # its own default chunk size does not matter
    data = content(size, size)
    sent = sender.ingest(io.BytesIO(data))
    sealed = sender.seal_info(sent.sha256)
    assert (sealed.sha256, sealed.chunk_size, sealed.records) == (sent.sha256, BIG, sent.chunks)
    raw = sent.path.read_bytes()
    assert b"".join(sender.read_records(sent.sha256)) == raw[HEADER_SIZE:]  # verbatim
    assert sealed.header_hash == hashlib.sha256(raw[:HEADER_SIZE]).digest()
    assert sealed.nonce_prefix == raw[12:16]

    got = receive(sender, sent.sha256, receiver, "case-7-exhibit-3", size)
    assert got.sha256 == sent.sha256
    assert got.hashes == {"sha256": sent.sha256}
    assert (got.size, got.chunk_size, got.chunks, got.deduplicated) == (size, BIG, sent.chunks, False)
    assert got.path == receiver.path_of(sent.sha256)
    check = receiver.verify(got.sha256, size=size)
    assert check.ok, check.problems
    assert (check.chunk_size, check.chunks) == (BIG, sent.chunks)
    assert b"".join(receiver.open_stream(got.sha256)) == data
    stored = got.path.read_bytes()
    assert len(stored) == len(raw)  # one received record, one stored record
    assert stored[12:16] != raw[12:16]  # re-encrypted: its own nonce prefix, data key and ciphertext
    assert stored[36:HEADER_SIZE] != raw[36:HEADER_SIZE]
    assert stored[HEADER_SIZE:] != raw[HEADER_SIZE:]
    assert got.path.stat().st_nlink == 1
    assert list((tmp_path / "b" / "tmp").iterdir()) == []
    with pytest.raises(BlobCorrupt, match="another master key"):  # under the receiver's key, not the sender's
        BlobStore(tmp_path / "b", SENDER_KEY).open_stream(got.sha256)


@PROPERTIES
@given(size=st.integers(0, 6 * CS), chunk_size=st.sampled_from([1, 7, CS, 3 * CS]), seed=st.integers(0, 2**32))
def test_round_trip_for_any_size_and_chunk_size(size: int, chunk_size: int, seed: int) -> None:
    data = content(size, seed)
    with scratch() as root:
        sender = BlobStore(Path(root) / "a", SENDER_KEY, chunk_size=chunk_size)
        receiver = BlobStore(Path(root) / "b", RECEIVER_KEY, chunk_size=CS)
        sent = sender.ingest(io.BytesIO(data))
        got = receive(sender, sent.sha256, receiver, "t", size)
        assert (got.sha256, got.chunks, got.chunk_size) == (sent.sha256, sent.chunks, chunk_size)
        assert receiver.verify(got.sha256, size=size).ok
        assert b"".join(receiver.open_stream(got.sha256)) == data


def test_content_already_stored_is_deduplicated(tmp_path: Path) -> None:
    data = content(3 * CS + 5, 1)
    sender = BlobStore(tmp_path / "a", SENDER_KEY, chunk_size=CS)
    receiver = BlobStore(tmp_path / "b", RECEIVER_KEY, chunk_size=4 * CS)
    sent = sender.ingest(io.BytesIO(data))
    before = receiver.ingest(io.BytesIO(data))
    got = receive(sender, sent.sha256, receiver, "again", len(data))
    assert got.deduplicated
    assert got.path == before.path
    assert got.chunk_size == 4 * CS  # the copy already there
    assert list((tmp_path / "b" / "tmp").iterdir()) == []
    assert receiver.verify(sent.sha256, size=len(data)).ok


def test_read_records_from_a_start_and_its_errors(tmp_path: Path) -> None:
    vault = BlobStore(tmp_path, SENDER_KEY, chunk_size=CS)
    stored = vault.ingest(io.BytesIO(content(5 * CS + 3, 2)))
    raw = stored.path.read_bytes()
    assert list(vault.read_records(stored.sha256, 4)) == [
        raw[HEADER_SIZE + 4 * STRIDE : HEADER_SIZE + 5 * STRIDE],
        raw[HEADER_SIZE + 5 * STRIDE :],
    ]
    assert list(vault.read_records(stored.sha256, 6)) == []
    with pytest.raises(ValueError, match="no record 7"):
        vault.read_records(stored.sha256, 7)
    with pytest.raises(ValueError, match="0 or more"):
        vault.read_records(stored.sha256, -1)
    absent = hashlib.sha256(b"absent").hexdigest()
    with pytest.raises(BlobMissing):
        vault.read_records(absent)  # at once, not at the first iteration
    with pytest.raises(BlobMissing):
        vault.seal_info(absent)
    with pytest.raises(ValueError, match="SHA-256"):
        vault.seal_info("../../etc/passwd")


@pytest.mark.parametrize(
    ("cut", "message"),
    [
        (HEADER_SIZE, "no chunk at all"),
        (HEADER_SIZE + 10, "ends inside chunk 0"),
        (HEADER_SIZE + 2 * STRIDE, "not the last chunk"),
        (HEADER_SIZE + 2 * STRIDE + 100, "final record"),
        (-1, "final record"),
    ],
)
def test_a_cut_sender_blob_is_refused_before_sending(tmp_path: Path, cut: int, message: str) -> None:
    vault = BlobStore(tmp_path, SENDER_KEY, chunk_size=CS)
    stored = vault.ingest(io.BytesIO(content(3 * CS + 500, 3)))
    raw = stored.path.read_bytes()
    stored.path.write_bytes(raw[:cut])
    for call in (vault.seal_info, vault.read_records):
        with pytest.raises(BlobCorrupt, match=message) as caught:
            call(stored.sha256)
        assert caught.value.kind is ProblemKind.TRUNCATED
        assert "truncated" in str(caught.value)


def test_a_sender_blob_with_a_bad_header_is_refused(tmp_path: Path) -> None:
    vault = BlobStore(tmp_path, SENDER_KEY, chunk_size=CS)
    stored = vault.ingest(io.BytesIO(content(2 * CS, 4)))
    with pytest.raises(BlobCorrupt, match="another master key"):
        BlobStore(tmp_path, RECEIVER_KEY).seal_info(stored.sha256)
    raw = bytearray(stored.path.read_bytes())
    raw[20] ^= 1
    stored.path.write_bytes(bytes(raw))
    for call in (vault.seal_info, vault.read_records):
        with pytest.raises(BlobCorrupt, match="bad header") as caught:
            call(stored.sha256)
        assert caught.value.kind is ProblemKind.BAD_HEADER


# --- every record is authenticated on arrival


@pytest.fixture(scope="module")
def sent(tmp_path_factory: pytest.TempPathFactory) -> tuple[SealedBlob, list[bytes], list[bytes], list[bytes]]:
    """A sender's 4.5-chunk blob: its seal, its records, its chunks; and the records of another blob."""
    vault = BlobStore(tmp_path_factory.mktemp("sender"), SENDER_KEY, chunk_size=CS)
    data = content(4 * CS + CS // 2, 5)
    stored = vault.ingest(io.BytesIO(data))
    other = vault.ingest(io.BytesIO(content(4 * CS + CS // 2, 6)))
    return (
        vault.seal_info(stored.sha256),
        list(vault.read_records(stored.sha256)),
        chunks_of(data, CS),
        list(vault.read_records(other.sha256)),
    )


Sent = tuple[SealedBlob, list[bytes], list[bytes], list[bytes]]


def test_records_open_to_their_chunks(sent: Sent) -> None:
    sealed, records, chunks, _ = sent
    opener = RecordOpener.for_blob(sealed)
    opened = [opener.open(i, r) for i, r in enumerate(records)]
    assert [p for p, _ in opened] == chunks
    assert [last for _, last in opened] == [False, False, False, False, True]
    assert opener.open(1, memoryview(bytearray(records[1])))[0] == chunks[1]  # any bytes-like record


@PROPERTIES
@given(which=st.integers(0, 4), where=st.floats(0, 1, exclude_max=True), bit=st.integers(0, 7))
def test_any_flipped_bit_is_rejected_at_its_index(sent: Sent, which: int, where: float, bit: int) -> None:
    sealed, records, _, _ = sent
    damaged = bytearray(records[which])
    damaged[int(where * len(damaged))] ^= 1 << bit
    with pytest.raises(ChunkRejected) as caught:
        RecordOpener.for_blob(sealed).open(which, damaged)
    assert caught.value.index == which
    assert str(caught.value).startswith(f"chunk {which} rejected: ")


def flip(record: bytes, offset: int, mask: int = 0x01) -> bytes:
    damaged = bytearray(record)
    damaged[offset] ^= mask
    return bytes(damaged)


@pytest.mark.parametrize(
    ("index", "make", "message"),
    [
        (1, lambda r: flip(r[1], 5 + 100), "failed authentication"),  # ciphertext
        (1, lambda r: flip(r[1], -1), "failed authentication"),  # tag
        (4, lambda r: flip(r[4], -16, 0x80), "failed authentication"),  # the last record's tag
        (1, lambda r: flip(r[1], 0), "more than the chunk size"),  # length field, high byte
        (1, lambda r: flip(r[1], 3), "states 1025 content bytes, more than"),  # length field, low byte
        (1, lambda r: flip(r[1], 2, 0x04), "not the last chunk but states 0 "),  # length 1024 becomes 0
        (4, lambda r: flip(r[4], 3), "implies"),  # the last record's length: byte count no longer fits
        (1, lambda r: flip(r[1], 4), "failed authentication"),  # the last flag set on a middle record
        (1, lambda r: flip(r[1], 4, 0x02), "unknown flag bits 0x02"),
        (4, lambda r: flip(r[4], 4), "not the last chunk but states 512"),  # a short record not flagged last
        (2, lambda r: r[1], "failed authentication"),  # a record presented at the wrong index
        (1, lambda r: r[2], "failed authentication"),
        (0, lambda r: r[4], "failed authentication"),  # the last record first: truncation to one chunk
        (1, lambda r: r[1][:-1], "cut short"),
        (4, lambda r: r[4][: RECORD_OVERHEAD + 3], "cut short"),
        (1, lambda r: r[1][:20], "too short for a record"),
        (0, lambda r: b"", "0 bytes is too short"),
        (1, lambda r: r[1] + b"x", "followed by extra bytes"),
        (3, lambda r: b"\0\0\0\0\x01" + bytes(16), "empty last chunk is only valid as chunk 0"),
    ],
)
def test_bad_records_are_rejected_precisely(
    sent: Sent, index: int, make: Callable[[list[bytes]], bytes], message: str
) -> None:
    sealed, records, _, _ = sent
    record = make(records)
    with pytest.raises(ChunkRejected, match=message) as caught:
        RecordOpener.for_blob(sealed).open(index, record)
    assert caught.value.index == index


def test_a_record_from_another_blob_is_rejected(sent: Sent) -> None:
    sealed, _, _, foreign = sent
    opener = RecordOpener.for_blob(sealed)
    for index, record in enumerate(foreign):
        with pytest.raises(ChunkRejected, match="from another blob") as caught:
            opener.open(index, record)
        assert caught.value.index == index


def test_an_opener_with_wrong_fields_opens_nothing(sent: Sent) -> None:
    sealed, records, _, _ = sent
    fields = {
        "data_key": sealed.data_key,
        "nonce_prefix": sealed.nonce_prefix,
        "header_hash": sealed.header_hash,
        "chunk_size": sealed.chunk_size,
    }
    wrong: list[dict[str, object]] = [
        {**fields, "data_key": bytes(32)},
        {**fields, "nonce_prefix": b"\0\0\0\0"},
        {**fields, "header_hash": hashlib.sha256(b"another header").digest()},
    ]
    for options in wrong:
        with pytest.raises(ChunkRejected, match="failed authentication"):
            RecordOpener(**options).open(0, records[0])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="32-byte data key"):
        RecordOpener(**{**fields, "data_key": bytes(16)})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="chunk size"):
        RecordOpener(**{**fields, "chunk_size": MAX_CHUNK_SIZE + 1})  # type: ignore[arg-type]


# --- assemblies: rules, resume, damage


def test_append_refuses_chunks_that_break_the_format(tmp_path: Path) -> None:
    vault = BlobStore(tmp_path, RECEIVER_KEY)
    with vault.assembly("rules", CS) as assembly:
        with pytest.raises(ValueError, match="longer than the chunk size"):
            assembly.append(bytes(CS + 1), last=True)
        with pytest.raises(ValueError, match="only the last chunk may be shorter"):
            assembly.append(bytes(CS - 1), last=False)
        assembly.append(bytes(CS), last=False)
        with pytest.raises(ValueError, match="empty last chunk"):
            assembly.append(b"", last=True)
        with pytest.raises(ValueError, match="not complete"):
            assembly.finish(hashlib.sha256(bytes(CS)).hexdigest(), CS)
        assembly.append(bytearray(b"tail"), last=True)  # refusals changed nothing
        assert (assembly.chunks_done, assembly.size_done, assembly.complete) == (2, CS + 4, True)
        with pytest.raises(ValueError, match="complete"):
            assembly.append(b"more", last=True)
        data = bytes(CS) + b"tail"
        stored = assembly.finish(hashlib.sha256(data).hexdigest(), len(data))
    assert b"".join(vault.open_stream(stored.sha256)) == data
    with pytest.raises(ValueError, match="is gone"):
        assembly.append(b"", last=True)


@pytest.mark.parametrize("name", ["", "A", "a_b", "../x", "a/b", "a" * 81, "x.assembly", "é"])
def test_assembly_names_and_chunk_sizes_are_checked(tmp_path: Path, name: str) -> None:
    vault = BlobStore(tmp_path, RECEIVER_KEY)
    with pytest.raises(ValueError, match="assembly name"):
        vault.assembly(name, CS)
    with pytest.raises(ValueError, match="assembly name"):
        vault.discard_assembly(name)
    for size in (0, -1, MAX_CHUNK_SIZE + 1):
        with pytest.raises(ValueError, match="chunk size"):
            vault.assembly("ok-name-0", size)
    assert list((tmp_path / "tmp").iterdir()) == []


def test_close_and_resume_keeps_the_count(tmp_path: Path) -> None:
    vault = BlobStore(tmp_path, RECEIVER_KEY)
    data = content(6 * CS + 10, 7)
    pieces = chunks_of(data, CS)
    with vault.assembly("resume-me", CS) as assembly:
        for piece in pieces[:3]:
            assembly.append(piece, last=False)
        assembly.sync()
    assert assembly_file(tmp_path, "resume-me").stat().st_size == HEADER_SIZE + 3 * STRIDE
    with vault.assembly("resume-me", CS) as again:
        assert (again.chunks_done, again.size_done, again.complete) == (3, 3 * CS, False)
        again.append(pieces[3], last=False)
    with vault.assembly("resume-me", CS) as third:
        assert third.chunks_done == 4
        append_all(third, data, start=4)
        stored = third.finish(hashlib.sha256(data).hexdigest(), len(data))
    assert vault.verify(stored.sha256, size=len(data)).ok
    assert b"".join(vault.open_stream(stored.sha256)) == data
    assert not assembly_file(tmp_path, "resume-me").exists()


def test_a_complete_assembly_resumes_complete(tmp_path: Path) -> None:
    vault = BlobStore(tmp_path, RECEIVER_KEY)
    data = content(2 * CS, 8)
    with vault.assembly("whole", CS) as assembly:
        append_all(assembly, data)
    with vault.assembly("whole", CS) as again:
        assert (again.chunks_done, again.size_done, again.complete) == (2, 2 * CS, True)
        stored = again.finish(hashlib.sha256(data).hexdigest(), len(data))
    assert vault.verify(stored.sha256).ok


@pytest.fixture(scope="module")
def assembled(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, bytes]:
    """A complete, unfinished assembly's file (7.5 chunks), and its content."""
    root = tmp_path_factory.mktemp("assembled")
    data = content(7 * CS + CS // 2, 9)
    with BlobStore(root, RECEIVER_KEY).assembly("x", CS) as assembly:
        append_all(assembly, data)
    return assembly_file(root, "x").read_bytes(), data


def planted(root: Path, raw: bytes, name: str = "x") -> BlobStore:
    """A vault whose assembly ``name`` holds ``raw`` (as a crash, or damage, left it)."""
    vault = BlobStore(root, RECEIVER_KEY)
    path = assembly_file(root, name)
    path.write_bytes(raw)
    path.chmod(0o600)
    return vault


def verified_records(raw_length: int, size: int, cut: int) -> int:
    """How many whole records a file cut at ``cut`` still holds."""
    records = -(-size // CS)
    ends = [HEADER_SIZE + (k + 1) * STRIDE for k in range(records - 1)] + [raw_length]
    return sum(1 for end in ends if end <= cut)


def finish_from_resume(vault: BlobStore, data: bytes, expected_chunks: int) -> None:
    """Open the assembly, check it kept exactly ``expected_chunks`` verified chunks, complete it, finish it."""
    with vault.assembly("x", CS) as assembly:
        assert assembly.chunks_done == expected_chunks
        assert assembly.size_done == len(b"".join(chunks_of(data, CS)[:expected_chunks]))
        if expected_chunks < len(chunks_of(data, CS)):
            assert not assembly.complete
            kept = HEADER_SIZE + expected_chunks * STRIDE
            assert assembly.path.stat().st_size == kept  # cut back to the verified prefix, durably
            append_all(assembly, data, start=expected_chunks)
        assert assembly.complete
        stored = assembly.finish(hashlib.sha256(data).hexdigest(), len(data))
    assert vault.verify(stored.sha256, size=len(data)).ok
    assert b"".join(vault.open_stream(stored.sha256)) == data


@PROPERTIES
@given(where=st.floats(0, 1))
def test_a_cut_assembly_resumes_from_its_whole_records(assembled: tuple[bytes, bytes], where: float) -> None:
    raw, data = assembled
    cut = HEADER_SIZE + int(where * (len(raw) - HEADER_SIZE))
    with scratch() as root:
        vault = planted(Path(root), raw[:cut])
        finish_from_resume(vault, data, verified_records(len(raw), len(data), cut))


@pytest.mark.parametrize("cut", [0, 1, 40, HEADER_SIZE - 1])
def test_an_assembly_cut_inside_its_header_cannot_resume(
    assembled: tuple[bytes, bytes], tmp_path: Path, cut: int
) -> None:
    raw, _ = assembled
    vault = planted(tmp_path, raw[:cut])
    with pytest.raises(AssemblyCorrupt, match="ends inside its header") as caught:
        vault.assembly("x", CS)
    assert caught.value.kind is ProblemKind.TRUNCATED
    assert vault.discard_assembly("x")
    assert not vault.discard_assembly("x")
    with vault.assembly("x", CS) as fresh:  # the caller starts again
        assert fresh.chunks_done == 0
        assert fresh.path.stat().st_size == HEADER_SIZE


@pytest.mark.parametrize(("record", "offset"), [(7, 5), (7, -1), (7, 0), (3, 200), (0, 4), (0, -1)])
def test_a_damaged_record_and_all_after_it_are_dropped(
    assembled: tuple[bytes, bytes], tmp_path: Path, record: int, offset: int
) -> None:
    raw, data = assembled
    damaged = bytearray(raw)
    start = HEADER_SIZE + record * STRIDE
    end = min(start + STRIDE, len(raw))
    damaged[start + offset if offset >= 0 else end + offset] ^= 0x20
    finish_from_resume(planted(tmp_path, bytes(damaged)), data, record)


def test_garbage_after_the_last_record_is_cut(assembled: tuple[bytes, bytes], tmp_path: Path) -> None:
    raw, data = assembled
    vault = planted(tmp_path, raw + b"garbage after the end")
    with vault.assembly("x", CS) as assembly:
        assert assembly.complete
        assert assembly.path.stat().st_size == len(raw)
        stored = assembly.finish(hashlib.sha256(data).hexdigest(), len(data))
    assert vault.verify(stored.sha256).ok


@pytest.mark.parametrize("offset", [0, 8, 11, 12, 20, 36, HEADER_SIZE - 1])
def test_an_assembly_with_a_damaged_header_cannot_resume(
    assembled: tuple[bytes, bytes], tmp_path: Path, offset: int
) -> None:
    raw, _ = assembled
    damaged = bytearray(raw)
    damaged[offset] ^= 0x04
    vault = planted(tmp_path, bytes(damaged))
    with pytest.raises(AssemblyCorrupt, match="bad header") as caught:
        vault.assembly("x", CS)
    assert caught.value.kind is ProblemKind.BAD_HEADER
    assert assembly_file(tmp_path, "x").read_bytes() == bytes(damaged)  # left as it was, for the caller to discard


def test_an_assembly_under_another_master_key_cannot_resume(assembled: tuple[bytes, bytes], tmp_path: Path) -> None:
    raw, _ = assembled
    planted(tmp_path, raw)
    with pytest.raises(AssemblyCorrupt, match="another master key"):
        BlobStore(tmp_path, SENDER_KEY).assembly("x", CS)


def test_resuming_with_another_chunk_size_is_a_mismatch(assembled: tuple[bytes, bytes], tmp_path: Path) -> None:
    raw, _ = assembled
    vault = planted(tmp_path, raw)
    with pytest.raises(AssemblyMismatch, match=f"started with chunk size {CS}, not {2 * CS}"):
        vault.assembly("x", 2 * CS)
    with vault.assembly("x", CS) as assembly:  # the failed attempt released its lock
        assert assembly.complete


# --- finishing


@pytest.mark.parametrize(
    ("wrong_hash", "wrong_size", "message"),
    [
        (True, False, "hash mismatch"),
        (False, True, "size mismatch"),
        (True, True, "size mismatch: 3000 bytes arrived, 3001 were promised; hash"),
    ],
)
def test_a_mismatch_publishes_nothing(tmp_path: Path, wrong_hash: bool, wrong_size: bool, message: str) -> None:
    vault = BlobStore(tmp_path, RECEIVER_KEY)
    data = content(3000, 10)
    actual = hashlib.sha256(data).hexdigest()
    promised = hashlib.sha256(b"what the manifest says").hexdigest() if wrong_hash else actual
    assembly = vault.assembly("m", CS)
    append_all(assembly, data)
    with pytest.raises(AssemblyMismatch, match=message) as caught:
        assembly.finish(promised, len(data) + 1 if wrong_size else len(data))
    assert caught.value.name == "m"
    assert not vault.path_of(actual).exists()
    assert not vault.path_of(promised).exists()
    assert list(vault.iter_blobs()) == []
    assert list((tmp_path / "tmp").iterdir()) == []  # discarded: its content is not what was promised
    assembly.discard()  # already gone: nothing to do
    assembly.close()
    with pytest.raises(ValueError, match="gone"):
        assembly.finish(actual, len(data))


def test_finish_checks_the_promised_hash_is_a_hash(tmp_path: Path) -> None:
    with BlobStore(tmp_path, RECEIVER_KEY).assembly("h", CS) as assembly:
        assembly.append(b"x", last=True)
        with pytest.raises(ValueError, match="SHA-256"):
            assembly.finish("../../x", 1)
        assert assembly.finish(hashlib.sha256(b"x").hexdigest(), 1).size == 1


# --- locks, threads, crash leftovers


def test_an_open_assembly_is_busy_for_anyone_else(tmp_path: Path) -> None:
    vault = BlobStore(tmp_path, RECEIVER_KEY)
    first = vault.assembly("busy", CS)
    with pytest.raises(AssemblyBusy, match="in use elsewhere"):
        vault.assembly("busy", CS)
    with pytest.raises(AssemblyBusy):
        BlobStore(tmp_path, RECEIVER_KEY).assembly("busy", CS)  # another store object, same files
    with pytest.raises(AssemblyBusy):
        vault.discard_assembly("busy")
    first.append(b"a" * CS, last=False)
    first.close()
    first.close()  # twice is fine
    with pytest.raises(ValueError, match="closed"):
        first.discard()
    with vault.assembly("busy", CS) as second:
        assert second.chunks_done == 1
        second.discard()
    assert not assembly_file(tmp_path, "busy").exists()


def worker_env() -> dict[str, str]:
    return {**os.environ, "HANOINET_TEST_VAULT_KEY": RECEIVER_KEY.hex()}


def test_busy_across_processes(tmp_path: Path) -> None:
    vault = BlobStore(tmp_path, RECEIVER_KEY)
    argv = [sys.executable, str(WORKER), "hold", str(tmp_path), "shared", str(CS)]
    with subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=worker_env()) as proc:
        assert proc.stdin is not None
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "holding"
        with pytest.raises(AssemblyBusy):
            vault.assembly("shared", CS)
        proc.stdin.write("go\n")
        proc.stdin.flush()
        assert proc.stdout.readline().strip() == "released"
    with vault.assembly("shared", CS):
        done = subprocess.run(argv, capture_output=True, text=True, env=worker_env(), timeout=30, check=False)
        assert (done.returncode, done.stdout.strip()) == (3, "busy")


def test_the_hasher_runs_in_its_own_thread_and_stops_with_the_assembly(tmp_path: Path) -> None:
    vault = BlobStore(tmp_path, RECEIVER_KEY)

    def hashers() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t.name.startswith("vault-assembly")]

    before = len(hashers())
    assembly = vault.assembly("threads", CS)
    assert len(hashers()) == before + 1
    assembly.close()
    assert len(hashers()) == before
    dropped = vault.assembly("threads", CS)
    del dropped  # never closed: collected, its finalizer stops the hasher and releases the lock
    gc.collect()
    assert len(hashers()) == before
    with vault.assembly("threads", CS):
        pass


def test_sweep_leaves_assemblies_alone(tmp_path: Path) -> None:
    vault = BlobStore(tmp_path, RECEIVER_KEY)
    data = content(3 * CS, 11)
    with vault.assembly("kept", CS) as assembly:
        assembly.append(data[:CS], last=False)
    (tmp_path / "tmp" / "dead.partial").write_bytes(b"left by a killed ingest")
    assert vault.sweep_partials() == 1
    vault.ingest(io.BytesIO(b"an ingest sweeps too"))
    assert sorted(p.name for p in (tmp_path / "tmp").iterdir()) == ["kept.assembly"]
    with vault.assembly("kept", CS) as again:
        assert again.chunks_done == 1
        append_all(again, data, start=1)
        assert again.finish(hashlib.sha256(data).hexdigest(), len(data)).size == len(data)


def test_sigkill_mid_transfer_resumes_from_a_verified_prefix(tmp_path: Path) -> None:
    chunk_size, count = 256 * 1024, 40
    data = content(count * chunk_size - 1000, 12)
    source = tmp_path / "received.bin"
    source.write_bytes(data)
    root = tmp_path / "vault"
    argv = [sys.executable, str(WORKER), "append", str(root), "transfer", str(chunk_size), str(source)]
    vault = BlobStore(root, RECEIVER_KEY)
    reached = 0
    for kill_after in (1, 9, 23, 31):
        with subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=worker_env()) as proc:
            assert proc.stdout is not None
            assert int(proc.stdout.readline().split()[1]) == reached  # it resumed where the last one stopped
            for line in proc.stdout:
                word, _, value = line.partition(" ")
                if word == "done" or (word == "appended" and int(value) >= kill_after):
                    break
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=20)
        assert proc.returncode == -signal.SIGKILL
        with vault.assembly("transfer", chunk_size) as assembly:  # the lock died with the process
            reached = assembly.chunks_done
            assert reached >= kill_after
            assert assembly.size_done == min(reached * chunk_size, len(data))
            if not assembly.complete:
                size = assembly.path.stat().st_size
                assert size == HEADER_SIZE + reached * (chunk_size + RECORD_OVERHEAD)
    done = subprocess.run(argv, capture_output=True, text=True, env=worker_env(), timeout=60, check=True)
    assert done.stdout.splitlines()[0] == f"start {reached}"
    assert done.stdout.splitlines()[-1] == "done"
    with vault.assembly("transfer", chunk_size) as assembly:
        assert assembly.complete
        assert assembly.chunks_done == count
        stored = assembly.finish(hashlib.sha256(data).hexdigest(), len(data))
    assert (stored.chunk_size, stored.chunks) == (chunk_size, count)
    assert vault.verify(stored.sha256, size=len(data)).ok
    assert b"".join(vault.open_stream(stored.sha256)) == data


def test_a_write_failure_is_a_vault_write_error_and_resumes(tmp_path: Path) -> None:
    """A real write failure without root: RLIMIT_FSIZE makes writes past 1 MiB fail with EFBIG."""
    big = 64 * 1024
    data = content(20 * big, 13)
    source = tmp_path / "data.bin"
    source.write_bytes(data)
    script = textwrap.dedent(
        f"""
        import resource, signal, sys
        from pathlib import Path
        from hanoinet.evidence.vault import BlobStore, VaultError, VaultWriteError
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        data = Path({str(source)!r}).read_bytes()
        resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))
        assembly = BlobStore(Path({str(tmp_path)!r}) / "vault", bytes.fromhex({RECEIVER_KEY.hex()!r})).assembly(
            "full", {big}
        )
        try:
            for start in range(0, len(data), {big}):
                assembly.append(data[start : start + {big}], last=start + {big} >= len(data))
        except VaultWriteError as exc:
            print(exc)
        else:
            sys.exit("the append should have failed")
        try:
            assembly.append(data[:{big}], last=False)
        except VaultError as exc:
            print(exc)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], check=False, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    failure, refusal = done.stdout.splitlines()
    assert "file too large for the vault" in failure
    assert "assembly full keeps what it verified" in failure
    assert "failed earlier" in refusal
    vault = BlobStore(tmp_path / "vault", RECEIVER_KEY)
    fits = ((1 << 20) - HEADER_SIZE) // (big + RECORD_OVERHEAD)
    with vault.assembly("full", big) as assembly:
        assert assembly.chunks_done == fits  # the record cut short by the limit was dropped
        append_all(assembly, data, start=fits)
        stored = assembly.finish(hashlib.sha256(data).hexdigest(), len(data))
    assert vault.verify(stored.sha256, size=len(data)).ok


def test_no_key_shows_in_reprs_or_logs(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    sender = BlobStore(tmp_path / "a", SENDER_KEY, chunk_size=CS)
    stored = sender.ingest(io.BytesIO(content(3 * CS, 14)))
    sealed = sender.seal_info(stored.sha256)
    receiver = BlobStore(tmp_path / "b", RECEIVER_KEY)
    with receiver.assembly("secret", CS) as assembly:
        assembly.append(bytes(CS), last=False)
    path = assembly_file(tmp_path / "b", "secret")
    with path.open("ab") as file:
        file.write(b"half a record")  # logged when it is cut on resume
    with receiver.assembly("secret", CS) as assembly:
        shown = [repr(sealed), str(sealed), repr(RecordOpener.for_blob(sealed)), repr(assembly), caplog.text]
    assert "unverified bytes" in caplog.text
    assert "data_key" not in repr(sealed)
    for text in shown:
        for secret in (sealed.data_key, SENDER_KEY, RECEIVER_KEY):
            assert secret.hex() not in text
            assert repr(secret)[2:-1] not in text


def test_a_transfer_can_restart_from_the_receivers_count(tmp_path: Path) -> None:
    """The protocol after a receiver restart: the receiver says how many chunks it holds, the sender reads from
    there (``read_records(start=)``), the receiver goes on."""
    sender = BlobStore(tmp_path / "a", SENDER_KEY, chunk_size=CS)
    receiver = BlobStore(tmp_path / "b", RECEIVER_KEY)
    data = content(9 * CS + 1, 15)
    stored = sender.ingest(io.BytesIO(data))
    sealed = sender.seal_info(stored.sha256)
    opener = RecordOpener.for_blob(sealed)
    with receiver.assembly("restart", CS) as assembly:
        for index, record in enumerate(sender.read_records(stored.sha256)):
            if index == 4:
                break  # the connection drops
            plaintext, last = opener.open(index, record)
            assembly.append(plaintext, last=last)
        assembly.sync()
    with receiver.assembly("restart", CS) as assembly:
        start = assembly.chunks_done
        for index, record in enumerate(sender.read_records(stored.sha256, start), start):
            plaintext, last = opener.open(index, record)
            assembly.append(plaintext, last=last)
        got = assembly.finish(stored.sha256, len(data))
    assert got.sha256 == stored.sha256
    assert b"".join(receiver.open_stream(got.sha256)) == data
