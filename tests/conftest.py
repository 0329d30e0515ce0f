"""Shared fixtures: real databases (SQLite files and a throwaway PostgreSQL cluster), nodes, fixed clocks."""

from __future__ import annotations

import importlib.util
import os
import tempfile
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import pytest
from sqlalchemy import Engine, create_engine, text

from hanoinet.platform import migrations
from hanoinet.platform.db import make_engine

ROOT = Path(__file__).resolve().parent.parent


def _pg_throwaway() -> ModuleType:
    spec = importlib.util.spec_from_file_location("pg_throwaway", ROOT / "scripts" / "pg_throwaway.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """URL of a PostgreSQL server: $HANOINET_TEST_POSTGRES_URL (as CI starts it), or a cluster started here."""
    given = os.environ.get("HANOINET_TEST_POSTGRES_URL")
    if given:
        yield given
        return
    pg = _pg_throwaway()
    # Not under pytest's own temporary directory: that one is private to root, and the server runs as postgres.
    directory = Path(tempfile.mkdtemp(prefix="hanoinet-pg-"))
    url: str = pg.start(directory)
    try:
        yield url
    finally:
        pg.stop(directory)


@pytest.fixture(scope="session")
def postgres_template(postgres_server: str) -> str:
    """Name of a PostgreSQL template database with the schema migrated once; each test copies it (fast)."""
    admin = create_engine(postgres_server, isolation_level="AUTOCOMMIT")
    name = f"hanoinet_template_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(postgres_server.rsplit("/", 1)[0] + f"/{name}")
    migrations.upgrade(engine)
    engine.dispose()
    admin.dispose()
    return name


def new_postgres_database(server: str, template: str) -> str:
    """Create a fresh database from the migrated template and return its URL."""
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    name = f"t_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    admin.dispose()
    return server.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, migrated database on each backend: a SQLite file, and a PostgreSQL database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'hanoinet.db'}"
        engine = make_engine(url)
        migrations.upgrade(engine)
        engine.dispose()
        return url
    server: str = request.getfixturevalue("postgres_server")
    template: str = request.getfixturevalue("postgres_template")
    return new_postgres_database(server, template)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on the fresh database, disposed after the test."""
    eng = make_engine(database_url)
    yield eng
    eng.dispose()


@pytest.fixture
def now() -> datetime:
    """A fixed instant, so that clocks in tests are exact."""
    return datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
