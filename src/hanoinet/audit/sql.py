"""The SQL audit log: entries chained under a locked head row, in the caller's transaction."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Row, bindparam, insert, select, update
from sqlalchemy.orm import Session

from hanoinet.audit.domain import AuditEntry
from hanoinet.audit.orm import AuditEntryRow, AuditHeadRow
from hanoinet.audit.ports import AuditQuery
from hanoinet.platform.db import affected
from hanoinet.platform.errors import Conflict
from hanoinet.platform.orm import Base
from hanoinet.platform.ports import MAX_ROWS
from hanoinet.platform.sqlrows import from_row, to_row

_AUDIT = Base.metadata.tables[AuditEntryRow.__tablename__]
_HEAD = Base.metadata.tables[AuditHeadRow.__tablename__]
_LOCK_HEAD = update(_HEAD).where(_HEAD.c.id == 1).values(seq=_HEAD.c.seq).returning(_HEAD.c.seq, _HEAD.c.hash)
_MOVE_HEAD = (
    update(_HEAD)
    .where(_HEAD.c.id == 1, _HEAD.c.seq == bindparam("old_seq"))
    .values(seq=bindparam("new_seq"), hash=bindparam("new_hash"))
)
_INSERT_ENTRY = insert(_AUDIT)


def _entry(row: AuditEntryRow | Row[Any]) -> AuditEntry:
    return from_row(AuditEntry, row, roles=tuple(row.roles), details=dict(row.details), signature=bytes(row.signature))


class SqlAuditLog:
    """The audit log: one hash chain, appended under a lock on its head row (like the custody ledger)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def lock_head(self) -> tuple[int, str]:
        # One UPDATE ... RETURNING: on SQLite it takes the write lock before anything is read, on PostgreSQL it
        # locks the row, so two writers never chain onto the same head; and it reads the head in the same statement.
        row = self.session.execute(_LOCK_HEAD).first()
        if row is None:
            raise Conflict("the audit log has no head row: the database was not migrated by hanoinet")
        return int(row.seq), str(row.hash)

    def append(self, entry: AuditEntry) -> None:
        # Statements built once, values as parameters: an append is on the path of every audited call.
        moved = self.session.execute(
            _MOVE_HEAD, {"old_seq": entry.seq - 1, "new_seq": entry.seq, "new_hash": entry.hash}
        )
        if affected(moved) != 1:
            raise Conflict("the audit log moved on under this transaction; retry")
        self.session.execute(
            _INSERT_ENTRY,
            to_row(entry, roles=list(entry.roles)),
        )

    def entries(self, query: AuditQuery) -> Sequence[AuditEntry]:
        stmt = select(_AUDIT)
        for column, value in (
            (_AUDIT.c.actor, query.actor),
            (_AUDIT.c.action, query.action),
            (_AUDIT.c.subject, query.subject),
            (_AUDIT.c.object_id, query.object_id),
            (_AUDIT.c.outcome, query.outcome.value if query.outcome else None),
            (_AUDIT.c.channel, query.channel.value if query.channel else None),
        ):
            if value is not None:
                stmt = stmt.where(column == value)
        if query.since is not None:
            stmt = stmt.where(_AUDIT.c.at >= query.since)
        if query.until is not None:
            stmt = stmt.where(_AUDIT.c.at < query.until)
        if query.after_seq is not None:
            stmt = stmt.where(_AUDIT.c.seq > query.after_seq)
        if query.before_seq is not None:
            stmt = stmt.where(_AUDIT.c.seq < query.before_seq)
        order = _AUDIT.c.seq.asc() if query.oldest_first else _AUDIT.c.seq.desc()
        stmt = stmt.order_by(order).limit(min(query.limit, MAX_ROWS)).offset(query.offset)
        return [_entry(r) for r in self.session.execute(stmt)]

    def all(self) -> Iterator[AuditEntry]:
        for row in self.session.execute(select(_AUDIT).order_by(_AUDIT.c.seq).execution_options(yield_per=1000)):
            yield _entry(row)

    def head_row(self) -> tuple[int, str]:
        row = self.session.execute(select(AuditHeadRow.seq, AuditHeadRow.hash).where(AuditHeadRow.id == 1)).first()
        return (int(row.seq), str(row.hash)) if row else (0, "")
