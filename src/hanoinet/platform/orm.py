"""SQLAlchemy 2 typed table models. The domain never sees these: repositories map rows to domain objects.

Alembic migrations are written from these models and reviewed; ``hanoinet db upgrade`` applies them.
"""

from __future__ import annotations

from sqlalchemy import (
    MetaData,
)
from sqlalchemy.orm import DeclarativeBase

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with stable constraint names, so migrations are the same on SQLite and PostgreSQL."""

    metadata = MetaData(naming_convention=NAMING)
