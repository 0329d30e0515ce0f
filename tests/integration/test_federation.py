"""Federation through the services on real databases (SQLite and PostgreSQL), real keys and real vaults, two or
three nodes in one process joined by the loopback transport: requests and their actions cross over, exactly once,
with receipts; what is forged, replayed, stale or from an unknown or revoked sender is refused and recorded."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from hanoinet.app.node import Node
from hanoinet.audit import service as audit
from hanoinet.cases import service as cases
from hanoinet.federation import directory, messaging
from hanoinet.federation.domain import TYP_BATCH, MessageKind, MessageStatus
from hanoinet.federation.ports import Identity, MessageQuery
from hanoinet.platform import events
from hanoinet.platform.errors import IllegalTransition
from hanoinet.platform.events import Channel, Event
from hanoinet.requests import service as requests
from hanoinet.requests.domain import Action, Direction, RequestState
from tests.conftest import new_postgres_database
from tests.factories import complete_items
from tests.fakes import FixedClock
from tests.federation_support import LoopbackTransport, connect, deliver_all, make_node

NodeFactory = Callable[[str, str, str], Node]


@pytest.fixture
def clock() -> FixedClock:
    """One clock for every node of a test (their transmissions' times must agree)."""
    return FixedClock(datetime(2027, 3, 1, 9, 0, tzinfo=UTC))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def new_node(request: pytest.FixtureRequest, tmp_path: Path, clock: FixedClock) -> Iterator[NodeFactory]:
    """Make nodes on SQLite files, or each on its own fresh PostgreSQL database."""
    engines: list[Engine] = []

    def make(state: str, node_id: str, roles: str = "central_authority") -> Node:
        url = None
        if request.param == "postgresql":
            url = new_postgres_database(
                request.getfixturevalue("postgres_server"), request.getfixturevalue("postgres_template")
            )
        return make_node(tmp_path, state, node_id, roles=roles, database_url=url, clock=clock, engines=engines)

    yield make
    for engine in engines:
        engine.dispose()


@pytest.fixture
def pair(new_node: NodeFactory) -> tuple[Node, Node, LoopbackTransport]:
    """Viet Nam's central authority and Singapore's 24/7 point of contact, each trusting the other."""
    vnm = new_node("VNM", "vnm-ca", "central_authority")
    sgp = new_node("SGP", "sgp-247", "point_of_contact_24_7")
    connect(vnm, sgp)
    return vnm, sgp, LoopbackTransport(vnm, sgp)


def _send(node: Node, type_: str = "preservation", to: str = "SGP", **extra: object) -> str:
    cases.open_case(
        node, reference=f"LOTUS-{type_}", offence="system_interference", max_penalty_years=10, summary="Ransomware"
    )
    draft = requests.RequestDraft(
        case=f"LOTUS-{type_}",
        instrument="uncc-2024",
        type=type_,
        requested_state=to,
        items=complete_items("uncc-2024", type_),
        **extra,  # type: ignore[arg-type]
    )
    created = requests.create_request(node, draft, actor="tran").request
    requests.act_on_request(node, created.id, Action.SEND, actor="tran")
    return created.id


def test_a_request_and_every_answer_cross_over_once_with_receipts(pair: tuple[Node, Node, LoopbackTransport]) -> None:
    vnm, sgp, wire = pair
    request_id = _send(vnm)
    sent = requests.get_request(vnm, request_id).request
    assert sent.peer == "sgp-247"  # the 24/7 point of contact: preservation is 24/7 business (Art 41(3))
    assert deliver_all(wire, vnm, sgp) == 1

    received = requests.get_request(sgp, request_id)
    assert received.request.direction is Direction.INCOMING
    assert received.request.state is RequestState.RECEIVED
    assert received.request.events[0].data["legal_basis"]["binds_both"] is True
    assert {c.name for c in received.clocks} >= {"acknowledge"}  # its clocks start on receipt

    requests.act_on_request(sgp, request_id, Action.ACKNOWLEDGE, actor="lim")
    requests.act_on_request(sgp, request_id, Action.PRESERVE, actor="lim")
    deliver_all(wire, vnm, sgp)
    mirrored = requests.get_request(vnm, request_id)
    assert mirrored.request.state is RequestState.PRESERVED
    assert [e.kind.value for e in mirrored.request.events][-2:] == ["acknowledged", "preserved"]
    assert "lim" in mirrored.request.events[-1].actor
    assert "SGP" in mirrored.request.events[-1].actor
    outgoing = [m for m in mirrored.messages if m.direction == "outgoing" and m.kind is MessageKind.REQUEST]
    assert outgoing[0].status is MessageStatus.DELIVERED
    assert outgoing[0].delivered_at is not None


def test_the_other_sides_actions_cannot_be_typed_in(pair: tuple[Node, Node, LoopbackTransport]) -> None:
    vnm, sgp, wire = pair
    request_id = _send(vnm)
    deliver_all(wire, vnm, sgp)
    with pytest.raises(IllegalTransition, match="requested State"):
        requests.act_on_request(vnm, request_id, Action.ACKNOWLEDGE, actor="tran")
    with pytest.raises(IllegalTransition, match="requesting State"):
        requests.act_on_request(sgp, request_id, Action.WITHDRAW, actor="lim")
    assert Action.ACKNOWLEDGE not in requests.get_request(vnm, request_id).allowed_actions
    assert Action.WITHDRAW in requests.get_request(vnm, request_id).allowed_actions


def test_a_transmission_delivered_twice_has_one_effect(pair: tuple[Node, Node, LoopbackTransport]) -> None:
    vnm, sgp, wire = pair
    messaging.send_messages(
        vnm,
        [messaging.NewMessage("sgp-247", MessageKind.SPONTANEOUS_INFORMATION, f"note {i}") for i in range(5)],
        actor="tran",
    )
    deliver_all(wire, vnm, sgp)
    endpoint, envelope = wire.wire.transmissions[0]
    status, body = wire.transmit(endpoint, envelope)  # the very same transmission again: a replay
    assert status == 409
    assert json.loads(body)["title"] == "replay"
    with sgp.uow() as uow:
        received = uow.inbox.list(MessageQuery(kind=MessageKind.SPONTANEOUS_INFORMATION))
        rejections = uow.rejections.latest(10)
    assert len(received) == 5
    assert rejections[0].reason == "replay"


def test_a_lost_receipt_means_a_redelivery_and_still_one_effect(pair: tuple[Node, Node, LoopbackTransport]) -> None:
    vnm, sgp, wire = pair
    request_id = _send(vnm)
    identity = vnm.identity
    assert identity is not None
    with vnm.uow() as uow:
        (message,) = uow.outbox.pending("sgp-247", 10)
    # The receiver took the transmission, but its receipt never came back: the outbox still holds the message.
    first = identity.seal(
        {
            "hanoinet_batch": 1,
            "id": "b-1",
            "from": "vnm-ca",
            "to": "sgp-247",
            "sent_at": vnm.now_wall().isoformat(),
            "messages": [message.jws],
        },
        TYP_BATCH,
        _identity(sgp).encryption_key,
    )
    assert wire.transmit("http://sgp-247.test", first)[0] == 200
    deliver_all(wire, vnm, sgp)  # the normal delivery sends it again in a new transmission
    with vnm.uow() as uow:
        (delivered,) = uow.outbox.list(MessageQuery(kind=MessageKind.REQUEST))
    assert delivered.status is MessageStatus.DELIVERED
    with sgp.uow() as uow:
        assert len(uow.inbox.list(MessageQuery(request_id=request_id))) == 1
        assert uow.requests.get(request_id) is not None


def test_a_node_that_is_down_gets_everything_in_order_when_it_returns(
    pair: tuple[Node, Node, LoopbackTransport], clock: FixedClock
) -> None:
    vnm, sgp, wire = pair
    wire.down.add("sgp-247")
    request_id = _send(vnm)
    messaging.correspond(vnm, request_id, "first", actor="tran")
    clock.advance(seconds=1)
    messaging.correspond(vnm, request_id, "second", actor="tran")
    assert deliver_all(wire, vnm, sgp) == 0
    (peer,) = directory.list_peers(vnm)
    assert peer.delivery.failures == 1
    assert peer.delivery.next_attempt_at is not None
    assert peer.delivery.next_attempt_at > clock.current
    assert messaging.due_peers(vnm) == []  # backing off
    wire.down.clear()
    clock.advance(seconds=5)
    assert deliver_all(wire, vnm, sgp) >= 3
    texts = [
        m.body.get("text")
        for m in requests.get_request(sgp, request_id).messages
        if m.kind is MessageKind.CORRESPONDENCE
    ]
    assert texts == ["first", "second"]


def _identity(node: Node) -> Identity:
    assert node.identity is not None
    return node.identity


def test_stale_and_unknown_and_revoked_senders_are_refused_and_recorded(
    pair: tuple[Node, Node, LoopbackTransport], new_node: NodeFactory, clock: FixedClock
) -> None:
    vnm, sgp, wire = pair
    stranger = new_node("CHL", "chl-ca", "central_authority")  # knows nobody, and nobody knows it
    to = _identity(sgp).encryption_key
    claims = {"hanoinet_batch": 1, "id": "x-1", "from": "chl-ca", "to": "sgp-247", "messages": []}

    def title(sender: Node, **changes: object) -> str:
        sealed = _identity(sender).seal({**claims, "sent_at": clock.current.isoformat(), **changes}, TYP_BATCH, to)
        status, body = wire.transmit("http://sgp-247.test", sealed)
        assert status in (401, 403)
        return str(json.loads(body)["title"])

    assert title(stranger) == "unknown_sender"
    assert (
        title(vnm, id="x-2", **{"from": "vnm-ca"}, sent_at=(clock.current - timedelta(minutes=10)).isoformat())
        == "stale"
    )
    directory.revoke(sgp, "vnm-ca", reason="compromised, said by phone", actor="lim")
    assert title(vnm, id="x-3", **{"from": "vnm-ca"}) == "revoked_key"
    with sgp.uow() as uow:
        assert [r.reason for r in uow.rejections.latest(10)] == ["revoked_key", "stale", "unknown_sender"]


def test_concurrent_senders_each_commit_their_message_and_its_audit_entry_once(
    pair: tuple[Node, Node, LoopbackTransport],
) -> None:
    """Calls that send at once may share a commit (GroupCommit); each still gets its own message and the audit
    entry of its own call, in one unbroken chain, and what it was told was sent is in the outbox."""
    vnm, sgp, wire = pair
    threads, per_thread = 6, 8
    barrier = threading.Barrier(threads)

    def caller(worker: int) -> list[str]:
        def event(object_id: str) -> Event:
            return Event(f"clerk{worker}", ("central_authority",), Channel.API, "message:send", "message", object_id)

        barrier.wait()
        ids = []
        for n in range(per_thread):
            entry = events.RouteEntry(lambda: vnm, event)
            with events.route_entry(entry):
                sent = messaging.send_messages(
                    vnm,
                    [messaging.NewMessage("sgp-247", MessageKind.SPONTANEOUS_INFORMATION, f"note {worker}-{n}")],
                    actor=f"clerk{worker}",
                )
            assert entry.written
            ids.append(sent[0].id)
        return ids

    with ThreadPoolExecutor(threads) as pool:
        sent_ids = [i for ids in pool.map(caller, range(threads)) for i in ids]

    assert len(set(sent_ids)) == threads * per_thread
    with vnm.uow() as uow:
        logged = [e for e in uow.audit.all() if e.action == "message:send"]
    assert sorted(e.object_id for e in logged) == sorted(sent_ids)
    assert sorted(e.actor for e in logged) == sorted(f"clerk{w}" for w in range(threads) for _ in range(per_thread))
    report = audit.verify(vnm)
    assert report.ok, report.problems
    deliver_all(wire, vnm, sgp)
    with sgp.uow() as uow:
        received = uow.inbox.list(MessageQuery(kind=MessageKind.SPONTANEOUS_INFORMATION, limit=1000))
    assert sorted(m.id for m in received) == sorted(sent_ids)
