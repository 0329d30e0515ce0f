"""Crash safety of ingest: the real ``hanoinet evidence ingest`` process, killed with SIGKILL at several moments.

Whatever the moment, afterwards: ``verify --all`` is clean, ``list`` shows no item or the complete one, nothing left
in the vault's temporary directory is taken for evidence, every blob present is whole, and running the same command
again succeeds and verifies.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from hanoinet.app import bootstrap as boot
from hanoinet.cases import service as cases
from hanoinet.evidence.vault import DEFAULT_CHUNK_SIZE, HEADER_SIZE, RECORD_OVERHEAD
from hanoinet.platform.settings import Settings
from tests.e2e.conftest import HANOINET

MiB = 1024 * 1024
SIZE = 300 * MiB
BLOB_SIZE = HEADER_SIZE + -(-SIZE // DEFAULT_CHUNK_SIZE) * RECORD_OVERHEAD + SIZE
REFERENCE = "LOTUS-2027/14"
ACQUIRED_AT = "2025-11-20T10:00:00+07:00"


@dataclass(frozen=True)
class BigFile:
    path: Path
    sha256: str


@pytest.fixture(scope="module")
def bigfile(tmp_path_factory: pytest.TempPathFactory) -> BigFile:
    """300 MiB of incompressible, non-repeating content, written fast (one random block, varied per MiB)."""
    path = tmp_path_factory.mktemp("crash") / "disk.img"
    block = bytearray(random.Random(14).randbytes(MiB))
    digest = hashlib.sha256()
    with path.open("wb") as out:
        for n in range(SIZE // MiB):
            block[:8] = n.to_bytes(8, "big")
            digest.update(block)
            out.write(block)
    return BigFile(path, digest.hexdigest())


def env() -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HANOINET_")}
    clean.update({"HANOINET_NODE_STATE": "VNM", "HANOINET_ACTOR": "Officer Trần Văn An", "NO_COLOR": "1"})
    return clean


def cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [HANOINET, "--data-dir", str(data_dir), *args],
        env=env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done


def ingest_args(data_dir: Path, big: BigFile) -> list[str]:
    return [
        HANOINET,
        "--data-dir",
        str(data_dir),
        "evidence",
        "ingest",
        str(big.path),
        "--case",
        REFERENCE,
        "--exhibit",
        "LOTUS/B-1",
        "--source",
        "server HN-DB-01",
        "--method",
        "physical image",
        "--tool",
        "dc3dd 7.3.1",
        "--acquired-by",
        "Officer Trần Văn An",
        "--acquired-at",
        ACQUIRED_AT,
        "--json",
    ]


def new_node(data_dir: Path) -> None:
    """A node with its keys, schema and the case, set up in-process (faster than another CLI run)."""
    settings = Settings(data_dir=data_dir, database_url=f"sqlite:///{data_dir / 'hanoinet.db'}", node_state="VNM")
    engine = boot.open_database(settings)
    try:
        node = boot.bootstrap(settings, engine=engine)
        cases.open_case(
            node, reference=REFERENCE, offence="system_interference", max_penalty_years=10, summary="Ransomware"
        )
    finally:
        engine.dispose()


def partials(data_dir: Path) -> list[Path]:
    tmp = data_dir / "vault" / "tmp"
    return sorted(tmp.glob("*.partial")) if tmp.is_dir() else []


def blobs(data_dir: Path) -> list[Path]:
    root = data_dir / "vault" / "blobs"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else []


def partial_size(data_dir: Path) -> int:
    sizes = []
    for p in partials(data_dir):
        with contextlib.suppress(FileNotFoundError):
            sizes.append(p.stat().st_size)
    return max(sizes, default=-1)


def published(data_dir: Path) -> bool:
    root = data_dir / "vault" / "blobs"
    if not root.is_dir():
        return False
    return any(list(fan.iterdir()) for fan in root.iterdir())


MOMENTS: dict[str, Callable[[Path], bool]] = {
    "just started streaming": lambda d: partial_size(d) >= 8 * MiB,
    "half way": lambda d: partial_size(d) >= BLOB_SIZE // 2,
    "content published, before or while the item is committed": published,
}


def kill_when(data_dir: Path, big: BigFile, moment: Callable[[Path], bool], log: Path) -> int:
    """Start the ingest, SIGKILL it the moment ``moment`` holds; return its exit status."""
    with log.open("wb") as sink:
        process = subprocess.Popen(ingest_args(data_dir, big), env=env(), stdout=sink, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    try:
        while process.poll() is None:
            if moment(data_dir):
                process.send_signal(signal.SIGKILL)
                break
            if time.monotonic() > deadline:
                pytest.fail("the moment to kill the ingest never came")
    finally:
        code = process.wait(timeout=30)
    return code


def verify_all(data_dir: Path) -> dict[str, Any]:
    done = cli(data_dir, "evidence", "verify", "--all", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    assert report["ok"] is True
    assert report["problems"] == []
    return report


@pytest.mark.parametrize("moment", list(MOMENTS))
def test_an_ingest_killed_at_any_moment_leaves_no_partial_evidence(
    bigfile: BigFile, tmp_path: Path, moment: str
) -> None:
    data_dir = tmp_path / "node"
    new_node(data_dir)

    code = kill_when(data_dir, bigfile, MOMENTS[moment], tmp_path / "ingest.log")
    assert code in (-signal.SIGKILL, 0), (tmp_path / "ingest.log").read_text(errors="replace")

    listed = cli(data_dir, "evidence", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    items = json.loads(listed.stdout)
    report = verify_all(data_dir)
    assert report["items"] == len(items)
    if items:  # the kill came after the commit: the item is complete
        (item,) = items
        assert (item["sha256"], item["size"]) == (bigfile.sha256, SIZE)
        assert report["events"] == 2  # its acquisition, and this verification
    else:
        assert report["events"] == 0
    if moment != "content published, before or while the item is committed":
        assert code == -signal.SIGKILL
        assert items == []
        assert blobs(data_dir) == []
    # a blob is either absent or whole: named by the content's SHA-256, exactly as long as the content needs
    for blob in blobs(data_dir):
        assert blob.name == bigfile.sha256
        assert blob.stat().st_size == BLOB_SIZE
    leftovers = sorted((data_dir / "vault" / "tmp").iterdir())
    assert all(p.suffix == ".partial" for p in leftovers), leftovers

    again = cli(data_dir, *ingest_args(data_dir, bigfile)[3:])
    assert again.returncode == 0, again.stdout + again.stderr
    item = json.loads(again.stdout)
    assert (item["sha256"], item["size"]) == (bigfile.sha256, SIZE)
    if items:
        assert item["id"] == items[0]["id"]  # the same ingest run again is the same item

    report = verify_all(data_dir)
    assert report["items"] == 1
    assert partials(data_dir) == []  # what the killed ingest left was swept away
    assert blobs(data_dir) == [data_dir / "vault" / "blobs" / bigfile.sha256[:2] / bigfile.sha256]
