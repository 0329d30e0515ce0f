"""The services over a real database (SQLite and PostgreSQL), with a clock the test controls.

The Lotus case: Viet Nam asks Thailand to preserve the data of a ransomware attack, then sends the MLA request for
them. The request really goes to Thailand's node (in this process, on its own database, joined by the loopback
transport), which acknowledges, preserves and executes; the preservation clock is held while the MLA request is
pending and runs again once it is decided — on both sides.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from hanoinet.app.bootstrap import bootstrap
from hanoinet.app.node import Node
from hanoinet.cases import service as cases
from hanoinet.federation.domain import MessageKind, MessageStatus
from hanoinet.platform.errors import Conflict, IllegalTransition, NoLegalBasis, ValidationFailed
from hanoinet.platform.settings import Settings
from hanoinet.requests import service as requests
from hanoinet.requests.clocks import ClockStatus
from hanoinet.requests.domain import Action, Direction, EventKind, RequestState
from hanoinet.requests.ports import InboxQuery, RequestSummary
from hanoinet.treaty import service as treaty
from hanoinet.treaty.csv_import import parse_deposit_rows
from hanoinet.treaty.declarations_file import parse_declarations
from tests.conftest import new_postgres_database
from tests.factories import UN_PARTIES, complete_items, deposits_csv, reference
from tests.fakes import FixedClock
from tests.federation_support import LoopbackTransport, connect, deliver_all, endpoint_of, make_node

UN = "uncc-2024"
THA_NODE = "tha-ca"
"""Thailand's node: its central authority, also its 24/7 point of contact (Art 41)."""


@pytest.fixture
def clock(now: datetime) -> FixedClock:
    """One clock for the test and every node of it (their transmissions' times must agree)."""
    return FixedClock(now)


@pytest.fixture
def node(tmp_path: Path, database_url: str, engine: Engine, clock: FixedClock) -> Node:
    """Viet Nam's node, wired by bootstrap on the test database with its keys (a network identity), but with the
    test's clock instead of the system's."""
    settings = Settings(
        data_dir=tmp_path / "vnm-ca",
        database_url=database_url,
        node_state="VNM",
        node_id="vnm-ca",
        node_name="VNM central authority (test)",
        node_endpoint=endpoint_of("vnm-ca"),
        federation_retry_max_seconds=1.0,
    )
    return replace(bootstrap(settings, engine=engine), clock=clock, wall_clock=clock)


@pytest.fixture
def tha(
    request: pytest.FixtureRequest, tmp_path: Path, database_url: str, clock: FixedClock, node: Node
) -> Iterator[Node]:
    """Thailand's node on the same backend (its own SQLite file, or its own PostgreSQL database), with the treaty
    in force; it and Viet Nam's node trust each other's signed entries."""
    url = None
    if database_url.startswith("postgresql"):
        url = new_postgres_database(
            request.getfixturevalue("postgres_server"), request.getfixturevalue("postgres_template")
        )
    engines: list[Engine] = []
    peer = make_node(
        tmp_path,
        "THA",
        THA_NODE,
        roles="central_authority,point_of_contact_24_7",
        database_url=url,
        clock=clock,
        engines=engines,
    )
    connect(node, peer)
    yield peer
    for engine in engines:
        engine.dispose()


@pytest.fixture
def wire(node: Node, tha: Node) -> LoopbackTransport:
    """What carries messages between the two nodes."""
    return LoopbackTransport(node, tha)


@pytest.fixture
def in_force(node: Node) -> None:
    result = treaty.import_deposits(node, parse_deposit_rows(deposits_csv(), "deposits.csv"), UN)
    assert result.recorded == 2 * len(UN_PARTIES)


@pytest.fixture
def case_id(node: Node) -> str:
    return cases.open_case(
        node,
        reference=reference("LOTUS"),
        offence="system_interference",
        max_penalty_years=10,
        summary="Ransomware attack on the hospital information system in Hà Nội",
    ).id


def draft(case_id: str, type_: str = "preservation", **changes: Any) -> requests.RequestDraft:
    fields: dict[str, Any] = {
        "case": case_id,
        "instrument": UN,
        "type": type_,
        "requested_state": "THA",
        "items": complete_items(UN, type_),
        **changes,
    }
    return requests.RequestDraft(**fields)


def act(node: Node, request_id: str, action: Action, **kwargs: Any) -> requests.RequestView:
    return requests.act_on_request(node, request_id, action, actor="duty officer", **kwargs)


def inbox_line(node: Node, request_id: str, case_id: str) -> RequestSummary:
    (line,) = [r for r in requests.inbox(node, InboxQuery(now=node.clock.now(), case_id=case_id)) if r.id == request_id]
    return line


def case_id_on(node: Node, request_id: str) -> str:
    """The case a request is filed under on ``node`` (a node receiving a request files it under a case of its own)."""
    return requests.get_request(node, request_id).request.case_id


def overdue_ids(node: Node) -> list[str]:
    return [r.id for r in requests.inbox(node, InboxQuery(now=node.clock.now(), overdue=True))]


def test_treaty_status_comes_from_the_imported_deposits(node: Node, in_force: None) -> None:
    status = treaty.instrument_status(node, UN)
    assert status.in_force
    assert status.entry_into_force is not None
    assert status.entry_into_force.isoformat() == "2026-04-12"
    assert status.instruments_counted == len(UN_PARTIES)
    assert set(status.parties) == set(UN_PARTIES)

    again = treaty.import_deposits(node, parse_deposit_rows(deposits_csv(), "deposits.csv"), UN)
    assert (again.recorded, again.unchanged) == (0, 2 * len(UN_PARTIES))
    assert len(treaty.deposits(node, UN)) == 2 * len(UN_PARTIES)


@pytest.mark.usefixtures("in_force")
def test_lotus_preservation_then_mla(
    node: Node, tha: Node, wire: LoopbackTransport, clock: FixedClock, case_id: str
) -> None:
    preservation_draft = draft(case_id)
    assert requests.validate_request(node, preservation_draft) == []

    created = requests.create_request(node, preservation_draft, actor="duty officer")
    pid = created.request.id
    assert created.request.state is RequestState.DRAFT
    assert inbox_line(node, pid, case_id).next_due_at is None  # a draft runs no clock

    sent_at = clock.now()
    sent = act(node, pid, Action.SEND)
    assert sent.request.peer == THA_NODE  # preservation is 24/7 business (Art 41(3))
    line = inbox_line(node, pid, case_id)
    assert (line.state, line.next_clock, line.next_due_at) == (
        RequestState.SENT,
        "acknowledge",
        sent_at + timedelta(hours=24),
    )
    (waiting,) = requests.get_request(node, pid).messages
    assert (waiting.peer, waiting.kind, waiting.status) == (THA_NODE, MessageKind.REQUEST, MessageStatus.PENDING)
    assert deliver_all(wire, node, tha) == 1
    received = requests.get_request(tha, pid).request
    assert (received.direction, received.state, received.requesting_state) == (
        Direction.INCOMING,
        RequestState.RECEIVED,
        "VNM",
    )

    # Thailand acts; each action reaches Viet Nam's node at once (it records them when they arrive)
    clock.advance(hours=3)
    act(tha, pid, Action.ACKNOWLEDGE)
    deliver_all(wire, node, tha)
    clock.advance(hours=5)
    preserved_at = clock.now()
    preserved = act(tha, pid, Action.PRESERVE)
    assert preserved.request.state is RequestState.PRESERVED
    deliver_all(wire, node, tha)
    assert requests.get_request(node, pid).request.state is RequestState.PRESERVED
    line = inbox_line(node, pid, case_id)
    assert (line.next_clock, line.next_due_at) == ("preservation", preserved_at + timedelta(days=60))

    # the MLA request for the preserved data: a draft does not hold the preservation clock ...
    clock.advance(days=10)
    mla = requests.create_request(node, draft(case_id, "mla", follows_up=pid), actor="case handler")
    mid = mla.request.id
    assert mla.request.follows_up == pid
    assert inbox_line(node, pid, case_id).next_due_at == preserved_at + timedelta(days=60)

    # ... sending it does: the projection is NULL while the MLA request is pending, here and in Thailand
    assert act(node, mid, Action.SEND).request.peer == THA_NODE  # to the node holding the preservation
    held = inbox_line(node, pid, case_id)
    assert (held.next_due_at, held.next_clock) == (None, None)
    view = requests.get_request(node, pid)
    (preservation_clock,) = [c for c in view.clocks if c.name == "preservation"]
    assert preservation_clock.status is ClockStatus.HELD
    assert preservation_clock.due_at is None
    assert deliver_all(wire, node, tha) == 1
    assert requests.get_request(tha, mid).request.follows_up == pid
    assert inbox_line(tha, pid, case_id_on(tha, pid)).next_due_at is None

    # past the original 60 days, a held preservation is not overdue
    clock.advance(days=60)
    assert clock.now() > preserved_at + timedelta(days=60)
    assert pid not in overdue_ids(node)
    assert pid not in overdue_ids(tha)
    assert mid in overdue_ids(node)  # the MLA request's own acknowledgement target (10 days) has passed

    act(tha, mid, Action.ACKNOWLEDGE)
    deliver_all(wire, node, tha)
    clock.advance(days=5)
    executed_at = clock.now()
    executed = act(tha, mid, Action.EXECUTE)
    assert executed.request.state is RequestState.EXECUTED
    deliver_all(wire, node, tha)
    assert requests.get_request(node, mid).request.state is RequestState.EXECUTED

    due_again = inbox_line(node, pid, case_id)
    assert due_again.next_clock == "preservation"
    assert due_again.next_due_at is not None
    assert due_again.next_due_at >= preserved_at + timedelta(days=60)
    assert due_again.next_due_at == max(preserved_at + timedelta(days=60), executed_at)
    (running,) = [c for c in requests.get_request(node, pid).clocks if c.name == "preservation"]
    assert running.status is ClockStatus.RUNNING
    assert running.due_at == due_again.next_due_at
    assert inbox_line(tha, pid, case_id_on(tha, pid)).next_due_at == due_again.next_due_at

    assert pid not in overdue_ids(node)
    clock.advance(minutes=1)
    assert pid in overdue_ids(node)
    (summary,) = [r for r in requests.inbox(node, InboxQuery(now=clock.now(), overdue=True)) if r.id == pid]
    assert summary.state is RequestState.PRESERVED

    # the history is in the database, in order
    history = requests.get_request(node, pid).request.events
    assert [e.kind for e in history] == [
        EventKind.CREATED,
        EventKind.SENT,
        EventKind.ACKNOWLEDGED,
        EventKind.PRESERVED,
    ]
    assert [e.at for e in history][1:] == [sent_at, sent_at + timedelta(hours=3), preserved_at]

    released = act(tha, pid, Action.RELEASE)
    assert released.request.state is RequestState.RELEASED
    deliver_all(wire, node, tha)
    assert requests.get_request(node, pid).request.state is RequestState.RELEASED
    assert pid not in overdue_ids(node)


def test_preservation_due_date_is_never_before_sixty_days(
    node: Node, clock: FixedClock, in_force: None, case_id: str
) -> None:
    """An MLA request decided quickly does not shorten the minimum preservation period: here Viet Nam is the
    requested State, handling requests from Thailand that reached it by other means and were registered."""
    from_tha = {"direction": Direction.INCOMING, "requesting_state": "THA", "requested_state": "VNM"}
    pid = requests.create_request(node, draft(case_id, **from_tha), actor="duty officer").request.id
    act(node, pid, Action.ACKNOWLEDGE)
    preserved_at = clock.now()
    act(node, pid, Action.PRESERVE)
    mla = draft(case_id, "mla", follows_up=pid, **from_tha)
    mid = requests.create_request(node, mla, actor="case handler").request.id
    assert inbox_line(node, pid, case_id).next_due_at is None  # held while the MLA request is pending
    clock.advance(days=2)
    act(node, mid, Action.ACKNOWLEDGE)
    act(node, mid, Action.EXECUTE)

    assert inbox_line(node, pid, case_id).next_due_at == preserved_at + timedelta(days=60)


def test_no_legal_basis_keeps_the_draft(node: Node, in_force: None, case_id: str) -> None:
    created = requests.create_request(node, draft(case_id, requested_state="USA"), actor="duty officer")
    rid = created.request.id

    with pytest.raises(NoLegalBasis, match=r"USA \(United States.*\) is not a Party"):
        act(node, rid, Action.SEND)

    reloaded = requests.get_request(node, rid).request
    assert reloaded.state is RequestState.DRAFT
    assert [e.kind for e in reloaded.events] == [EventKind.CREATED]
    assert reloaded.version == created.request.version
    assert inbox_line(node, rid, case_id).state is RequestState.DRAFT


def test_no_legal_basis_before_the_convention_is_in_force(node: Node, case_id: str) -> None:
    rid = requests.create_request(node, draft(case_id), actor="duty officer").request.id

    with pytest.raises(NoLegalBasis, match="VNM"):
        act(node, rid, Action.SEND)
    assert requests.get_request(node, rid).request.state is RequestState.DRAFT


def test_an_incomplete_draft_cannot_be_sent_and_stays_unchanged(
    node: Node, tha: Node, wire: LoopbackTransport, in_force: None, case_id: str
) -> None:
    items = complete_items(UN, "preservation")
    del items["necessity"]
    created = requests.create_request(node, draft(case_id, items=items), actor="duty officer")
    assert [str(i) for i in created.issues] == ["Art 42(2)(e): the necessity of the preservation is missing"]

    with pytest.raises(ValidationFailed, match=r"Art 42\(2\)\(e\): the necessity of the preservation is missing"):
        act(node, created.request.id, Action.SEND)
    reloaded = requests.get_request(node, created.request.id)
    assert reloaded.request.state is RequestState.DRAFT
    assert len(reloaded.request.events) == 1

    requests.amend_request(node, created.request.id, complete_items(UN, "preservation"), actor="duty officer")
    assert act(node, created.request.id, Action.SEND).request.state is RequestState.SENT
    (waiting,) = requests.get_request(node, created.request.id).messages
    assert (waiting.peer, waiting.status) == (THA_NODE, MessageStatus.PENDING)  # in the outbox, for Thailand
    assert deliver_all(wire, node, tha) == 1
    assert requests.get_request(tha, created.request.id).request.state is RequestState.RECEIVED


def test_a_request_no_node_can_carry_is_refused_and_stays_a_draft(node: Node, in_force: None, case_id: str) -> None:
    """Cambodia is bound, but no node of it is in the directory: nothing would carry the request, so it is not
    reported as sent; the draft says why, and nothing waits in the outbox."""
    created = requests.create_request(node, draft(case_id, requested_state="KHM"), actor="duty officer")
    rid = created.request.id
    (issue,) = requests.get_request(node, rid).issues
    assert issue.field == "requested_state"
    assert "no active node of KHM (Cambodia)" in issue.message

    with pytest.raises(Conflict, match=r"^not sent: no active node of KHM \(Cambodia\)"):
        act(node, rid, Action.SEND)
    reloaded = requests.get_request(node, rid)
    assert reloaded.request.state is RequestState.DRAFT
    assert [e.kind for e in reloaded.request.events] == [EventKind.CREATED]
    assert reloaded.request.version == created.request.version
    assert reloaded.messages == ()


def test_a_reservation_this_state_declared_is_a_ground_it_may_refuse_on(
    node: Node, in_force: None, case_id: str
) -> None:
    """Viet Nam refuses a preservation on the dual-criminality reservation (Art 42; Budapest Art 29(4)) only once
    its own declaration records that reservation; before, the refusal is refused and nothing changes."""
    incoming = draft(
        case_id, "preservation", direction=Direction.INCOMING, requesting_state="THA", requested_state="VNM"
    )
    rid = requests.create_request(node, incoming, actor="central authority").request.id
    ground = "preservation_dual_criminality"
    with pytest.raises(ValidationFailed) as not_made:
        act(node, rid, Action.REFUSE, grounds=(ground,))
    assert "only for a State that made the reservation" in not_made.value.issues[0].message
    assert requests.get_request(node, rid).request.state is RequestState.RECEIVED
    declared = (
        "declarations:\n"
        "  - {state: VNM, instrument: uncc-2024, made_on: 2026-06-01, languages: [vi, en],"
        " reservations: [preservation_dual_criminality]}\n"
    )
    treaty.import_declarations(node, parse_declarations(declared, "vnm.yaml"), actor="treaty officer")
    refused = act(node, rid, Action.REFUSE, grounds=(ground,), note="the conduct is not an offence here")
    assert refused.request.state is RequestState.REFUSED
    assert refused.request.events[-1].data["grounds"] == [ground]
    assert treaty.declarations(node, "VNM")[0].reservations == (ground,)


def test_refusal_on_a_bad_ground_leaves_the_request_unchanged(node: Node, in_force: None, case_id: str) -> None:
    incoming = draft(case_id, "mla", direction=Direction.INCOMING, requesting_state="THA", requested_state="VNM")
    received = requests.create_request(node, incoming, actor="central authority")
    rid = received.request.id
    assert received.request.state is RequestState.RECEIVED

    with pytest.raises(ValidationFailed) as bad:
        act(node, rid, Action.REFUSE, grounds=("essential_interests", "bank_secrecy"))
    assert [i.field for i in bad.value.issues] == ["grounds[1]"]
    assert "is never a ground for refusal" in bad.value.issues[0].message
    assert bad.value.issues[0].citation == "Art 40"

    with pytest.raises(ValidationFailed, match="'political_offence' is not a ground for refusal"):
        act(node, rid, Action.REFUSE, grounds=("political_offence",))

    reloaded = requests.get_request(node, rid).request
    assert reloaded.state is RequestState.RECEIVED
    assert [e.kind for e in reloaded.events] == [EventKind.RECEIVED]
    assert reloaded.version == received.request.version

    refused = act(node, rid, Action.REFUSE, grounds=("essential_interests",), note="Art 40(21)(b)")
    assert refused.request.state is RequestState.REFUSED
    stored = requests.get_request(node, rid).request
    assert stored.events[-1].data == {"grounds": ["essential_interests"], "note": "Art 40(21)(b)"}


def test_an_illegal_transition_changes_nothing(node: Node, in_force: None, case_id: str) -> None:
    rid = requests.create_request(node, draft(case_id, "mla"), actor="case handler").request.id

    with pytest.raises(IllegalTransition, match="cannot execute a request that is draft; allowed now: send, withdraw"):
        act(node, rid, Action.EXECUTE)
    with pytest.raises(IllegalTransition, match="preserve does not apply to mutual legal assistance requests"):
        act(node, rid, Action.PRESERVE)

    reloaded = requests.get_request(node, rid).request
    assert reloaded.state is RequestState.DRAFT
    assert reloaded.version == 0
