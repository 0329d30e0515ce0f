"""The vault's blob engine on real files: round trips over the sizes that break chunking, every kind of tampering
detected at the right place, crash leftovers swept, and a real full disk (a tiny tmpfs) handled cleanly.

Most tests use 1 KiB chunks so that several chunks cost nothing; the engine does not care about the size.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import logging
import os
import random
import shutil
import stat
import subprocess
import sys
import tempfile
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hanoinet.evidence.vault import (
    HEADER_SIZE,
    RECORD_OVERHEAD,
    BlobCorrupt,
    BlobMissing,
    BlobStore,
    ProblemKind,
    VaultWriteError,
)

CS = 1024
STRIDE = CS + RECORD_OVERHEAD
KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
SIZES = st.one_of(st.sampled_from([0, 1, CS - 1, CS, CS + 1, 2 * CS, 3 * CS - 1, 3 * CS + 1]), st.integers(0, 6 * CS))
PROPERTIES = settings(max_examples=40, deadline=None)


def content(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> BlobStore:
    return BlobStore(tmp_path_factory.mktemp("vault"), KEY, chunk_size=CS)


def scratch() -> tempfile.TemporaryDirectory[str]:
    """A directory of its own, for tests that damage blobs (usable inside hypothesis examples, unlike tmp_path)."""
    return tempfile.TemporaryDirectory()


def read_all(store: BlobStore, sha256: str) -> bytes:
    return b"".join(store.open_stream(sha256))


def stream_error(store: BlobStore, sha256: str) -> tuple[BlobCorrupt, bytes]:
    """Consume a stream that must fail; return the error and the bytes received before it."""
    received = bytearray()
    try:
        for piece in store.open_stream(sha256):
            received += piece
    except BlobCorrupt as error:
        return error, bytes(received)
    pytest.fail("the stream ended without an error")


# --- round trips


@PROPERTIES
@given(size=SIZES, seed=st.integers(0, 2**32))
def test_round_trip_hashes_and_dedup(store: BlobStore, size: int, seed: int) -> None:
    data = content(size, seed)
    advanced: list[int] = []
    stored = store.ingest(io.BytesIO(data), extra_hashes=("sha1", "md5"), progress=advanced.append)
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert stored.hashes == {
        "sha256": hashlib.sha256(data).hexdigest(),
        "sha1": hashlib.sha1(data, usedforsecurity=False).hexdigest(),
        "md5": hashlib.md5(data, usedforsecurity=False).hexdigest(),
    }
    assert stored.size == size
    assert stored.chunks == max(1, -(-size // CS))
    assert stored.chunk_size == CS
    assert stored.path == store.path_of(stored.sha256)
    assert stored.path.stat().st_size == HEADER_SIZE + stored.chunks * RECORD_OVERHEAD + size
    if not stored.deduplicated:
        assert sum(advanced) == size
    assert read_all(store, stored.sha256) == data
    check = store.verify(stored.sha256, size=size)
    assert check.ok, check.problems
    assert (check.size, check.chunks, check.computed_sha256) == (size, stored.chunks, stored.sha256)
    again = store.ingest(io.BytesIO(data))
    assert again.deduplicated
    assert again.path == stored.path
    assert again.sha256 == stored.sha256
    assert store.exists(stored.sha256)
    assert stored.sha256 in set(store.iter_blobs())


@PROPERTIES
@given(size=st.integers(32, 4 * CS), seed=st.integers(0, 2**32))
def test_ciphertext_does_not_contain_the_plaintext(store: BlobStore, size: int, seed: int) -> None:
    data = content(size, seed)
    stored = store.ingest(io.BytesIO(data))
    raw = stored.path.read_bytes()
    for start in range(0, size - 16, 97):
        assert data[start : start + 16] not in raw


def test_recognisable_text_is_not_visible_on_disk(store: BlobStore) -> None:
    data = b"EXHIBIT 7: bank statements of the suspect. " * 300
    stored = store.ingest(io.BytesIO(data))
    raw = stored.path.read_bytes()
    assert b"EXHIBIT" not in raw
    assert b"suspect" not in raw


def test_every_blob_gets_a_fresh_data_key() -> None:
    data = b"the same content twice" * 100
    with scratch() as one, scratch() as two:
        first = BlobStore(Path(one), KEY, chunk_size=CS).ingest(io.BytesIO(data))
        second = BlobStore(Path(two), KEY, chunk_size=CS).ingest(io.BytesIO(data))
        a, b = first.path.read_bytes(), second.path.read_bytes()
        assert first.sha256 == second.sha256
        assert a[:4] == b[:4] == b"HNVB"
        assert a[12:16] != b[12:16]  # nonce prefix
        assert a[36:HEADER_SIZE] != b[36:HEADER_SIZE]  # wrapped data key
        assert a[HEADER_SIZE:] != b[HEADER_SIZE:]


def test_sources_without_readinto_and_with_short_reads(store: BlobStore) -> None:
    data = content(10 * CS + 7, 5)

    class ReadOnly:
        """A source offering only ``read``, in small pieces."""

        def __init__(self) -> None:
            self.buffer = io.BytesIO(data)

        def read(self, n: int = -1) -> bytes:
            return self.buffer.read(min(n, 333))

    stored = store.ingest(ReadOnly())  # type: ignore[arg-type]
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    read_end, write_end = os.pipe()

    def feed() -> None:
        with os.fdopen(write_end, "wb", buffering=0) as sink:
            for start in range(0, len(data), 500):  # a pipe returns whatever has arrived: short reads
                sink.write(data[start : start + 500])

    feeder = threading.Thread(target=feed)
    feeder.start()
    with os.fdopen(read_end, "rb", buffering=0) as pipe:
        piped = store.ingest(pipe)
    feeder.join()
    assert piped.sha256 == stored.sha256
    assert read_all(store, piped.sha256) == data


def test_default_chunk_size_many_chunks(tmp_path: Path) -> None:
    vault = BlobStore(tmp_path, KEY)
    data = content(9 * 1024 * 1024 + 3, 9)
    stored = vault.ingest(io.BytesIO(data), extra_hashes=("md5",))
    assert (stored.chunk_size, stored.chunks) == (4 * 1024 * 1024, 3)
    assert stored.hashes["md5"] == hashlib.md5(data, usedforsecurity=False).hexdigest()
    assert read_all(vault, stored.sha256) == data
    assert vault.verify(stored.sha256, size=len(data)).ok


def test_blobs_of_another_chunk_size_stay_readable(tmp_path: Path) -> None:
    data = content(5000, 3)
    stored = BlobStore(tmp_path, KEY, chunk_size=300).ingest(io.BytesIO(data))
    reader = BlobStore(tmp_path, KEY, chunk_size=CS)
    assert read_all(reader, stored.sha256) == data
    assert reader.verify(stored.sha256).chunk_size == 300


def test_concurrent_ingests_of_the_same_content(tmp_path: Path) -> None:
    vault = BlobStore(tmp_path, KEY, chunk_size=CS)
    data = content(50 * CS, 11)
    results = []

    def run() -> None:
        results.append(vault.ingest(io.BytesIO(data)))

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 4
    assert {r.sha256 for r in results} == {hashlib.sha256(data).hexdigest()}
    assert list(vault.iter_blobs()) == [results[0].sha256]
    assert vault.verify(results[0].sha256).ok
    assert list((tmp_path / "tmp").iterdir()) == []


def test_modes_are_private(tmp_path: Path) -> None:
    vault = BlobStore(tmp_path / "vault", KEY, chunk_size=CS)
    stored = vault.ingest(io.BytesIO(b"private"))
    for directory in (tmp_path / "vault", tmp_path / "vault" / "blobs", tmp_path / "vault" / "tmp", stored.path.parent):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700, directory
    assert stat.S_IMODE(stored.path.stat().st_mode) == 0o600


# --- tampering: every change is found, at the right place


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, bytes, str]:
    """A 7.5-chunk blob's file bytes, its content and its hash, to copy into fresh stores and damage."""
    vault = BlobStore(tmp_path_factory.mktemp("sample"), KEY, chunk_size=CS)
    data = content(7 * CS + CS // 2, 42)
    stored = vault.ingest(io.BytesIO(data))
    return stored.path.read_bytes(), data, stored.sha256


def planted(root: str, raw: bytes, sha256: str) -> BlobStore:
    """A store holding ``raw`` (possibly damaged) as the blob for ``sha256``."""
    vault = BlobStore(Path(root), KEY, chunk_size=CS)
    path = vault.path_of(sha256)
    path.parent.mkdir(mode=0o700, exist_ok=True)
    path.write_bytes(raw)
    return vault


@PROPERTIES
@given(flips=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(1, 255)), min_size=1, max_size=4))
def test_flipped_bytes_are_found_in_the_right_chunk(
    sample: tuple[bytes, bytes, str], flips: list[tuple[float, int]]
) -> None:
    raw, _, sha256 = sample
    damaged = bytearray(raw)
    touched = sorted({int(where * len(raw)) for where, _ in flips})
    for offset, (_, mask) in zip(touched, flips, strict=False):
        damaged[offset] ^= mask
    with scratch() as root:
        vault = planted(root, bytes(damaged), sha256)
        check = vault.verify(sha256, size=len(sample[1]))
        assert not check.ok
        error, _ = stream_error(vault, sha256)
        if any(o < HEADER_SIZE for o in touched):
            assert [p.kind for p in check.findings] == [ProblemKind.BAD_HEADER]
            assert error.kind is ProblemKind.BAD_HEADER
            assert error.chunk is None
        else:
            expected = sorted({(o - HEADER_SIZE) // STRIDE for o in touched})
            assert list(check.failed_chunks) == expected, check.problems
            assert {p.kind for p in check.findings} == {ProblemKind.CHUNK_FAILED}
            assert error.kind is ProblemKind.CHUNK_FAILED
            assert error.chunk == expected[0]
            assert error.sha256 == sha256


@pytest.mark.parametrize(
    ("offset", "chunk"),
    [
        (HEADER_SIZE, 0),  # the first chunk's length field
        (HEADER_SIZE + 4, 0),  # its flags
        (HEADER_SIZE + 5, 0),  # its first ciphertext byte
        (HEADER_SIZE + STRIDE - 1, 0),  # its tag's last byte
        (HEADER_SIZE + 3 * STRIDE + 100, 3),
        (HEADER_SIZE + 7 * STRIDE, 7),  # the last (short) chunk's length field
        (HEADER_SIZE + 7 * STRIDE + 3, 7),
        (HEADER_SIZE + 7 * STRIDE + 4, 7),  # the last chunk's flags
        (-1, 7),  # the very last byte: the last tag
    ],
)
def test_chunk_damage_is_pinned_to_its_chunk(sample: tuple[bytes, bytes, str], offset: int, chunk: int) -> None:
    raw, data, sha256 = sample
    for mask in (0x01, 0x80, 0xFF):
        damaged = bytearray(raw)
        damaged[offset] ^= mask
        with scratch() as root:
            vault = planted(root, bytes(damaged), sha256)
            check = vault.verify(sha256, size=len(data))
            assert check.failed_chunks == (chunk,), check.problems
            assert {p.kind for p in check.findings} == {ProblemKind.CHUNK_FAILED}
            assert stream_error(vault, sha256)[0].chunk == chunk


@pytest.mark.parametrize("offset", [0, 3, 4, 6, 8, 11, 12, 16, 23, 24, 35, 36, 60, HEADER_SIZE - 1])
def test_header_damage_is_a_bad_header(sample: tuple[bytes, bytes, str], offset: int) -> None:
    raw, _, sha256 = sample
    damaged = bytearray(raw)
    damaged[offset] ^= 0x10
    with scratch() as root:
        vault = planted(root, bytes(damaged), sha256)
        check = vault.verify(sha256)
        assert [p.kind for p in check.findings] == [ProblemKind.BAD_HEADER]
        assert check.problems[0].startswith("bad header")
        with pytest.raises(BlobCorrupt, match="bad header"):
            vault.open_stream(sha256)


@PROPERTIES
@given(where=st.floats(0, 1, exclude_max=True))
def test_truncation_is_found(sample: tuple[bytes, bytes, str], where: float) -> None:
    raw, data, sha256 = sample
    cut = int(where * len(raw))
    with scratch() as root:
        vault = planted(root, raw[:cut], sha256)
        check = vault.verify(sha256, size=len(data))
        assert [p.kind for p in check.findings] == [ProblemKind.TRUNCATED], check.problems
        error, received = stream_error(vault, sha256)
        assert error.kind is ProblemKind.TRUNCATED
        assert data.startswith(received)
        assert len(received) < len(data)


@pytest.mark.parametrize("records", [0, 1, 3, 7])
def test_truncation_at_a_chunk_boundary(sample: tuple[bytes, bytes, str], records: int) -> None:
    raw, data, sha256 = sample
    with scratch() as root:
        vault = planted(root, raw[: HEADER_SIZE + records * STRIDE], sha256)
        check = vault.verify(sha256, size=len(data))
        assert [p.kind for p in check.findings] == [ProblemKind.TRUNCATED]
        assert check.findings[0].chunk == (records or None)
        assert check.size is None


@PROPERTIES
@given(extra=st.binary(min_size=1, max_size=3 * STRIDE), size=SIZES, seed=st.integers(0, 1000))
def test_appended_bytes_are_extra_data(extra: bytes, size: int, seed: int) -> None:
    data = content(size, seed)
    with scratch() as root:
        vault = BlobStore(Path(root), KEY, chunk_size=CS)
        stored = vault.ingest(io.BytesIO(data))
        with stored.path.open("ab") as file:
            file.write(extra)
        check = vault.verify(stored.sha256, size=size)
        assert [p.kind for p in check.findings] == [ProblemKind.EXTRA_DATA], check.problems
        assert f"{len(extra)} bytes were added" in check.problems[0]
        assert check.computed_sha256 == stored.sha256  # the content itself is intact
        error, received = stream_error(vault, stored.sha256)
        assert error.kind is ProblemKind.EXTRA_DATA
        assert data.startswith(received)


@pytest.mark.parametrize(("i", "j"), [(0, 1), (1, 5), (0, 6), (2, 6)])
def test_swapped_chunks_fail_at_both_places(sample: tuple[bytes, bytes, str], i: int, j: int) -> None:
    raw, data, sha256 = sample
    records = [raw[HEADER_SIZE + k * STRIDE : HEADER_SIZE + (k + 1) * STRIDE] for k in range(8)]
    records[i], records[j] = records[j], records[i]
    with scratch() as root:
        vault = planted(root, raw[:HEADER_SIZE] + b"".join(records), sha256)
        check = vault.verify(sha256, size=len(data))
        assert check.failed_chunks == (i, j)
        assert {p.kind for p in check.findings} == {ProblemKind.CHUNK_FAILED}
        assert stream_error(vault, sha256)[0].chunk == i


def test_a_dropped_chunk_is_found(sample: tuple[bytes, bytes, str]) -> None:
    raw, data, sha256 = sample
    dropped = raw[: HEADER_SIZE + 2 * STRIDE] + raw[HEADER_SIZE + 3 * STRIDE :]
    with scratch() as root:
        vault = planted(root, dropped, sha256)
        check = vault.verify(sha256, size=len(data))
        assert check.failed_chunks == (2, 3, 4, 5, 6)
        assert not check.ok


def test_a_chunk_from_another_blob_fails(sample: tuple[bytes, bytes, str], store: BlobStore) -> None:
    raw, _, sha256 = sample
    other = store.ingest(io.BytesIO(content(3 * CS, 77))).path.read_bytes()
    mixed = (
        raw[: HEADER_SIZE + STRIDE]
        + other[HEADER_SIZE + STRIDE : HEADER_SIZE + 2 * STRIDE]
        + raw[HEADER_SIZE + 2 * STRIDE :]
    )
    with scratch() as root:
        assert planted(root, mixed, sha256).verify(sha256).failed_chunks == (1,)


def test_size_and_hash_mismatch(sample: tuple[bytes, bytes, str]) -> None:
    raw, data, sha256 = sample
    wrong_name = hashlib.sha256(b"other content").hexdigest()
    with scratch() as root:
        vault = planted(root, raw, wrong_name)  # a blob renamed to another hash
        check = vault.verify(wrong_name, size=len(data) + 1)
        assert [p.kind for p in check.findings] == [ProblemKind.SIZE_MISMATCH, ProblemKind.HASH_MISMATCH]
        assert sha256 in check.problems[1]
        error, received = stream_error(vault, wrong_name)
        assert error.kind is ProblemKind.HASH_MISMATCH
        assert received == data[: 7 * CS]  # the final chunk is held back until the whole hash matches


def test_missing_blob(store: BlobStore) -> None:
    absent = hashlib.sha256(b"never stored").hexdigest()
    check = store.verify(absent)
    assert [p.kind for p in check.findings] == [ProblemKind.MISSING]
    assert not store.exists(absent)
    with pytest.raises(BlobMissing) as caught:
        store.open_stream(absent)  # at once, not at the first iteration
    assert caught.value.sha256 == absent


@pytest.mark.parametrize("name", ["../../etc/passwd", "ABCDEF" * 10 + "ABCD", "a" * 63, "", "a" * 64 + "/"])
def test_only_hashes_name_blobs(store: BlobStore, name: str) -> None:
    with pytest.raises(ValueError, match="SHA-256"):
        store.verify(name)
    with pytest.raises(ValueError, match="SHA-256"):
        store.open_stream(name)
    with pytest.raises(ValueError, match="SHA-256"):
        store.destroy(name)


# --- keys


def test_a_wrong_master_key_opens_nothing(sample: tuple[bytes, bytes, str], tmp_path: Path) -> None:
    raw, _, sha256 = sample
    planted(str(tmp_path), raw, sha256)
    stranger = BlobStore(tmp_path, OTHER_KEY, chunk_size=CS)
    check = stranger.verify(sha256)
    assert [p.kind for p in check.findings] == [ProblemKind.BAD_HEADER]
    assert "another master key" in check.problems[0]
    with pytest.raises(BlobCorrupt, match="another master key"):
        stranger.open_stream(sha256)


@pytest.mark.parametrize("key", [b"", b"short secret key material", bytes(31), bytes(33), "a" * 32])
def test_bad_master_keys_are_refused_without_echo(tmp_path: Path, key: bytes) -> None:
    with pytest.raises(ValueError, match="32 bytes") as caught:
        BlobStore(tmp_path, key)
    assert "secret" not in str(caught.value)
    assert "aaaa" not in str(caught.value)


def test_the_master_key_never_shows(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    secret = b"TOPSECRETKEY-0123456789abcdefghi"
    assert len(secret) == 32
    vault = BlobStore(tmp_path, secret, chunk_size=CS)
    (tmp_path / "tmp" / "dead.partial").write_bytes(b"left by a killed ingest")
    stored = vault.ingest(io.BytesIO(b"content"))
    planted(str(tmp_path), b"HNVB" + bytes(200), hashlib.sha256(b"x").hexdigest())
    outputs = [repr(vault), str(vars(vault)), caplog.text, *vault.verify(hashlib.sha256(b"x").hexdigest()).problems]
    with pytest.raises(BlobCorrupt) as caught:
        BlobStore(tmp_path, OTHER_KEY).open_stream(stored.sha256)
    outputs += [str(caught.value), repr(caught.value)]
    for text in outputs:
        assert "TOPSECRET" not in text
        assert secret.hex() not in text


# --- crash leftovers, destruction, errors


def test_sweep_removes_dead_partials_and_spares_live_ones(tmp_path: Path) -> None:
    vault = BlobStore(tmp_path, KEY, chunk_size=CS)
    tmp = tmp_path / "tmp"
    for n in range(3):
        (tmp / f"dead{n}.partial").write_bytes(b"x" * 100)
    (tmp / "unrelated.txt").write_bytes(b"kept")
    live = tmp / "live.partial"
    fd = os.open(live, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # what a running ingest holds
        assert vault.sweep_partials() == 3
        assert sorted(p.name for p in tmp.iterdir()) == ["live.partial", "unrelated.txt"]
    finally:
        os.close(fd)
    (tmp / "dead.partial").write_bytes(b"y")
    vault.ingest(io.BytesIO(b"ingest sweeps first"))
    assert sorted(p.name for p in tmp.iterdir()) == ["unrelated.txt"]  # the lock died with its holder


def test_destroy_erases_the_data_key(tmp_path: Path) -> None:
    vault = BlobStore(tmp_path / "vault", KEY, chunk_size=CS)
    data = content(3 * CS, 8)
    stored = vault.ingest(io.BytesIO(data))
    before = stored.path.read_bytes()
    keep = tmp_path / "copy-of-inode"
    keep.hardlink_to(stored.path)  # someone who kept a link to the file gets nothing readable
    vault.destroy(stored.sha256)
    assert not vault.exists(stored.sha256)
    assert [p.kind for p in vault.verify(stored.sha256).findings] == [ProblemKind.MISSING]
    after = keep.read_bytes()
    assert after[HEADER_SIZE:] == before[HEADER_SIZE:]
    assert after[:HEADER_SIZE] != before[:HEADER_SIZE]
    restored = planted(str(tmp_path / "vault"), after, stored.sha256)
    assert [p.kind for p in restored.verify(stored.sha256).findings] == [ProblemKind.BAD_HEADER]
    vault.destroy(stored.sha256)
    vault.destroy(stored.sha256)  # gone already: nothing to do
    assert not vault.exists(stored.sha256)
    again = vault.ingest(io.BytesIO(data))
    assert not again.deduplicated
    assert read_all(vault, again.sha256) == data


def test_a_damaged_copy_is_replaced_by_a_fresh_ingest(sample: tuple[bytes, bytes, str], tmp_path: Path) -> None:
    raw, data, sha256 = sample
    vault = planted(str(tmp_path), raw[: len(raw) - 10], sha256)
    assert not vault.verify(sha256).ok
    stored = vault.ingest(io.BytesIO(data))
    assert not stored.deduplicated
    assert vault.verify(sha256, size=len(data)).ok


class Failing(io.RawIOBase):
    """A source that breaks after some bytes, like a disconnected upload."""

    def __init__(self, good: int) -> None:
        self.left = good

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self.left <= 0:
            raise ConnectionResetError("the client went away")
        n = min(len(buffer), self.left, 700)
        buffer[:n] = b"z" * n
        self.left -= n
        return n


def test_source_errors_propagate_and_leave_nothing(tmp_path: Path) -> None:
    vault = BlobStore(tmp_path, KEY, chunk_size=CS)
    with pytest.raises(ConnectionResetError, match="went away"):
        vault.ingest(Failing(10 * CS))  # type: ignore[arg-type]
    assert list(vault.iter_blobs()) == []
    assert list((tmp_path / "tmp").iterdir()) == []


def test_a_failing_progress_callback_leaves_nothing(tmp_path: Path) -> None:
    vault = BlobStore(tmp_path, KEY, chunk_size=CS)

    def stop(_: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        vault.ingest(io.BytesIO(content(20 * CS, 1)), progress=stop)
    assert list(vault.iter_blobs()) == []
    assert list((tmp_path / "tmp").iterdir()) == []


def test_unknown_hash_names_are_refused(store: BlobStore) -> None:
    with pytest.raises(ValueError, match="unknown hash 'sha3'"):
        store.ingest(io.BytesIO(b""), extra_hashes=("sha3",))


@pytest.fixture
def tiny_filesystem(tmp_path: Path) -> Iterator[Path]:
    """A real 2 MiB tmpfs: writing more fails with ENOSPC. Needs root (or CAP_SYS_ADMIN) and mount(8)."""
    mount = shutil.which("mount")
    point = tmp_path / "tiny"
    point.mkdir()
    if os.geteuid() != 0 or mount is None:
        pytest.fail("the disk-full test mounts a 2 MiB tmpfs and needs root (as CI has) and mount(8)")
    done = subprocess.run(
        [mount, "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", str(point)], check=False, capture_output=True
    )
    if done.returncode != 0:
        pytest.fail(f"the disk-full test could not mount a tmpfs: {done.stderr.decode().strip()}")
    try:
        yield point
    finally:
        subprocess.run(["umount", "-l", str(point)], check=True)


def test_disk_full_is_clear_and_leaves_the_vault_consistent(tiny_filesystem: Path) -> None:
    vault = BlobStore(tiny_filesystem / "vault", KEY, chunk_size=64 * 1024)
    kept = vault.ingest(io.BytesIO(content(100_000, 1)))
    with pytest.raises(VaultWriteError, match=r"no space left in the vault at .*nothing was stored") as caught:
        vault.ingest(io.BytesIO(content(3 * 1024 * 1024, 2)))
    assert isinstance(caught.value.__cause__, OSError)
    assert list(vault.iter_blobs()) == [kept.sha256]
    assert list((tiny_filesystem / "vault" / "tmp").iterdir()) == []
    assert vault.verify(kept.sha256).ok
    again = vault.ingest(io.BytesIO(content(200_000, 3)))  # the space was given back
    assert vault.verify(again.sha256).ok


def test_write_errors_from_a_file_size_limit(tmp_path: Path) -> None:
    """Another real write failure, without root: RLIMIT_FSIZE makes writes past 1 MiB fail with EFBIG."""
    script = textwrap.dedent(
        f"""
        import io, resource, signal, sys
        from pathlib import Path
        from hanoinet.evidence.vault import BlobStore, VaultWriteError
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))
        vault = BlobStore(Path({str(tmp_path)!r}), bytes(range(32)), chunk_size=64 * 1024)
        try:
            vault.ingest(io.BytesIO(b"x" * (3 << 20)))
        except VaultWriteError as exc:
            print(exc)
            sys.exit(0)
        sys.exit("the ingest should have failed")
        """
    )
    done = subprocess.run([sys.executable, "-c", script], check=False, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "file too large for the vault" in done.stdout
    assert "nothing was stored" in done.stdout
    vault = BlobStore(tmp_path, KEY, chunk_size=CS)
    assert list(vault.iter_blobs()) == []
    assert list((tmp_path / "tmp").iterdir()) == []
