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

from hanoinet.domain.cases import Case
from hanoinet.domain.evidence import Checkpoint, CustodyEvent, EvidenceItem, Principal, Role
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
