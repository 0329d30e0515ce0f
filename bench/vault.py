#!/usr/bin/env python3
"""The vault's ingest and verify against the machine's own limits, measured in the same run on the same file.

What is measured, on one generated file of ``--size-mib`` MiB (default 1024) in ``--dir``:

- ``openssl dgst -sha256 FILE``: how fast this machine hashes (SHA-256 is the forensic standard, and hashing is
  the CPU-bound half of an ingest);
- ``dd if=FILE of=<a file in the vault's directory> bs=8M conv=fsync``: how fast this disk takes the bytes
  durably (the copy is deleted before the ingest);
- ``BlobStore.ingest`` of the file into a vault in the same directory: hash, encrypt (AES-256-GCM), write and
  fsync, rename into place;
- ``BlobStore.verify`` of the stored blob: read, decrypt, authenticate every chunk and recompute the SHA-256.

An ingest cannot beat the slower of the two baselines, so its ratio is against that one ("limit": the slower
baseline's time divided by ingest's time; goal >= 0.8x). Verify has no fsync and is bound by hashing, so its
ratio is against openssl (goal >= 0.9x). Ingest and verify each run in a child process that reports its own peak
RSS (``VmHWM``; not ``ru_maxrss``, which Linux carries over from the parent through fork and exec), so the
generator's memory does not count (goal <= 128 MiB at any size). Their time is taken
inside the child, around the call (not Python's start-up); openssl and dd are timed around their processes.

Page cache (the fairness question): by default ("--cache warm") every phase reads a file that is wholly in the
page cache, as openssl does right after the file is generated: the source is read through once before openssl,
dd and ingest, and the blob before verify (ingest drops the blob's pages from the cache as it goes, so without
this verify would read from disk while openssl reads from memory). The source is fsynced after generation, and
``sync`` runs before each phase, so no phase pays for another's writeback. With "--cache cold" the page cache is
dropped (``echo 1 > /proc/sys/vm/drop_caches``, root only) before every phase instead, so that each reads from
disk; the printed line says which was used.

The disk is noisy (durable write speed varies by 2x from one minute to the next on a virtual disk), so
``--rounds`` rounds run the four phases in turn; the summary takes the median time of each phase over the rounds
and computes MB/s and ratios from those medians (so the printed figures agree with each other). Every round is
printed too, with its own ratios, since both sides of a ratio run within seconds of each other.
Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import resource
import shlex
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import cryptography

from hanoinet.evidence.vault import BlobStore

MIB = 1024 * 1024
BLOCK = 64 * MIB
PAGE = 4096
KEY_ENV = "HANOINET_BENCH_VAULT_KEY"


def generate(path: Path, size: int) -> str:
    """Write ``size`` bytes fast but not trivially dedupable or compressible; fsync; return the SHA-256.

    One random 64 MiB block is written over and over, each 4 KiB page stamped with a counter that never repeats,
    so no two pages, chunks or blocks of the file are equal.
    """
    block = bytearray(os.urandom(BLOCK))
    digest = hashlib.sha256()
    counter = 0
    with path.open("wb") as file:
        left = size
        while left:
            for offset in range(0, BLOCK, PAGE):
                block[offset : offset + 8] = counter.to_bytes(8, "big")
                counter += 1
            piece = memoryview(block)[: min(left, BLOCK)]
            file.write(piece)
            digest.update(piece)
            left -= len(piece)
        file.flush()
        os.fsync(file.fileno())
    return digest.hexdigest()


def warm(path: Path) -> None:
    """Read a file through once so that it is wholly in the page cache."""
    buffer = memoryview(bytearray(8 * MIB))
    with path.open("rb", buffering=0) as file:
        while file.readinto(buffer):
            pass


def drop_caches() -> None:
    os.sync()
    Path("/proc/sys/vm/drop_caches").write_text("1\n")


def prepare(paths: list[Path], cache: str) -> None:
    """Before a phase: nothing dirty left from earlier phases, and the files it reads cached (or all dropped)."""
    os.sync()
    if cache == "cold":
        drop_caches()
    else:
        for path in paths:
            warm(path)


def timed(argv: list[str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(argv, check=True, capture_output=True, text=True)
    return time.perf_counter() - started, done.stdout + done.stderr


@dataclass
class Round:
    openssl: float
    dd: float
    ingest: float
    verify: float
    ingest_rss: int
    verify_rss: int

    @property
    def limit_ratio(self) -> float:
        return max(self.openssl, self.dd) / self.ingest

    @property
    def verify_ratio(self) -> float:
        return self.openssl / self.verify


def child(phase: str, root: Path, source: Path | None, sha256: str | None) -> dict[str, object]:
    """Run one phase in a child process; return what it reports (seconds, peak RSS, …)."""
    argv = [sys.executable, __file__, "--phase", phase, "--dir", str(root)]
    if source is not None:
        argv += ["--source", str(source)]
    if sha256 is not None:
        argv += ["--sha256", sha256]
    done = subprocess.run(argv, check=True, capture_output=True, text=True)
    report: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return report


def run_phase(args: argparse.Namespace) -> None:
    """Inside the child: ingest or verify once, print seconds and peak RSS as JSON."""
    vault = BlobStore(args.dir, bytes.fromhex(os.environ[KEY_ENV]))
    started = time.perf_counter()
    if args.phase == "ingest":
        with Path(args.source).open("rb") as file:
            stored = vault.ingest(file)
        result: dict[str, object] = {"sha256": stored.sha256, "size": stored.size}
    else:
        check = vault.verify(args.sha256)
        result = {"ok": check.ok, "problems": list(check.problems)}
    result["seconds"] = time.perf_counter() - started
    result["maxrss_kib"] = peak_rss_kib()
    print(json.dumps(result))


def peak_rss_kib() -> int:
    """This process's peak resident set, in KiB.

    ``VmHWM`` from ``/proc/self/status`` where there is one: ``getrusage``'s ``ru_maxrss`` on Linux carries over
    the parent's peak through fork and exec, so a child would report the generator's memory, not its own.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def one_round(n: int, source: Path, workdir: Path, expected: str, cache: str) -> Round:
    copy = workdir / "dd.copy"
    root = workdir / f"vault-{n}"

    prepare([source], cache)
    openssl_s, out = timed(["openssl", "dgst", "-sha256", str(source)])
    if expected not in out:
        raise RuntimeError(f"openssl disagrees about the file's hash: {out.strip()}")

    prepare([source], cache)
    dd_s, _ = timed(["dd", f"if={source}", f"of={copy}", "bs=8M", "conv=fsync"])
    copy.unlink()

    prepare([source], cache)
    ingested = child("ingest", root, source, None)
    if ingested["sha256"] != expected:
        raise RuntimeError(f"the vault computed {ingested['sha256']}, not {expected}")

    blob = BlobStore(root, bytes(32)).path_of(expected)  # the path only: the key is not used
    prepare([blob], cache)
    verified = child("verify", root, None, expected)
    if not verified["ok"]:
        raise RuntimeError(f"verify found problems: {verified['problems']}")
    shutil.rmtree(root)

    return Round(
        openssl=openssl_s,
        dd=dd_s,
        ingest=float(str(ingested["seconds"])),
        verify=float(str(verified["seconds"])),
        ingest_rss=int(str(ingested["maxrss_kib"])) // 1024,
        verify_rss=int(str(verified["maxrss_kib"])) // 1024,
    )


def environment(workdir: Path) -> str:
    fstype = subprocess.run(["stat", "-f", "-c", "%T", str(workdir)], capture_output=True, text=True, check=False)
    openssl = subprocess.run(["openssl", "version"], capture_output=True, text=True, check=False).stdout.strip()
    parts = [
        f"{platform.machine()} {os.cpu_count()} cores",
        f"Python {platform.python_version()} ({ssl.OPENSSL_VERSION})",
        f"cryptography {cryptography.__version__}",
        f"openssl CLI {openssl}",
        f"{workdir} on {fstype.stdout.strip() or '?'}",
    ]
    return "environment: " + "; ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--size-mib", type=int, default=1024, help="size of the test file (default 1024)")
    parser.add_argument("--dir", type=Path, default=None, help="where the file, dd's copy and the vault go")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the four phases (default 3)")
    parser.add_argument("--cache", choices=("warm", "cold"), default="warm", help="page cache before each phase")
    parser.add_argument("--phase", choices=("ingest", "verify"), help=argparse.SUPPRESS)
    parser.add_argument("--source", help=argparse.SUPPRESS)
    parser.add_argument("--sha256", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        run_phase(args)
        return

    os.environ[KEY_ENV] = os.urandom(32).hex()  # a throwaway master key, passed to the children
    parent = args.dir or Path(tempfile.gettempdir())
    parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="hanoinet-bench-vault-", dir=parent) as name:
        workdir = Path(name)
        source = workdir / "evidence.img"
        size: int = args.size_mib * MIB
        print(environment(workdir))
        started = time.perf_counter()
        expected = generate(source, size)
        print(f"file: {args.size_mib} MiB generated in {time.perf_counter() - started:.1f} s; sha256 {expected}")
        cache = "every phase reads from the page cache" if args.cache == "warm" else "caches dropped before each phase"
        print(f"page cache: {args.cache} ({cache}); {args.rounds} round(s), medians reported")
        print(f"load average before: {os.getloadavg()[0]:.2f} (other work on the machine skews every figure)")
        rounds = []
        for n in range(args.rounds):
            r = one_round(n, source, workdir, expected, args.cache)
            rounds.append(r)
            print(
                f"  round {n + 1}: openssl {size / r.openssl / 1e6:.0f}, dd {size / r.dd / 1e6:.0f}, "
                f"ingest {size / r.ingest / 1e6:.0f}, verify {size / r.verify / 1e6:.0f} MB/s; "
                f"ingest {r.limit_ratio:.2f}x limit, verify {r.verify_ratio:.2f}x openssl",
                flush=True,
            )

    def mbps(seconds: list[float]) -> float:
        return size / statistics.median(seconds) / 1e6

    print(f"openssl sha256: {mbps([r.openssl for r in rounds]):.0f} MB/s")
    print(f"dd conv=fsync: {mbps([r.dd for r in rounds]):.0f} MB/s")
    med = {k: statistics.median(getattr(r, k) for r in rounds) for k in ("openssl", "dd", "ingest", "verify")}
    limit = max(med["openssl"], med["dd"]) / med["ingest"]
    print(
        f"ingest: {mbps([r.ingest for r in rounds]):.0f} MB/s, {limit:.2f}x limit "
        "(limit = slower baseline, goal >= 0.8x)"
    )
    verify = med["openssl"] / med["verify"]
    print(f"verify: {mbps([r.verify for r in rounds]):.0f} MB/s, {verify:.2f}x openssl (goal >= 0.9x)")
    ingest_rss = max(r.ingest_rss for r in rounds)
    verify_rss = max(r.verify_rss for r in rounds)
    print(f"peak RSS: ingest {ingest_rss} MiB, verify {verify_rss} MiB (goal <= 128 MiB)")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    options = [f"--size-mib={args.size_mib}", f"--rounds={args.rounds}", f"--cache={args.cache}"]
    if args.dir:
        options.append(f"--dir={args.dir}")
    print("reproduce: " + shlex.join([".venv/bin/python", "bench/vault.py", *options]))


if __name__ == "__main__":
    main()
