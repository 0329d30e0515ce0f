"""Alembic migrations on both backends: they build the schema the models describe, and can be undone and redone."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect

from hanoinet import migrations as migrations_pkg
from hanoinet.platform import migrations
from hanoinet.platform.db import make_engine
from hanoinet.requests.domain import OPEN_STATES
from tests.conftest import new_postgres_database

MODEL_TABLES = set(migrations_pkg.model_metadata().tables)
CORE_TABLES = {"cases", "requests", "request_events", "deposit_events"}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine on a database that has never been migrated: a new SQLite file, or a PostgreSQL copy of template0."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'empty.db'}"
    else:
        server: str = request.getfixturevalue("postgres_server")
        url = new_postgres_database(server, "template0")
    eng = make_engine(url)
    yield eng
    eng.dispose()


def tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def schema_differences(engine: Engine) -> list[Any]:
    """What alembic autogenerate would change to make the database match the models (empty when they agree)."""
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True, "compare_server_default": True})
        return list(compare_metadata(context, migrations_pkg.model_metadata()))


def downgrade(engine: Engine, revision: str) -> None:
    config = migrations.alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def test_the_models_declare_the_request_and_treaty_tables() -> None:
    assert CORE_TABLES <= MODEL_TABLES


def test_an_empty_database_has_no_revision(empty_engine: Engine) -> None:
    assert migrations.current(empty_engine) is None
    assert tables(empty_engine) == set()


def test_upgrade_creates_every_table_and_reaches_head(empty_engine: Engine) -> None:
    migrations.upgrade(empty_engine)

    assert tables(empty_engine) == MODEL_TABLES | {"alembic_version"}
    assert migrations.head() is not None
    assert migrations.current(empty_engine) == migrations.head()


def test_upgrade_is_idempotent(empty_engine: Engine) -> None:
    migrations.upgrade(empty_engine)
    migrations.upgrade(empty_engine)

    assert migrations.current(empty_engine) == migrations.head()
    assert tables(empty_engine) == MODEL_TABLES | {"alembic_version"}
    assert schema_differences(empty_engine) == []


def test_downgrade_to_base_then_upgrade_again(empty_engine: Engine) -> None:
    migrations.upgrade(empty_engine)

    downgrade(empty_engine, "base")
    assert migrations.current(empty_engine) is None
    assert tables(empty_engine) - {"alembic_version"} == set()

    migrations.upgrade(empty_engine)
    assert migrations.current(empty_engine) == migrations.head()
    assert tables(empty_engine) == MODEL_TABLES | {"alembic_version"}
    assert schema_differences(empty_engine) == []


def test_migrated_schema_agrees_with_the_models(empty_engine: Engine) -> None:
    migrations.upgrade(empty_engine)

    assert schema_differences(empty_engine) == []


def test_an_unmigrated_database_differs_from_the_models(empty_engine: Engine) -> None:
    """The comparison used above does see differences: without the migration every table is missing."""
    missing = {diff[1].name for diff in schema_differences(empty_engine) if diff[0] == "add_table"}
    assert missing == MODEL_TABLES


def test_the_fixture_database_is_at_head_and_agrees_with_the_models(engine: Engine) -> None:
    assert migrations.current(engine) == migrations.head()
    assert schema_differences(engine) == []


def test_indexes_for_the_inbox_exist(engine: Engine) -> None:
    names = {ix["name"] for ix in inspect(engine).get_indexes("requests")}
    assert {
        "ix_requests_next_due_at",
        "ix_requests_counterpart_type_due",
        "ix_requests_type_due",
        "ix_requests_state_due",
        "ix_requests_created_at",
        "ix_requests_case_id",
        "ix_requests_follows_up",
    } <= names


def test_the_open_states_frozen_in_migration_0003_are_the_domains() -> None:
    """If the domain's open states change, existing rows' ``is_open`` needs a data migration: this test says so."""
    spec = importlib.util.spec_from_file_location(
        "m0003", Path(migrations_pkg.__file__).parent / "versions" / "0003_inbox_indexes.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert set(module.OPEN_STATES) == {s.value for s in OPEN_STATES}


def test_the_quick_answers_are_alembics(empty_engine: Engine) -> None:
    """``head`` and ``current`` read the files and the table themselves (no Alembic import on every start): they
    must say what Alembic says, at every revision."""
    from alembic.runtime.migration import MigrationContext  # noqa: PLC0415
    from alembic.script import ScriptDirectory  # noqa: PLC0415

    script = ScriptDirectory.from_config(migrations.alembic_config("sqlite://"))
    assert migrations.head() == script.get_current_head()
    for revision in reversed([r.revision for r in script.walk_revisions()]):
        migrations.upgrade(empty_engine, revision)
        with empty_engine.connect() as connection:
            assert migrations.current(empty_engine) == MigrationContext.configure(connection).get_current_revision()
    assert migrations.current(empty_engine) == migrations.head()
