"""SQL repositories: map table rows to domain objects and back.

Writes use SQLAlchemy Core statements rather than ORM instance tracking: a request is an aggregate saved as one
row plus its new events, so there is nothing for an identity map to do, and every user action is one durable
transaction whose cost we keep small (see ``bench/requests.py``).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, func, insert, or_, select, update
from sqlalchemy.orm import Session

from hanoinet.cases.orm import CaseRow
from hanoinet.platform.db import affected
from hanoinet.platform.errors import Conflict
from hanoinet.platform.orm import Base
from hanoinet.platform.ports import MAX_PAGE, MAX_ROWS
from hanoinet.platform.sqlrows import from_row, to_row
from hanoinet.requests.domain import OPEN_STATES, Direction, EventKind, Request, RequestEvent
from hanoinet.requests.orm import RequestEventRow, RequestRow
from hanoinet.requests.ports import InboxQuery, RequestActivity, RequestSummary

_INSERT_REQUEST = insert(Base.metadata.tables[RequestRow.__tablename__])
_INSERT_EVENTS = insert(Base.metadata.tables[RequestEventRow.__tablename__])


def _request_values(request: Request) -> dict[str, Any]:
    return {
        "state": request.state.value,
        "is_open": request.state in OPEN_STATES,
        "items": request.items,
        "emergency": request.emergency,
        "deadline": request.deadline,
        "updated_at": request.events[-1].at if request.events else request.created_at,
        "peer_node": request.peer,
        "translations": request.translations or None,
        "language": request.language or None,
        "means": request.means.value if request.means else None,
        "confidential": request.confidential,
    }


class SqlRequestRepository:
    """Requests in ``requests`` with their history in ``request_events``."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._loaded: dict[str, tuple[int, int]] = {}  # id -> (version, number of events) when loaded

    def add(self, request: Request, next_due_at: datetime | None, next_clock: str | None) -> None:
        self.session.execute(
            _INSERT_REQUEST,
            to_row(
                request,
                omit=("events", "peer", "translations", "confidential", "language", "means"),
                counterpart_state=request.counterpart_state,
                next_due_at=next_due_at,
                next_clock=next_clock,
                **_request_values(request),
            ),
        )
        self._insert_events(request, 0)
        self._loaded[request.id] = (request.version, len(request.events))

    def _insert_events(self, request: Request, already: int) -> None:
        new = [to_row(e, request_id=request.id) for e in request.events[already:]]
        if new:
            self.session.execute(_INSERT_EVENTS, new)

    def get(self, request_id: str) -> Request | None:
        # populate_existing: rows updated with Core statements in this session must be read back fresh.
        row = self.session.get(RequestRow, request_id, populate_existing=True)
        if row is None:
            return None
        request = self._request(row, self._events(request_id))
        self._loaded[request.id] = (request.version, len(request.events))
        return request

    def _events(self, request_id: str) -> list[RequestEvent]:
        stmt = select(RequestEventRow).where(RequestEventRow.request_id == request_id).order_by(RequestEventRow.seq)
        return [from_row(RequestEvent, e) for e in self.session.scalars(stmt)]

    @staticmethod
    def _request(row: RequestRow, events: list[RequestEvent]) -> Request:
        return from_row(
            Request,
            row,
            items=dict(row.items),
            events=events,
            peer=row.peer_node,
            translations=dict(row.translations or {}),
            language=row.language or "",
        )

    def save(self, request: Request, next_due_at: datetime | None, next_clock: str | None) -> None:
        version, known_events = self._loaded.get(request.id, (request.version, len(request.events)))
        result = self.session.execute(
            update(RequestRow)
            .where(and_(RequestRow.id == request.id, RequestRow.version == version))
            .values(
                version=version + 1,
                next_due_at=next_due_at,
                next_clock=next_clock,
                **_request_values(request),
            )
            .execution_options(synchronize_session=False)
        )
        if affected(result) != 1:
            raise Conflict(f"request {request.id} was changed by someone else; reload it and try again")
        self._insert_events(request, known_events)
        request.version = version + 1
        self._loaded[request.id] = (request.version, len(request.events))

    def follow_ups(self, request_id: str) -> Sequence[Request]:
        stmt = select(RequestRow).where(RequestRow.follows_up == request_id).execution_options(populate_existing=True)
        rows = self.session.scalars(stmt).all()
        return [self._request(r, self._events(r.id)) for r in rows]

    def ids_starting_with(self, prefixes: Collection[str], limit: int) -> Sequence[str]:
        lengths = {len(p) for p in prefixes}
        if not prefixes:
            return []
        if len(lengths) != 1:
            raise ValueError("the prefixes must all have one length")
        # substr, not LIKE: SQLite's LIKE ignores case and both read % and _ as wildcards.
        head = func.substr(RequestRow.id, 1, lengths.pop())
        stmt = select(RequestRow.id).where(head.in_(sorted(prefixes))).order_by(RequestRow.id)
        return list(self.session.scalars(stmt.limit(max(0, min(limit, MAX_ROWS)))))

    def inbox(self, query: InboxQuery) -> Sequence[RequestSummary]:
        stmt = _inbox_statement(query)
        return [from_row(RequestSummary, r, case_reference=r.reference) for r in self.session.execute(stmt)]

    def activity(
        self, since: datetime, until: datetime, direction: Direction | None = None, instrument: str | None = None
    ) -> Sequence[RequestActivity]:
        found = self.session.execute(_activity_statement(since, until, direction, instrument)).all()
        refused = [r.id for r in found if r.refused_at is not None]
        grounds: dict[str, tuple[str, ...]] = {}
        for start in range(0, len(refused), _IN_CHUNK):  # only refused requests: few, read by primary key
            stmt = select(RequestEventRow.request_id, RequestEventRow.data).where(
                RequestEventRow.request_id.in_(refused[start : start + _IN_CHUNK]),
                RequestEventRow.kind == EventKind.REFUSED.value,
            )
            for request_id, data in self.session.execute(stmt):
                grounds.setdefault(request_id, tuple(str(g) for g in (data or {}).get("grounds", [])))
        return [from_row(RequestActivity, r, grounds=grounds.get(r.id, ())) for r in found]


_IN_CHUNK = 500
"""Ids per ``IN (…)`` list: well under every backend's limit on bound parameters."""


_REQUEST_COLUMNS = (
    RequestRow.id,
    RequestRow.instrument,
    RequestRow.type,
    RequestRow.direction,
    RequestRow.counterpart_state,
    RequestRow.state,
    RequestRow.emergency,
)
"""What both an inbox line (``RequestSummary``) and the statistics (``RequestActivity``) read of a request's row."""


def _first(condition: ColumnElement[bool]) -> ColumnElement[datetime]:
    """The time of a request's first event meeting ``condition`` (NULL if none): MIN over a CASE, one pass."""
    return func.min(case((condition, RequestEventRow.at)))


def _activity_statement(
    since: datetime, until: datetime, direction: Direction | None, instrument: str | None
) -> Select[*tuple[Any, ...]]:
    """One row per request sent or received in ``[since, until)``, with the first time of each milestone.

    The database aggregates the events (``MIN(CASE …)`` grouped by request) so that a year of history is not
    loaded event by event; the same SQL runs on SQLite and PostgreSQL. A request cannot be sent before it was
    created, so ``created_at < until`` narrows the scan through its index before grouping.
    """
    event = RequestEventRow
    started = _first(
        or_(
            and_(RequestRow.direction == Direction.OUTGOING.value, event.kind == EventKind.SENT.value),
            and_(RequestRow.direction == Direction.INCOMING.value, event.kind == EventKind.RECEIVED.value),
        )
    )
    stmt = (
        select(
            *_REQUEST_COLUMNS,
            started.label("started_at"),
            _first(event.kind == EventKind.ACKNOWLEDGED.value).label("acknowledged_at"),
            _first(event.kind.in_([EventKind.EXECUTED.value, EventKind.PRESERVED.value])).label("executed_at"),
            _first(event.kind == EventKind.REFUSED.value).label("refused_at"),
            _first(event.kind == EventKind.WITHDRAWN.value).label("withdrawn_at"),
        )
        .join(event, event.request_id == RequestRow.id)
        .where(RequestRow.created_at < until)
        .group_by(*_REQUEST_COLUMNS)
        .having(and_(started >= since, started < until))
        .order_by(RequestRow.id)
    )
    if direction is not None:
        stmt = stmt.where(RequestRow.direction == direction.value)
    if instrument is not None:
        stmt = stmt.where(RequestRow.instrument == instrument)
    return stmt


_SUMMARY_COLUMNS = (
    *_REQUEST_COLUMNS,
    RequestRow.case_id,
    RequestRow.created_at,
    RequestRow.next_due_at,
    RequestRow.next_clock,
)


def _inbox_statement(query: InboxQuery) -> Select[*tuple[Any, ...]]:
    """Build the inbox query so that each common filter is served by one of the ``requests`` indexes."""
    stmt = select(*_SUMMARY_COLUMNS, CaseRow.reference).join(CaseRow, CaseRow.id == RequestRow.case_id)
    for column, value in (
        (RequestRow.direction, query.direction.value if query.direction else None),
        (RequestRow.state, query.state.value if query.state else None),
        (RequestRow.counterpart_state, query.counterpart_state),
        (RequestRow.type, query.type),
        (RequestRow.instrument, query.instrument),
        (RequestRow.case_id, query.case_id),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if query.open_only:
        stmt = stmt.where(RequestRow.is_open.is_(True))
    if query.search:
        term = query.search.strip()
        stmt = stmt.where(
            or_(
                RequestRow.id.startswith(term.lower(), autoescape=True),
                func.lower(CaseRow.reference).contains(term.lower(), autoescape=True),
            )
        )
    by_due = query.overdue or query.due_within_seconds is not None
    if query.overdue:
        stmt = stmt.where(RequestRow.next_due_at < query.now)
    if query.due_within_seconds is not None:
        stmt = stmt.where(
            RequestRow.next_due_at >= query.now,
            RequestRow.next_due_at < query.now + timedelta(seconds=query.due_within_seconds),
        )
    order = (RequestRow.next_due_at, RequestRow.id) if by_due else (RequestRow.created_at.desc(), RequestRow.id)
    return stmt.order_by(*order).limit(min(query.limit, MAX_PAGE)).offset(query.offset)
