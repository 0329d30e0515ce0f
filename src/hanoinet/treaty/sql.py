"""The SQL repositories of deposit events and declarations."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from hanoinet.treaty.declarations import Declaration
from hanoinet.treaty.domain import DepositAction, DepositEvent
from hanoinet.treaty.orm import DeclarationRowModel, DepositEventRow


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


class SqlDeclarationRepository:
    """States' declarations in ``declarations``."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def list(self, state: str | None = None) -> Sequence[Declaration]:
        stmt = select(DeclarationRowModel).order_by(DeclarationRowModel.made_on, DeclarationRowModel.id)
        if state is not None:
            stmt = stmt.where(DeclarationRowModel.state == state)
        return [
            Declaration(r.instrument, r.state, r.made_on, tuple(r.languages), r.reference, tuple(r.reservations))
            for r in self.session.scalars(stmt)
        ]

    def add_all(self, declarations: Iterable[Declaration], recorded_at: datetime, recorded_by: str) -> None:
        rows = [
            {
                "instrument": d.instrument,
                "state": d.state,
                "made_on": d.made_on,
                "languages": list(d.languages),
                "reservations": list(d.reservations),
                "reference": d.reference,
                "recorded_at": recorded_at,
                "recorded_by": recorded_by,
            }
            for d in declarations
        ]
        if rows:
            self.session.execute(insert(DeclarationRowModel), rows)
