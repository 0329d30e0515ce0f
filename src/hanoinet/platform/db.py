"""Database engines and column types shared by SQLite and PostgreSQL."""

from __future__ import annotations

import os
import threading
import weakref
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import CursorResult, DateTime, Engine, Result, create_engine, event
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

try:
    import fcntl
except ImportError:  # not POSIX: writers of other processes meet SQLite's busy timeout instead
    fcntl = None  # type: ignore[assignment]


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend: SQLite has no time zones, so we store UTC and say so."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are refused: hanoinet stores UTC only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL for concurrent readers, FULL sync so a committed action survives a power cut, FKs enforced."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


_WRITES = ("insert", "update", "delete", "replace")


class _WriterGate:
    """One writing transaction at a time on a SQLite database, across the threads and the processes of a node.

    SQLite has one writer at a time anyway; but a writer that finds the database locked polls SQLite's lock with
    sleeps that grow to 100 ms, which is where a node's slowest answers came from. So writers queue here instead:
    threads of this process on a lock, and the processes that share the database (the server, its delivery worker,
    the command line) on an advisory ``flock`` of a file beside it (``<database>-writer``), which the kernel hands
    to the next waiter the moment it is released. Re-entrant within a thread; where ``flock`` is unavailable (not
    POSIX, or an in-memory database) only the threads of this process are queued, and SQLite's busy timeout does
    the rest.
    """

    def __init__(self, path: str | None) -> None:
        self._lock = threading.RLock()
        self._depth = 0
        self._path = path
        self._fd = -1
        self._pid = 0
        self._closer: weakref.finalize[[int], _WriterGate] | None = None

    def _file(self) -> int:
        if self._pid != os.getpid():  # a forked child must not share the parent's open file (and so its lock)
            self._fd = os.open(self._path or "", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._pid = os.getpid()
            self._closer = weakref.finalize(self, os.close, self._fd)  # closed with the engine, at the latest
        return self._fd

    def close(self) -> None:
        """Close the lock file (the engine is disposed); the next write opens it again."""
        with self._lock:
            if self._depth == 0 and self._closer is not None and self._pid == os.getpid():
                self._closer()
                self._closer, self._fd, self._pid = None, -1, 0

    def acquire(self) -> None:
        self._lock.acquire()
        self._depth += 1
        if self._depth == 1 and self._path is not None and fcntl is not None:
            try:
                fcntl.flock(self._file(), fcntl.LOCK_EX)
            except BaseException:
                self._depth -= 1
                self._lock.release()
                raise

    def release(self) -> None:
        try:
            if self._depth == 1 and self._path is not None and fcntl is not None and self._pid == os.getpid():
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._depth -= 1
            self._lock.release()


def _gate_writers(engine: Engine) -> None:
    """Queue writing transactions on a ``_WriterGate`` rather than on SQLite's busy handler: the gate is taken at a
    transaction's first write and given back when its connection returns to the pool (after commit or rollback)."""
    database = engine.url.database
    on_disk = bool(database) and database != ":memory:" and not str(database).startswith("file:")
    gate = _WriterGate(str(database) + "-writer" if on_disk else None)

    def before_execute(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if not conn.info.get("hanoinet_writer") and statement.lstrip()[:7].lower().startswith(_WRITES):
            gate.acquire()
            conn.info["hanoinet_writer"] = True

    def done(_dbapi_connection: Any, record: Any, *_: Any) -> None:
        if record.info.pop("hanoinet_writer", False):
            gate.release()

    event.listen(engine, "before_cursor_execute", before_execute)
    event.listen(engine, "checkin", done)
    event.listen(engine, "engine_disposed", lambda _engine: gate.close())
    event.listen(engine, "invalidate", done)  # a broken connection gives the lock back too


def make_engine(url: str) -> Engine:
    """Create the engine for a URL, with SQLite set up for durability and concurrent readers."""
    if url.startswith("sqlite"):
        # Connections kept open for every thread that may use one at once (the server's thread pool): a connection
        # opened and closed per call, past a smaller pool, costs its setup (WAL, pragmas) on the busiest path.
        engine = create_engine(url, connect_args={"check_same_thread": False}, pool_size=20, max_overflow=20)
        event.listen(engine, "connect", _sqlite_pragmas)
        _gate_writers(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


def affected(result: Result[Any]) -> int:
    """Rows an UPDATE or DELETE touched: ``Session.execute`` is typed as returning Result, it is a CursorResult."""
    if not isinstance(result, CursorResult):
        raise TypeError("not the result of an UPDATE or DELETE")
    return result.rowcount
