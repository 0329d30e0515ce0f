"""``hanoinet db``: the database schema (apply the migrations, print the revision)."""

from __future__ import annotations

from typing import Annotated

import typer

from hanoinet.app import bootstrap as boot
from hanoinet.platform import migrations
from hanoinet.platform.cli import out, settings

db_app = typer.Typer(help="The database schema.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Apply the database migrations."""
    s = settings()
    if s.database_url is None:
        boot.prepare_data_dir(s)
    from hanoinet.platform.db import make_engine  # noqa: PLC0415 - no engine needed elsewhere in the CLI

    engine = make_engine(s.effective_database_url)
    migrations.upgrade(engine, revision)
    out.print(f"database schema at {migrations.current(engine)}")


@db_app.command("current")
def db_current() -> None:
    """Print the database schema revision."""
    from hanoinet.platform.db import make_engine  # noqa: PLC0415 - no engine needed elsewhere in the CLI

    out.print(str(migrations.current(make_engine(settings().effective_database_url))))
