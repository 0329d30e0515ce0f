"""The tables of property: the assets of a case and the measures States took on them.

Amounts are kept as decimal text, exactly as validated: SQLite has no exact decimal type (its NUMERIC is a float
past 15 digits), and the sums are made in Python with ``Decimal`` on every backend.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hanoinet.platform.db import UTCDateTime
from hanoinet.platform.orm import Base


class AssetRow(Base):
    """A piece of property recorded in a case."""

    __tablename__ = "assets"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(Text)
    location_state: Mapped[str] = mapped_column(String(8))
    location: Mapped[str] = mapped_column(String(500))
    holder: Mapped[str] = mapped_column(String(500))
    estimated_value: Mapped[str | None] = mapped_column(String(64))
    currency: Mapped[str] = mapped_column(String(10))
    address: Mapped[str] = mapped_column(String(500))
    network: Mapped[str] = mapped_column(String(500))
    request_ids: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(128))


class MeasureRow(Base):
    """One measure on an asset; ``seq`` numbers them per asset, so that two writers racing to add the same next
    measure collide on the key instead of both passing the amount checks."""

    __tablename__ = "asset_measures"
    __table_args__ = (UniqueConstraint("asset_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    asset_id: Mapped[str] = mapped_column(ForeignKey("assets.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(32))
    taken_on: Mapped[date] = mapped_column(Date, index=True)
    state: Mapped[str] = mapped_column(String(8))
    amount: Mapped[str | None] = mapped_column(String(64))
    order_reference: Mapped[str] = mapped_column(String(500))
    order_authority: Mapped[str] = mapped_column(String(500))
    order_document: Mapped[str | None] = mapped_column(String(36))
    request_id: Mapped[str | None] = mapped_column(String(36))
    recipient: Mapped[str | None] = mapped_column(String(32))
    recipient_name: Mapped[str] = mapped_column(String(500))
    note: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    recorded_by: Mapped[str] = mapped_column(String(128))
