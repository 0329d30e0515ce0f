"""Database engines and column types shared by SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import CursorResult, DateTime, Engine, Result, create_engine, event
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


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


def _gate_writers(engine: Engine) -> None:
    """One writing transaction at a time in this process, queued on a lock rather than on SQLite's busy handler.

    SQLite has one writer at a time anyway; when two threads of a node (an API call and the delivery worker, say)
    both write, the loser would poll SQLite's lock with sleeps that grow to tens of milliseconds. Here it waits on a
    lock instead and starts the moment the other transaction ends: the lock is taken at a transaction's first
    write and given back when its connection returns to the pool (after commit or rollback). Other processes (the
    command line) still meet SQLite's own lock and busy timeout.
    """
    lock = threading.RLock()

    def before_execute(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if not conn.info.get("hanoinet_writer") and statement.lstrip()[:7].lower().startswith(_WRITES):
            lock.acquire()
            conn.info["hanoinet_writer"] = True

    def done(_dbapi_connection: Any, record: Any, *_: Any) -> None:
        if record.info.pop("hanoinet_writer", False):
            lock.release()

    event.listen(engine, "before_cursor_execute", before_execute)
    event.listen(engine, "checkin", done)
    event.listen(engine, "invalidate", done)  # a broken connection gives the lock back too


def make_engine(url: str) -> Engine:
    """Create the engine for a URL, with SQLite set up for durability and concurrent readers."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        _gate_writers(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


def affected(result: Result[Any]) -> int:
    """Rows an UPDATE or DELETE touched: ``Session.execute`` is typed as returning Result, it is a CursorResult."""
    if not isinstance(result, CursorResult):
        raise TypeError("not the result of an UPDATE or DELETE")
    return result.rowcount
