"""Wiring: settings in, a ready ``Node`` out. The one place that chooses real adapters."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from hanoinet.adapters import migrations
from hanoinet.adapters.countries import load_catalog
from hanoinet.adapters.db import make_engine
from hanoinet.adapters.rulepacks import builtin_pack_paths, load_packs
from hanoinet.adapters.unit_of_work import SqlUnitOfWork
from hanoinet.config import Settings
from hanoinet.services.node import Node
from hanoinet.services.ports import UnitOfWork


class SystemClock:
    """The real time, in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class SchemaBehind(RuntimeError):  # noqa: N818 - names the condition the operator must fix
    """The database exists but its schema is older than this version of hanoinet."""


def pack_paths(settings: Settings) -> list[Path]:
    """Return the shipped packs, then any pack files an operator placed in ``DATA_DIR/packs`` (later ones win)."""
    local = settings.data_dir / "packs"
    extra = sorted(local.glob("*.yaml")) if local.is_dir() else []
    return [*builtin_pack_paths(), *extra]


def prepare_data_dir(settings: Settings) -> None:
    """Create the data directory, readable by the node's user only: it will hold evidence and keys."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings.data_dir.chmod(0o700)


def open_database(settings: Settings, *, initialise: bool = True) -> Engine:
    """Open the database; create its schema if it has none; refuse to run on an outdated schema."""
    if settings.database_url is None:
        prepare_data_dir(settings)
    engine = make_engine(settings.effective_database_url)
    head = migrations.head()
    revision = migrations.current(engine)
    if revision is None and initialise:
        migrations.upgrade(engine)
    elif revision != head:
        engine.dispose()
        raise SchemaBehind(
            f"the database schema is at {revision}, this hanoinet needs {head}: run 'hanoinet db upgrade'"
        )
    return engine


def bootstrap(settings: Settings | None = None, *, engine: Engine | None = None) -> Node:
    """Build a node from settings: packs validated, database ready, real clock."""
    settings = settings or Settings()
    packs = load_packs(pack_paths(settings))
    engine = engine or open_database(settings)
    factory = sessionmaker(bind=engine, expire_on_commit=False)

    def uow() -> UnitOfWork:
        return SqlUnitOfWork(factory)

    return Node(uow=uow, packs=packs, catalog=load_catalog(), clock=SystemClock(), node_state=settings.node_state)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Return the session factory units of work are made from."""
    return sessionmaker(bind=engine, expire_on_commit=False)
