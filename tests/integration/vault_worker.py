"""Ingest one file into a vault, reporting progress on stdout, for ``test_vault_crash.py`` to SIGKILL mid-way.

Usage: ``vault_worker.py ROOT SOURCE`` with the master key in hex in ``$HANOINET_TEST_VAULT_KEY`` (not on the
command line, where ``ps`` shows it). Prints ``start``, then ``stored N`` after each chunk (N: bytes so far),
then ``done SHA256 PEAK_RSS_KIB`` (``VmHWM``: the process's own peak, which must stay flat whatever the size).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from hanoinet.evidence.vault import BlobStore


def main() -> None:
    root, source = Path(sys.argv[1]), Path(sys.argv[2])
    vault = BlobStore(root, bytes.fromhex(os.environ["HANOINET_TEST_VAULT_KEY"]))
    stored = 0

    def report(n: int) -> None:
        nonlocal stored
        stored += n
        print(f"stored {stored}", flush=True)

    print("start", flush=True)
    with source.open("rb") as file:
        blob = vault.ingest(file, progress=report)
    print(f"done {blob.sha256} {peak_rss_kib()}", flush=True)


def peak_rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


if __name__ == "__main__":
    main()
