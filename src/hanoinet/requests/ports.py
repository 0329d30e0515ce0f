"""What the requests services need from storage: requests with their stored next clock, the inbox, activity."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from hanoinet.requests.domain import Direction, Request, RequestState


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

    def ids_starting_with(self, prefixes: Collection[str], limit: int) -> Sequence[str]:
        """Return up to ``limit`` ids, in order, that start with one of ``prefixes`` (all of one length), compared
        exactly, case and all: how the command line resolves a short id and finds the shortest unique one."""

    def inbox(self, query: InboxQuery) -> Sequence[RequestSummary]:
        """Return the requests matching the query; with a due filter, soonest due first, else newest first."""

    def activity(
        self, since: datetime, until: datetime, direction: Direction | None = None, instrument: str | None = None
    ) -> Sequence[RequestActivity]:
        """Return the requests sent or received in ``[since, until)``, with the first time of each milestone."""
