"""Crash safety of the vault's ingest: a real process ingesting 200 MiB is killed with SIGKILL at many points
(before any data, early, midway, late, once everything is written but before fsync and rename, and the instant the
blob appears under its name). After each kill nothing incomplete is visible, whatever is visible verifies, the
leftover partial file is swept, and the same ingest then runs to completion, in constant memory.
"""

from __future__ import annotations

import hashlib
import os
import random
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hanoinet.evidence.vault import BlobStore

WORKER = Path(__file__).with_name("vault_worker.py")
KEY = bytes(range(100, 132))
SIZE = 200 * 1024 * 1024
BLOCK = 8 * 1024 * 1024


def make_source(path: Path) -> str:
    """200 MiB that no two blocks share (a random block, each copy stamped with its number); return its SHA-256."""
    block = bytearray(os.urandom(BLOCK))
    digest = hashlib.sha256()
    with path.open("wb") as file:
        for n in range(SIZE // BLOCK):
            block[:8] = n.to_bytes(8, "big")
            file.write(block)
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class Kill:
    """When to SIGKILL the worker: once it has stored ``after`` bytes, then ``delay`` seconds later; with
    ``when_visible``, the moment the blob's file appears instead."""

    label: str
    after: int = -1  # -1: as soon as the worker says "start"
    delay: float = 0.0
    when_visible: bool = False


def scenarios() -> list[Kill]:
    fixed = [
        Kill("before any data"),
        Kill("early", after=8 << 20),
        Kill("midway", after=SIZE // 2),
        Kill("late", after=SIZE - BLOCK),
        Kill("all written, before fsync", after=SIZE),
        Kill("during fsync or rename", after=SIZE, delay=0.002),
        Kill("around the rename", after=SIZE, delay=0.01),
        Kill("the instant the blob is visible", after=SIZE, when_visible=True),
    ]
    rng = random.Random(20241225)  # fixed, so that a failure can be replayed
    spread = [Kill(f"random #{n}", after=rng.randrange(0, SIZE), delay=rng.uniform(0, 0.02)) for n in range(4)]
    return fixed + spread


def run_and_kill(root: Path, source: Path, kill: Kill, final: Path) -> None:
    env = {**os.environ, "HANOINET_TEST_VAULT_KEY": KEY.hex()}
    argv = [sys.executable, str(WORKER), str(root), str(source)]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=env) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            word, _, value = line.partition(" ")
            if (
                word == "done"
                or (word == "stored" and int(value) >= kill.after)
                or (word == "start" and kill.after < 0)
            ):
                break
        if kill.when_visible:
            deadline = time.monotonic() + 20
            while not final.exists() and proc.poll() is None and time.monotonic() < deadline:
                pass  # spin: the window between rename and exit is short
        elif kill.delay:
            time.sleep(kill.delay)
        proc.kill()
        proc.wait(timeout=20)


def check_consistent(root: Path, sha256: str) -> Callable[[], None]:
    vault = BlobStore(root, KEY)
    for name in vault.iter_blobs():
        assert name == sha256, f"an unexpected blob {name} is visible"
        check = vault.verify(name, size=SIZE)
        assert check.ok, check.problems
    return lambda: vault.destroy(sha256)


def test_sigkill_at_any_point_leaves_nothing_half_done(tmp_path: Path) -> None:
    source = tmp_path / "disk.img"
    sha256 = make_source(source)
    root = tmp_path / "vault"
    final = root / "blobs" / sha256[:2] / sha256
    outcomes: dict[str, str] = {}
    for kill in scenarios():
        run_and_kill(root, source, kill, final)
        reset = check_consistent(root, sha256)
        outcomes[kill.label] = "complete blob" if final.exists() else "nothing visible"
        partials = list((root / "tmp").glob("*.partial"))
        assert BlobStore(root, KEY).sweep_partials() == len(partials)
        assert list((root / "tmp").iterdir()) == []
        reset()  # start the next kill from an empty vault, so that it writes (no dedup)
    assert outcomes["before any data"] == "nothing visible"
    assert outcomes["midway"] == "nothing visible"
    assert outcomes["the instant the blob is visible"] == "complete blob"
    print(outcomes)  # shown with -s: which kills landed before and after the rename

    env = {**os.environ, "HANOINET_TEST_VAULT_KEY": KEY.hex()}
    argv = [sys.executable, str(WORKER), str(root), str(source)]
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120, check=True)
    word, name, peak_kib = done.stdout.splitlines()[-1].split()
    assert (word, name) == ("done", sha256)
    assert int(peak_kib) < 128 * 1024  # constant memory: a few chunk buffers, not the 200 MiB
    vault = BlobStore(root, KEY)
    assert list(vault.iter_blobs()) == [sha256]
    assert vault.verify(sha256, size=SIZE).ok
    with source.open("rb") as original:
        digest = hashlib.sha256()
        for piece in vault.open_stream(sha256):
            assert piece == original.read(len(piece))
            digest.update(piece)
    assert digest.hexdigest() == sha256
