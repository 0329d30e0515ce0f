"""Work on a vault assembly in a process of its own, for ``tests/unit/test_vault_assembly.py`` (busy locks across
processes, SIGKILL mid-transfer).

Usage, with the master key in hex in ``$HANOINET_TEST_VAULT_KEY`` (not on the command line, where ``ps`` shows it):

- ``assembly_worker.py hold ROOT NAME CHUNK_SIZE``: open the assembly and print ``holding``, then wait for a line
  on stdin, close it and print ``released``; if it is open elsewhere, print ``busy`` and exit with status 3.
- ``assembly_worker.py append ROOT NAME CHUNK_SIZE SOURCE``: open (or resume) the assembly, print ``start N`` (N:
  chunks already in), then append ``SOURCE`` chunk by chunk from there, printing ``appended N`` after each; print
  ``done`` once the last chunk is in and synced (the assembly is left unfinished, for the test to finish).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from hanoinet.evidence.vault import AssemblyBusy, BlobStore


def main() -> None:
    mode, root, name, chunk_size = sys.argv[1], Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    vault = BlobStore(root, bytes.fromhex(os.environ["HANOINET_TEST_VAULT_KEY"]))
    if mode == "hold":
        try:
            assembly = vault.assembly(name, chunk_size)
        except AssemblyBusy:
            print("busy", flush=True)
            sys.exit(3)
        with assembly:
            print("holding", flush=True)
            sys.stdin.readline()
        print("released", flush=True)
    elif mode == "append":
        source = Path(sys.argv[5])
        total = source.stat().st_size
        with vault.assembly(name, chunk_size) as assembly, source.open("rb") as file:
            print(f"start {assembly.chunks_done}", flush=True)
            file.seek(assembly.chunks_done * chunk_size)
            while not assembly.complete:
                chunk = file.read(chunk_size)
                assembly.append(chunk, last=file.tell() >= total)
                print(f"appended {assembly.chunks_done}", flush=True)
            assembly.sync()
        print("done", flush=True)
    else:
        sys.exit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main()
