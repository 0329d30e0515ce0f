#!/usr/bin/env python3
"""A throwaway PostgreSQL cluster on loopback, for tests and benchmarks (stdlib only).

    python3 scripts/pg_throwaway.py start DIR   # prints the database URL; the cluster listens on 127.0.0.1
    python3 scripts/pg_throwaway.py stop DIR

``initdb`` refuses to run as root, so as root the cluster is created and run as the ``postgres`` user in a
directory that user owns. Authentication is ``trust`` on loopback only: the cluster holds test data and dies
with the test run.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

URL_FILE = "url.txt"


def pg_bin(name: str) -> str:
    """Find a PostgreSQL server binary: on PATH, or in Debian's versioned directory."""
    debian = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True)
    found = shutil.which(name) or (str(debian[0]) if debian else None)
    if found is None:
        raise SystemExit(
            f"PostgreSQL's {name} was not found: install Debian's postgresql package (apt-get install postgresql)"
        )
    return found


def free_port() -> int:
    """Ask the kernel for a free loopback port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(argv: list[str]) -> None:
    if os.geteuid() == 0:
        argv = ["runuser", "-u", "postgres", "--", *argv]
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)  # noqa: S603 - fixed binaries, our arguments


def start(directory: Path, *, durable: bool = False) -> str:
    """Create and start a cluster in ``directory``; return a SQLAlchemy URL for its ``postgres`` database.

    Tests run with fsync off (their data dies with the run); benchmarks of durable commits pass ``durable``.
    """
    directory.mkdir(parents=True, exist_ok=True)
    data = directory / "data"
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres", "postgres")
        directory.chmod(0o700)
    port = free_port()
    _run([pg_bin("initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"])
    options = f"-p {port} -k {directory} -c listen_addresses=127.0.0.1 -c max_connections=200"
    if not durable:
        options += " -c fsync=off"
    _run([pg_bin("pg_ctl"), "-D", str(data), "-o", options, "-l", str(directory / "server.log"), "-w", "start"])
    url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    (directory / URL_FILE).write_text(url)
    return url


def stop(directory: Path) -> None:
    """Stop the cluster (fast) and delete its files."""
    data = directory / "data"
    if data.exists():
        _run([pg_bin("pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"])
    shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in {"start", "stop"}:
        raise SystemExit(__doc__)
    where = Path(sys.argv[2]).resolve()
    if sys.argv[1] == "start":
        print(start(where))
    else:
        stop(where)
