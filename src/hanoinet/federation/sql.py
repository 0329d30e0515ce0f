"""SQL storage of the federation, one repository per aggregate: the directory (peers, their keys, this node's own
entry), the outbox and inbound messages, receipts, replay protection, refusals, transfers and consents. Core
statements, batched: a delivery of hundreds of messages is a handful of statements and one commit on each side (see
``bench/federation.py``)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Row, Select, and_, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute, Session

from hanoinet.federation.domain import (
    ConsentRole,
    ConsentStatus,
    DirectoryEntry,
    EntryStatus,
    KeyStatus,
    KeyUse,
    MessageKind,
    MessageStatus,
    PublicKey,
    TransferItemState,
    TransferState,
    entry_from_document,
)
from hanoinet.federation.orm import (
    ConsentRow,
    InboundMessageRow,
    OutboxRow,
    OwnEntryRow,
    PeerKeyRow,
    PeerRow,
    ReceiptRow,
    RefusalCountRow,
    RejectionRow,
    SeenTransmissionRow,
    TransferItemRow,
    TransferRow,
)
from hanoinet.federation.ports import (
    ConsentRecord,
    DeliveryResult,
    IncomingMessage,
    MessageQuery,
    OutgoingMessage,
    OwnEntry,
    Peer,
    PeerDelivery,
    PeerKey,
    PendingChange,
    Receipt,
    RefusalCount,
    Rejection,
    TransferItemRecord,
    TransferRecord,
)
from hanoinet.platform.db import affected
from hanoinet.platform.direction import Direction
from hanoinet.platform.errors import Conflict
from hanoinet.platform.orm import Base
from hanoinet.platform.sqlrows import from_row, to_row

MAX_PAGE = 1000


_ENTRIES: dict[str, DirectoryEntry] = {}
"""Parsed entries by their document's text: reading a peer (several times a delivery round) does not re-check the
same document each time, and a changed document is a different key."""


def _entry(row: PeerRow | Row[Any]) -> DirectoryEntry:
    key = json.dumps(row.document, sort_keys=True)
    found = _ENTRIES.get(key)
    if found is None:
        if len(_ENTRIES) > 1000:
            _ENTRIES.clear()
        found = _ENTRIES[key] = entry_from_document(row.document)
    return found


def _peer(row: PeerRow | Row[Any]) -> Peer:
    pending = PendingChange.from_dict(row.pending_change) if row.pending_change else None
    return from_row(
        Peer, row, entry=_entry(row), signed=row.entry, delivery=from_row(PeerDelivery, row), pending=pending
    )


def _key(row: PeerKeyRow) -> PeerKey:
    return from_row(PeerKey, row, key=PublicKey(row.kid, dict(row.jwk)))


_LEARNT_LATER = ("first_sent_at", "delivered_at", "read_at", "receipt_id", "error", "seq")
"""What an outgoing message's row learns after it is staged (``seq`` is numbered by the database)."""

_PEERS = Base.metadata.tables[PeerRow.__tablename__]
_OUTBOX = Base.metadata.tables[OutboxRow.__tablename__]
_INBOUND = Base.metadata.tables[InboundMessageRow.__tablename__]


_Message = TypeVar("_Message", OutboxRow, InboundMessageRow)


def _message_page(
    table: type[_Message], query: MessageQuery, *order: ColumnElement[Any] | InstrumentedAttribute[Any]
) -> Select[_Message]:
    """The page of outgoing or incoming messages ``query`` asks for, in ``order``: both tables have the columns it
    filters on, and a listing is read fresh (rows changed by Core statements in this session)."""
    stmt = select(table)
    for column, value in (
        (table.peer, query.peer),
        (table.request_id, query.request_id),
        (table.kind, query.kind.value if query.kind is not None else None),
        (table.status, query.status.value if query.status is not None else None),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if query.unread:
        stmt = stmt.where(table.read_at.is_(None))
    stmt = stmt.order_by(*order).limit(min(query.limit, MAX_PAGE)).offset(query.offset)
    return stmt.execution_options(populate_existing=True)


class _InSession:
    """A repository over some of the federation's tables, inside one session (one transaction)."""

    def __init__(self, session: Session) -> None:
        self.session = session


class SqlPeerRepository(_InSession):
    """The ``federation_peers`` table: entries, trust, and each peer's delivery state and lease."""

    def get(self, node_id: str) -> Peer | None:
        row = self.session.execute(select(_PEERS).where(_PEERS.c.node_id == node_id)).first()
        return _peer(row) if row else None

    def status(self, node_id: str) -> EntryStatus | None:
        status = self.session.execute(select(_PEERS.c.status).where(_PEERS.c.node_id == node_id)).scalar()
        return EntryStatus(status) if status else None

    def list(self) -> Sequence[Peer]:
        rows = self.session.scalars(
            select(PeerRow).order_by(PeerRow.state, PeerRow.node_id).execution_options(populate_existing=True)
        )
        return [_peer(r) for r in rows]

    def save(self, entry: DirectoryEntry, signed: Mapping[str, Any], at: datetime) -> None:
        values = {
            "state": entry.state,
            "authority": entry.authority,
            "roles": [r.value for r in entry.roles],
            "endpoint": entry.endpoint,
            "serial": entry.serial,
            "document": entry.document(),
            "entry": dict(signed),
            "updated_at": at,
        }
        row = self.session.get(PeerRow, entry.node_id)
        if row is None:
            self.session.execute(
                insert(PeerRow).values(
                    node_id=entry.node_id,
                    status=EntryStatus.ACTIVE.value,
                    status_reason="",
                    imported_at=at,
                    failures=0,
                    **values,
                )
            )
        else:
            self.session.execute(
                update(PeerRow)
                .where(PeerRow.node_id == entry.node_id)
                .values(**values)
                .execution_options(synchronize_session=False)
            )

    def set_status(self, node_id: str, status: EntryStatus, reason: str, at: datetime) -> None:
        self.session.execute(
            update(PeerRow)
            .where(PeerRow.node_id == node_id)
            .values(status=status.value, status_reason=reason, updated_at=at)
            .execution_options(synchronize_session=False)
        )

    def hold(self, node_id: str, change: PendingChange | None) -> None:
        self.session.execute(
            update(PeerRow)
            .where(PeerRow.node_id == node_id)
            .values(pending_change=change.as_dict() if change is not None else None)
            .execution_options(synchronize_session=False)
        )

    def due(self, now: datetime) -> Sequence[str]:
        # Peers are few and the outbox may be long: one indexed probe (peer, status) per due peer, never a scan.
        waiting = (
            select(OutboxRow.seq)
            .where(OutboxRow.peer == PeerRow.node_id, OutboxRow.status == MessageStatus.PENDING.value)
            .exists()
        )
        stmt = (
            select(PeerRow.node_id)
            .where(
                PeerRow.status == EntryStatus.ACTIVE.value,
                or_(PeerRow.next_attempt_at.is_(None), PeerRow.next_attempt_at <= now),
                waiting,
            )
            .order_by(PeerRow.node_id)
        )
        return list(self.session.scalars(stmt))

    def claim(self, node_id: str, owner: str, now: datetime, until: datetime) -> bool:
        result = self.session.execute(
            update(PeerRow)
            .where(
                PeerRow.node_id == node_id,
                or_(PeerRow.lease_until.is_(None), PeerRow.lease_until < now, PeerRow.lease_owner == owner),
            )
            .values(lease_owner=owner, lease_until=until)
            .execution_options(synchronize_session=False)
        )
        return affected(result) == 1

    def release(self, node_id: str, owner: str, delivery: PeerDelivery, *, keep_until: datetime | None = None) -> None:
        self.session.execute(
            update(PeerRow)
            .where(PeerRow.node_id == node_id, PeerRow.lease_owner == owner)
            .values(**to_row(delivery, lease_owner=owner if keep_until else None, lease_until=keep_until))
            .execution_options(synchronize_session=False)
        )


class SqlPeerKeyRepository(_InSession):
    """The ``federation_keys`` table: every key other nodes published, by key id."""

    def get(self, kid: str) -> PeerKey | None:
        row = self.session.get(PeerKeyRow, kid, populate_existing=True)
        return _key(row) if row else None

    def of_node(self, node_id: str) -> Sequence[PeerKey]:
        rows = self.session.scalars(
            select(PeerKeyRow).where(PeerKeyRow.node_id == node_id).order_by(PeerKeyRow.added_at, PeerKeyRow.kid)
        )
        return [_key(r) for r in rows]

    def save(
        self, node_id: str, key: PublicKey, *, use: KeyUse, status: KeyStatus, at: datetime, reason: str = ""
    ) -> None:
        row = self.session.get(PeerKeyRow, key.kid, populate_existing=True)
        if row is None:
            self.session.execute(
                insert(PeerKeyRow).values(
                    kid=key.kid,
                    node_id=node_id,
                    use=use.value,
                    jwk=dict(key.jwk),
                    status=status.value,
                    added_at=at,
                    changed_at=None,
                    reason=reason,
                )
            )
            return
        if row.status in (KeyStatus.REVOKED.value, status.value):
            return  # revocation is final; an unchanged status is no change
        values: dict[str, Any] = {"status": status.value, "changed_at": at, "reason": reason}
        if key.jwk and not row.jwk:
            values["jwk"] = dict(key.jwk)
        if row.node_id != node_id and not row.node_id:
            values["node_id"] = node_id
        self.session.execute(
            update(PeerKeyRow)
            .where(PeerKeyRow.kid == key.kid)
            .values(**values)
            .execution_options(synchronize_session=False)
        )


class SqlOwnEntryRepository(_InSession):
    """The one-row ``federation_own_entry`` table: this node's signed entry."""

    def get(self) -> OwnEntry | None:
        row = self.session.get(OwnEntryRow, 1, populate_existing=True)
        if row is None:
            return None
        return OwnEntry(entry_from_document(row.document), row.entry, row.updated_at)

    def save(self, own: OwnEntry) -> None:
        values = {
            "node_id": own.entry.node_id,
            "serial": own.entry.serial,
            "document": own.entry.document(),
            "entry": dict(own.signed),
            "revoked_kids": list(own.entry.revoked_kids),
            "updated_at": own.updated_at,
        }
        if self.session.get(OwnEntryRow, 1) is None:
            self.session.execute(insert(OwnEntryRow).values(id=1, **values))
        else:
            self.session.execute(
                update(OwnEntryRow)
                .where(OwnEntryRow.id == 1)
                .values(**values)
                .execution_options(synchronize_session=False)
            )


class SqlOutboxRepository(_InSession):
    """The ``federation_outbox`` table, read as plain rows on the delivery path (see ``bench/federation.py``)."""

    def enqueue(self, messages: Sequence[OutgoingMessage]) -> None:
        if not messages:
            return
        self.session.execute(
            insert(_OUTBOX),
            [to_row(m, omit=_LEARNT_LATER, attempts=0) for m in messages],
        )

    def pending(self, peer: str, limit: int) -> Sequence[OutgoingMessage]:
        entry = self.session.execute(
            select(_OUTBOX)
            .where(
                _OUTBOX.c.peer == peer,
                _OUTBOX.c.kind == MessageKind.ENTRY.value,
                _OUTBOX.c.status == MessageStatus.PENDING.value,
            )
            .order_by(_OUTBOX.c.seq)
            .limit(1)
        ).first()
        if entry is not None:
            return [from_row(OutgoingMessage, entry)]
        # Plain rows, not ORM entities: a delivery round reads hundreds of them (see bench/federation.py).
        stmt = (
            select(_OUTBOX)
            .where(_OUTBOX.c.peer == peer, _OUTBOX.c.status == MessageStatus.PENDING.value)
            .order_by(_OUTBOX.c.seq)
            .limit(limit)
        )
        return [from_row(OutgoingMessage, r) for r in self.session.execute(stmt)]

    def record_attempt(self, ids: Sequence[str], at: datetime) -> None:
        if not ids:
            return
        self.session.execute(
            update(OutboxRow)
            .where(OutboxRow.id.in_(ids))
            .values(attempts=OutboxRow.attempts + 1, first_sent_at=func.coalesce(OutboxRow.first_sent_at, at))
            .execution_options(synchronize_session=False)
        )

    def record_results(self, results: Sequence[DeliveryResult]) -> None:
        # One UPDATE per distinct outcome (usually one: all delivered under one receipt), not one per message.
        groups: dict[tuple[MessageStatus, datetime, str, str | None], list[str]] = {}
        for r in results:
            groups.setdefault((r.status, r.at, r.receipt_id, r.error), []).append(r.id)
        for (status, at, receipt, error), ids in groups.items():
            self.session.execute(
                update(_OUTBOX)
                .where(_OUTBOX.c.id.in_(ids), _OUTBOX.c.status == MessageStatus.PENDING.value)
                .values(status=status.value, delivered_at=at, receipt_id=receipt, error=error)
            )

    def mark_read(self, peer: str, ids: Sequence[str], at: datetime) -> int:
        if not ids:
            return 0
        result = self.session.execute(
            update(OutboxRow)
            .where(OutboxRow.peer == peer, OutboxRow.id.in_(ids), OutboxRow.read_at.is_(None))
            .values(read_at=at)
            .execution_options(synchronize_session=False)
        )
        return affected(result)

    def list(self, query: MessageQuery) -> Sequence[OutgoingMessage]:
        stmt = _message_page(OutboxRow, query, OutboxRow.seq.desc())
        return [from_row(OutgoingMessage, r) for r in self.session.scalars(stmt)]

    def counts(self) -> Mapping[tuple[str, MessageStatus], int]:
        stmt = select(OutboxRow.peer, OutboxRow.status, func.count()).group_by(OutboxRow.peer, OutboxRow.status)
        return {(peer, MessageStatus(status)): int(count) for peer, status, count in self.session.execute(stmt)}

    def get(self, message_id: str) -> OutgoingMessage | None:
        row = self.session.scalars(
            select(OutboxRow).where(OutboxRow.id == message_id).execution_options(populate_existing=True)
        ).first()
        return from_row(OutgoingMessage, row) if row else None


class SqlInboxRepository(_InSession):
    """The ``federation_inbound`` table: what peers sent, as signed, with how it was taken."""

    def known(self, ids: Sequence[str]) -> Mapping[str, IncomingMessage]:
        if not ids:
            return {}
        stmt = select(_INBOUND).where(_INBOUND.c.id.in_(list(ids)))
        return {r.id: from_row(IncomingMessage, r) for r in self.session.execute(stmt)}

    def receive(self, messages: Sequence[IncomingMessage]) -> None:
        if not messages:
            return
        try:
            self._insert_incoming(messages)
        except IntegrityError:
            raise Conflict("a message of this transmission was taken meanwhile by another worker") from None

    def _insert_incoming(self, messages: Sequence[IncomingMessage]) -> None:
        self.session.execute(
            insert(_INBOUND),
            [to_row(m, omit=("read_at", "read_by")) for m in messages],
        )

    def list(self, query: MessageQuery) -> Sequence[IncomingMessage]:
        stmt = _message_page(InboundMessageRow, query, InboundMessageRow.received_at.desc(), InboundMessageRow.id)
        return [from_row(IncomingMessage, r) for r in self.session.scalars(stmt)]

    def mark_read(self, ids: Sequence[str], at: datetime, by: str) -> None:
        if ids:
            self.session.execute(
                update(InboundMessageRow)
                .where(InboundMessageRow.id.in_(list(ids)), InboundMessageRow.read_at.is_(None))
                .values(read_at=at, read_by=by)
                .execution_options(synchronize_session=False)
            )

    def get(self, message_id: str) -> IncomingMessage | None:
        row = self.session.get(InboundMessageRow, message_id, populate_existing=True)
        return from_row(IncomingMessage, row) if row else None


class SqlReceiptRepository(_InSession):
    """The ``federation_receipts`` table: signed receipts, issued and received."""

    def add(self, receipt: Receipt) -> None:
        try:
            self.session.execute(insert(ReceiptRow).values(**to_row(receipt)))
        except IntegrityError:
            raise Conflict(f"receipt {receipt.id} is kept already") from None

    def get(self, receipt_id: str) -> Receipt | None:
        row = self.session.get(ReceiptRow, receipt_id, populate_existing=True)
        return from_row(Receipt, row) if row else None


class SqlSeenTransmissions(_InSession):
    """The ``federation_seen`` table: replay protection."""

    def contains(self, transmission_id: str) -> bool:
        return self.session.get(SeenTransmissionRow, transmission_id) is not None

    def add(self, transmission_id: str, peer: str, at: datetime) -> None:
        try:
            self.session.execute(insert(SeenTransmissionRow).values(id=transmission_id, peer=peer, seen_at=at))
        except IntegrityError:
            raise Conflict(f"transmission {transmission_id} is being taken by another worker") from None

    def forget(self, before: datetime) -> int:
        return affected(self.session.execute(delete(SeenTransmissionRow).where(SeenTransmissionRow.seen_at < before)))


class SqlRejectionRepository(_InSession):
    """The ``federation_rejections`` table: transmissions refused as a whole."""

    def add(self, rejection: Rejection) -> None:
        self.session.execute(
            insert(RejectionRow).values(
                at=rejection.at,
                reason=rejection.reason,
                detail=rejection.detail[:2000],
                claimed_sender=(rejection.claimed_sender or "")[:64] or None,
                remote=(rejection.remote or "")[:64] or None,
            )
        )

    def latest(self, limit: int) -> Sequence[Rejection]:
        stmt = select(RejectionRow).order_by(RejectionRow.id.desc()).limit(min(limit, MAX_PAGE))
        return [from_row(Rejection, r) for r in self.session.scalars(stmt)]

    def add_count(self, count: RefusalCount) -> None:
        self.session.execute(
            insert(RefusalCountRow).values(
                remote=count.remote[:64],
                window_start=count.window_start,
                window_end=count.window_end,
                refused=count.refused,
                throttled=count.throttled,
                reasons={str(k)[:32]: int(v) for k, v in count.reasons.items()},
            )
        )

    def latest_counts(self, limit: int) -> Sequence[RefusalCount]:
        stmt = select(RefusalCountRow).order_by(RefusalCountRow.id.desc()).limit(min(limit, MAX_PAGE))
        return [
            RefusalCount(r.remote, r.window_start, r.window_end, r.refused, r.throttled, dict(r.reasons))
            for r in self.session.scalars(stmt)
        ]


class SqlTransferRepository(_InSession):
    """The ``federation_transfers`` and ``federation_transfer_items`` tables: a transfer goes in and out with its
    items."""

    def add(self, transfer: TransferRecord) -> None:
        self.session.execute(
            insert(TransferRow).values(**to_row(transfer, omit=("items",), offer=dict(transfer.offer)))
        )
        if not transfer.items:
            return
        self.session.execute(
            insert(TransferItemRow),
            [to_row(i, transfer_id=transfer.id) for i in transfer.items],
        )

    def _transfer(self, row: TransferRow) -> TransferRecord:
        items = self.session.scalars(
            select(TransferItemRow)
            .where(TransferItemRow.transfer_id == row.id)
            .order_by(TransferItemRow.idx)
            .execution_options(populate_existing=True)
        )
        return from_row(
            TransferRecord,
            row,
            offer=dict(row.offer),
            items=tuple(from_row(TransferItemRecord, i) for i in items),
        )

    def get(self, transfer_id: str) -> TransferRecord | None:
        row = self.session.get(TransferRow, transfer_id, populate_existing=True)
        return self._transfer(row) if row else None

    def list(
        self, *, state: TransferState | None = None, direction: Direction | None = None
    ) -> Sequence[TransferRecord]:
        stmt = select(TransferRow)
        if state is not None:
            stmt = stmt.where(TransferRow.state == state.value)
        if direction is not None:
            stmt = stmt.where(TransferRow.direction == direction.value)
        stmt = stmt.order_by(TransferRow.created_at.desc(), TransferRow.id).execution_options(populate_existing=True)
        return [self._transfer(r) for r in self.session.scalars(stmt)]

    def update(
        self,
        transfer_id: str,
        *,
        state: TransferState,
        at: datetime,
        receipt: str | None = None,
        error: str | None = None,
    ) -> None:
        values: dict[str, Any] = {"state": state.value, "updated_at": at, "error": error}
        if receipt is not None:
            values["receipt"] = receipt
        self.session.execute(
            update(TransferRow)
            .where(TransferRow.id == transfer_id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )

    def update_item(
        self,
        transfer_id: str,
        idx: int,
        *,
        chunks_done: int | None = None,
        state: TransferItemState | None = None,
        local_item_id: str | None = None,
    ) -> None:
        values: dict[str, Any] = {}
        if chunks_done is not None:
            values["chunks_done"] = chunks_done
        if state is not None:
            values["state"] = state.value
        if local_item_id is not None:
            values["local_item_id"] = local_item_id
        if values:
            self.session.execute(
                update(TransferItemRow)
                .where(and_(TransferItemRow.transfer_id == transfer_id, TransferItemRow.idx == idx))
                .values(**values)
                .execution_options(synchronize_session=False)
            )


class SqlConsentRepository(_InSession):
    """The ``federation_consents`` table: onward-transfer requests and decisions (Art 36)."""

    def add(self, consent: ConsentRecord) -> None:
        self.session.execute(insert(ConsentRow).values(**to_row(consent)))

    def get(self, consent_id: str) -> ConsentRecord | None:
        row = self.session.get(ConsentRow, consent_id, populate_existing=True)
        return from_row(ConsentRecord, row) if row else None

    def list(self, *, item_id: str | None = None, role: ConsentRole | None = None) -> Sequence[ConsentRecord]:
        stmt = select(ConsentRow)
        if item_id is not None:
            stmt = stmt.where(ConsentRow.item_id == item_id)
        if role is not None:
            stmt = stmt.where(ConsentRow.role == role.value)
        stmt = stmt.order_by(ConsentRow.requested_at.desc(), ConsentRow.id).execution_options(populate_existing=True)
        return [from_row(ConsentRecord, r) for r in self.session.scalars(stmt)]

    def decide(self, consent_id: str, *, status: ConsentStatus, at: datetime, by: str, note: str) -> None:
        self.session.execute(
            update(ConsentRow)
            .where(ConsentRow.id == consent_id)
            .values(status=status.value, decided_at=at, decided_by=by, note=note)
            .execution_options(synchronize_session=False)
        )
