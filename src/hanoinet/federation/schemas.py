"""The OpenAPI shapes of the federation routes: what ``federation.present`` and ``federation.api`` write.

Signed documents (a directory entry, a register) are JWS in JSON serialization: their shape is the JOSE
standard's, and their payload is checked by signature, not by this schema, so they are declared as objects.
"""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field

from hanoinet.platform.api import DateTime, Shape


class Signed(Shape):
    """A JWS in JSON serialization (RFC 7515): the payload and its signatures."""

    model_config = ConfigDict(extra="allow")


class MessageOut(Shape):
    """A message either way: what it said, when it was sent, delivered and read."""

    id: str
    direction: str = Field(description="incoming or outgoing")
    peer: str
    kind: str
    request_id: str | None
    body: dict[str, Any]
    created_at: DateTime | None
    status: str
    delivered_at: DateTime | None
    read_at: DateTime | None
    error: str | None
    attempts: int
    by: str


class DeliveryOut(Shape):
    """How deliveries to a peer are going."""

    next_attempt_at: DateTime | None
    failures: int
    last_error: str | None
    last_attempt_at: DateTime | None
    last_delivery_at: DateTime | None
    lease_owner: str | None
    lease_until: DateTime | None


class PeerKeyOut(Shape):
    """One key of a node, and whether it is trusted."""

    kid: str
    use: str
    status: str
    added_at: DateTime | None
    changed_at: DateTime | None
    reason: str


class PendingChangeOut(Shape):
    """A change of a peer's State, authority, roles or endpoint, held until an operator confirms or rejects it."""

    serial: int = Field(description="The serial of the entry that offered it")
    received_at: DateTime
    via: str = Field(description="Pushed by the node itself, or in a directory node's register")
    changed: list[str] = Field(description="The fields it changes")
    old: dict[str, Any] = Field(description="The values in force here, of the fields it changes")
    new: dict[str, Any] = Field(description="The values offered")


class PeerOut(Shape):
    """A node of the directory, and how deliveries to it are going (with its keys when asked for one node)."""

    node_id: str
    state: str
    authority: str
    roles: list[str]
    languages: list[str]
    hours: str
    endpoint: str
    serial: int
    issued_at: DateTime
    signing_key: str
    encryption_key: str
    custody_key: str
    status: str
    status_reason: str
    imported_at: DateTime
    delivery: DeliveryOut
    pending: PendingChangeOut | None = Field(
        default=None, description="A change of identity waiting for an operator; the fields above are in force"
    )
    keys: list[PeerKeyOut] | None = None


class OwnNodeOut(Shape):
    """This node's entry as published, and signed."""

    entry: dict[str, Any]
    signed: Signed


class EntryOut(Shape):
    """This node's new entry."""

    entry: dict[str, Any]


class ImportOut(Shape):
    """What importing an entry did."""

    verdict: str
    reason: str
    peer: PeerOut


class ImportedOut(Shape):
    """One entry a register brought."""

    node_id: str
    verdict: str


class SyncOut(Shape):
    """What a directory node's register brought."""

    publisher: str
    imported: list[ImportedOut]
    refused: list[str]
    revoked: list[str]


class RevokedOut(Shape):
    """What was revoked."""

    revoked: str = Field(description="The node id or key id that is refused from now on")


class PeerStatusOut(Shape):
    """Deliveries to one peer."""

    node_id: str
    state: str
    status: str
    pending: int
    delivered: int
    rejected: int
    failures: int
    last_error: str | None
    next_attempt_at: DateTime | None
    last_delivery_at: DateTime | None


class RejectionOut(Shape):
    """A refused transmission."""

    at: DateTime
    reason: str
    detail: str
    claimed_sender: str | None
    remote: str | None


class FederationStatusOut(Shape):
    """Deliveries per peer, the outbox by status, and the latest refused transmissions."""

    node_id: str
    peers: list[PeerStatusOut]
    rejections: list[RejectionOut]


class QueuedOut(Shape):
    """A message queued for delivery."""

    id: str
    to: str
    kind: str
    status: str


class CorrespondenceOut(Shape):
    """A letter queued for the node a request is exchanged with."""

    id: str
    to: str
    status: str


class TransferItemOut(Shape):
    """How far one item of a transfer got."""

    idx: int
    item_id: str
    local_item_id: str | None
    sha256: str
    size: int
    chunks_done: int
    chunks_total: int
    state: str


class TransferOut(Shape):
    """An evidence transfer and how far each item got."""

    id: str
    direction: str
    peer: str
    request_id: str | None
    case_id: str | None
    state: str
    created_at: DateTime
    updated_at: DateTime
    created_by: str
    reason: str
    error: str | None
    receipt: str | None
    items: list[TransferItemOut]


class ConsentOut(Shape):
    """A consent request or decision (Art 36)."""

    id: str
    role: str
    item_id: str
    peer: str
    destination: str
    purpose: str
    status: str
    requested_at: DateTime
    requested_by: str
    decided_at: DateTime | None
    decided_by: str | None
    note: str


class EntryVerdictOut(Shape):
    """What a node's newer entry did here."""

    node_id: str
    verdict: str
    reason: str


class ChunksOut(Shape):
    """How many verified chunks of the item this node holds, and whether the sender went away mid-stream."""

    chunks_done: int
    cut: bool


class ReceiptOut(Shape):
    """The signed receipt of a completed transfer."""

    receipt: str


class ItemProgressOut(Shape):
    """One item of an incoming transfer: chunks verified and written, out of how many, and whether stored."""

    idx: int
    chunks_done: int
    records: int
    stored: bool


class TransferStatusOut(Shape):
    """How many verified chunks of each item this node holds: the sender resumes from there."""

    transfer_id: str
    state: str
    items: list[ItemProgressOut]


class ChunkProblem(Shape):
    """A refused piece of an item: why, and how many chunks this node holds (resume from there)."""

    title: str
    detail: str
    chunks_done: int
