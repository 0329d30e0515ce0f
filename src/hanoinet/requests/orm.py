"""The tables of requests: each request's current state and its events (the history clocks are derived from)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from hanoinet.platform.db import UTCDateTime
from hanoinet.platform.orm import Base


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
    is_open: Mapped[bool] = mapped_column(Boolean, server_default="0")
    """Derived from ``state`` on every write: "open only, newest first" then needs no planner statistics."""
    peer_node: Mapped[str | None] = mapped_column(String(64))
    """The node the request is exchanged with, if it travels over the network (None: handled by other means)."""
    language: Mapped[str | None] = mapped_column(String(16))
    """The language the items are written in (BCP 47); None where it was not recorded."""
    translations: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    confidential: Mapped[bool] = mapped_column(Boolean, server_default="0")
    means: Mapped[str | None] = mapped_column(String(16))
    """How the request went to the requested State: network, email, diplomatic, interpol, courier, telephone."""

    __table_args__ = (
        Index("ix_requests_next_due_at", "next_due_at"),
        Index("ix_requests_open_created", "is_open", "created_at"),
        Index("ix_requests_counterpart_type_created", "counterpart_state", "type", "created_at"),
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
