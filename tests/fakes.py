"""In-memory fakes of our own ports, for fast unit tests of the services (fakes, never mocks)."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import TracebackType
from typing import Self

from hanoinet.domain.cases import Case
from hanoinet.domain.errors import Conflict
from hanoinet.domain.requests import OPEN_STATES, Request
from hanoinet.domain.treaty import DepositEvent
from hanoinet.services.ports import InboxQuery, RequestSummary


class FixedClock:
    """A clock that only moves when told to."""

    def __init__(self, start: datetime) -> None:
        self.current = start

    def now(self) -> datetime:
        return self.current

    def advance(self, **kwargs: float) -> None:
        """Move time forward, e.g. advance(days=61)."""
        self.current += timedelta(**kwargs)


@dataclass
class Store:
    """What the fake database holds; shared by every unit of work made from it."""

    cases: dict[str, Case] = field(default_factory=dict)
    requests: dict[str, tuple[Request, datetime | None, str | None]] = field(default_factory=dict)
    deposits: list[DepositEvent] = field(default_factory=list)
    commits: int = 0


class FakeCases:
    def __init__(self, staged: dict[str, Case]) -> None:
        self.staged = staged

    def add(self, case: Case) -> None:
        self.staged[case.id] = case

    def get(self, case_id: str) -> Case | None:
        return self.staged.get(case_id)

    def by_reference(self, reference: str) -> Case | None:
        return next((c for c in self.staged.values() if c.reference == reference), None)

    def list(self, *, limit: int, offset: int) -> Sequence[Case]:
        ordered = sorted(self.staged.values(), key=lambda c: c.created_at, reverse=True)
        return ordered[offset : offset + limit]


class FakeRequests:
    def __init__(self, staged: dict[str, tuple[Request, datetime | None, str | None]]) -> None:
        self.staged = staged

    def add(self, request: Request, next_due_at: datetime | None, next_clock: str | None) -> None:
        self.staged[request.id] = (copy.deepcopy(request), next_due_at, next_clock)

    def get(self, request_id: str) -> Request | None:
        found = self.staged.get(request_id)
        return copy.deepcopy(found[0]) if found else None

    def save(self, request: Request, next_due_at: datetime | None, next_clock: str | None) -> None:
        stored = self.staged[request.id][0]
        if stored.version != request.version:
            raise Conflict(f"request {request.id} was changed by someone else")
        request.version += 1
        self.staged[request.id] = (copy.deepcopy(request), next_due_at, next_clock)

    def follow_ups(self, request_id: str) -> Sequence[Request]:
        return [copy.deepcopy(r) for r, _, _ in self.staged.values() if r.follows_up == request_id]

    def inbox(self, query: InboxQuery) -> Sequence[RequestSummary]:
        rows = []
        for r, due, clock in self.staged.values():
            checks = [
                query.direction is None or r.direction is query.direction,
                query.state is None or r.state is query.state,
                query.counterpart_state is None or r.counterpart_state == query.counterpart_state,
                query.type is None or r.type == query.type,
                query.instrument is None or r.instrument == query.instrument,
                query.case_id is None or r.case_id == query.case_id,
                not query.open_only or r.state in OPEN_STATES,
                not query.overdue or (due is not None and due < query.now),
                query.due_within_seconds is None
                or (due is not None and query.now <= due < query.now + timedelta(seconds=query.due_within_seconds)),
            ]
            if all(checks):
                rows.append(
                    RequestSummary(
                        r.id,
                        r.case_id,
                        r.instrument,
                        r.type,
                        r.direction,
                        r.counterpart_state,
                        r.state,
                        r.emergency,
                        r.created_at,
                        due,
                        clock,
                    )
                )
        by_due = query.overdue or query.due_within_seconds is not None
        rows.sort(key=lambda s: s.id)
        if by_due:
            rows.sort(key=lambda s: s.next_due_at or query.now)
        else:
            rows.sort(key=lambda s: s.created_at, reverse=True)
        return rows[query.offset : query.offset + query.limit]


class FakeDeposits:
    def __init__(self, staged: list[DepositEvent]) -> None:
        self.staged = staged

    def list(self, instrument: str | None = None) -> Sequence[DepositEvent]:
        return [e for e in self.staged if instrument is None or e.instrument == instrument]

    def add_all(self, events: Iterable[DepositEvent], recorded_at: datetime) -> None:
        self.staged.extend(events)


class FakeUnitOfWork:
    """Stages changes on a copy of the store; commit() publishes them, leaving without it drops them."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def __enter__(self) -> Self:
        self._cases = FakeCases(dict(self.store.cases))
        self._requests = FakeRequests(dict(self.store.requests))
        self._deposits = FakeDeposits(list(self.store.deposits))
        return self

    @property
    def cases(self) -> FakeCases:
        return self._cases

    @property
    def requests(self) -> FakeRequests:
        return self._requests

    @property
    def deposits(self) -> FakeDeposits:
        return self._deposits

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    def commit(self) -> None:
        self.store.cases = dict(self._cases.staged)
        self.store.requests = dict(self._requests.staged)
        self.store.deposits = list(self._deposits.staged)
        self.store.commits += 1

    def rollback(self) -> None:
        self.__enter__()
