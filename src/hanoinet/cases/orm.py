"""The table of cases: the investigations that requests are made for."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from hanoinet.platform.db import UTCDateTime
from hanoinet.platform.orm import Base


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
