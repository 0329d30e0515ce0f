"""The tables of the evidence vault: items, the custody ledger, its signed checkpoints and its head."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from hanoinet.platform.db import UTCDateTime
from hanoinet.platform.orm import Base
from hanoinet.platform.sqlrows import ChainHeadColumns, sequence_number


class EvidenceItemRow(Base):
    """An exhibit's description, content hashes and handling conditions; the content itself is in the vault.

    Write-once except ``disposed_at``; every field that must never change is committed to by the acquisition
    event's metadata digest, so an edited row is detected by ``hanoinet evidence verify``.
    """

    __tablename__ = "evidence_items"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    exhibit: Mapped[str] = mapped_column(String(128))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    hashes: Mapped[dict[str, Any]] = mapped_column(JSON)
    source: Mapped[str] = mapped_column(Text)
    acquisition_method: Mapped[str] = mapped_column(Text)
    acquisition_tool: Mapped[str] = mapped_column(Text)
    acquired_by: Mapped[str] = mapped_column(String(256))
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime())
    description: Mapped[str] = mapped_column(Text)
    file_name: Mapped[str] = mapped_column(String(512))
    conditions: Mapped[dict[str, Any]] = mapped_column(JSON)
    retention_until: Mapped[date | None] = mapped_column(Date, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    disposed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (UniqueConstraint("case_id", "exhibit", name="uq_evidence_items_case_exhibit"),)


class CustodyEventRow(Base):
    """One entry of the node's hash-chained custody ledger; append-only."""

    __tablename__ = "custody_events"

    seq: Mapped[int] = mapped_column(sequence_number(), primary_key=True, autoincrement=False)
    item_id: Mapped[str] = mapped_column(ForeignKey("evidence_items.id"), index=True)
    action: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(256))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    reason: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class LedgerCheckpointRow(Base):
    """The node's Ed25519 signature over the ledger head at ``seq``."""

    __tablename__ = "ledger_checkpoints"

    seq: Mapped[int] = mapped_column(sequence_number(), primary_key=True, autoincrement=False)
    head_hash: Mapped[str] = mapped_column(String(64))
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    signature: Mapped[bytes] = mapped_column(LargeBinary)


class LedgerHeadRow(ChainHeadColumns, Base):
    """A single row locked by every append, so that the chain has one writer at a time on every backend."""

    __tablename__ = "ledger_head"


class LedgerVerifiedRow(Base):
    """How far the ledger was last found whole (event ``seq`` with ``head_hash``), signed by the node: a normal verify
    checks the chain from here on, so its cost follows what was appended since, not the whole ledger. Only moves
    forward; an unsigned or altered mark makes the next verify a full one."""

    __tablename__ = "ledger_verified"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(sequence_number())
    head_hash: Mapped[str] = mapped_column(String(64))
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    signature: Mapped[bytes] = mapped_column(LargeBinary)
