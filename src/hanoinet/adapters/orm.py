"""SQLAlchemy 2 typed table models. The domain never sees these: repositories map rows to domain objects.

Alembic migrations are written from these models and reviewed; ``hanoinet db upgrade`` applies them.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from hanoinet.adapters.db import UTCDateTime

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


class CaseRow(Base):
    """A case: the investigation or proceeding requests are made for."""

    __tablename__ = "cases"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    reference: Mapped[str] = mapped_column(String(64), unique=True)
    offence: Mapped[str] = mapped_column(String(64))
    max_penalty_years: Mapped[int | None] = mapped_column(Integer)
    summary: Mapped[str] = mapped_column(Text)
    legal_qualification: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class RequestRow(Base):
    """A request's current state and contents; its history is in ``request_events``.

    ``next_due_at``/``next_clock`` are a projection of the clocks derived from the events, rewritten in the same
    transaction as every change so that inbox queries ("due within 24 h", "overdue") can use an index.
    """

    __tablename__ = "requests"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    instrument: Mapped[str] = mapped_column(String(32))
    type: Mapped[str] = mapped_column(String(48))
    direction: Mapped[str] = mapped_column(String(16))
    requesting_state: Mapped[str] = mapped_column(String(8))
    requested_state: Mapped[str] = mapped_column(String(8))
    counterpart_state: Mapped[str] = mapped_column(String(8))
    items: Mapped[dict[str, Any]] = mapped_column(JSON)
    emergency: Mapped[bool] = mapped_column(Boolean, default=False)
    deadline: Mapped[datetime | None] = mapped_column(UTCDateTime())
    follows_up: Mapped[str | None] = mapped_column(ForeignKey("requests.id"), index=True)
    state: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(Integer)
    next_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    next_clock: Mapped[str | None] = mapped_column(String(32))

    __table_args__ = (
        Index("ix_requests_next_due_at", "next_due_at"),
        Index("ix_requests_counterpart_type_due", "counterpart_state", "type", "next_due_at"),
        Index("ix_requests_type_due", "type", "next_due_at"),
        Index("ix_requests_state_due", "state", "next_due_at"),
        Index("ix_requests_created_at", "created_at"),
    )


class RequestEventRow(Base):
    """One event of a request's history; append-only."""

    __tablename__ = "request_events"

    request_id: Mapped[str] = mapped_column(ForeignKey("requests.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(128))
    state_from: Mapped[str | None] = mapped_column(String(32))
    state_to: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class DepositEventRow(Base):
    """A treaty action deposited with the depositary (signature, ratification ... denunciation).

    Only the events are stored; entry into force and party status are always computed from them.
    """

    __tablename__ = "deposit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    instrument: Mapped[str] = mapped_column(String(32))
    party: Mapped[str] = mapped_column(String(8))
    action: Mapped[str] = mapped_column(String(16))
    on: Mapped[date] = mapped_column(Date)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (UniqueConstraint("instrument", "party", "action", "on", name="uq_deposit_events_event"),)
