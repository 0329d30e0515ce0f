"""Services over in-memory fakes: requests with their clocks, treaty checks at sending, and rollback."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from hanoinet.app.node import Node
from hanoinet.cases import service as cases
from hanoinet.platform.errors import Conflict, IllegalTransition, NoLegalBasis, NotFound, ValidationFailed
from hanoinet.requests import service as requests
from hanoinet.requests.clocks import ClockStatus
from hanoinet.requests.domain import Action, Direction, RequestState
from hanoinet.requests.ports import InboxQuery
from hanoinet.rules.loader import load_builtin_packs
from hanoinet.treaty import service as treaty
from hanoinet.treaty.countries import load_catalog
from hanoinet.treaty.csv_import import parse_deposit_rows
from tests.factories import complete_items, deposits_csv
from tests.fakes import FakeUnitOfWork, FixedClock, Store
from tests.unit.network import add_peer, on_network

START = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def store() -> Store:
    return Store()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
def node(store: Store, clock: FixedClock) -> Node:
    return Node(
        uow=lambda: FakeUnitOfWork(store),
        packs=load_builtin_packs(),
        catalog=load_catalog(),
        clock=clock,
        node_state="VNM",
    )


@pytest.fixture
def in_force(node: Node) -> None:
    treaty.import_deposits(node, parse_deposit_rows(deposits_csv(), "t.csv"), "uncc-2024")


@pytest.fixture
def case_id(node: Node) -> str:
    return cases.open_case(
        node, reference="LOTUS-1", offence="system_interference", max_penalty_years=10, summary="Ransomware"
    ).id


def draft(case_id: str, type_: str = "preservation", **changes: Any) -> requests.RequestDraft:
    base = requests.RequestDraft(
        case=case_id,
        instrument="uncc-2024",
        type=type_,
        requested_state="THA",
        items=complete_items("uncc-2024", type_),
    )
    return replace(base, **changes)


def act(
    node: Node, request_id: str, *actions: Action, grounds: tuple[str, ...] = (), note: str = ""
) -> requests.RequestView:
    view = requests.get_request(node, request_id)
    for action in actions:
        view = requests.act_on_request(node, request_id, action, actor="tester", grounds=grounds, note=note)
    return view


def test_a_draft_may_be_incomplete_but_cannot_be_sent(node: Node, case_id: str, in_force: None) -> None:
    items = complete_items("uncc-2024", "preservation")
    del items["necessity"]
    view = requests.create_request(node, draft(case_id, items=items), actor="tester")
    assert [str(i) for i in view.issues] == ["Art 42(2)(e): the necessity of the preservation is missing"]
    with pytest.raises(ValidationFailed, match=r"Art 42\(2\)\(e\)"):
        act(node, view.request.id, Action.SEND)
    assert requests.get_request(node, view.request.id).request.state is RequestState.DRAFT


def test_structural_problems_stop_even_a_draft(node: Node, case_id: str, store: Store) -> None:
    with pytest.raises(ValidationFailed) as caught:
        requests.create_request(node, draft(case_id, requested_state="XXX", items={"bogus": "x"}), actor="t")
    assert {i.field for i in caught.value.issues} == {"requested_state", "items.bogus"}
    assert store.requests == {}


def test_sending_needs_the_instrument_to_bind_both_states(node: Node, case_id: str, store: Store) -> None:
    view = requests.create_request(node, draft(case_id), actor="tester")
    commits = store.commits
    with pytest.raises(NoLegalBasis) as caught:
        act(node, view.request.id, Action.SEND)
    message = str(caught.value)
    assert "THA (Thailand) is not a Party" in message
    assert "VNM" in message
    assert "bilateral treaty or reciprocity" in message
    assert store.commits == commits


def received(case_id: str, type_: str = "preservation", **changes: Any) -> requests.RequestDraft:
    """A request THA sent to this node (VNM) by other means, registered as received: this node is the requested
    State and takes the actions itself."""
    return draft(case_id, type_, requesting_state="THA", requested_state="VNM", direction=Direction.INCOMING, **changes)


def test_a_request_no_node_can_carry_is_refused_and_stays_a_draft(
    node: Node, case_id: str, in_force: None, store: Store
) -> None:
    view = requests.create_request(node, draft(case_id), actor="tester")
    commits = store.commits
    with pytest.raises(Conflict, match=r"^not sent: this node has no network identity"):
        act(node, view.request.id, Action.SEND)
    assert store.commits == commits
    shown = requests.get_request(node, view.request.id)
    assert shown.request.state is RequestState.DRAFT
    assert [i.field for i in shown.issues] == ["requested_state"]  # what Send would find, said before sending
    assert not requests.preflight(node, draft(case_id)).ready


def test_sending_once_both_are_parties_starts_the_clocks_and_queues_it_for_the_states_node(
    node: Node, case_id: str, in_force: None, tmp_path: Path
) -> None:
    node = on_network(node, tmp_path)
    peer = add_peer(node, tmp_path, "THA")
    view = requests.create_request(node, draft(case_id), actor="tester")
    checked = requests.preflight(node, draft(case_id))
    assert checked.ready
    assert checked.route is not None
    assert checked.route.peer == peer
    sent = act(node, view.request.id, Action.SEND)
    assert sent.request.state is RequestState.SENT
    assert sent.request.peer == peer
    acknowledge = next(c for c in sent.clocks if c.name == "acknowledge")
    assert acknowledge.status is ClockStatus.RUNNING
    assert acknowledge.due_at == START + timedelta(hours=24)
    [queued] = requests.get_request(node, view.request.id).messages
    assert (queued.peer, queued.kind.value) == (peer, "request")


def test_the_preflight_names_the_instrument_and_who_is_not_bound(node: Node, case_id: str) -> None:
    checked = requests.preflight(node, draft(case_id))
    assert checked.basis is not None
    assert not checked.basis.holds
    assert checked.basis.parties == (False, False)
    [basis] = [i for i in checked.problems if i.field == "instrument"]
    assert basis.message.startswith(
        "the Hanoi Convention is not a legal basis between VNM and THA: VNM (Viet Nam) is not"
    )
    assert basis.citation == "Art 65(2)"


def test_a_state_not_yet_bound_gets_the_30_day_delay(
    node: Node, case_id: str, in_force: None, clock: FixedClock
) -> None:
    rows = parse_deposit_rows("state,action,date\nDEU,signature,2026-01-05\nDEU,ratification,2027-02-20\n", "de.csv")
    treaty.import_deposits(node, rows, "uncc-2024")
    view = requests.create_request(node, draft(case_id, requested_state="DEU"), actor="tester")
    with pytest.raises(NoLegalBasis, match=r"DEU .* is not a Party on 2027-03-01"):
        act(node, view.request.id, Action.SEND)
    clock.advance(days=21)  # 2027-03-22: the 30th day after 2027-02-20 (Art 65(2))
    checked = requests.preflight(node, draft(case_id, requested_state="DEU"))
    assert checked.basis is not None
    assert checked.basis.holds
    assert [i.field for i in checked.problems] == ["requested_state"]  # only a node to carry it is missing now


def test_preservation_clock_is_held_while_the_mla_follow_up_is_pending(
    node: Node, case_id: str, clock: FixedClock, store: Store
) -> None:
    preservation = requests.create_request(node, received(case_id), actor="t").request.id
    act(node, preservation, Action.ACKNOWLEDGE, Action.PRESERVE)
    view = requests.get_request(node, preservation)
    [kept] = [c for c in view.clocks if c.name == "preservation"]
    assert kept.due_at == START + timedelta(days=60)
    assert store.requests[preservation][1] == START + timedelta(days=60)

    clock.advance(days=12)  # the follow-up MLA request arrives by other means and is registered here
    mla = requests.create_request(node, received(case_id, "mla", follows_up=preservation), actor="t").request.id
    [held] = [c for c in requests.get_request(node, preservation).clocks if c.name == "preservation"]
    assert held.status is ClockStatus.HELD
    assert held.due_at is None
    assert store.requests[preservation][1] is None  # the inbox projection follows, on registering already
    within_61_days = requests.inbox(node, InboxQuery(now=clock.now(), due_within_seconds=61 * 86400))
    assert [r.id for r in within_61_days] == [mla]  # the held preservation no longer shows as falling due

    clock.advance(days=60)  # day 72: past the 60 days, still held
    act(node, mla, Action.ACKNOWLEDGE, Action.EXECUTE)
    [due] = [c for c in requests.get_request(node, preservation).clocks if c.name == "preservation"]
    assert due.status is ClockStatus.RUNNING
    assert due.due_at == START + timedelta(days=72)  # kept until the follow-up was decided
    overdue = requests.inbox(node, InboxQuery(now=clock.now() + timedelta(minutes=1), overdue=True))
    assert [r.id for r in overdue] == [preservation]


def test_extensions_add_their_period(node: Node, case_id: str) -> None:
    request_id = requests.create_request(node, received(case_id), actor="t").request.id
    view = act(node, request_id, Action.ACKNOWLEDGE, Action.PRESERVE, Action.EXTEND)
    [kept] = [c for c in view.clocks if c.name == "preservation"]
    assert kept.due_at == START + timedelta(days=120)


def test_emergency_requests_are_clocked_in_hours(node: Node, case_id: str) -> None:
    view = requests.create_request(node, received(case_id, "emergency", emergency=True), actor="t")
    due = {c.name: c.due_at for c in view.clocks}
    assert due["acknowledge"] == START + timedelta(hours=1)
    assert due["respond"] == START + timedelta(hours=8)
    soon = requests.inbox(node, InboxQuery(now=START, due_within_seconds=2 * 3600))
    assert [(r.id, r.next_clock) for r in soon] == [(view.request.id, "acknowledge")]
    acknowledged = act(node, view.request.id, Action.ACKNOWLEDGE)
    statuses = {c.name: c.status for c in acknowledged.clocks}
    assert statuses == {"acknowledge": ClockStatus.MET, "respond": ClockStatus.RUNNING}


@pytest.mark.parametrize("direction", [Direction.INCOMING, Direction.OUTGOING])
def test_an_emergency_type_is_an_emergency_without_the_box(node: Node, case_id: str, direction: Direction) -> None:
    given = received(case_id, "emergency") if direction is Direction.INCOMING else draft(case_id, "emergency")
    view = requests.create_request(node, replace(given, emergency=False), actor="t")
    assert view.request.emergency
    assert {c.name for c in view.clocks} >= ({"acknowledge", "respond"} if direction is Direction.INCOMING else set())
    assert [r.emergency for r in requests.inbox(node, InboxQuery(now=START))] == [True]


def test_the_requesters_deadline_is_a_clock(node: Node, case_id: str) -> None:
    deadline = START + timedelta(days=5)
    view = requests.create_request(node, received(case_id, "mla", deadline=deadline), actor="t")
    assert {c.name: c.due_at for c in view.clocks}["requester_deadline"] == deadline
    executed = act(node, view.request.id, Action.ACKNOWLEDGE, Action.EXECUTE)
    assert all(c.status is not ClockStatus.RUNNING for c in executed.clocks)
    assert requests.inbox(node, InboxQuery(now=START, due_within_seconds=30 * 86400)) == []


def test_amending_sets_removes_and_keeps_items_in_one_change(node: Node, case_id: str, store: Store) -> None:
    items = complete_items("uncc-2024", "preservation")
    view = requests.create_request(node, draft(case_id, items=items), actor="t")
    commits = store.commits
    amended = requests.amend_request(node, view.request.id, {"necessity": "", "intended_mla": "  new  "}, actor="t")
    assert store.commits == commits + 1
    assert "necessity" not in amended.request.items
    assert amended.request.items["intended_mla"] == "new"
    assert {k: v for k, v in amended.request.items.items() if k not in ("necessity", "intended_mla")} == {
        k: v for k, v in items.items() if k not in ("necessity", "intended_mla")
    }
    assert amended.request.events[-1].data == {"changed": ["intended_mla", "necessity"]}


def test_a_note_longer_than_the_limit_is_refused_at_the_service(node: Node, case_id: str, store: Store) -> None:
    request_id = requests.create_request(node, received(case_id, "mla"), actor="t").request.id
    before = store.requests[request_id][0]
    with pytest.raises(ValidationFailed, match="note"):
        act(node, request_id, Action.ACKNOWLEDGE, note="x" * 20_001)
    assert store.requests[request_id][0] == before


def test_an_incoming_request_is_registered_as_received_with_its_clocks(node: Node, case_id: str) -> None:
    incoming = draft(case_id, "mla", requesting_state="THA", requested_state="VNM", direction=Direction.INCOMING)
    view = requests.create_request(node, incoming, actor="t")
    assert view.request.state is RequestState.RECEIVED
    assert view.request.counterpart_state == "THA"
    assert {c.name for c in view.clocks} == {"acknowledge"}
    refused = act(node, view.request.id, Action.REFUSE, grounds=("essential_interests",), note="consulted first")
    assert refused.request.state is RequestState.REFUSED


def test_refusing_on_bank_secrecy_is_refused_and_nothing_changes(node: Node, case_id: str, store: Store) -> None:
    incoming = draft(case_id, "mla", requesting_state="THA", requested_state="VNM", direction=Direction.INCOMING)
    request_id = requests.create_request(node, incoming, actor="t").request.id
    before = store.requests[request_id][0]
    with pytest.raises(ValidationFailed, match="never a ground"):
        act(node, request_id, Action.REFUSE, grounds=("bank_secrecy",))
    assert store.requests[request_id][0] == before


def test_illegal_transitions_and_unknown_ids(node: Node, case_id: str) -> None:
    request_id = requests.create_request(node, draft(case_id, "mla"), actor="t").request.id
    with pytest.raises(IllegalTransition):
        act(node, request_id, Action.EXECUTE)
    with pytest.raises(NotFound):
        requests.get_request(node, "no-such-id")


def _stored_as(store: Store, request_id: str, new_id: str) -> None:
    """Give a stored request another id, to lay out ids that share their start."""
    request, due, clock = store.requests.pop(request_id)
    store.requests[new_id] = (replace(request, id=new_id), due, clock)


def test_a_request_is_found_by_any_unique_start_of_its_id(node: Node, case_id: str, store: Store) -> None:
    ids = [requests.create_request(node, draft(case_id), actor="t").request.id for _ in range(3)]
    for old, new in zip(ids, ["0123456789-aaaa", "0123456789-bbbb", "fedcba98-cccc"], strict=True):
        _stored_as(store, old, new)

    assert requests.resolve_request_id(node, "0123456789-a") == "0123456789-aaaa"
    assert requests.resolve_request_id(node, "fedc") == "fedcba98-cccc"
    assert requests.resolve_request_id(node, "fedcba98-cccc") == "fedcba98-cccc"
    with pytest.raises(ValidationFailed, match=r"several requests.*0123456789-aaaa, 0123456789-bbbb"):
        requests.resolve_request_id(node, "01234567")
    with pytest.raises(NotFound, match="at least 4"):
        requests.resolve_request_id(node, "fed")
    with pytest.raises(NotFound):
        requests.resolve_request_id(node, "FEDC")  # ids are compared exactly
    assert requests.short_ids(node, ["0123456789-aaaa", "0123456789-bbbb", "fedcba98-cccc"]) == {
        "0123456789-aaaa": "0123456789-a",
        "0123456789-bbbb": "0123456789-b",
        "fedcba98-cccc": "fedcba98",
    }


def test_a_follow_up_must_be_of_an_allowed_type_and_the_same_case(node: Node, case_id: str) -> None:
    mla = requests.create_request(node, draft(case_id, "mla"), actor="t").request.id
    with pytest.raises(ValidationFailed, match="cannot follow up mla"):
        requests.create_request(node, draft(case_id, "mla", follows_up=mla), actor="t")


def test_case_references_are_unique(node: Node, case_id: str) -> None:
    with pytest.raises(Conflict):
        cases.open_case(node, reference="LOTUS-1", offence="csam", max_penalty_years=None, summary="again")


def test_treaty_import_is_all_or_nothing(node: Node, store: Store) -> None:
    text = deposits_csv() + "VNM,ratification,2026-02-30\nABC,signature,2026-01-01\n"
    with pytest.raises(ValidationFailed) as caught:
        treaty.import_deposits(node, parse_deposit_rows(text, "bad.csv"), "uncc-2024")
    assert [i.field for i in caught.value.issues] == ["line 82", "line 83"]
    assert store.deposits == []
    status = treaty.instrument_status(node, "uncc-2024", date(2027, 1, 1))
    assert status.instruments_counted == 0


def test_treaty_status_after_import(node: Node, in_force: None) -> None:
    status = treaty.instrument_status(node, "uncc-2024", date(2026, 6, 1))
    assert status.in_force
    assert status.entry_into_force == date(2026, 4, 12)
    assert status.instruments_counted == 40
    assert treaty.legal_basis(node, "VNM", "THA") == ("uncc-2024",)
    assert treaty.legal_basis(node, "VNM", "FRA") == ()
