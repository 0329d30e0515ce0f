"""Running Alembic migrations from hanoinet itself, so that no alembic.ini has to be found on disk."""

from __future__ import annotations

from importlib import resources

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine


def alembic_config(url: str) -> Config:
    """Return an Alembic configuration pointing at the migrations shipped inside the package."""
    config = Config()
    config.set_main_option("script_location", str(resources.files("hanoinet") / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database schema up to ``revision`` (the newest by default)."""
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def current(engine: Engine) -> str | None:
    """Return the schema revision the database is at, or None if it has none."""
    from alembic.runtime.migration import MigrationContext  # noqa: PLC0415 - only needed here

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head() -> str | None:
    """Return the newest revision shipped with this version of hanoinet."""
    from alembic.script import ScriptDirectory  # noqa: PLC0415 - only needed here

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
