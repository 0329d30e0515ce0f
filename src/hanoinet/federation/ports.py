"""What the federation services need: the peer directory, outbox and inbox, transfers, consents, transport, identity.

One repository per aggregate (peers, their keys, this node's own entry, outbox, inbox, receipts, seen transmissions,
rejections, transfers, consents), each reached as its own attribute of the unit of work, so that a service names
the tables it touches and a fake of one cannot drift behind a 41-method store. Each has a real adapter
(``federation.sql``, ``federation.transport``, ``federation.jose``) and an in-memory fake (``tests/fakes.py``),
checked against each other by ``tests/unit/test_fake_federation.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from hanoinet.federation.domain import (
    Consent,
    ConsentRole,
    ConsentStatus,
    DirectoryEntry,
    EntryStatus,
    KeyStatus,
    KeyUse,
    Message,
    MessageKind,
    MessageStatus,
    PublicKey,
    ReceiptDirection,
    TransferItemState,
    TransferState,
)
from hanoinet.platform.direction import Direction
from hanoinet.platform.errors import UNREACHABLE, ErrorKind

if TYPE_CHECKING:
    from cryptography import x509

    from hanoinet.app.node import Node, UnitOfWork

# --------------------------------------------------------------------------------------------------------------
# Records


@dataclass(frozen=True, slots=True)
class PeerDelivery:
    """How deliveries to a peer are going: when to try next, and what went wrong last."""

    next_attempt_at: datetime | None = None
    failures: int = 0
    last_error: str | None = None
    last_attempt_at: datetime | None = None
    last_delivery_at: datetime | None = None
    lease_owner: str | None = None
    """Which deliverer (host:pid:tag) holds the peer; read only: ``claim_peer``/``release_peer`` change it."""
    lease_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class PendingChange:
    """A newer entry of a peer that changes who it is or where it is reached (``domain.IDENTITY_FIELDS``), held
    until an operator confirms or rejects it: the values in force (``old``), the ones offered (``new``), and the
    signed entry that offered them (the proof, kept to publish once confirmed)."""

    serial: int
    old: Mapping[str, Any]
    new: Mapping[str, Any]
    signed: Mapping[str, Any]
    received_at: datetime
    via: str
    """How it arrived: pushed by the node itself, or in a directory node's register."""

    def changed(self) -> tuple[str, ...]:
        """The names of the fields it changes."""
        return tuple(name for name in self.new if self.new[name] != self.old.get(name))

    def as_dict(self) -> dict[str, Any]:
        """Plain data, as stored."""
        return {
            "serial": self.serial,
            "old": dict(self.old),
            "new": dict(self.new),
            "signed": dict(self.signed),
            "received_at": self.received_at.isoformat(),
            "via": self.via,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PendingChange:
        """Read what ``as_dict`` stored."""
        return cls(
            int(data["serial"]),
            dict(data["old"]),
            dict(data["new"]),
            dict(data["signed"]),
            datetime.fromisoformat(str(data["received_at"])),
            str(data["via"]),
        )


@dataclass(frozen=True, slots=True)
class Peer:
    """Another node: its entry as confirmed here, the signed entry it was last confirmed from, whether it is
    trusted, how deliveries to it are going, and a change of identity it offered and an operator has not decided.

    ``entry`` is what this node acts on: its State, authority, roles and endpoint are the confirmed ones even when a
    newer entry (``pending``) says otherwise, while its keys, hours and languages are the newest the node signed."""

    entry: DirectoryEntry
    signed: Mapping[str, Any]
    status: EntryStatus
    status_reason: str
    imported_at: datetime
    updated_at: datetime
    delivery: PeerDelivery = PeerDelivery()
    pending: PendingChange | None = None


@dataclass(frozen=True, slots=True)
class PeerKey:
    """A peer's public key and whether it may still be used."""

    node_id: str
    use: KeyUse
    key: PublicKey
    status: KeyStatus
    added_at: datetime
    changed_at: datetime | None = None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class OwnEntry:
    """This node's own directory entry, as signed and published."""

    entry: DirectoryEntry
    signed: Mapping[str, Any]
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """A message in the outbox, signed when composed; ``seq`` orders deliveries to its peer."""

    id: str
    peer: str
    kind: MessageKind
    request_id: str | None
    jws: str
    created_at: datetime
    created_by: str
    status: MessageStatus = MessageStatus.PENDING
    attempts: int = 0
    first_sent_at: datetime | None = None
    delivered_at: datetime | None = None
    read_at: datetime | None = None
    receipt_id: str | None = None
    error: str | None = None
    seq: int = 0


class MessageHandler(Protocol):
    """Applies one verified message of a kind from a peer, inside the transmission's unit of work; raises
    ``MessageRefused`` (before writing anything) when it cannot. Which capability handles which kind is chosen by
    the composition root (``app.handlers``): federation receives, and does not import what it delivers to."""

    def __call__(self, node: Node, uow: UnitOfWork, peer: Peer, message: Message, /) -> None:
        """Apply ``message`` from ``peer``."""


@dataclass(frozen=True, slots=True)
class IncomingMessage:
    """A message received from a peer, kept as signed; its id makes a second delivery a no-op."""

    id: str
    peer: str
    kind: MessageKind
    request_id: str | None
    jws: str
    created_at: datetime
    received_at: datetime
    batch_id: str
    status: MessageStatus
    reason: str | None = None
    read_at: datetime | None = None
    read_by: str | None = None


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """What a peer's signed receipt says of one message."""

    id: str
    status: MessageStatus
    at: datetime
    receipt_id: str
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Receipt:
    """A signed delivery receipt, issued here or received from the peer."""

    id: str
    batch_id: str
    peer: str
    direction: ReceiptDirection
    jws: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Rejection:
    """A transmission refused as a whole, and why."""

    at: datetime
    reason: str
    detail: str
    claimed_sender: str | None = None
    remote: str | None = None


@dataclass(frozen=True, slots=True)
class RefusalCount:
    """Refusals from one source address in one window beyond what is recorded one by one: counted, not each kept
    (an unauthenticated caller must not buy a row and a signed audit entry per request). ``refused`` were read and
    refused, ``throttled`` answered 429 unread; ``reasons`` counts the refused by reason code."""

    remote: str
    window_start: datetime
    window_end: datetime
    refused: int
    throttled: int
    reasons: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class MessageQuery:
    """A filter over outgoing or incoming messages; every field narrows the result."""

    peer: str | None = None
    request_id: str | None = None
    kind: MessageKind | None = None
    status: MessageStatus | None = None
    unread: bool = False
    limit: int = 100
    offset: int = 0


@dataclass(frozen=True, slots=True)
class TransferItemRecord:
    """One item of an evidence transfer and how far it got."""

    idx: int
    item_id: str
    sha256: str
    size: int
    chunk_size: int
    chunks_total: int
    chunks_done: int = 0
    state: TransferItemState = TransferItemState.PENDING
    local_item_id: str | None = None


@dataclass(frozen=True, slots=True)
class TransferRecord:
    """An evidence transfer, either way."""

    id: str
    direction: Direction
    peer: str
    request_id: str | None
    case_id: str | None
    state: TransferState
    created_at: datetime
    updated_at: datetime
    created_by: str
    reason: str
    offer_id: str
    offer: Mapping[str, Any]
    items: tuple[TransferItemRecord, ...]
    token_hash: str | None = None
    receipt: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class ConsentRecord:
    """A request for, or decision on, onward transfer of an item (Art 36)."""

    id: str
    role: ConsentRole
    item_id: str
    peer: str
    destination: str
    purpose: str
    status: ConsentStatus
    requested_at: datetime
    requested_by: str
    decided_at: datetime | None = None
    decided_by: str | None = None
    note: str = ""

    def as_consent(self) -> Consent:
        """The authorization this record amounts to (only meaningful when granted)."""
        return Consent(self.item_id, self.destination, self.peer, self.decided_at or self.requested_at, self.purpose)


# --------------------------------------------------------------------------------------------------------------
# Repositories, one per aggregate


class PeerRepository(Protocol):
    """The directory of other nodes (one row each: its signed entry, whether it is trusted) and how deliveries to
    each are going (its backoff and the deliverer's lease, kept on the same row)."""

    def get(self, node_id: str) -> Peer | None:
        """Return the peer with this node id, or None."""

    def list(self) -> Sequence[Peer]:
        """Every peer, by State then node id."""

    def status(self, node_id: str) -> EntryStatus | None:
        """Whether a peer is trusted (None: unknown), without reading its entry."""

    def save(self, entry: DirectoryEntry, signed: Mapping[str, Any], at: datetime) -> None:
        """Record a new peer, or a newer entry of a known one (its delivery state is kept)."""

    def set_status(self, node_id: str, status: EntryStatus, reason: str, at: datetime) -> None:
        """Trust or stop trusting a peer."""

    def hold(self, node_id: str, change: PendingChange | None) -> None:
        """Record the change of identity a peer offered, replacing any earlier one (None: no change waits)."""

    def due(self, now: datetime) -> Sequence[str]:
        """Peers with pending messages and no backoff running (``next_attempt_at`` passed or unset)."""

    def claim(self, node_id: str, owner: str, now: datetime, until: datetime) -> bool:
        """Take the peer's delivery lease if it is free or expired; True if taken. One deliverer per peer."""

    def release(self, node_id: str, owner: str, delivery: PeerDelivery, *, keep_until: datetime | None = None) -> None:
        """Record how the delivery went; give the lease back, or keep it until ``keep_until`` (more to deliver)."""


class PeerKeyRepository(Protocol):
    """Every key other nodes have published, by key id: a key outlives the entry that introduced it (a retired key
    still verifies what it signed; a revoked one is refused, and may be known before its node is)."""

    def get(self, kid: str) -> PeerKey | None:
        """Return the key with this id, or None."""

    def of_node(self, node_id: str) -> Sequence[PeerKey]:
        """Every key known for a node, current, retired or revoked, in the order they were added."""

    def save(
        self, node_id: str, key: PublicKey, *, use: KeyUse, status: KeyStatus, at: datetime, reason: str = ""
    ) -> None:
        """Record a key, or change its status; a revoked key stays revoked."""


class OwnEntryRepository(Protocol):
    """This node's own signed directory entry (one, replaced as it changes)."""

    def get(self) -> OwnEntry | None:
        """This node's signed entry, or None before it is first made."""

    def save(self, own: OwnEntry) -> None:
        """Replace this node's signed entry."""


class OutboxRepository(Protocol):
    """Messages to other nodes, signed when composed, in the order they are delivered to each peer."""

    def enqueue(self, messages: Sequence[OutgoingMessage]) -> None:
        """Stage messages for delivery."""

    def pending(self, peer: str, limit: int) -> Sequence[OutgoingMessage]:
        """What goes to a peer next: a pending directory entry of this node, alone (it must reach the peer before
        anything signed with the key it introduces), else the oldest pending messages, in order."""

    def record_attempt(self, ids: Sequence[str], at: datetime) -> None:
        """Count a delivery attempt of these messages (the first one dates ``first_sent_at``)."""

    def record_results(self, results: Sequence[DeliveryResult]) -> None:
        """Record what the peer's receipt says of each message."""

    def mark_read(self, peer: str, ids: Sequence[str], at: datetime) -> int:
        """Record that the peer's people opened these messages; return how many were newly marked."""

    def list(self, query: MessageQuery) -> Sequence[OutgoingMessage]:
        """Outgoing messages, newest first."""

    def counts(self) -> Mapping[tuple[str, MessageStatus], int]:
        """Outgoing messages by (peer, status); a pair with none is absent."""

    def get(self, message_id: str) -> OutgoingMessage | None:
        """One outgoing message, or None."""


class InboxRepository(Protocol):
    """Messages received from other nodes, kept as signed; a message id is taken once."""

    def known(self, ids: Sequence[str]) -> Mapping[str, IncomingMessage]:
        """The messages among ``ids`` already received."""

    def receive(self, messages: Sequence[IncomingMessage]) -> None:
        """Stage received messages; raise Conflict if one of them was received already."""

    def list(self, query: MessageQuery) -> Sequence[IncomingMessage]:
        """Incoming messages, newest first."""

    def mark_read(self, ids: Sequence[str], at: datetime, by: str) -> None:
        """Record that someone here opened these messages."""

    def get(self, message_id: str) -> IncomingMessage | None:
        """One incoming message, or None."""


class ReceiptRepository(Protocol):
    """Signed delivery receipts, issued for what this node took and received for what it delivered: the proof,
    either way, of what was handed over."""

    def add(self, receipt: Receipt) -> None:
        """Keep a signed receipt; raise Conflict if one with its id is kept already."""

    def get(self, receipt_id: str) -> Receipt | None:
        """One receipt, or None."""


class SeenTransmissions(Protocol):
    """The ids of the transmissions taken lately: a second one with the same id is a replay."""

    def contains(self, transmission_id: str) -> bool:
        """True if a transmission with this id was already taken."""

    def add(self, transmission_id: str, peer: str, at: datetime) -> None:
        """Remember a transmission's id; raise Conflict if another worker is taking it (or took it)."""

    def forget(self, before: datetime) -> int:
        """Forget ids seen before ``before`` (older transmissions fail the freshness check anyway); return how many."""


class RejectionRepository(Protocol):
    """Transmissions refused as a whole, for operators."""

    def add(self, rejection: Rejection) -> None:
        """Record a refused transmission."""

    def latest(self, limit: int) -> Sequence[Rejection]:
        """The latest refusals, newest first."""

    def add_count(self, count: RefusalCount) -> None:
        """Record the refusals of a source address and window that were counted rather than recorded each."""

    def latest_counts(self, limit: int) -> Sequence[RefusalCount]:
        """The latest counted windows, newest first."""


class TransferRepository(Protocol):
    """Evidence transfers either way, each with its items and how far each got."""

    def add(self, transfer: TransferRecord) -> None:
        """Stage a new transfer with its items."""

    def get(self, transfer_id: str) -> TransferRecord | None:
        """Return a transfer with its items, or None."""

    def list(
        self, *, state: TransferState | None = None, direction: Direction | None = None
    ) -> Sequence[TransferRecord]:
        """Transfers, newest first."""

    def update(
        self,
        transfer_id: str,
        *,
        state: TransferState,
        at: datetime,
        receipt: str | None = None,
        error: str | None = None,
    ) -> None:
        """Change a transfer's state (and keep its receipt or error)."""

    def update_item(
        self,
        transfer_id: str,
        idx: int,
        *,
        chunks_done: int | None = None,
        state: TransferItemState | None = None,
        local_item_id: str | None = None,
    ) -> None:
        """Record an item's progress."""


class ConsentRepository(Protocol):
    """Requests for, and decisions on, onward transfer of items (Art 36), either way."""

    def add(self, consent: ConsentRecord) -> None:
        """Stage a consent request."""

    def get(self, consent_id: str) -> ConsentRecord | None:
        """Return a consent record, or None."""

    def list(self, *, item_id: str | None = None, role: ConsentRole | None = None) -> Sequence[ConsentRecord]:
        """Consent records, newest first."""

    def decide(self, consent_id: str, *, status: ConsentStatus, at: datetime, by: str, note: str) -> None:
        """Record a decision on a consent request."""


# --------------------------------------------------------------------------------------------------------------
# Transport and identity


class TransportError(Exception):
    """The peer could not be reached (connection refused, timeout, cut): try again later."""

    error_kind: ClassVar[ErrorKind] = UNREACHABLE


class Transport(Protocol):
    """HTTP between nodes: transmissions, directory entries and evidence chunks. Each call returns the HTTP status
    and body; a peer that cannot be reached raises ``services.messaging.TransportError``."""

    def transmit(self, endpoint: str, envelope: str) -> tuple[int, bytes]:
        """POST a sealed transmission (a sealed receipt comes back on 200)."""

    def push_entry(self, endpoint: str, signed: str) -> tuple[int, bytes]:
        """POST this node's signed directory entry (JSON text)."""

    def transfer_status(self, endpoint: str, transfer_id: str, token: str) -> tuple[int, bytes]:
        """GET how far the receiver got with each item."""

    def send_records(
        self, endpoint: str, transfer_id: str, idx: int, *, start: int, token: str, records: Iterable[bytes]
    ) -> tuple[int, bytes]:
        """PUT an item's records from ``start`` on, streamed."""

    def complete_transfer(self, endpoint: str, transfer_id: str, token: str) -> tuple[int, bytes]:
        """POST: check the whole and answer with the signed receipt."""


class Identity(Protocol):
    """The node's federation keys: it signs, seals to other nodes, and opens what was sealed to it."""

    @property
    def node_id(self) -> str: ...
    @property
    def signing_key(self) -> PublicKey: ...
    @property
    def encryption_key(self) -> PublicKey: ...

    retired_signing: tuple[PublicKey, ...]
    """Signing keys this node used before its rotations: what they signed still verifies."""

    def sign(self, claims: Mapping[str, Any], typ: str) -> str:
        """A compact JWS by the current signing key."""

    def seal(self, claims: Mapping[str, Any], typ: str, recipient: PublicKey) -> str:
        """Sign, then encrypt to ``recipient``."""

    def open(self, token: str) -> str:
        """Decrypt a transmission sent to this node; return the JWS inside."""

    def decrypt(self, token: str) -> bytes:
        """Decrypt a JWE sent to this node."""

    def sign_document(self, document: Mapping[str, Any], typ: str, also: Sequence[bytes] = ()) -> dict[str, Any]:
        """A General JSON JWS by the current key (and any extra private keys)."""

    def rotate(self, build: Callable[[PublicKey, PublicKey], Mapping[str, Any]], typ: str) -> dict[str, Any]:
        """Replace the keys; return ``build(new signing, new encryption)`` signed by the new and the old key."""

    def issue_certificate(self, builder: x509.CertificateBuilder) -> x509.Certificate:
        """An X.509 certificate signed by the current signing key (the node's own document-signing chain)."""

    def verify(self, token: str, key: PublicKey, typ: str) -> dict[str, Any]:
        """Verify a compact JWS with ``key`` and return its payload; raise EnvelopeRejected if it does not."""

    def peek(self, token: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """A compact JWS's header and payload, unverified: only to find the key that must verify it."""

    def verify_document(
        self, document: Mapping[str, Any], candidates: Sequence[PublicKey]
    ) -> tuple[dict[str, Any], frozenset[str]]:
        """A General JSON JWS's payload and the ids of the candidate keys whose signatures hold."""

    def encrypt_to(self, plaintext: bytes, recipient: PublicKey, typ: str, cty: str | None = None) -> str:
        """Encrypt to another node's key."""

    def verify_ed25519(self, public_key_hex: str, signature: bytes, message: bytes) -> bool:
        """True if ``signature`` is the Ed25519 signature of ``message`` by ``public_key_hex`` (custody keys)."""
