"""The statistics' repository method on a real database (SQLite file and PostgreSQL): the database aggregates the
first time of each milestone per request, filters the period, and agrees with the in-memory fake."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from hanoinet.app.node import Node
from hanoinet.app.unit_of_work import SqlUnitOfWork
from hanoinet.cases.domain import Case
from hanoinet.requests.domain import Direction, EventKind, Request, RequestEvent, RequestState
from hanoinet.requests.ports import RequestActivity
from hanoinet.rules.loader import load_builtin_packs
from hanoinet.statistics.service import statistics
from hanoinet.treaty.countries import load_catalog
from tests.factories import complete_items
from tests.fakes import FakeRequests, FixedClock

UN = "uncc-2024"
HANOI = timezone(timedelta(hours=7))
SINCE = datetime(2027, 1, 1, tzinfo=UTC)
UNTIL = datetime(2027, 2, 1, tzinfo=UTC)

UowFactory = Callable[[], SqlUnitOfWork]


@pytest.fixture
def uow(engine: Engine) -> UowFactory:
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    return lambda: SqlUnitOfWork(factory)


@pytest.fixture
def case(uow: UowFactory) -> Case:
    found = Case(
        id=str(uuid.uuid4()),
        reference=f"STATS-{uuid.uuid4().hex[:8]}",
        offence="system_interference",
        max_penalty_years=10,
        summary="Ransomware",
        legal_qualification="",
        created_at=SINCE - timedelta(days=60),
    )
    with uow() as work:
        work.cases.add(found)
        work.commit()
    return found


def request(
    case: Case,
    *steps: tuple[EventKind, datetime, dict[str, object]] | tuple[EventKind, datetime],
    direction: Direction = Direction.OUTGOING,
    type_: str = "mla",
    instrument: str = UN,
    counterpart: str = "THA",
    emergency: bool = False,
) -> Request:
    """A request whose history is the given events (kind, time[, data]); its state is the last event's."""
    outgoing = direction is Direction.OUTGOING
    first_at = steps[0][1]
    built = Request(
        id=str(uuid.uuid4()),
        case_id=case.id,
        instrument=instrument,
        type=type_,
        direction=direction,
        requesting_state="VNM" if outgoing else counterpart,
        requested_state=counterpart if outgoing else "VNM",
        items=complete_items(instrument, type_),
        emergency=emergency,
        deadline=None,
        follows_up=None,
        state=RequestState.DRAFT,
        created_at=first_at,
    )
    states = {
        EventKind.CREATED: RequestState.DRAFT,
        EventKind.SENT: RequestState.SENT,
        EventKind.RECEIVED: RequestState.RECEIVED,
        EventKind.ACKNOWLEDGED: RequestState.ACKNOWLEDGED,
        EventKind.EXECUTION_BEGUN: RequestState.IN_EXECUTION,
        EventKind.EXECUTED: RequestState.EXECUTED,
        EventKind.PRESERVED: RequestState.PRESERVED,
        EventKind.RELEASED: RequestState.RELEASED,
        EventKind.REFUSED: RequestState.REFUSED,
        EventKind.WITHDRAWN: RequestState.WITHDRAWN,
        EventKind.CLOSED: RequestState.CLOSED,
    }
    previous: RequestState | None = None
    for seq, step in enumerate(steps, start=1):
        kind, at = step[0], step[1]
        data = dict(step[2]) if len(step) > 2 else {}
        state = states[kind]
        built.events.append(RequestEvent(seq, kind, at, "tester", previous, state, data))
        previous = state
    built.state = previous or RequestState.DRAFT
    return built


def store(uow: UowFactory, *requests: Request) -> None:
    with uow() as work:
        for r in requests:
            work.requests.add(r, None, None)
        work.commit()


def activity(uow: UowFactory, **filters: object) -> dict[str, RequestActivity]:
    with uow() as work:
        return {a.id: a for a in work.requests.activity(SINCE, UNTIL, **filters)}  # type: ignore[arg-type]


def h(hours: float, start: datetime = SINCE) -> datetime:
    return start + timedelta(hours=hours)


def test_first_time_of_each_milestone_per_request(uow: UowFactory, case: Case) -> None:
    executed = request(
        case,
        (EventKind.CREATED, h(-48)),
        (EventKind.SENT, h(10).astimezone(HANOI)),  # stored in UTC whatever the offset it was given in
        (EventKind.ACKNOWLEDGED, h(12)),
        (EventKind.EXECUTION_BEGUN, h(13)),
        (EventKind.EXECUTED, h(40)),
        (EventKind.CLOSED, h(41)),
        emergency=True,
    )
    preserved = request(
        case,
        (EventKind.RECEIVED, h(100)),
        (EventKind.PRESERVED, h(103)),
        (EventKind.RELEASED, h(500)),
        direction=Direction.INCOMING,
        type_="preservation",
        counterpart="KHM",
    )
    store(uow, executed, preserved)
    found = activity(uow)
    assert set(found) == {executed.id, preserved.id}
    a = found[executed.id]
    assert (a.started_at, a.acknowledged_at, a.executed_at) == (h(10), h(12), h(40))
    assert a.started_at.tzinfo is not None
    assert (a.refused_at, a.withdrawn_at, a.grounds) == (None, None, ())
    assert (a.direction, a.state, a.emergency, a.type, a.instrument) == (
        Direction.OUTGOING, RequestState.CLOSED, True, "mla", UN,
    )  # fmt: skip
    b = found[preserved.id]
    assert (b.started_at, b.acknowledged_at, b.executed_at) == (h(100), None, h(103))
    assert (b.direction, b.counterpart_state, b.state) == (Direction.INCOMING, "KHM", RequestState.RELEASED)


def test_the_period_is_half_open_and_drafts_are_left_out(uow: UowFactory, case: Case) -> None:
    at_start = request(case, (EventKind.CREATED, h(-1)), (EventKind.SENT, SINCE))
    before = request(case, (EventKind.CREATED, h(-10)), (EventKind.SENT, SINCE - timedelta(microseconds=1)))
    at_end = request(case, (EventKind.CREATED, h(-1, UNTIL)), (EventKind.SENT, UNTIL))
    last_moment = request(case, (EventKind.CREATED, h(-1, UNTIL)), (EventKind.SENT, UNTIL - timedelta(seconds=1)))
    draft = request(case, (EventKind.CREATED, h(5)))
    # Sent before the period but decided in it: it belongs to the period it was sent in.
    decided_later = request(case, (EventKind.CREATED, h(-30)), (EventKind.SENT, h(-20)), (EventKind.EXECUTED, h(5)))
    # An outgoing request's "received" (as when mirrored) is not when it was sent.
    odd = request(case, (EventKind.RECEIVED, h(1)), (EventKind.SENT, h(-100, UNTIL)))
    store(uow, at_start, before, at_end, last_moment, draft, decided_later, odd)
    found = activity(uow)
    assert set(found) == {at_start.id, last_moment.id, odd.id}
    assert found[odd.id].started_at == h(-100, UNTIL)


def test_refusal_grounds_and_outcome_times(uow: UowFactory, case: Case) -> None:
    refused = request(
        case,
        (EventKind.RECEIVED, h(1)),
        (EventKind.ACKNOWLEDGED, h(2)),
        (EventKind.REFUSED, h(30), {"grounds": ["essential_interests", "not_in_conformity"], "note": "x"}),
        direction=Direction.INCOMING,
    )
    withdrawn = request(case, (EventKind.CREATED, h(0)), (EventKind.SENT, h(1)), (EventKind.WITHDRAWN, h(3)))
    store(uow, refused, withdrawn)
    found = activity(uow)
    assert found[refused.id].refused_at == h(30)
    assert found[refused.id].grounds == ("essential_interests", "not_in_conformity")
    assert found[withdrawn.id].withdrawn_at == h(3)
    assert found[withdrawn.id].grounds == ()


def test_grounds_of_many_refusals_are_read_in_chunks(uow: UowFactory, case: Case) -> None:
    refusals = [
        request(
            case,
            (EventKind.RECEIVED, h(1 + i / 100)),
            (EventKind.REFUSED, h(5), {"grounds": ["essential_interests"]}),
            direction=Direction.INCOMING,
        )
        for i in range(520)
    ]
    store(uow, *refusals)
    found = activity(uow)
    assert len(found) == 520
    assert all(a.grounds == ("essential_interests",) for a in found.values())


def test_filters_by_direction_and_instrument(uow: UowFactory, case: Case) -> None:
    outgoing = request(case, (EventKind.CREATED, h(0)), (EventKind.SENT, h(1)))
    incoming = request(case, (EventKind.RECEIVED, h(1)), direction=Direction.INCOMING)
    budapest = request(
        case, (EventKind.CREATED, h(0)), (EventKind.SENT, h(2)), instrument="budapest-ets185", type_="mla"
    )
    store(uow, outgoing, incoming, budapest)
    assert set(activity(uow, direction=Direction.INCOMING)) == {incoming.id}
    assert set(activity(uow, direction=Direction.OUTGOING)) == {outgoing.id, budapest.id}
    assert set(activity(uow, instrument="budapest-ets185")) == {budapest.id}
    assert set(activity(uow, direction=Direction.INCOMING, instrument="budapest-ets185")) == set()


def test_the_database_and_the_fake_agree(uow: UowFactory, case: Case) -> None:
    requests = [
        request(case, (EventKind.CREATED, h(0)), (EventKind.SENT, h(1)), (EventKind.ACKNOWLEDGED, h(4))),
        request(case, (EventKind.RECEIVED, h(7)), (EventKind.PRESERVED, h(9)), direction=Direction.INCOMING),
        request(
            case,
            (EventKind.RECEIVED, h(3)),
            (EventKind.REFUSED, h(8), {"grounds": ["essential_interests"]}),
            direction=Direction.INCOMING,
        ),
        request(case, (EventKind.CREATED, h(0)), (EventKind.SENT, SINCE - timedelta(days=1))),
        request(case, (EventKind.CREATED, h(0))),
    ]
    store(uow, *requests)
    fake = FakeRequests({r.id: (r, None, None) for r in requests})
    for direction in (None, Direction.INCOMING, Direction.OUTGOING):
        with uow() as work:
            sql = sorted(work.requests.activity(SINCE, UNTIL, direction), key=lambda a: a.id)
        assert sql == sorted(fake.activity(SINCE, UNTIL, direction), key=lambda a: a.id)


def test_the_statistics_service_on_the_database(uow: UowFactory, case: Case) -> None:
    node = Node(uow=uow, packs=load_builtin_packs(), catalog=load_catalog(), clock=FixedClock(UNTIL), node_state="VNM")
    store(
        uow,
        request(case, (EventKind.RECEIVED, h(0)), (EventKind.ACKNOWLEDGED, h(2)), direction=Direction.INCOMING),
        request(case, (EventKind.RECEIVED, h(0)), (EventKind.ACKNOWLEDGED, h(6)), direction=Direction.INCOMING),
        request(case, (EventKind.RECEIVED, h(0)), (EventKind.ACKNOWLEDGED, h(7)), direction=Direction.INCOMING),
    )
    stats = statistics(node, date(2027, 1, 1), date(2027, 1, 31), Direction.INCOMING)
    (ack, execute) = stats.timings
    assert (ack.requests, ack.median_hours) == (3, 6)
    assert ack.p90_hours == pytest.approx(6.8)
    assert (execute.requests, execute.median_hours) == (0, None)
    assert {f.key: f.count for f in stats.open_by_state} == {"acknowledged": 3}
