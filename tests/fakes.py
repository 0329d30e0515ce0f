"""In-memory fakes of our own ports, for fast unit tests of the services (fakes, never mocks)."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from types import TracebackType
from typing import Self

from hanoinet.domain.cases import Case
from hanoinet.domain.errors import Conflict
from hanoinet.domain.evidence import GENESIS, Checkpoint, CustodyEvent, EvidenceItem, Principal, Role
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
    evidence: dict[str, EvidenceItem] = field(default_factory=dict)
    custody: list[CustodyEvent] = field(default_factory=list)
    checkpoints: list[Checkpoint] = field(default_factory=list)
    tokens: dict[str, tuple[str, Principal, bool]] = field(default_factory=dict)
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


class FakeEvidence:
    def __init__(self, staged: dict[str, EvidenceItem]) -> None:
        self.staged = staged

    def add(self, item: EvidenceItem) -> None:
        self.staged[item.id] = copy.deepcopy(item)

    def get(self, item_id: str) -> EvidenceItem | None:
        return copy.deepcopy(self.staged.get(item_id))

    def by_exhibit(self, case_id: str, exhibit: str) -> EvidenceItem | None:
        found = [i for i in self.staged.values() if (i.described.case_id, i.described.exhibit) == (case_id, exhibit)]
        return copy.deepcopy(found[0]) if found else None

    def list(self, *, case_id: str | None = None, limit: int = 100, offset: int = 0) -> Sequence[EvidenceItem]:
        items = [i for i in self.staged.values() if case_id is None or i.described.case_id == case_id]
        items.sort(key=lambda i: i.created_at, reverse=True)
        return items[offset : offset + limit]

    def all(self) -> Iterator[EvidenceItem]:
        yield from sorted(self.staged.values(), key=lambda i: i.created_at)

    def live_with_content(self, sha256: str) -> int:
        return sum(1 for i in self.staged.values() if i.sha256 == sha256 and i.disposed_at is None)

    def expired(self, today: date) -> Sequence[EvidenceItem]:
        return [
            i
            for i in self.staged.values()
            if i.disposed_at is None and i.conditions.retention_until and i.conditions.retention_until < today
        ]

    def mark_disposed(self, item_id: str, at: datetime) -> None:
        self.staged[item_id] = replace(self.staged[item_id], disposed_at=at)


class FakeLedger:
    def __init__(self, events: list[CustodyEvent], checkpoints: list[Checkpoint]) -> None:
        self.staged = events
        self.staged_checkpoints = checkpoints

    def lock_head(self) -> tuple[int, str]:
        return (self.staged[-1].seq, self.staged[-1].hash) if self.staged else (0, GENESIS)

    def append(self, event: CustodyEvent) -> None:
        if event.seq != len(self.staged) + 1:
            raise Conflict("the custody ledger moved on")
        self.staged.append(event)

    def history(self, item_id: str) -> Sequence[CustodyEvent]:
        return [e for e in self.staged if e.item_id == item_id]

    def events(self) -> Sequence[CustodyEvent]:
        return list(self.staged)

    def head_row(self) -> tuple[int, str]:
        return (self.staged[-1].seq, self.staged[-1].hash) if self.staged else (0, GENESIS)

    def add_checkpoint(self, checkpoint: Checkpoint) -> None:
        self.staged_checkpoints.append(checkpoint)

    def checkpoints(self) -> Sequence[Checkpoint]:
        return list(self.staged_checkpoints)


class FakeTokens:
    def __init__(self, staged: dict[str, tuple[str, Principal, bool]]) -> None:
        self.staged = staged  # hash -> (name, principal, revoked)

    def add(self, token_id: str, name: str, roles: Sequence[Role], token_hash: str, at: datetime) -> None:
        self.staged[token_hash] = (name, Principal(name, frozenset(roles)), False)

    def principal(self, token_hash: str) -> Principal | None:
        found = self.staged.get(token_hash)
        return found[1] if found and not found[2] else None

    def by_name(self, name: str) -> bool:
        return any(n == name for n, _, _ in self.staged.values())

    def revoke(self, name: str, at: datetime) -> bool:
        for key, (n, p, revoked) in self.staged.items():
            if n == name and not revoked:
                self.staged[key] = (n, p, True)
                return True
        return False


class FakeUnitOfWork:
    """Stages changes on a copy of the store; commit() publishes them, leaving without it drops them."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def __enter__(self) -> Self:
        self._cases = FakeCases(dict(self.store.cases))
        self._requests = FakeRequests(dict(self.store.requests))
        self._deposits = FakeDeposits(list(self.store.deposits))
        self._evidence = FakeEvidence(dict(self.store.evidence))
        self._ledger = FakeLedger(list(self.store.custody), list(self.store.checkpoints))
        self._tokens = FakeTokens(dict(self.store.tokens))
        return self

    @property
    def evidence(self) -> FakeEvidence:
        return self._evidence

    @property
    def ledger(self) -> FakeLedger:
        return self._ledger

    @property
    def tokens(self) -> FakeTokens:
        return self._tokens

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
        self.store.evidence = dict(self._evidence.staged)
        self.store.custody = list(self._ledger.staged)
        self.store.checkpoints = list(self._ledger.staged_checkpoints)
        self.store.tokens = dict(self._tokens.staged)
        self.store.commits += 1

    def rollback(self) -> None:
        self.__enter__()
