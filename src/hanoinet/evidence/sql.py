"""SQL repositories for the evidence vault: items, the custody ledger and its checkpoints, API tokens."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime

from sqlalchemy import and_, insert, select, update
from sqlalchemy.orm import Session

from hanoinet.evidence.domain import (
    GENESIS,
    Checkpoint,
    CustodyEvent,
    EvidenceItem,
    HandlingConditions,
    ItemDescription,
    VerifiedMark,
)
from hanoinet.evidence.orm import (
    CustodyEventRow,
    EvidenceItemRow,
    LedgerCheckpointRow,
    LedgerHeadRow,
    LedgerVerifiedRow,
)
from hanoinet.platform.db import affected
from hanoinet.platform.errors import Conflict
from hanoinet.platform.sqlrows import from_row, to_row


def _item(row: EvidenceItemRow) -> EvidenceItem:
    conditions = HandlingConditions.from_dict(row.conditions)
    return from_row(
        EvidenceItem,
        row,
        hashes=dict(row.hashes),
        described=from_row(ItemDescription, row),
        conditions=conditions,
        stored_retention_until="same" if row.retention_until == conditions.retention_until else row.retention_until,
    )


def _event(row: CustodyEventRow) -> CustodyEvent:
    return from_row(CustodyEvent, row, details=dict(row.details))


class SqlEvidenceRepository:
    """Evidence items in ``evidence_items``."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, item: EvidenceItem) -> None:
        values = to_row(
            item,
            omit=("described", "stored_retention_until"),  # the description's fields are columns of their own
            conditions=item.conditions.as_dict(),
            retention_until=item.conditions.retention_until,
        )
        self.session.execute(insert(EvidenceItemRow).values(**values, **to_row(item.described)))

    def get(self, item_id: str) -> EvidenceItem | None:
        row = self.session.get(EvidenceItemRow, item_id)
        return _item(row) if row else None

    def by_exhibit(self, case_id: str, exhibit: str) -> EvidenceItem | None:
        stmt = select(EvidenceItemRow).where(EvidenceItemRow.case_id == case_id, EvidenceItemRow.exhibit == exhibit)
        row = self.session.scalars(stmt).first()
        return _item(row) if row else None

    def list(self, *, case_id: str | None = None, limit: int = 100, offset: int = 0) -> Sequence[EvidenceItem]:
        stmt = select(EvidenceItemRow).order_by(EvidenceItemRow.created_at.desc(), EvidenceItemRow.id)
        if case_id is not None:
            stmt = stmt.where(EvidenceItemRow.case_id == case_id)
        return [_item(r) for r in self.session.scalars(stmt.limit(limit).offset(offset))]

    def all(self) -> Iterator[EvidenceItem]:
        for row in self.session.scalars(select(EvidenceItemRow).order_by(EvidenceItemRow.created_at)):
            yield _item(row)

    def live_with_content(self, sha256: str) -> int:
        """Count items not disposed of that share this content (it is stored once)."""
        stmt = select(EvidenceItemRow.id).where(EvidenceItemRow.sha256 == sha256, EvidenceItemRow.disposed_at.is_(None))
        return len(self.session.scalars(stmt).all())

    def expired(self, today: date) -> Sequence[EvidenceItem]:
        """Items whose retention ended before ``today`` and that are not disposed of yet."""
        stmt = select(EvidenceItemRow).where(
            and_(EvidenceItemRow.retention_until < today, EvidenceItemRow.disposed_at.is_(None))
        )
        return [_item(r) for r in self.session.scalars(stmt)]

    def mark_disposed(self, item_id: str, at: datetime) -> None:
        self.session.execute(update(EvidenceItemRow).where(EvidenceItemRow.id == item_id).values(disposed_at=at))


class SqlLedger:
    """The custody ledger: one hash chain per node, appended under a lock on its head row."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def lock_head(self) -> tuple[int, str]:
        """Take the ledger's write lock and return the sequence number and hash of its head.

        The UPDATE comes first on purpose: on SQLite it takes the database's write lock before anything is read,
        on PostgreSQL it locks the head row, so two writers never build on the same head.
        """
        self.session.execute(update(LedgerHeadRow).where(LedgerHeadRow.id == 1).values(seq=LedgerHeadRow.seq))
        head = self.session.get(LedgerHeadRow, 1, populate_existing=True)
        if head is None:
            raise Conflict("the ledger has no head row: the database was not migrated by hanoinet")
        return head.seq, head.hash

    def append(self, event: CustodyEvent) -> None:
        result = self.session.execute(
            update(LedgerHeadRow)
            .where(LedgerHeadRow.id == 1, LedgerHeadRow.seq == event.seq - 1)
            .values(seq=event.seq, hash=event.hash)
            .execution_options(synchronize_session=False)
        )
        if affected(result) != 1:
            raise Conflict("the custody ledger moved on under this transaction; retry")
        self.session.execute(insert(CustodyEventRow).values(**to_row(event)))

    def history(self, item_id: str) -> Sequence[CustodyEvent]:
        stmt = select(CustodyEventRow).where(CustodyEventRow.item_id == item_id).order_by(CustodyEventRow.seq)
        return [_event(r) for r in self.session.scalars(stmt)]

    def events(self) -> Sequence[CustodyEvent]:
        return [_event(r) for r in self.session.scalars(select(CustodyEventRow).order_by(CustodyEventRow.seq))]

    def head_row(self) -> tuple[int, str]:
        head = self.session.get(LedgerHeadRow, 1)
        return (head.seq, head.hash) if head else (0, "")

    def add_checkpoint(self, checkpoint: Checkpoint) -> None:
        self.session.execute(insert(LedgerCheckpointRow).values(**to_row(checkpoint)))

    def checkpoints(self) -> Sequence[Checkpoint]:
        stmt = select(LedgerCheckpointRow).order_by(LedgerCheckpointRow.seq)
        return [from_row(Checkpoint, r) for r in self.session.scalars(stmt)]

    def events_after(self, seq: int) -> Sequence[CustodyEvent]:
        stmt = select(CustodyEventRow).where(CustodyEventRow.seq > seq).order_by(CustodyEventRow.seq)
        return [_event(r) for r in self.session.scalars(stmt)]

    def event(self, seq: int) -> CustodyEvent | None:
        row = self.session.get(CustodyEventRow, seq)
        return _event(row) if row else None

    def checkpoints_after(self, seq: int) -> Sequence[Checkpoint]:
        stmt = select(LedgerCheckpointRow).where(LedgerCheckpointRow.seq > seq).order_by(LedgerCheckpointRow.seq)
        return [from_row(Checkpoint, r) for r in self.session.scalars(stmt)]

    def checkpoints_of(self, seqs: Iterable[int]) -> Sequence[Checkpoint]:
        wanted = sorted(set(seqs))
        found: list[Checkpoint] = []
        for start in range(0, len(wanted), 500):  # bounded IN lists on every backend
            stmt = select(LedgerCheckpointRow).where(LedgerCheckpointRow.seq.in_(wanted[start : start + 500]))
            found += [from_row(Checkpoint, r) for r in self.session.scalars(stmt)]
        return sorted(found, key=lambda cp: cp.seq)

    def verified(self) -> VerifiedMark:
        row = self.session.get(LedgerVerifiedRow, 1)
        return from_row(VerifiedMark, row) if row else VerifiedMark(0, GENESIS)

    def mark_verified(self, mark: VerifiedMark) -> None:
        values = {**to_row(mark)}
        result = self.session.execute(
            update(LedgerVerifiedRow)
            .where(LedgerVerifiedRow.id == 1, LedgerVerifiedRow.seq <= mark.seq)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if affected(result) == 0 and self.session.get(LedgerVerifiedRow, 1) is None:
            self.session.execute(insert(LedgerVerifiedRow).values(id=1, **values))
