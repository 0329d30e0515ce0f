"""Ports: what the services need from the outside world, as Protocols.

Each has a real adapter (``hanoinet.adapters``) and an in-memory fake (``tests/fakes.py``) for fast unit tests.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self

from hanoinet.domain.cases import Case
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

    def __enter__(self) -> Self: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    def commit(self) -> None:
        """Make every staged change durable, atomically."""

    def rollback(self) -> None:
        """Discard every staged change."""


class Clock(Protocol):
    """The current time; a port so that tests and training exercises can control it."""

    def now(self) -> datetime:
        """Return the current time, timezone-aware UTC."""
