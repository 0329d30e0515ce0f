"""The table of deposit events (signatures, ratifications, withdrawals) the treaty's status is derived from."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Date,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from hanoinet.platform.db import UTCDateTime
from hanoinet.platform.orm import Base


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


class DeclarationRowModel(Base):
    """A State's declaration under an instrument (its acceptable languages), as imported from a file.

    Every declaration is kept; the one in force for a State and an instrument is the latest made
    (``treaty.declarations.in_force``), so a replaced declaration can still be read with who recorded it."""

    __tablename__ = "declarations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    instrument: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(8), index=True)
    made_on: Mapped[date] = mapped_column(Date)
    languages: Mapped[list[str]] = mapped_column(JSON)
    reservations: Mapped[list[str]] = mapped_column(JSON, default=list)
    reference: Mapped[str] = mapped_column(String(200), default="")
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    recorded_by: Mapped[str] = mapped_column(String(128))

    __table_args__ = (UniqueConstraint("instrument", "state", "made_on", name="uq_declarations_made"),)
