"""SQLite writers of several processes (a node's server, its delivery worker, the command line) queue on the file
lock beside the database, not on SQLite's busy handler: the lock is held exactly while a transaction writes."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import threading
from pathlib import Path

from sqlalchemy import text

from hanoinet.platform.db import make_engine

HOLDER = """
import sys
from sqlalchemy import text
from hanoinet.platform.db import make_engine
engine = make_engine(sys.argv[1])
with engine.connect() as conn:
    conn.execute(text("INSERT INTO notes (body) VALUES ('from the other process')"))
    print("writing", flush=True)
    sys.stdin.readline()  # hold the transaction open until told
    conn.commit()
print("done", flush=True)
"""


def _free(lock_file: Path) -> bool:
    """True if no process holds the writers' lock (tried without waiting, then given back)."""
    fd = os.open(lock_file, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # closing gives back a lock taken here
    return True


def test_a_writer_in_another_process_holds_the_lock_and_this_one_waits_for_it(tmp_path: Path) -> None:
    database = tmp_path / "hanoinet.db"
    url = f"sqlite:///{database}"
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)"))
        conn.execute(text("DELETE FROM notes"))  # a write: the lock file exists from the first one
    lock_file = Path(f"{database}-writer")
    assert lock_file.exists()
    assert _free(lock_file)

    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, url], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert holder.stdin is not None
    assert holder.stdout is not None
    try:
        assert holder.stdout.readline().strip() == "writing"
        assert not _free(lock_file)

        finished = threading.Event()

        def write_here() -> None:
            with engine.begin() as conn:
                conn.execute(text("INSERT INTO notes (body) VALUES ('from this process')"))
            finished.set()

        writer = threading.Thread(target=write_here)
        writer.start()
        assert not finished.wait(0.5)  # queued behind the other process's transaction
        holder.stdin.write("\n")
        holder.stdin.flush()
        assert finished.wait(20)
        writer.join()
        assert holder.stdout.readline().strip() == "done"
    finally:
        holder.stdin.close()
        holder.wait(timeout=20)
        holder.stdout.close()
    assert _free(lock_file)
    with engine.connect() as conn:
        bodies = conn.execute(text("SELECT body FROM notes ORDER BY id")).scalars().all()
    assert bodies == ["from the other process", "from this process"]
    engine.dispose()


def test_readers_do_not_take_the_lock(tmp_path: Path) -> None:
    database = tmp_path / "hanoinet.db"
    engine = make_engine(f"sqlite:///{database}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)"))
        conn.execute(text("DELETE FROM notes"))  # a write: the lock file exists from the first one
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM notes")).scalar_one() == 0
        assert _free(Path(f"{database}-writer"))
        conn.execute(text("INSERT INTO notes (body) VALUES ('a write')"))
        assert not _free(Path(f"{database}-writer"))
        conn.commit()
    assert _free(Path(f"{database}-writer"))
    engine.dispose()


def test_disposing_the_engine_closes_the_lock_file_and_a_later_write_opens_it_again(tmp_path: Path) -> None:
    database = tmp_path / "hanoinet.db"
    engine = make_engine(f"sqlite:///{database}")

    def open_lock_files() -> int:
        return sum(1 for fd in Path("/proc/self/fd").iterdir() if _target(fd) == f"{database}-writer")

    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)"))
        conn.execute(text("INSERT INTO notes (body) VALUES ('first')"))
    assert open_lock_files() == 1
    engine.dispose()
    assert open_lock_files() == 0
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO notes (body) VALUES ('after dispose')"))
        assert not _free(Path(f"{database}-writer"))
    assert open_lock_files() == 1
    assert _free(Path(f"{database}-writer"))
    engine.dispose()
    assert open_lock_files() == 0


def _target(fd: Path) -> str:
    try:
        return str(fd.readlink())
    except OSError:  # closed meanwhile
        return ""
