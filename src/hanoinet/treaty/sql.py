"""The SQL repository of deposit events."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from hanoinet.treaty.domain import DepositAction, DepositEvent
from hanoinet.treaty.orm import DepositEventRow


class SqlDepositRepository:
    """Treaty deposit events in ``deposit_events``."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def list(self, instrument: str | None = None) -> Sequence[DepositEvent]:
        stmt = select(DepositEventRow).order_by(DepositEventRow.on, DepositEventRow.id)
        if instrument is not None:
            stmt = stmt.where(DepositEventRow.instrument == instrument)
        return [
            DepositEvent(instrument=r.instrument, party=r.party, action=DepositAction(r.action), on=r.on)
            for r in self.session.scalars(stmt)
        ]

    def add_all(self, events: Iterable[DepositEvent], recorded_at: datetime) -> None:
        rows = [
            {
                "instrument": e.instrument,
                "party": e.party,
                "action": e.action.value,
                "on": e.on,
                "recorded_at": recorded_at,
            }
            for e in events
        ]
        if rows:
            self.session.execute(insert(DepositEventRow), rows)
