"""Ports: what the services need from the outside world, as Protocols.

Each has a real adapter (``hanoinet.adapters``) and an in-memory fake (``tests/fakes.py``) for fast unit tests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO, Protocol, Self

from hanoinet.domain.accounts import User
from hanoinet.domain.audit import AuditEntry, Channel, Outcome
from hanoinet.domain.cases import Case
from hanoinet.domain.evidence import Checkpoint, CustodyEvent, EvidenceItem, Principal, Role
from hanoinet.domain.federation import (
    Consent,
    DirectoryEntry,
    EntryStatus,
    KeyStatus,
    MessageKind,
    MessageStatus,
    PublicKey,
)
from hanoinet.domain.requests import Direction, Request, RequestState
from hanoinet.domain.treaty import DepositEvent

MAX_PAGE = 500


@dataclass(frozen=True, slots=True)
class InboxQuery:
    """A filter over requests; every field narrows the result. Times are compared with ``now``."""

    now: datetime
    direction: Direction | None = None
    state: RequestState | None = None
    counterpart_state: str | None = None
    type: str | None = None
    instrument: str | None = None
    case_id: str | None = None
    due_within_seconds: int | None = None
    overdue: bool = False
    open_only: bool = False
    search: str | None = None
    """A case reference (any part of it, any case) or the start of a request id."""
    limit: int = 50
    offset: int = 0


@dataclass(frozen=True, slots=True)
class RequestSummary:
    """One line of the inbox."""

    id: str
    case_id: str
    instrument: str
    type: str
    direction: Direction
    counterpart_state: str
    state: RequestState
    emergency: bool
    created_at: datetime
    next_due_at: datetime | None
    next_clock: str | None
    case_reference: str = ""


@dataclass(frozen=True, slots=True)
class RequestActivity:
    """One request as the Art 57 statistics see it: what it is, where it stands, and when it first reached each
    milestone (the first event of each kind, aggregated by the database rather than loaded event by event)."""

    id: str
    instrument: str
    type: str
    direction: Direction
    counterpart_state: str
    state: RequestState
    emergency: bool
    started_at: datetime
    """When it was sent (outgoing) or received (incoming): drafts never sent are no request of another State."""
    acknowledged_at: datetime | None
    executed_at: datetime | None
    """The first ``executed`` or ``preserved`` event: the assistance was given (data preserved, for Art 42)."""
    refused_at: datetime | None
    withdrawn_at: datetime | None
    grounds: tuple[str, ...] = ()
    """The refusal grounds (keys of the rule pack), if it was refused."""


class CaseRepository(Protocol):
    """Cases by id and by reference."""

    def add(self, case: Case) -> None:
        """Stage a new case; it is written when the unit of work commits."""

    def get(self, case_id: str) -> Case | None:
        """Return the case with this id, or None if there is none."""

    def by_reference(self, reference: str) -> Case | None:
        """Return the case with this reference, or None if there is none."""

    def list(self, *, limit: int, offset: int) -> Sequence[Case]:
        """Return cases, newest first."""


class RequestRepository(Protocol):
    """Requests as aggregates: loaded with their events, saved with their new events and clock projection."""

    def add(self, request: Request, next_due_at: datetime | None, next_clock: str | None) -> None:
        """Stage a new request with all its events."""

    def get(self, request_id: str) -> Request | None:
        """Return the request with this id and its whole history, or None if there is none."""

    def save(self, request: Request, next_due_at: datetime | None, next_clock: str | None) -> None:
        """Write the request's new state and new events; raise Conflict if it changed since it was loaded."""

    def follow_ups(self, request_id: str) -> Sequence[Request]:
        """Return the requests that follow this one up (e.g. MLA requests after a preservation)."""

    def inbox(self, query: InboxQuery) -> Sequence[RequestSummary]:
        """Return the requests matching the query; with a due filter, soonest due first, else newest first."""

    def activity(
        self, since: datetime, until: datetime, direction: Direction | None = None, instrument: str | None = None
    ) -> Sequence[RequestActivity]:
        """Return the requests sent or received in ``[since, until)``, with the first time of each milestone."""


class DepositRepository(Protocol):
    """Treaty deposit events."""

    def list(self, instrument: str | None = None) -> Sequence[DepositEvent]:
        """Return every recorded deposit event, of one instrument or all."""

    def add_all(self, events: Iterable[DepositEvent], recorded_at: datetime) -> None:
        """Stage new deposit events."""


class EvidenceRepository(Protocol):
    """Evidence items (their content is in the vault)."""

    def add(self, item: EvidenceItem) -> None:
        """Stage a new item."""

    def get(self, item_id: str) -> EvidenceItem | None:
        """Return the item with this id, or None if there is none."""

    def by_exhibit(self, case_id: str, exhibit: str) -> EvidenceItem | None:
        """Return the case's item with this exhibit number, or None."""

    def list(self, *, case_id: str | None = None, limit: int = 100, offset: int = 0) -> Sequence[EvidenceItem]:
        """Return items, newest first."""

    def all(self) -> Iterator[EvidenceItem]:
        """Every item, oldest first, for verification."""

    def live_with_content(self, sha256: str) -> int:
        """Count the items not disposed of that share this content."""

    def expired(self, today: date) -> Sequence[EvidenceItem]:
        """Items whose retention ended before ``today`` and that are not disposed of."""

    def mark_disposed(self, item_id: str, at: datetime) -> None:
        """Record that the item's content was destroyed."""


class Ledger(Protocol):
    """The hash-chained custody ledger."""

    def lock_head(self) -> tuple[int, str]:
        """Take the ledger's write lock for this transaction; return its head's sequence number and hash."""

    def append(self, event: CustodyEvent) -> None:
        """Stage an event that follows the head; raise Conflict if the head moved."""

    def history(self, item_id: str) -> Sequence[CustodyEvent]:
        """Every event about one item, in order."""

    def events(self) -> Sequence[CustodyEvent]:
        """Every event, in order."""

    def head_row(self) -> tuple[int, str]:
        """The sequence number and hash the ledger's head row records."""

    def add_checkpoint(self, checkpoint: Checkpoint) -> None:
        """Stage a signed checkpoint."""

    def checkpoints(self) -> Sequence[Checkpoint]:
        """Every checkpoint, in order."""


class Tokens(Protocol):
    """API tokens for machines."""

    def add(self, token_id: str, name: str, roles: Sequence[Role], token_hash: str, at: datetime) -> None:
        """Stage a token (only its hash)."""

    def principal(self, token_hash: str) -> Principal | None:
        """Return who holds the token with this hash, or None if unknown or revoked."""

    def by_name(self, name: str) -> bool:
        """True if a token with this name exists."""

    def revoke(self, name: str, at: datetime) -> bool:
        """Revoke the named token; False if there was none to revoke."""


# --------------------------------------------------------------------------------------------------------------
# Federation


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
class Peer:
    """Another node: its entry as signed, whether it is trusted, and how deliveries to it are going."""

    entry: DirectoryEntry
    signed: Mapping[str, Any]
    status: EntryStatus
    status_reason: str
    imported_at: datetime
    updated_at: datetime
    delivery: PeerDelivery = PeerDelivery()


@dataclass(frozen=True, slots=True)
class PeerKey:
    """A peer's public key and whether it may still be used."""

    node_id: str
    use: str  # "sig" or "enc"
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
    """A signed delivery receipt, issued (``out``) or received (``in``)."""

    id: str
    batch_id: str
    peer: str
    direction: str
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
    state: str = "pending"
    local_item_id: str | None = None


@dataclass(frozen=True, slots=True)
class TransferRecord:
    """An evidence transfer, either way."""

    id: str
    direction: Direction
    peer: str
    request_id: str | None
    case_id: str | None
    state: str
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
    role: str  # "holder" (we asked) or "originator" (we were asked)
    item_id: str
    peer: str
    destination: str
    purpose: str
    status: str  # requested, granted, refused
    requested_at: datetime
    requested_by: str
    decided_at: datetime | None = None
    decided_by: str | None = None
    note: str = ""

    def as_consent(self) -> Consent:
        """The authorization this record amounts to (only meaningful when granted)."""
        return Consent(self.item_id, self.destination, self.peer, self.decided_at or self.requested_at, self.purpose)


class FederationStore(Protocol):
    """The directory, the outbox and inbound messages, receipts and replay protection, transfers and consents."""

    # -- directory
    def peer(self, node_id: str) -> Peer | None:
        """Return the peer with this node id, or None."""

    def peers(self) -> Sequence[Peer]:
        """Every peer, by State then node id."""

    def peer_status(self, node_id: str) -> EntryStatus | None:
        """Whether a peer is trusted (None: unknown), without reading its entry."""

    def save_peer(self, entry: DirectoryEntry, signed: Mapping[str, Any], at: datetime) -> None:
        """Record a new peer, or a newer entry of a known one (its delivery state is kept)."""

    def set_peer_status(self, node_id: str, status: EntryStatus, reason: str, at: datetime) -> None:
        """Trust or stop trusting a peer."""

    def peer_key(self, kid: str) -> PeerKey | None:
        """Return the key with this id, or None."""

    def peer_keys(self, node_id: str) -> Sequence[PeerKey]:
        """Every key known for a node, current, retired or revoked."""

    def save_key(
        self, node_id: str, key: PublicKey, *, use: str, status: KeyStatus, at: datetime, reason: str = ""
    ) -> None:
        """Record a key, or change its status; a revoked key stays revoked."""

    def own_entry(self) -> OwnEntry | None:
        """This node's signed entry, or None before it is first made."""

    def save_own_entry(self, own: OwnEntry) -> None:
        """Replace this node's signed entry."""

    # -- delivery scheduling
    def peers_due(self, now: datetime) -> Sequence[str]:
        """Peers with pending messages and no backoff running (``next_attempt_at`` passed or unset)."""

    def claim_peer(self, node_id: str, owner: str, now: datetime, until: datetime) -> bool:
        """Take the peer's delivery lease if it is free or expired; True if taken. One deliverer per peer."""

    def release_peer(
        self, node_id: str, owner: str, delivery: PeerDelivery, *, keep_until: datetime | None = None
    ) -> None:
        """Record how the delivery went; give the lease back, or keep it until ``keep_until`` (more to deliver)."""

    # -- outbox
    def enqueue(self, messages: Sequence[OutgoingMessage]) -> None:
        """Stage messages for delivery."""

    def pending(self, peer: str, limit: int) -> Sequence[OutgoingMessage]:
        """What goes to a peer next: a pending directory entry of this node, alone (it must reach the peer before
        anything signed with the key it introduces), else the oldest pending messages, in order."""

    def record_attempt(self, ids: Sequence[str], at: datetime) -> None:
        """Count a delivery attempt of these messages (the first one dates ``first_sent_at``)."""

    def record_results(self, results: Sequence[DeliveryResult]) -> None:
        """Record what the peer's receipt says of each message."""

    def mark_outgoing_read(self, peer: str, ids: Sequence[str], at: datetime) -> int:
        """Record that the peer's people opened these messages; return how many were newly marked."""

    def outgoing(self, query: MessageQuery) -> Sequence[OutgoingMessage]:
        """Outgoing messages, newest first."""

    def outbox_counts(self) -> Mapping[tuple[str, str], int]:
        """Outgoing messages by (peer, status)."""

    def outgoing_message(self, message_id: str) -> OutgoingMessage | None:
        """One outgoing message, or None."""

    def incoming_message(self, message_id: str) -> IncomingMessage | None:
        """One incoming message, or None."""

    # -- inbound
    def incoming_known(self, ids: Sequence[str]) -> Mapping[str, IncomingMessage]:
        """The messages among ``ids`` already received."""

    def receive(self, messages: Sequence[IncomingMessage]) -> None:
        """Stage received messages."""

    def incoming(self, query: MessageQuery) -> Sequence[IncomingMessage]:
        """Incoming messages, newest first."""

    def mark_incoming_read(self, ids: Sequence[str], at: datetime, by: str) -> None:
        """Record that someone here opened these messages."""

    # -- receipts, replays, rejections
    def add_receipt(self, receipt: Receipt) -> None:
        """Keep a signed receipt."""

    def seen(self, transmission_id: str) -> bool:
        """True if a transmission with this id was already taken."""

    def add_seen(self, transmission_id: str, peer: str, at: datetime) -> None:
        """Remember a transmission's id (a second one with it is a replay)."""

    def forget_seen(self, before: datetime) -> int:
        """Forget ids seen before ``before`` (older transmissions fail the freshness check anyway)."""

    def add_rejection(self, rejection: Rejection) -> None:
        """Record a refused transmission."""

    def rejections(self, limit: int) -> Sequence[Rejection]:
        """The latest refusals, newest first."""

    # -- transfers
    def add_transfer(self, transfer: TransferRecord) -> None:
        """Stage a new transfer with its items."""

    def transfer(self, transfer_id: str) -> TransferRecord | None:
        """Return a transfer with its items, or None."""

    def transfers(self, *, state: str | None = None, direction: Direction | None = None) -> Sequence[TransferRecord]:
        """Transfers, newest first."""

    def update_transfer(
        self, transfer_id: str, *, state: str, at: datetime, receipt: str | None = None, error: str | None = None
    ) -> None:
        """Change a transfer's state (and keep its receipt or error)."""

    def update_transfer_item(
        self,
        transfer_id: str,
        idx: int,
        *,
        chunks_done: int | None = None,
        state: str | None = None,
        local_item_id: str | None = None,
    ) -> None:
        """Record an item's progress."""

    # -- consents
    def add_consent(self, consent: ConsentRecord) -> None:
        """Stage a consent request."""

    def consent(self, consent_id: str) -> ConsentRecord | None:
        """Return a consent record, or None."""

    def consents(self, *, item_id: str | None = None, role: str | None = None) -> Sequence[ConsentRecord]:
        """Consent records, newest first."""

    def decide_consent(self, consent_id: str, *, status: str, at: datetime, by: str, note: str) -> None:
        """Record a decision on a consent request."""


class TransportError(Exception):
    """The peer could not be reached (connection refused, timeout, cut): try again later."""


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


# --------------------------------------------------------------------------------------------------------------
# Accounts and audit


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """A signed-in session: only the hash of its token is kept; its CSRF token goes into every form."""

    id: str
    user_id: str
    token_hash: str
    csrf_token: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    remote: str = ""
    ended_at: datetime | None = None


class Accounts(Protocol):
    """Users and their sessions."""

    def add(self, user: User) -> None:
        """Stage a new user."""

    def get(self, user_id: str) -> User | None:
        """Return the user with this id, or None."""

    def by_username(self, username: str) -> User | None:
        """Return the user with this name, or None."""

    def list(self) -> Sequence[User]:
        """Every user, by name."""

    def count(self) -> int:
        """How many users there are."""

    def update(self, user_id: str, changes: Mapping[str, Any]) -> None:
        """Write only these fields of a user (``User`` field names: roles, password_hash, disabled_at …), so that
        two changes made at once (a password change while an administrator disables the account) both stand."""

    def count_failure(self, user_id: str, at: datetime) -> tuple[int, datetime | None]:
        """Add one failed sign-in in a single statement (parallel guesses all count) and lock the account as
        ``domain.accounts.after_failure`` says; return the count and the lock's end."""

    def add_session(self, session: SessionRecord) -> None:
        """Stage a new session."""

    def session(self, token_hash: str) -> SessionRecord | None:
        """Return the session with this token hash, or None."""

    def touch_session(self, session_id: str, at: datetime, expires_at: datetime) -> None:
        """Record activity on a session and move its idle expiry."""

    def end_session(self, session_id: str, at: datetime) -> None:
        """End a session (sign-out)."""

    def end_sessions_of(self, user_id: str, at: datetime) -> int:
        """End every open session of a user (password changed, account disabled); return how many."""


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """A filter over the audit log; every field narrows the result."""

    actor: str | None = None
    action: str | None = None
    subject: str | None = None
    object_id: str | None = None
    outcome: Outcome | None = None
    channel: Channel | None = None
    since: datetime | None = None
    until: datetime | None = None
    after_seq: int | None = None
    """Only entries after this one: a stable cursor while new entries keep arriving (exports, pages)."""
    before_seq: int | None = None
    """Only entries before this one."""
    oldest_first: bool = False
    limit: int = 100
    offset: int = 0


class AuditLog(Protocol):
    """The append-only, hash-chained audit log."""

    def lock_head(self) -> tuple[int, str]:
        """Take the log's write lock for this transaction; return its head's sequence number and hash."""

    def append(self, entry: AuditEntry) -> None:
        """Stage an entry that follows the head, and move the head."""

    def entries(self, query: AuditQuery) -> Sequence[AuditEntry]:
        """Entries matching the query, newest first."""

    def all(self) -> Iterator[AuditEntry]:
        """Every entry, oldest first (for verification and export)."""

    def head_row(self) -> tuple[int, str]:
        """The sequence number and hash the head row records."""


class PasswordHasher(Protocol):
    """Stretches passwords (Argon2id) so that a stolen database does not give them away."""

    def hash(self, password: str) -> str:
        """The encoded hash of a password."""

    def verify(self, encoded: str, password: str) -> bool:
        """True if the password matches."""

    def needs_rehash(self, encoded: str) -> bool:
        """True if the hash was made with weaker parameters than today's."""


class UnitOfWork(Protocol):
    """A transaction over all repositories: it rolls back unless ``commit()`` is called."""

    @property
    def cases(self) -> CaseRepository:
        """Cases, inside this transaction."""

    @property
    def requests(self) -> RequestRepository:
        """Requests, inside this transaction."""

    @property
    def deposits(self) -> DepositRepository:
        """Treaty deposit events, inside this transaction."""

    @property
    def evidence(self) -> EvidenceRepository:
        """Evidence items, inside this transaction."""

    @property
    def ledger(self) -> Ledger:
        """The custody ledger, inside this transaction."""

    @property
    def tokens(self) -> Tokens:
        """API tokens, inside this transaction."""

    @property
    def federation(self) -> FederationStore:
        """Peers, messages, transfers and consents, inside this transaction."""

    @property
    def accounts(self) -> Accounts:
        """Users and sessions, inside this transaction."""

    @property
    def audit(self) -> AuditLog:
        """The audit log, inside this transaction."""

    def __enter__(self) -> Self: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    def commit(self) -> None:
        """Make every staged change durable, atomically."""

    def rollback(self) -> None:
        """Discard every staged change."""


class StoredContent(Protocol):
    """What the vault says about content it has stored."""

    @property
    def sha256(self) -> str: ...
    @property
    def size(self) -> int: ...
    @property
    def hashes(self) -> Mapping[str, str]: ...
    @property
    def deduplicated(self) -> bool: ...


class ContentCheck(Protocol):
    """The vault's verdict on stored content."""

    @property
    def ok(self) -> bool: ...
    @property
    def problems(self) -> Sequence[str]: ...


class Vault(Protocol):
    """Encrypted, content-addressed, write-once storage of evidence content."""

    def ingest(
        self,
        source: BinaryIO,
        *,
        extra_hashes: Sequence[str] = (),
        progress: Callable[[int], None] | None = None,
    ) -> StoredContent:
        """Store a stream durably, in constant memory; identical content is stored once."""

    def open_stream(self, sha256: str) -> Iterator[bytes]:
        """Yield the decrypted content, verified on the fly; raise on the first sign of corruption."""

    def verify(
        self, sha256: str, *, size: int | None = None, progress: Callable[[int], None] | None = None
    ) -> ContentCheck:
        """Recompute everything about stored content and say exactly what is wrong."""

    def exists(self, sha256: str) -> bool:
        """True if content with this hash is stored."""

    def destroy(self, sha256: str) -> None:
        """Destroy content for good (its data key with it)."""


class SealedContent(Protocol):
    """What a receiving node needs to check stored content sent verbatim: the blob's data key and framing."""

    @property
    def sha256(self) -> str: ...
    @property
    def chunk_size(self) -> int: ...
    @property
    def records(self) -> int: ...
    @property
    def nonce_prefix(self) -> bytes: ...
    @property
    def header_hash(self) -> bytes: ...
    @property
    def data_key(self) -> bytes: ...


class ChunkOpener(Protocol):
    """Authenticates and decrypts the records of one sealed blob."""

    def open(self, index: int, record: bytes | memoryview) -> tuple[bytes | memoryview, bool]:
        """Return (plaintext, is_last) of record ``index``; raise ChunkRefused if it does not authenticate."""


class Assembly(Protocol):
    """A blob being written chunk by chunk across restarts, from its verified prefix."""

    @property
    def chunks_done(self) -> int: ...
    @property
    def size_done(self) -> int: ...
    @property
    def complete(self) -> bool: ...

    def append(self, plaintext: bytes | memoryview, *, last: bool) -> None:
        """Hash, encrypt and write the next chunk."""

    def sync(self) -> None:
        """Make what is written durable."""

    def finish(self, expected_sha256: str, expected_size: int) -> StoredContent:
        """Check the whole against what was promised and store it; raise ContentMismatch otherwise."""

    def close(self) -> None:
        """Stop, keeping the file for a later resume."""

    def discard(self) -> None:
        """Stop and delete the file."""


class ChunkRefused(Exception):  # noqa: N818 - names the outcome
    """A chunk that does not authenticate (altered, misplaced, from another blob); ``index`` says which."""

    index: int


class AssemblyInUse(Exception):  # noqa: N818 - names the outcome
    """Another writer holds this assembly."""


class AssemblyDamaged(Exception):  # noqa: N818 - names the outcome
    """An assembly cannot be resumed (its header is damaged): discard it and start again."""


class ContentMismatch(Exception):  # noqa: N818 - names the outcome
    """The assembled content is not what the manifest promised (hash or size)."""


class SealedVault(Protocol):
    """The vault's side of evidence transfers: stored records sent verbatim, received ones re-sealed here."""

    def seal_info(self, sha256: str) -> SealedContent:
        """The framing and data key of stored content (the key only ever leaves encrypted to a receiver)."""

    def read_records(self, sha256: str, start: int = 0) -> Iterator[bytes]:
        """The stored records from ``start`` on, as stored."""

    def opener(self, sealed: SealedContent) -> ChunkOpener:
        """A checker for records of a blob sealed elsewhere."""

    def assembly(self, name: str, chunk_size: int) -> Assembly:
        """Create, or resume from its verified prefix, the assembly called ``name``."""

    def discard_assembly(self, name: str) -> bool:
        """Delete an assembly that cannot be opened; True if there was one."""


class Signer(Protocol):
    """The node's signing key."""

    def sign(self, message: bytes) -> bytes:
        """Return the node's signature of ``message``."""

    def public_key_hex(self) -> str:
        """The node's public key, hex."""

    def verify(self, signature: bytes, message: bytes) -> bool:
        """True if ``signature`` is this node's signature of ``message``."""


class Exporter(Protocol):
    """Court packages and CASE/UCO graphs, signed by the node."""

    def court_package(
        self,
        dest: Path,
        items: Sequence[tuple[EvidenceItem, Callable[[], Iterable[bytes]] | None]],
        events: Sequence[CustodyEvent],
        checkpoints: Sequence[Checkpoint],
        *,
        case_reference: str,
        exported_by: str,
        exported_at: datetime,
    ) -> Path:
        """Write a package a court can check with outside tools; nothing is left at ``dest`` on failure."""

    def case_graph(
        self, items: Sequence[EvidenceItem], events: Sequence[CustodyEvent], *, case_reference: str
    ) -> dict[str, Any]:
        """Return the items and their custody as CASE/UCO JSON-LD."""


class Clock(Protocol):
    """The current time; a port so that tests and training exercises can control it."""

    def now(self) -> datetime:
        """Return the current time, timezone-aware UTC."""
