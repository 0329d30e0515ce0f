"""Running Alembic migrations from hanoinet itself, so that no alembic.ini has to be found on disk.

Every command and every node process asks, before anything else, whether the database is at the newest revision.
Alembic answers by importing itself and every migration module (about half a second); the question itself is two
strings, so ``current`` reads the ``alembic_version`` table and ``head`` the revision lines of the shipped files,
and Alembic is imported only to upgrade (or when the history has branches, which only Alembic resolves).
"""

from __future__ import annotations

import re
from importlib import resources
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text

if TYPE_CHECKING:
    from alembic.config import Config

_REVISION = re.compile(r'^revision: str = "([^"]+)"$', re.MULTILINE)
_DOWN_REVISION = re.compile(r'^down_revision: str \| None = (?:None|"([^"]+)")$', re.MULTILINE)


def alembic_config(url: str) -> Config:
    """Return an Alembic configuration pointing at the migrations shipped inside the package."""
    from alembic.config import Config  # noqa: PLC0415 - Alembic only when migrating

    config = Config()
    config.set_main_option("script_location", str(resources.files("hanoinet") / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database schema up to ``revision`` (the newest by default)."""
    from alembic import command  # noqa: PLC0415 - Alembic only when migrating

    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def current(engine: Engine) -> str | None:
    """Return the schema revision the database is at, or None if it has none (Alembic's own table, read)."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        rows = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    if len(rows) > 1:  # several heads stamped: only Alembic can say what that means
        from alembic.runtime.migration import MigrationContext  # noqa: PLC0415 - the rare case

        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    return str(rows[0]) if rows else None


def head() -> str | None:
    """Return the newest revision shipped with this version of hanoinet: the one no other revision follows."""
    revisions: set[str] = set()
    followed: set[str] = set()
    for script in (resources.files("hanoinet") / "migrations" / "versions").iterdir():
        if not script.name.endswith(".py"):
            continue
        source = script.read_text(encoding="utf-8")
        revision, down = _REVISION.search(source), _DOWN_REVISION.search(source)
        if revision is None or down is None:
            return _alembic_head()  # a script not written as ours are: ask Alembic
        revisions.add(revision.group(1))
        if down.group(1):
            followed.add(down.group(1))
    heads = revisions - followed
    return heads.pop() if len(heads) == 1 else _alembic_head()


def _alembic_head() -> str | None:
    from alembic.script import ScriptDirectory  # noqa: PLC0415 - only when the files do not say it plainly

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
