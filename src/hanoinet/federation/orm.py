"""The tables of federation: peers and their keys, this node's entry, outbox, inbound messages, receipts, replay
guard, rejections, transfers, consents."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from hanoinet.platform.db import UTCDateTime
from hanoinet.platform.orm import Base
from hanoinet.platform.sqlrows import sequence_number

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
    pending_change: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """A newer entry's change of State, authority, roles or endpoint, waiting for an operator
    (``ports.PendingChange.as_dict``); the columns above keep the confirmed values meanwhile."""


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

    seq: Mapped[int] = mapped_column(sequence_number(), primary_key=True, autoincrement=True)
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


class RefusalCountRow(Base):
    """Refusals of one source address in one window beyond those recorded one by one, as counts: a flood of
    refused transmissions costs a row per address and window, not a row per request."""

    __tablename__ = "federation_refusal_counts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    remote: Mapped[str] = mapped_column(String(64))
    window_start: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    window_end: Mapped[datetime] = mapped_column(UTCDateTime())
    refused: Mapped[int] = mapped_column(Integer)
    throttled: Mapped[int] = mapped_column(Integer)
    reasons: Mapped[dict[str, int]] = mapped_column(JSON)


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
