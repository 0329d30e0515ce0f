"""SQL repositories and the unit of work on a real database (SQLite file and PostgreSQL), never a fake."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from hanoinet.app.unit_of_work import SqlUnitOfWork
from hanoinet.cases.domain import Case
from hanoinet.platform.errors import Conflict
from hanoinet.requests.domain import Action, Direction, EventKind, Request, RequestEvent, RequestState
from hanoinet.requests.ports import InboxQuery
from hanoinet.rules.loader import load_builtin_packs
from hanoinet.treaty.domain import DepositAction, DepositEvent
from tests.factories import complete_items, reference

UN = "uncc-2024"
HANOI = timezone(timedelta(hours=7))
VIETNAMESE = "Tấn công mã độc tống tiền vào hệ thống bệnh viện ở Hà Nội; dữ liệu được lưu tại Đà Nẵng."

UowFactory = Callable[[], SqlUnitOfWork]


@pytest.fixture
def uow(engine: Engine) -> UowFactory:
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    return lambda: SqlUnitOfWork(factory)


def make_case(created_at: datetime, ref: str | None = None) -> Case:
    return Case(
        id=str(uuid.uuid4()),
        reference=ref or reference("LOTUS"),
        offence="system_interference",
        max_penalty_years=10,
        summary=VIETNAMESE,
        legal_qualification="Điều 287 Bộ luật Hình sự",
        created_at=created_at,
    )


def make_request(
    case: Case,
    at: datetime,
    *,
    type_: str = "preservation",
    direction: Direction = Direction.OUTGOING,
    counterpart: str = "THA",
    state: RequestState = RequestState.DRAFT,
    follows_up: str | None = None,
) -> Request:
    """A request with its creation event; the state is set directly, as a repository must store any state."""
    outgoing = direction is Direction.OUTGOING
    request = Request(
        id=str(uuid.uuid4()),
        case_id=case.id,
        instrument=UN,
        type=type_,
        direction=direction,
        requesting_state="VNM" if outgoing else counterpart,
        requested_state=counterpart if outgoing else "VNM",
        items=complete_items(UN, type_),
        emergency=False,
        deadline=None,
        follows_up=follows_up,
        state=state,
        created_at=at,
    )
    kind = EventKind.CREATED if outgoing else EventKind.RECEIVED
    request.events.append(RequestEvent(1, kind, at, "tester", None, state, {}))
    return request


def store_case(uow: UowFactory, case: Case) -> None:
    with uow() as work:
        work.cases.add(case)
        work.commit()


# --- cases ------------------------------------------------------------------------------------------------------


def test_case_round_trip_by_id_and_reference(uow: UowFactory, now: datetime) -> None:
    case = make_case(now.astimezone(HANOI))
    store_case(uow, case)

    with uow() as work:
        by_id = work.cases.get(case.id)
        by_reference = work.cases.by_reference(case.reference)

    assert by_id == case
    assert by_reference == case
    assert by_id is not None
    assert by_id.created_at.utcoffset() == timedelta(0)
    assert by_id.summary == VIETNAMESE


def test_unknown_case_is_none(uow: UowFactory) -> None:
    with uow() as work:
        assert work.cases.get(str(uuid.uuid4())) is None
        assert work.cases.by_reference("NO-SUCH-CASE") is None


def test_cases_are_listed_newest_first_with_paging(uow: UowFactory, now: datetime) -> None:
    cases = [make_case(now + timedelta(minutes=i)) for i in range(5)]
    with uow() as work:
        for case in cases:
            work.cases.add(case)
        work.commit()

    with uow() as work:
        listed = work.cases.list(limit=2, offset=1)

    assert [c.id for c in listed] == [cases[3].id, cases[2].id]


def test_a_case_reference_is_unique(uow: UowFactory, now: datetime) -> None:
    first = make_case(now)
    store_case(uow, first)
    with uow() as work, pytest.raises(IntegrityError):
        work.cases.add(make_case(now, first.reference))


# --- requests ---------------------------------------------------------------------------------------------------


def test_request_round_trip_with_events(uow: UowFactory, now: datetime) -> None:
    case = make_case(now)
    store_case(uow, case)
    request = make_request(case, now.astimezone(HANOI))
    request.items["necessity"] = VIETNAMESE
    request.deadline = (now + timedelta(days=30)).astimezone(HANOI)
    request.events.append(
        RequestEvent(
            2,
            EventKind.AMENDED,
            (now + timedelta(minutes=5)).astimezone(HANOI),
            "Nguyễn Văn An",
            RequestState.DRAFT,
            RequestState.DRAFT,
            {"changed": ["necessity"], "note": VIETNAMESE},
        )
    )
    with uow() as work:
        work.requests.add(request, now + timedelta(hours=24), "acknowledge")
        work.commit()

    with uow() as work:
        loaded = work.requests.get(request.id)

    assert loaded == request
    assert loaded is not None
    assert loaded.items["necessity"] == VIETNAMESE
    assert loaded.events[1].actor == "Nguyễn Văn An"
    assert loaded.events[1].data == {"changed": ["necessity"], "note": VIETNAMESE}
    for instant in (loaded.created_at, loaded.deadline, *(e.at for e in loaded.events)):
        assert instant is not None
        assert instant.tzinfo is not None
        assert instant.utcoffset() == timedelta(0)
    assert loaded.deadline == now + timedelta(days=30)


def test_unknown_request_is_none(uow: UowFactory) -> None:
    with uow() as work:
        assert work.requests.get(str(uuid.uuid4())) is None


def test_a_request_needs_an_existing_case(uow: UowFactory, now: datetime) -> None:
    orphan = make_request(make_case(now), now)
    with uow() as work, pytest.raises(IntegrityError):
        work.requests.add(orphan, None, None)


def test_naive_datetimes_are_refused(uow: UowFactory, now: datetime) -> None:
    case = replace(make_case(now), created_at=now.replace(tzinfo=None))
    with uow() as work, pytest.raises(Exception, match="naive datetimes are refused"):
        work.cases.add(case)


def test_save_writes_the_new_state_events_version_and_projection(uow: UowFactory, now: datetime) -> None:
    case = make_case(now)
    store_case(uow, case)
    request = make_request(case, now)
    with uow() as work:
        work.requests.add(request, None, None)
        work.commit()

    pack = load_builtin_packs()[UN]
    sent_at = now + timedelta(hours=1)
    with uow() as work:
        loaded = work.requests.get(request.id)
        assert loaded is not None
        loaded.apply(Action.SEND, pack, at=sent_at, actor="tester")
        work.requests.save(loaded, sent_at + timedelta(hours=24), "acknowledge")
        work.commit()
    assert loaded.version == 1

    with uow() as work:
        again = work.requests.get(request.id)
        inbox = work.requests.inbox(InboxQuery(now=now, case_id=case.id))
    assert again is not None
    assert again.state is RequestState.SENT
    assert again.version == 1
    assert [(e.seq, e.kind) for e in again.events] == [(1, EventKind.CREATED), (2, EventKind.SENT)]
    assert again.events[1].state_from is RequestState.DRAFT
    assert [(s.id, s.next_due_at, s.next_clock) for s in inbox] == [
        (request.id, sent_at + timedelta(hours=24), "acknowledge")
    ]


def test_saving_a_stale_request_raises_conflict(uow: UowFactory, now: datetime) -> None:
    case = make_case(now)
    store_case(uow, case)
    request = make_request(case, now)
    with uow() as work:
        work.requests.add(request, None, None)
        work.commit()
    pack = load_builtin_packs()[UN]

    with uow() as first, uow() as second:
        mine = first.requests.get(request.id)
        theirs = second.requests.get(request.id)
        assert mine is not None
        assert theirs is not None
        mine.apply(Action.SEND, pack, at=now, actor="first")
        first.requests.save(mine, None, None)
        first.commit()
        theirs.apply(Action.WITHDRAW, pack, at=now, actor="second")
        with pytest.raises(Conflict, match=request.id):
            second.requests.save(theirs, None, None)

    with uow() as work:
        stored = work.requests.get(request.id)
    assert stored is not None
    assert stored.state is RequestState.SENT
    assert [e.actor for e in stored.events] == ["tester", "first"]
    assert stored.version == 1


def test_a_request_loaded_after_save_in_the_same_unit_of_work_is_current(uow: UowFactory, now: datetime) -> None:
    """Within one transaction, reading back a request just saved must show the saved state, not a cached one."""
    case = make_case(now)
    store_case(uow, case)
    request = make_request(case, now)
    with uow() as work:
        work.requests.add(request, None, None)
        work.commit()
    pack = load_builtin_packs()[UN]

    with uow() as work:
        loaded = work.requests.get(request.id)
        assert loaded is not None
        loaded.apply(Action.SEND, pack, at=now, actor="tester")
        work.requests.save(loaded, None, None)
        again = work.requests.get(request.id)
        assert again is not None
        assert again.state is RequestState.SENT
        assert again.version == 1
        assert len(again.events) == 2


def test_follow_ups_in_the_same_unit_of_work_show_their_saved_state(uow: UowFactory, now: datetime) -> None:
    """The services save a follow-up and then read it back through follow_ups() in the same transaction."""
    case = make_case(now)
    store_case(uow, case)
    preservation = make_request(case, now, state=RequestState.PRESERVED)
    mla = make_request(case, now, type_="mla", follows_up=preservation.id)
    with uow() as work:
        work.requests.add(preservation, None, None)
        work.requests.add(mla, None, None)
        work.commit()
    pack = load_builtin_packs()[UN]

    with uow() as work:
        loaded = work.requests.get(mla.id)
        assert loaded is not None
        loaded.apply(Action.SEND, pack, at=now, actor="tester")
        work.requests.save(loaded, None, None)
        follow_ups = work.requests.follow_ups(preservation.id)
        assert [(f.id, f.state) for f in follow_ups] == [(mla.id, RequestState.SENT)]


def test_follow_ups_are_the_requests_pointing_at_one(uow: UowFactory, now: datetime) -> None:
    case = make_case(now)
    store_case(uow, case)
    preservation = make_request(case, now, state=RequestState.PRESERVED)
    mla = make_request(case, now, type_="mla", follows_up=preservation.id, state=RequestState.SENT)
    unrelated = make_request(case, now, type_="mla")
    with uow() as work:
        for r in (preservation, mla, unrelated):
            work.requests.add(r, None, None)
        work.commit()

    with uow() as work:
        assert work.requests.follow_ups(preservation.id) == [mla]
        assert work.requests.follow_ups(mla.id) == []


# --- unit of work -----------------------------------------------------------------------------------------------


def test_leaving_without_commit_discards_everything(uow: UowFactory, now: datetime) -> None:
    case = make_case(now)
    request = make_request(case, now)
    with uow() as work:
        work.cases.add(case)
        work.requests.add(request, None, None)

    with uow() as work:
        assert work.cases.get(case.id) is None
        assert work.requests.get(request.id) is None
        assert work.requests.inbox(InboxQuery(now=now)) == []


def test_an_exception_rolls_back(uow: UowFactory, now: datetime) -> None:
    case = make_case(now)

    def add_then_fail() -> None:
        with uow() as work:
            work.cases.add(case)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        add_then_fail()

    with uow() as work:
        assert work.cases.get(case.id) is None


def test_only_what_was_committed_survives(uow: UowFactory, now: datetime) -> None:
    kept = make_case(now)
    dropped = make_case(now)
    with uow() as work:
        work.cases.add(kept)
        work.commit()
        work.cases.add(dropped)

    with uow() as work:
        assert work.cases.get(kept.id) == kept
        assert work.cases.get(dropped.id) is None


def test_explicit_rollback_discards_staged_work(uow: UowFactory, now: datetime) -> None:
    case = make_case(now)
    with uow() as work:
        work.cases.add(case)
        work.rollback()
        work.commit()

    with uow() as work:
        assert work.cases.get(case.id) is None


# --- inbox ------------------------------------------------------------------------------------------------------


Inbox = dict[str, tuple[Request, datetime | None]]
OUT, IN = Direction.OUTGOING, Direction.INCOMING


@pytest.fixture
def inbox_requests(uow: UowFactory, now: datetime) -> Inbox:
    """Requests with known projections, created one minute apart (later names are newer)."""
    case = make_case(now)
    store_case(uow, case)
    h = timedelta(hours=1)
    # each name maps to the state, direction, type, counterpart State and next due date of a request
    specs: dict[str, tuple[RequestState, Direction, str, str, datetime | None]] = {
        "draft_tha": (RequestState.DRAFT, OUT, "preservation", "THA", None),
        "sent_tha_due_3h": (RequestState.SENT, OUT, "preservation", "THA", now + 3 * h),
        "sent_khm_due_1h": (RequestState.SENT, OUT, "preservation", "KHM", now + h),
        "in_mla_due_30h": (RequestState.RECEIVED, IN, "mla", "THA", now + 30 * h),
        "preserved_overdue_2h": (RequestState.PRESERVED, OUT, "preservation", "THA", now - 2 * h),
        "in_overdue_5h": (RequestState.ACKNOWLEDGED, IN, "preservation", "THA", now - 5 * h),
        "due_now": (RequestState.SENT, OUT, "preservation", "LAO", now),
        "executed_mla": (RequestState.EXECUTED, OUT, "mla", "THA", None),
    }
    made: Inbox = {}
    with uow() as work:
        for minute, (name, (state, direction, type_, counterpart, due)) in enumerate(specs.items()):
            created = now - timedelta(days=1) + timedelta(minutes=minute)
            request = make_request(
                case, created, type_=type_, direction=direction, counterpart=counterpart, state=state
            )
            work.requests.add(request, due, "acknowledge" if due else None)
            made[name] = (request, due)
        work.commit()
    return made


def names(uow: UowFactory, inbox: Inbox, query: InboxQuery) -> list[str]:
    by_id = {r.id: name for name, (r, _) in inbox.items()}
    with uow() as work:
        return [by_id[s.id] for s in work.requests.inbox(query)]


def test_inbox_without_filter_is_newest_first(uow: UowFactory, inbox_requests: Inbox, now: datetime) -> None:
    assert names(uow, inbox_requests, InboxQuery(now=now)) == list(reversed(inbox_requests))


def test_inbox_summary_carries_the_projection(uow: UowFactory, inbox_requests: Inbox, now: datetime) -> None:
    request, due = inbox_requests["sent_khm_due_1h"]
    with uow() as work:
        (summary,) = work.requests.inbox(InboxQuery(now=now, counterpart_state="KHM"))
    assert summary.id == request.id
    assert summary.case_id == request.case_id
    assert summary.direction is Direction.OUTGOING
    assert summary.state is RequestState.SENT
    assert summary.type == "preservation"
    assert summary.instrument == UN
    assert summary.next_due_at == due
    assert summary.next_clock == "acknowledge"
    assert summary.created_at == request.created_at
    assert summary.created_at.utcoffset() == timedelta(0)


def test_inbox_filters_by_direction(uow: UowFactory, inbox_requests: Inbox, now: datetime) -> None:
    query = InboxQuery(now=now, direction=Direction.INCOMING)
    assert names(uow, inbox_requests, query) == ["in_overdue_5h", "in_mla_due_30h"]


def test_inbox_filters_by_state(uow: UowFactory, inbox_requests: Inbox, now: datetime) -> None:
    query = InboxQuery(now=now, state=RequestState.SENT)
    assert names(uow, inbox_requests, query) == ["due_now", "sent_khm_due_1h", "sent_tha_due_3h"]


def test_inbox_filters_by_counterpart(uow: UowFactory, inbox_requests: Inbox, now: datetime) -> None:
    assert names(uow, inbox_requests, InboxQuery(now=now, counterpart_state="KHM")) == ["sent_khm_due_1h"]
    assert names(uow, inbox_requests, InboxQuery(now=now, counterpart_state="CHL")) == []


def test_inbox_filters_by_type(uow: UowFactory, inbox_requests: Inbox, now: datetime) -> None:
    assert names(uow, inbox_requests, InboxQuery(now=now, type="mla")) == ["executed_mla", "in_mla_due_30h"]


def test_inbox_open_only_leaves_out_drafts_and_decided(uow: UowFactory, inbox_requests: Inbox, now: datetime) -> None:
    found = names(uow, inbox_requests, InboxQuery(now=now, open_only=True))
    assert set(found) == set(inbox_requests) - {"draft_tha", "executed_mla"}


def test_inbox_due_within_is_soonest_first_and_half_open(uow: UowFactory, inbox_requests: Inbox, now: datetime) -> None:
    query = InboxQuery(now=now, due_within_seconds=3 * 3600)
    # [now, now + 3h): due exactly now is in, due exactly at the end is out, overdue and undated are out
    assert names(uow, inbox_requests, query) == ["due_now", "sent_khm_due_1h"]
    wide = InboxQuery(now=now, due_within_seconds=48 * 3600)
    assert names(uow, inbox_requests, wide) == ["due_now", "sent_khm_due_1h", "sent_tha_due_3h", "in_mla_due_30h"]


def test_inbox_overdue_is_most_overdue_first(uow: UowFactory, inbox_requests: Inbox, now: datetime) -> None:
    query = InboxQuery(now=now, overdue=True)
    assert names(uow, inbox_requests, query) == ["in_overdue_5h", "preserved_overdue_2h"]


def test_inbox_compares_instants_not_local_clock_readings(
    uow: UowFactory, inbox_requests: Inbox, now: datetime
) -> None:
    """The same instant written in Hanoi time must give the same answer as in UTC."""
    in_hanoi = now.astimezone(HANOI)
    assert names(uow, inbox_requests, InboxQuery(now=in_hanoi, overdue=True)) == [
        "in_overdue_5h",
        "preserved_overdue_2h",
    ]
    assert names(uow, inbox_requests, InboxQuery(now=in_hanoi, due_within_seconds=3 * 3600)) == [
        "due_now",
        "sent_khm_due_1h",
    ]


def test_inbox_filters_combine(uow: UowFactory, inbox_requests: Inbox, now: datetime) -> None:
    query = InboxQuery(now=now, direction=Direction.OUTGOING, state=RequestState.SENT, due_within_seconds=7200)
    assert names(uow, inbox_requests, query) == ["due_now", "sent_khm_due_1h"]
    by_case = InboxQuery(now=now, case_id=inbox_requests["due_now"][0].case_id, instrument=UN)
    assert len(names(uow, inbox_requests, by_case)) == len(inbox_requests)
    assert names(uow, inbox_requests, InboxQuery(now=now, instrument="budapest-ets185")) == []


def test_inbox_limit_and_offset(uow: UowFactory, inbox_requests: Inbox, now: datetime) -> None:
    newest_first = list(reversed(inbox_requests))
    assert names(uow, inbox_requests, InboxQuery(now=now, limit=3)) == newest_first[:3]
    assert names(uow, inbox_requests, InboxQuery(now=now, limit=3, offset=3)) == newest_first[3:6]
    assert names(uow, inbox_requests, InboxQuery(now=now, limit=3, offset=6)) == newest_first[6:]
    due = InboxQuery(now=now, due_within_seconds=48 * 3600, limit=2, offset=1)
    assert names(uow, inbox_requests, due) == ["sent_khm_due_1h", "sent_tha_due_3h"]


def test_ids_starting_with_compares_exactly_case_and_wildcards_included(uow: UowFactory, now: datetime) -> None:
    case = make_case(now)
    store_case(uow, case)
    ids = ["abcd-1111", "abcd-2222", "ABCD-3333", "ab%d-4444", "abxd-5555"]
    with uow() as work:
        for one in ids:
            request = make_request(case, now)
            request.id = one
            work.requests.add(request, None, None)
        work.commit()

    with uow() as work:
        repo = work.requests
        assert repo.ids_starting_with(["abcd"], 10) == ["abcd-1111", "abcd-2222"]
        assert repo.ids_starting_with(["ab%d"], 10) == ["ab%d-4444"]  # % is a character, not a wildcard
        assert repo.ids_starting_with(["ab_d"], 10) == []  # and so is _
        assert repo.ids_starting_with(["ABCD-3", "abxd-5"], 10) == ["ABCD-3333", "abxd-5555"]
        assert repo.ids_starting_with(["abcd"], 1) == ["abcd-1111"]
        assert repo.ids_starting_with([], 10) == []
        with pytest.raises(ValueError, match="one length"):
            repo.ids_starting_with(["ab", "abc"], 10)


# --- deposits ---------------------------------------------------------------------------------------------------


def deposit(party: str, action: DepositAction, on: date, instrument: str = UN) -> DepositEvent:
    return DepositEvent(instrument=instrument, party=party, action=action, on=on)


def test_deposits_add_all_and_list_in_date_order(uow: UowFactory, now: datetime) -> None:
    events = [
        deposit("VNM", DepositAction.RATIFICATION, date(2026, 1, 12)),
        deposit("VNM", DepositAction.SIGNATURE, date(2025, 10, 25)),
        deposit("FRA", DepositAction.SIGNATURE, date(2001, 11, 23), "budapest-ets185"),
    ]
    with uow() as work:
        work.deposits.add_all(events, now)
        work.deposits.add_all([], now)
        work.commit()

    with uow() as work:
        everything = work.deposits.list()
        un_only = work.deposits.list(UN)
        budapest = work.deposits.list("budapest-ets185")

    assert everything == [events[2], events[1], events[0]]
    assert un_only == [events[1], events[0]]
    assert budapest == [events[2]]
    assert all(isinstance(e.action, DepositAction) for e in everything)


def test_deposits_are_not_recorded_without_commit(uow: UowFactory, now: datetime) -> None:
    with uow() as work:
        work.deposits.add_all([deposit("VNM", DepositAction.SIGNATURE, date(2025, 10, 25))], now)

    with uow() as work:
        assert work.deposits.list() == []


def test_the_same_deposit_event_cannot_be_recorded_twice(uow: UowFactory, now: datetime) -> None:
    signature = deposit("VNM", DepositAction.SIGNATURE, date(2025, 10, 25))
    with uow() as work:
        work.deposits.add_all([signature], now)
        work.commit()

    with uow() as work, pytest.raises(IntegrityError):
        work.deposits.add_all([signature], now + timedelta(days=1))

    same_day_other_instrument = replace(signature, instrument="budapest-ets185")
    with uow() as work:
        work.deposits.add_all([same_day_other_instrument], now)
        work.commit()
    with uow() as work:
        assert work.deposits.list() == [signature, same_day_other_instrument]
