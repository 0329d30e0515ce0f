"""The SQL repository of cases."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, bindparam, insert, select
from sqlalchemy.orm import Session

from hanoinet.cases.domain import Case
from hanoinet.cases.orm import CaseRow
from hanoinet.platform.orm import Base
from hanoinet.platform.sqlrows import from_row, to_row


class SqlCaseRepository:
    """Cases in the ``cases`` table."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, case: Case) -> None:
        self.session.execute(
            _INSERT_CASE,
            to_row(case),
        )

    def get(self, case_id: str) -> Case | None:
        row = self.session.execute(_SELECT_CASE, {"id": case_id}).first()
        return _case(row) if row else None

    def by_reference(self, reference: str) -> Case | None:
        row = self.session.scalars(select(CaseRow).where(CaseRow.reference == reference)).first()
        return _case(row) if row else None

    def list(self, *, limit: int, offset: int) -> Sequence[Case]:
        stmt = select(CaseRow).order_by(CaseRow.created_at.desc(), CaseRow.id).limit(limit).offset(offset)
        return [_case(r) for r in self.session.scalars(stmt)]


# Statements built once: with parameters passed at execution, SQLAlchemy reuses their compiled form (a user's
# action is one durable transaction, and its Python cost is measured in bench/requests.py).
_CASES = Base.metadata.tables[CaseRow.__tablename__]
_INSERT_CASE = insert(_CASES)
_SELECT_CASE = select(_CASES).where(_CASES.c.id == bindparam("id"))


def _case(row: CaseRow | Row[Any]) -> Case:
    return from_row(Case, row)
