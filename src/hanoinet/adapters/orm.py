"""SQLAlchemy 2 typed table models. The domain never sees these: repositories map rows to domain objects.

Alembic migrations are written from these models and reviewed; ``hanoinet db upgrade`` applies them.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from hanoinet.adapters.db import UTCDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with stable constraint names, so migrations are the same on SQLite and PostgreSQL."""

    metadata = MetaData(naming_convention=NAMING)


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


class RequestRow(Base):
    """A request's current state and contents; its history is in ``request_events``.

    ``next_due_at``/``next_clock`` are a projection of the clocks derived from the events, rewritten in the same
    transaction as every change so that inbox queries ("due within 24 h", "overdue") can use an index.
    """

    __tablename__ = "requests"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    instrument: Mapped[str] = mapped_column(String(32))
    type: Mapped[str] = mapped_column(String(48))
    direction: Mapped[str] = mapped_column(String(16))
    requesting_state: Mapped[str] = mapped_column(String(8))
    requested_state: Mapped[str] = mapped_column(String(8))
    counterpart_state: Mapped[str] = mapped_column(String(8))
    items: Mapped[dict[str, Any]] = mapped_column(JSON)
    emergency: Mapped[bool] = mapped_column(Boolean, default=False)
    deadline: Mapped[datetime | None] = mapped_column(UTCDateTime())
    follows_up: Mapped[str | None] = mapped_column(ForeignKey("requests.id"), index=True)
    state: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(Integer)
    next_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    next_clock: Mapped[str | None] = mapped_column(String(32))
    is_open: Mapped[bool] = mapped_column(Boolean, server_default="0")
    """Derived from ``state`` on every write: "open only, newest first" then needs no planner statistics."""
    peer_node: Mapped[str | None] = mapped_column(String(64))
    """The node the request is exchanged with, if it travels over the network (None: handled by other means)."""

    __table_args__ = (
        Index("ix_requests_next_due_at", "next_due_at"),
        Index("ix_requests_open_created", "is_open", "created_at"),
        Index("ix_requests_counterpart_type_created", "counterpart_state", "type", "created_at"),
        Index("ix_requests_counterpart_type_due", "counterpart_state", "type", "next_due_at"),
        Index("ix_requests_type_due", "type", "next_due_at"),
        Index("ix_requests_state_due", "state", "next_due_at"),
        Index("ix_requests_created_at", "created_at"),
    )


class RequestEventRow(Base):
    """One event of a request's history; append-only."""

    __tablename__ = "request_events"

    request_id: Mapped[str] = mapped_column(ForeignKey("requests.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(128))
    state_from: Mapped[str | None] = mapped_column(String(32))
    state_to: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


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

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    )
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

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    )
    head_hash: Mapped[str] = mapped_column(String(64))
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    signature: Mapped[bytes] = mapped_column(LargeBinary)


class LedgerHeadRow(Base):
    """A single row locked by every append, so that the chain has one writer at a time on every backend."""

    __tablename__ = "ledger_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    hash: Mapped[str] = mapped_column(String(64))


class UserRow(Base):
    """An account: its roles and its Argon2id password hash (never the password)."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(256))
    roles: Mapped[list[str]] = mapped_column(JSON)
    password_hash: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    language: Mapped[str] = mapped_column(String(16), default="en")


class SessionRow(Base):
    """A signed-in session; the cookie holds the token, the table only its SHA-256."""

    __tablename__ = "sessions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    remote: Mapped[str] = mapped_column(String(64), default="")
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AuditEntryRow(Base):
    """One entry of the audit log; append-only, hash-chained, signed by the node."""

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    actor: Mapped[str] = mapped_column(String(256), index=True)
    roles: Mapped[list[str]] = mapped_column(JSON)
    channel: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(64), index=True)
    subject: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(String(128), index=True)
    outcome: Mapped[str] = mapped_column(String(16))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    remote: Mapped[str] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    signature: Mapped[bytes] = mapped_column(LargeBinary)


class AuditHeadRow(Base):
    """A single row locked by every append, so that the audit chain has one writer at a time."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    hash: Mapped[str] = mapped_column(String(64))


class ApiTokenRow(Base):
    """A machine's API token: only its SHA-256 is stored, the token is shown once when created."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    roles: Mapped[list[str]] = mapped_column(JSON)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


# --------------------------------------------------------------------------------------------------------------
# Federation


class PeerRow(Base):
    """Another node, as its signed directory entry describes it, and the state of deliveries to it.

    Delivery state lives here, one row per peer, because deliveries to a peer are made in order by one worker at
    a time: ``lease_owner``/``lease_until`` say which process holds the peer, on SQLite and PostgreSQL alike.
    """

    __tablename__ = "federation_peers"

    node_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[str] = mapped_column(String(8), index=True)
    authority: Mapped[str] = mapped_column(Text)
    roles: Mapped[list[str]] = mapped_column(JSON)
    endpoint: Mapped[str] = mapped_column(Text)
    serial: Mapped[int] = mapped_column(Integer)
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    entry: Mapped[dict[str, Any]] = mapped_column(JSON)
    """The signed entry (JWS General JSON) exactly as received: the proof of what the node published."""
    status: Mapped[str] = mapped_column(String(16))
    status_reason: Mapped[str] = mapped_column(Text, default="")
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_delivery_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())


class PeerKeyRow(Base):
    """A public key of a peer (or a key id revoked before its node was known), by JWK thumbprint."""

    __tablename__ = "federation_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    node_id: Mapped[str] = mapped_column(String(64), index=True)
    use: Mapped[str] = mapped_column(String(8))
    jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime())
    changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reason: Mapped[str] = mapped_column(Text, default="")


class OwnEntryRow(Base):
    """This node's own signed directory entry (one row): its serial grows whenever the entry changes."""

    __tablename__ = "federation_own_entry"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    node_id: Mapped[str] = mapped_column(String(64))
    serial: Mapped[int] = mapped_column(Integer)
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    entry: Mapped[dict[str, Any]] = mapped_column(JSON)
    revoked_kids: Mapped[list[str]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class OutboxRow(Base):
    """A message to another node, signed when composed, committed with the change it reports (transactional
    outbox); delivered in ``seq`` order per peer, its receipt recorded when the peer's signed receipt arrives."""

    __tablename__ = "federation_outbox"

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(36), unique=True)
    peer: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    request_id: Mapped[str | None] = mapped_column(String(36), index=True)
    jws: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(256), default="")
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    first_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    receipt_id: Mapped[str | None] = mapped_column(String(36))
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_federation_outbox_peer_status_seq", "peer", "status", "seq"),
        Index("ix_federation_outbox_peer_kind_status", "peer", "kind", "status", "seq"),
    )


class InboundMessageRow(Base):
    """A message received from another node, kept as signed (the proof of what it said); one row per message id,
    so that a message delivered twice has one effect."""

    __tablename__ = "federation_inbound"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    peer: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    request_id: Mapped[str | None] = mapped_column(String(36), index=True)
    jws: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    batch_id: Mapped[str] = mapped_column(String(36))
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    read_by: Mapped[str | None] = mapped_column(String(256))

    __table_args__ = (Index("ix_federation_inbound_kind_received", "kind", "received_at"),)


class ReceiptRow(Base):
    """A signed delivery receipt: received from a peer for our messages (``in``), or issued by us (``out``)."""

    __tablename__ = "federation_receipts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    batch_id: Mapped[str] = mapped_column(String(36), index=True)
    peer: Mapped[str] = mapped_column(String(64))
    direction: Mapped[str] = mapped_column(String(8))
    jws: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class SeenTransmissionRow(Base):
    """Transmissions already taken, by id, kept for twice the freshness window: a replay is refused."""

    __tablename__ = "federation_seen"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    peer: Mapped[str] = mapped_column(String(64))
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class RejectionRow(Base):
    """A transmission or transfer piece refused as a whole, with the reason: the operator's view of attacks and
    misconfigured peers."""

    __tablename__ = "federation_rejections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    reason: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text)
    claimed_sender: Mapped[str | None] = mapped_column(String(64))
    remote: Mapped[str | None] = mapped_column(String(64))


class TransferRow(Base):
    """An evidence transfer between this node and a peer (either direction), item by item, chunk by chunk."""

    __tablename__ = "federation_transfers"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    direction: Mapped[str] = mapped_column(String(16))
    peer: Mapped[str] = mapped_column(String(64), index=True)
    request_id: Mapped[str | None] = mapped_column(String(36), index=True)
    case_id: Mapped[str | None] = mapped_column(String(36))
    state: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(256))
    reason: Mapped[str] = mapped_column(Text)
    offer_id: Mapped[str] = mapped_column(String(36))
    offer: Mapped[dict[str, Any]] = mapped_column(JSON)
    """The offer's body as signed (incoming) or sent (outgoing); its secrets only ever as a JWE to the receiver."""
    token_hash: Mapped[str | None] = mapped_column(String(64))
    receipt: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)


class TransferItemRow(Base):
    """One item of a transfer: its sender-side id, the receiver's new id once stored, and how far it got."""

    __tablename__ = "federation_transfer_items"

    transfer_id: Mapped[str] = mapped_column(ForeignKey("federation_transfers.id"), primary_key=True)
    idx: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    item_id: Mapped[str] = mapped_column(String(36))
    local_item_id: Mapped[str | None] = mapped_column(String(36))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    chunk_size: Mapped[int] = mapped_column(Integer)
    chunks_total: Mapped[int] = mapped_column(Integer)
    chunks_done: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(String(16))


class ConsentRow(Base):
    """A request for, or a decision on, passing a received item on to a third node (Art 36)."""

    __tablename__ = "federation_consents"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    """``holder``: we hold the item and asked; ``originator``: the item is ours and we are asked."""
    item_id: Mapped[str] = mapped_column(String(36), index=True)
    peer: Mapped[str] = mapped_column(String(64))
    destination: Mapped[str] = mapped_column(String(64))
    purpose: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    requested_by: Mapped[str] = mapped_column(String(256))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_by: Mapped[str | None] = mapped_column(String(256))
    note: Mapped[str] = mapped_column(Text, default="")
