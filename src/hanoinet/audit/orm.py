"""The tables of the audit log: its append-only, hash-chained entries and the row holding the chain's head."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from hanoinet.platform.db import UTCDateTime
from hanoinet.platform.orm import Base
from hanoinet.platform.sqlrows import ChainHeadColumns, sequence_number


class AuditEntryRow(Base):
    """One entry of the audit log; append-only, hash-chained, signed by the node."""

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(sequence_number(), primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    actor: Mapped[str] = mapped_column(String(256), index=True)
    roles: Mapped[list[str]] = mapped_column(JSON)
    channel: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(64), index=True)
    subject: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(String(128), index=True)
    outcome: Mapped[str] = mapped_column(String(16))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    remote: Mapped[str] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    signature: Mapped[bytes] = mapped_column(LargeBinary)


class AuditHeadRow(ChainHeadColumns, Base):
    """A single row locked by every append, so that the audit chain has one writer at a time."""

    __tablename__ = "audit_head"
