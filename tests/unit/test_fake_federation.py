"""The contract of the federation's repositories (peers, their keys, the own entry, outbox, inbox, receipts, seen
transmissions, rejections, transfers, consents), run on the in-memory fakes and on the SQL repositories (a SQLite
file): the fakes that the service tests use must behave as the real things do."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from hanoinet.app.bootstrap import session_factory
from hanoinet.app.node import UnitOfWork
from hanoinet.app.unit_of_work import SqlUnitOfWork
from hanoinet.federation.domain import (
    Consent,
    ConsentRole,
    ConsentStatus,
    DirectoryEntry,
    EntryStatus,
    KeyStatus,
    KeyUse,
    MessageKind,
    MessageStatus,
    PublicKey,
    ReceiptDirection,
    TransferItemState,
    TransferState,
    entry_from_document,
)
from hanoinet.federation.ports import (
    ConsentRecord,
    DeliveryResult,
    IncomingMessage,
    MessageQuery,
    OutgoingMessage,
    OwnEntry,
    PeerDelivery,
    PeerKey,
    Receipt,
    Rejection,
    TransferItemRecord,
    TransferRecord,
)
from hanoinet.platform import migrations
from hanoinet.platform.db import make_engine
from hanoinet.platform.errors import Conflict
from hanoinet.platform.permissions import NodeRole
from hanoinet.requests.domain import Direction
from tests.fakes import FakeUnitOfWork, Store

T0 = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
SIGNED: dict[str, Any] = {
    "payload": "eyJub2RlIjoxfQ",
    "signatures": [{"protected": "eyJhbGciOiJFZERTQSJ9", "signature": "c2ln"}],
}

UowFactory = Callable[[], UnitOfWork]


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture(scope="module")
def migrated_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once; each test copies it (much faster than migrating again)."""
    path = tmp_path_factory.mktemp("federation") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    migrations.upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(params=["fake", "sqlite"])
def uow(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[UowFactory]:
    """A factory of units of work on a fresh, empty store: the fake, or the SQL store on a SQLite file."""
    if request.param == "fake":
        store = Store()
        yield lambda: FakeUnitOfWork(store)
        return
    path = tmp_path / "hanoinet.db"
    shutil.copyfile(request.getfixturevalue("migrated_file"), path)
    engine = make_engine(f"sqlite:///{path}")
    factory = session_factory(engine)
    yield lambda: SqlUnitOfWork(factory)
    engine.dispose()


def public_key(name: str, crv: str = "Ed25519") -> PublicKey:
    return PublicKey(f"kid-{name}", {"kty": "OKP", "crv": crv, "x": f"x-{name}-0123456789abcdef"})


def directory_entry(node_id: str = "vnm-ca", state: str = "VNM", serial: int = 1, **changes: Any) -> DirectoryEntry:
    values: dict[str, Any] = {
        "node_id": node_id,
        "state": state,
        "authority": f"Central authority of {state}",
        "roles": (NodeRole.CENTRAL_AUTHORITY, NodeRole.POINT_OF_CONTACT),
        "languages": ("en", "vi"),
        "hours": "24/7",
        "endpoint": f"https://{node_id}.example.org/federation",
        "signing_key": public_key(f"{node_id}-sig"),
        "encryption_key": public_key(f"{node_id}-enc", "X25519"),
        "custody_key": "ab" * 32,
        "serial": serial,
        "issued_at": at(serial),
    }
    values.update(changes)
    entry = DirectoryEntry(**values)
    assert entry_from_document(entry.document()) == entry  # valid as published
    return entry


def outgoing(mid: str, peer: str = "vnm-ca", **changes: Any) -> OutgoingMessage:
    values: dict[str, Any] = {
        "id": mid,
        "peer": peer,
        "kind": MessageKind.CORRESPONDENCE,
        "request_id": "req-1",
        "jws": f"jws-{mid}",
        "created_at": T0,
        "created_by": "officer@vnm",
    }
    values.update(changes)
    return OutgoingMessage(**values)


def incoming(mid: str, peer: str = "vnm-ca", received: datetime = T0, **changes: Any) -> IncomingMessage:
    values: dict[str, Any] = {
        "id": mid,
        "peer": peer,
        "kind": MessageKind.CORRESPONDENCE,
        "request_id": "req-1",
        "jws": f"jws-{mid}",
        "created_at": T0,
        "received_at": received,
        "batch_id": "batch-1",
        "status": MessageStatus.ACCEPTED,
    }
    values.update(changes)
    return IncomingMessage(**values)


def transfer(tid: str, created: datetime, **changes: Any) -> TransferRecord:
    values: dict[str, Any] = {
        "id": tid,
        "direction": Direction.OUTGOING,
        "peer": "vnm-ca",
        "request_id": "req-1",
        "case_id": "case-1",
        "state": TransferState.OFFERED,
        "created_at": created,
        "updated_at": created,
        "created_by": "officer@fra",
        "reason": "execution of request req-1",
        "offer_id": f"offer-{tid}",
        "offer": {"items": [{"idx": 0, "sha256": "00" * 32}], "note": "two items"},
        "items": (
            TransferItemRecord(0, "item-a", "00" * 32, 1000, 512, 2),
            TransferItemRecord(1, "item-b", "11" * 32, 10, 512, 1),
        ),
        "token_hash": "ff" * 32,
    }
    values.update(changes)
    return TransferRecord(**values)


def consent(cid: str, requested: datetime, **changes: Any) -> ConsentRecord:
    values: dict[str, Any] = {
        "id": cid,
        "role": ConsentRole.HOLDER,
        "item_id": "item-a",
        "peer": "vnm-ca",
        "destination": "tha-ca",
        "purpose": "joint investigation",
        "status": ConsentStatus.REQUESTED,
        "requested_at": requested,
        "requested_by": "officer@fra",
    }
    values.update(changes)
    return ConsentRecord(**values)


def add_peers(uow: UowFactory, *entries: DirectoryEntry) -> None:
    with uow() as u:
        for e in entries:
            u.peers.save(e, SIGNED, T0)
        u.commit()


# -- directory -------------------------------------------------------------------------------------------------


def test_a_new_peer_is_active_and_peers_come_by_state_then_node_id(uow: UowFactory) -> None:
    vnm, police, fra = directory_entry(), directory_entry("vnm-police"), directory_entry("fra-ca", "FRA")
    add_peers(uow, vnm, police, fra)
    with uow() as u:
        peer = u.peers.get("vnm-ca")
        assert peer is not None
        assert peer.entry == vnm
        assert dict(peer.signed) == SIGNED
        assert (peer.status, peer.status_reason) == (EntryStatus.ACTIVE, "")
        assert (peer.imported_at, peer.updated_at) == (T0, T0)
        assert peer.delivery == PeerDelivery()
        assert u.peers.get("tha-ca") is None
        assert (u.peers.status("vnm-ca"), u.peers.status("tha-ca")) == (EntryStatus.ACTIVE, None)
        assert [p.entry.node_id for p in u.peers.list()] == ["fra-ca", "vnm-ca", "vnm-police"]


def test_a_newer_entry_keeps_status_and_delivery_state(uow: UowFactory) -> None:
    add_peers(uow, directory_entry())
    delivery = PeerDelivery(next_attempt_at=at(30), failures=2, last_error="timeout", last_attempt_at=at(5))
    with uow() as u:
        u.peers.set_status("vnm-ca", EntryStatus.REVOKED, "keys compromised", at(1))
        u.peers.set_status("tha-ca", EntryStatus.REVOKED, "unknown peer: nothing happens", at(1))
        assert u.peers.claim("vnm-ca", "worker-1", at(1), at(2))
        u.peers.release("vnm-ca", "worker-1", delivery)
        u.commit()
    newer = directory_entry(serial=2, endpoint="https://vnm-ca.example.org/v2", hours="08:00-17:00 ICT")
    with uow() as u:
        u.peers.save(newer, {"payload": "newer"}, at(10))
        u.commit()
    with uow() as u:
        peer = u.peers.get("vnm-ca")
        assert peer is not None
        assert peer.entry == newer
        assert dict(peer.signed) == {"payload": "newer"}
        assert (peer.status, peer.status_reason) == (EntryStatus.REVOKED, "keys compromised")
        assert (peer.imported_at, peer.updated_at) == (T0, at(10))
        assert peer.delivery == delivery
        assert u.peers.get("tha-ca") is None
        assert u.peers.status("vnm-ca") is EntryStatus.REVOKED


def test_keys_change_status_but_a_revoked_key_stays_revoked(uow: UowFactory) -> None:
    sig, enc = public_key("vnm-sig"), public_key("vnm-enc", "X25519")
    with uow() as u:
        u.peer_keys.save("vnm-ca", sig, use=KeyUse.SIGNING, status=KeyStatus.CURRENT, at=at(1))
        u.peer_keys.save("vnm-ca", enc, use=KeyUse.ENCRYPTION, status=KeyStatus.CURRENT, at=at(0), reason="first entry")
        u.commit()
    with uow() as u:
        assert u.peer_keys.get(sig.kid) == PeerKey("vnm-ca", KeyUse.SIGNING, sig, KeyStatus.CURRENT, at(1))
        assert u.peer_keys.get("kid-unknown") is None
        assert [k.key.kid for k in u.peer_keys.of_node("vnm-ca")] == [enc.kid, sig.kid]  # by when added
        assert [type(k.use) for k in u.peer_keys.of_node("vnm-ca")] == [KeyUse, KeyUse]
        assert u.peer_keys.of_node("tha-ca") == []
        u.peer_keys.save("vnm-ca", sig, use=KeyUse.SIGNING, status=KeyStatus.CURRENT, at=at(2), reason="same again")
        assert u.peer_keys.get(sig.kid) == PeerKey("vnm-ca", KeyUse.SIGNING, sig, KeyStatus.CURRENT, at(1))
        u.peer_keys.save("vnm-ca", sig, use=KeyUse.SIGNING, status=KeyStatus.RETIRED, at=at(3), reason="rotated")
        u.peer_keys.save("vnm-ca", sig, use=KeyUse.SIGNING, status=KeyStatus.REVOKED, at=at(4), reason="compromised")
        u.commit()
    with uow() as u:
        for status in (KeyStatus.CURRENT, KeyStatus.RETIRED):
            u.peer_keys.save("vnm-ca", sig, use=KeyUse.SIGNING, status=status, at=at(5), reason="try again")
        u.commit()
    with uow() as u:
        assert u.peer_keys.get(sig.kid) == PeerKey(
            "vnm-ca", KeyUse.SIGNING, sig, KeyStatus.REVOKED, at(1), changed_at=at(4), reason="compromised"
        )


def test_a_key_known_by_id_only_gets_its_node_and_jwk_when_it_changes(uow: UowFactory) -> None:
    retired, revoked = public_key("old"), public_key("bad")
    with uow() as u:  # ids a directory listed before the node itself was known
        u.peer_keys.save("", PublicKey(retired.kid, {}), use=KeyUse.SIGNING, status=KeyStatus.RETIRED, at=at(0))
        u.peer_keys.save("", PublicKey(revoked.kid, {}), use=KeyUse.SIGNING, status=KeyStatus.REVOKED, at=at(0))
        u.commit()
    with uow() as u:
        u.peer_keys.save("vnm-ca", retired, use=KeyUse.SIGNING, status=KeyStatus.CURRENT, at=at(1), reason="entry")
        u.peer_keys.save("vnm-ca", revoked, use=KeyUse.SIGNING, status=KeyStatus.CURRENT, at=at(1), reason="entry")
        u.commit()
    with uow() as u:
        assert u.peer_keys.get(retired.kid) == PeerKey(
            "vnm-ca", KeyUse.SIGNING, retired, KeyStatus.CURRENT, at(0), changed_at=at(1), reason="entry"
        )
        assert u.peer_keys.get(revoked.kid) == PeerKey(
            "", KeyUse.SIGNING, PublicKey(revoked.kid, {}), KeyStatus.REVOKED, at(0)
        )
        assert [k.key.kid for k in u.peer_keys.of_node("vnm-ca")] == [retired.kid]


def test_own_entry_is_replaced_whole(uow: UowFactory) -> None:
    first, second = directory_entry("fra-ca", "FRA"), directory_entry("fra-ca", "FRA", serial=2, hours="09-18")
    with uow() as u:
        assert u.own_entry.get() is None
        u.own_entry.save(OwnEntry(first, SIGNED, at(1)))
        u.commit()
    with uow() as u:
        assert u.own_entry.get() == OwnEntry(first, SIGNED, at(1))
        u.own_entry.save(OwnEntry(second, {"payload": "2"}, at(2)))
        u.commit()
    with uow() as u:
        assert u.own_entry.get() == OwnEntry(second, {"payload": "2"}, at(2))


# -- delivery leases -------------------------------------------------------------------------------------------


def test_one_deliverer_per_peer_until_the_lease_expires_or_is_released(uow: UowFactory) -> None:
    add_peers(uow, directory_entry())
    with uow() as u:
        assert not u.peers.claim("tha-ca", "w1", at(0), at(1))  # unknown peer
        assert u.peers.claim("vnm-ca", "w1", at(0), at(1))
        assert not u.peers.claim("vnm-ca", "w2", at(0.5), at(2))  # held
        assert not u.peers.claim("vnm-ca", "w2", at(1), at(2))  # held up to its end
        assert u.peers.claim("vnm-ca", "w1", at(0.5), at(3))  # the holder extends it
        assert not u.peers.claim("vnm-ca", "w2", at(2), at(4))
        assert u.peers.claim("vnm-ca", "w2", at(3.5), at(5))  # expired: taken over
        u.peers.release("vnm-ca", "w1", PeerDelivery(failures=9))  # not w1's any more: nothing happens
        assert not u.peers.claim("vnm-ca", "w1", at(4), at(6))
        done = PeerDelivery(failures=0, last_attempt_at=at(4), last_delivery_at=at(4))
        u.peers.release("vnm-ca", "w2", done)
        u.commit()
    with uow() as u:
        peer = u.peers.get("vnm-ca")
        assert peer is not None
        assert peer.delivery == done
        assert u.peers.claim("vnm-ca", "w1", at(4), at(6))  # free again
        u.commit()


# -- outbox ----------------------------------------------------------------------------------------------------


def test_outbox_order_attempts_results_and_reads(uow: UowFactory) -> None:
    add_peers(uow, directory_entry(), directory_entry("fra-ca", "FRA"))
    with uow() as u:
        u.outbox.enqueue([outgoing("m1"), outgoing("m2", attempts=5, seq=99, read_at=at(1), error="ignored")])
        u.outbox.enqueue([])
        u.commit()
    with uow() as u:
        u.outbox.enqueue([outgoing("f1", "fra-ca"), outgoing("m3")])
        u.commit()
    with uow() as u:
        seqs = [m.seq for m in u.outbox.list(MessageQuery())][::-1]  # oldest first: m1, m2, f1, m3
        assert [m.id for m in u.outbox.list(MessageQuery())] == ["m3", "f1", "m2", "m1"]
        assert seqs == sorted(seqs)
        assert len(set(seqs)) == 4
        m2 = u.outbox.get("m2")
        assert m2 == replace_seq(outgoing("m2"), seqs[1])  # only what the outbox keeps at first
        assert u.outbox.get("nope") is None
        assert [m.id for m in u.outbox.pending("vnm-ca", 10)] == ["m1", "m2", "m3"]
        assert [m.id for m in u.outbox.pending("vnm-ca", 2)] == ["m1", "m2"]
        u.outbox.record_attempt(["m1", "m2"], at(1))
        u.outbox.record_attempt(["m1"], at(2))
        u.outbox.record_attempt([], at(3))
        u.outbox.record_results(
            [
                DeliveryResult("m1", MessageStatus.DELIVERED, at(2), "rcpt-1"),
                DeliveryResult("m2", MessageStatus.REJECTED, at(2), "rcpt-1", "unknown request"),
                DeliveryResult("m1", MessageStatus.REJECTED, at(2), "rcpt-1", "only pending messages change"),
            ]
        )
        u.commit()
    with uow() as u:
        u.outbox.record_results(
            [DeliveryResult("m2", MessageStatus.DELIVERED, at(3), "rcpt-2")]
        )  # not pending any more
        m1, m2 = u.outbox.get("m1"), u.outbox.get("m2")
        assert m1 is not None
        assert m2 is not None
        assert (m1.status, m1.attempts, m1.first_sent_at, m1.delivered_at, m1.receipt_id, m1.error) == (
            MessageStatus.DELIVERED,
            2,
            at(1),
            at(2),
            "rcpt-1",
            None,
        )
        assert (m2.status, m2.attempts, m2.first_sent_at, m2.receipt_id, m2.error) == (
            MessageStatus.REJECTED,
            1,
            at(1),
            "rcpt-1",
            "unknown request",
        )
        assert [m.id for m in u.outbox.pending("vnm-ca", 10)] == ["m3"]
        assert dict(u.outbox.counts()) == {
            ("vnm-ca", MessageStatus.DELIVERED): 1,
            ("vnm-ca", MessageStatus.REJECTED): 1,
            ("vnm-ca", MessageStatus.PENDING): 1,
            ("fra-ca", MessageStatus.PENDING): 1,
        }
        assert {type(status) for _, status in u.outbox.counts()} == {MessageStatus}
        assert u.outbox.mark_read("vnm-ca", ["m1", "m1", "f1", "nope"], at(4)) == 1  # f1 is to another peer
        assert u.outbox.mark_read("vnm-ca", ["m1", "m3"], at(5)) == 1
        assert u.outbox.mark_read("vnm-ca", [], at(5)) == 0
        u.commit()
    with uow() as u:
        read = {m.id: m.read_at for m in u.outbox.list(MessageQuery())}
        assert read == {"m1": at(4), "m2": None, "f1": None, "m3": at(5)}


def replace_seq(message: OutgoingMessage, seq: int) -> OutgoingMessage:
    return OutgoingMessage(
        message.id,
        message.peer,
        message.kind,
        message.request_id,
        message.jws,
        message.created_at,
        message.created_by,
        seq=seq,
    )


def test_peers_due_have_pending_messages_no_backoff_and_trust(uow: UowFactory) -> None:
    names = ["aus-ca", "bra-ca", "chl-ca", "deu-ca", "esp-ca"]
    add_peers(uow, *(directory_entry(n, n[:3].upper()) for n in names))
    with uow() as u:
        u.outbox.enqueue([outgoing("e1", "esp-ca"), outgoing("a1", "aus-ca"), outgoing("b1", "bra-ca")])
        u.outbox.enqueue([outgoing("c1", "chl-ca"), outgoing("d1", "deu-ca")])
        u.outbox.record_results([DeliveryResult("d1", MessageStatus.DELIVERED, at(0), "r")])  # deu: nothing pending
        u.peers.set_status("chl-ca", EntryStatus.REVOKED, "revoked", at(0))  # chl: not trusted
        assert u.peers.claim("bra-ca", "w", at(0), at(1))
        u.peers.release("bra-ca", "w", PeerDelivery(next_attempt_at=at(10), failures=1))  # bra: backing off
        assert u.peers.claim("esp-ca", "w", at(0), at(1))
        u.peers.release("esp-ca", "w", PeerDelivery(next_attempt_at=at(5), failures=1))
        u.commit()
    with uow() as u:
        assert u.peers.due(at(1)) == ["aus-ca"]
        assert u.peers.due(at(5)) == ["aus-ca", "esp-ca"]  # the backoff ends at next_attempt_at
        assert u.peers.due(at(11)) == ["aus-ca", "bra-ca", "esp-ca"]


def test_outgoing_queries_filter_and_come_newest_first(uow: UowFactory) -> None:
    with uow() as u:
        u.outbox.enqueue(
            [
                outgoing("o1"),
                outgoing("o2", kind=MessageKind.REQUEST, request_id="req-2"),
                outgoing("o3", "fra-ca"),
                outgoing("o4", kind=MessageKind.ACTION),
                outgoing("o5", request_id=None, kind=MessageKind.SPONTANEOUS_INFORMATION),
            ]
        )
        u.outbox.record_results([DeliveryResult("o4", MessageStatus.DELIVERED, at(1), "r")])
        u.outbox.mark_read("vnm-ca", ["o1"], at(2))
        u.commit()
    with uow() as u:

        def ids(**query: Any) -> list[str]:
            return [m.id for m in u.outbox.list(MessageQuery(**query))]

        assert ids() == ["o5", "o4", "o3", "o2", "o1"]
        assert ids(peer="vnm-ca") == ["o5", "o4", "o2", "o1"]
        assert ids(request_id="req-1") == ["o4", "o3", "o1"]
        assert ids(kind=MessageKind.CORRESPONDENCE) == ["o3", "o1"]
        assert ids(status=MessageStatus.PENDING) == ["o5", "o3", "o2", "o1"]
        assert ids(unread=True) == ["o5", "o4", "o3", "o2"]
        assert ids(peer="vnm-ca", request_id="req-1", status=MessageStatus.PENDING, unread=True) == []
        assert ids(peer="vnm-ca", request_id="req-1", status=MessageStatus.PENDING) == ["o1"]
        assert ids(limit=2) == ["o5", "o4"]
        assert ids(limit=2, offset=2) == ["o3", "o2"]
        assert ids(offset=4) == ["o1"]
        assert ids(peer="tha-ca") == []


# -- inbound ---------------------------------------------------------------------------------------------------


def test_a_message_is_received_once(uow: UowFactory) -> None:
    first, second = incoming("i1"), incoming("i2", status=MessageStatus.REFUSED, reason="unknown request")
    with uow() as u:
        u.inbox.receive([first, second])
        u.inbox.receive([])
        u.commit()
    with uow() as u:
        assert u.inbox.get("i1") == first
        assert u.inbox.get("i3") is None
        assert dict(u.inbox.known(["i2", "i3", "i1"])) == {"i1": first, "i2": second}
        assert dict(u.inbox.known([])) == {}
        with pytest.raises(Conflict):
            u.inbox.receive([incoming("i3"), incoming("i1", jws="another")])
    with uow() as u, pytest.raises(Conflict):
        u.inbox.receive([incoming("i4"), incoming("i4")])
    with uow() as u:
        assert dict(u.inbox.known(["i1", "i3", "i4"])) == {"i1": first}


def test_incoming_queries_filter_come_newest_first_and_reads_are_kept_once(uow: UowFactory) -> None:
    with uow() as u:
        u.inbox.receive(
            [
                incoming("i2", received=at(1)),
                incoming("i1", received=at(1), kind=MessageKind.ACTION),  # same time: by id
                incoming("i3", "fra-ca", received=at(2), request_id=None),
                incoming("i4", received=at(3), status=MessageStatus.REFUSED, request_id="req-2"),
                incoming("i0", received=at(0)),
            ]
        )
        u.inbox.mark_read(["i1", "i3", "nope"], at(4), "alice")
        u.inbox.mark_read([], at(4), "nobody")
        u.commit()
    with uow() as u:
        u.inbox.mark_read(["i1", "i2"], at(5), "bob")  # i1 was read already
        u.commit()
    with uow() as u:

        def ids(**query: Any) -> list[str]:
            return [m.id for m in u.inbox.list(MessageQuery(**query))]

        assert ids() == ["i4", "i3", "i1", "i2", "i0"]
        assert ids(peer="vnm-ca") == ["i4", "i1", "i2", "i0"]
        assert ids(request_id="req-1") == ["i1", "i2", "i0"]
        assert ids(kind=MessageKind.ACTION) == ["i1"]
        assert ids(status=MessageStatus.ACCEPTED) == ["i3", "i1", "i2", "i0"]
        assert ids(unread=True) == ["i4", "i0"]
        assert ids(limit=2, offset=1) == ["i3", "i1"]
        reads = {m.id: (m.read_at, m.read_by) for m in u.inbox.list(MessageQuery())}
        assert reads == {
            "i0": (None, None),
            "i1": (at(4), "alice"),
            "i2": (at(5), "bob"),
            "i3": (at(4), "alice"),
            "i4": (None, None),
        }


# -- receipts, replays, rejections -----------------------------------------------------------------------------


def test_receipts_are_kept_once_either_way(uow: UowFactory) -> None:
    issued = Receipt("r1", "batch-1", "vnm-ca", ReceiptDirection.ISSUED, "jws-issued", at(0))
    received = Receipt("r2", "batch-2", "fra-ca", ReceiptDirection.RECEIVED, "jws-received", at(1))
    with uow() as u:
        u.receipts.add(issued)
        u.receipts.add(received)
        assert u.receipts.get("r1") == issued  # seen inside the transaction
        u.commit()
    with uow() as u:
        assert (u.receipts.get("r1"), u.receipts.get("r2")) == (issued, received)
        assert [type(r.direction) for r in (u.receipts.get("r1"), u.receipts.get("r2")) if r] == [ReceiptDirection] * 2
        assert u.receipts.get("r3") is None
    with uow() as u, pytest.raises(Conflict):
        u.receipts.add(Receipt("r1", "batch-3", "vnm-ca", ReceiptDirection.RECEIVED, "another", at(2)))
    with uow() as u:
        assert u.receipts.get("r1") == issued


def test_a_transmission_id_is_taken_once_until_forgotten(uow: UowFactory) -> None:
    with uow() as u:
        assert not u.seen.contains("t1")
        u.seen.add("t1", "vnm-ca", at(0))
        u.seen.add("t2", "vnm-ca", at(1))
        u.seen.add("t3", "fra-ca", at(2))
        assert u.seen.contains("t1")
        u.commit()
    with uow() as u, pytest.raises(Conflict):
        u.seen.add("t1", "vnm-ca", at(3))
    with uow() as u:
        assert u.seen.forget(at(1)) == 1  # strictly before
        assert u.seen.forget(at(1)) == 0
        u.commit()
    with uow() as u:
        assert [u.seen.contains(t) for t in ("t1", "t2", "t3")] == [False, True, True]
        u.seen.add("t1", "vnm-ca", at(4))  # forgotten: taken again
        u.commit()


def test_rejections_come_newest_first_and_are_cut_to_size(uow: UowFactory) -> None:
    with uow() as u:
        u.rejections.add(Rejection(at(0), "bad_signature", "first"))
        u.rejections.add(Rejection(at(1), "replay", "x" * 3000, "s" * 100, ""))
        u.rejections.add(Rejection(at(2), "stale", "third", "vnm-ca", "203.0.113.9"))
        u.commit()
    with uow() as u:
        assert list(u.rejections.latest(10)) == [
            Rejection(at(2), "stale", "third", "vnm-ca", "203.0.113.9"),
            Rejection(at(1), "replay", "x" * 2000, "s" * 64, None),
            Rejection(at(0), "bad_signature", "first"),
        ]
        assert [r.reason for r in u.rejections.latest(2)] == ["stale", "replay"]


# -- transfers and consents ------------------------------------------------------------------------------------


def test_transfers_keep_their_items_and_progress(uow: UowFactory) -> None:
    t1 = transfer("t1", at(1))
    t2 = transfer(
        "t2", at(2), direction=Direction.INCOMING, state=TransferState.RECEIVING, token_hash=None, request_id=None
    )
    t3 = transfer("t3", at(2), items=(TransferItemRecord(0, "item-c", "22" * 32, 0, 512, 1),))
    with uow() as u:
        for t in (t1, t3, t2):
            u.transfers.add(t)
        u.commit()
    with uow() as u:
        assert u.transfers.get("t1") == t1
        assert u.transfers.get("nope") is None
        assert [t.id for t in u.transfers.list()] == ["t2", "t3", "t1"]  # newest first, then by id
        assert [t.id for t in u.transfers.list(state=TransferState.OFFERED)] == ["t3", "t1"]
        assert [t.id for t in u.transfers.list(direction=Direction.INCOMING)] == ["t2"]
        assert [t.id for t in u.transfers.list(state=TransferState.OFFERED, direction=Direction.INCOMING)] == []
        u.transfers.update("t1", state=TransferState.SENDING, at=at(3), error="peer unreachable")
        u.transfers.update("t1", state=TransferState.COMPLETED, at=at(4), receipt="receipt-jws")
        u.transfers.update("t1", state=TransferState.FAILED, at=at(5))  # the receipt is kept
        u.transfers.update("nope", state=TransferState.COMPLETED, at=at(5))
        u.transfers.update_item("t1", 0, chunks_done=1)
        u.transfers.update_item("t1", 0, state=TransferItemState.DELIVERED, chunks_done=2, local_item_id="local-a")
        u.transfers.update_item("t1", 1)  # nothing to change
        u.transfers.update_item("t1", 7, state=TransferItemState.DELIVERED)  # no such item
        u.commit()
    with uow() as u:
        got = u.transfers.get("t1")
        assert got is not None
        assert (got.state, got.updated_at, got.receipt, got.error) == (TransferState.FAILED, at(5), "receipt-jws", None)
        assert type(got.state) is TransferState  # read back as the enum, not a bare string
        assert [type(i.state) for i in got.items] == [TransferItemState, TransferItemState]
        assert got.items == (
            TransferItemRecord(0, "item-a", "00" * 32, 1000, 512, 2, 2, TransferItemState.DELIVERED, "local-a"),
            t1.items[1],
        )
        assert got.created_at == at(1)
        assert dict(got.offer) == dict(t1.offer)


def test_consents_are_requested_then_decided(uow: UowFactory) -> None:
    asked = consent("c1", at(1))
    other = consent("c2", at(2), item_id="item-b")
    theirs = consent("c0", at(2), role=ConsentRole.ORIGINATOR, peer="tha-ca", destination="deu-ca")
    with uow() as u:
        for c in (asked, other, theirs):
            u.consents.add(c)
        u.commit()
    with uow() as u:
        assert u.consents.get("c1") == asked
        assert u.consents.get("nope") is None
        assert [c.id for c in u.consents.list()] == ["c0", "c2", "c1"]  # newest first, then by id
        assert [c.id for c in u.consents.list(item_id="item-a")] == ["c0", "c1"]
        assert [c.id for c in u.consents.list(role=ConsentRole.HOLDER)] == ["c2", "c1"]
        assert [c.id for c in u.consents.list(item_id="item-a", role=ConsentRole.ORIGINATOR)] == ["c0"]
        u.consents.decide("c1", status=ConsentStatus.GRANTED, at=at(3), by="officer@vnm", note="for this case only")
        u.consents.decide("nope", status=ConsentStatus.GRANTED, at=at(3), by="x", note="")
        u.commit()
    with uow() as u:
        decided = u.consents.get("c1")
        assert decided is not None
        assert (type(decided.role), type(decided.status)) == (ConsentRole, ConsentStatus)
        assert (decided.status, decided.decided_at, decided.decided_by, decided.note) == (
            ConsentStatus.GRANTED,
            at(3),
            "officer@vnm",
            "for this case only",
        )
        assert decided.as_consent() == Consent("item-a", "tha-ca", "vnm-ca", at(3), "joint investigation")


# -- transactions ----------------------------------------------------------------------------------------------


def write_everything(u: UnitOfWork) -> None:
    u.peers.save(directory_entry(), SIGNED, T0)
    u.peer_keys.save("vnm-ca", public_key("vnm-sig"), use=KeyUse.SIGNING, status=KeyStatus.CURRENT, at=T0)
    u.own_entry.save(OwnEntry(directory_entry("fra-ca", "FRA"), SIGNED, T0))
    u.outbox.enqueue([outgoing("m1")])
    u.inbox.receive([incoming("i1")])
    u.receipts.add(Receipt("r1", "batch-1", "vnm-ca", ReceiptDirection.ISSUED, "jws", T0))
    u.seen.add("t1", "vnm-ca", T0)
    u.rejections.add(Rejection(T0, "replay", "detail"))
    u.transfers.add(transfer("x1", T0))
    u.consents.add(consent("c1", T0))


def assert_empty(u: UnitOfWork) -> None:
    assert u.peers.list() == []
    assert u.peer_keys.of_node("vnm-ca") == []
    assert u.own_entry.get() is None
    assert u.outbox.list(MessageQuery()) == []
    assert dict(u.outbox.counts()) == {}
    assert u.inbox.list(MessageQuery()) == []
    assert u.receipts.get("r1") is None
    assert not u.seen.contains("t1")
    assert u.rejections.latest(10) == []
    assert u.transfers.list() == []
    assert u.consents.list() == []


def test_an_uncommitted_unit_of_work_leaves_nothing(uow: UowFactory) -> None:
    with uow() as u:
        write_everything(u)
        assert [p.entry.node_id for p in u.peers.list()] == ["vnm-ca"]  # seen inside the transaction
    with uow() as u:
        assert_empty(u)
        write_everything(u)
        u.rollback()
        u.commit()
    with uow() as u:
        assert_empty(u)
    with uow() as u:
        write_everything(u)  # the same ids again: nothing of the above was kept
        u.commit()
    with uow() as u:
        assert len(u.peers.list()) == 1
        assert u.seen.contains("t1")


def test_outbox_sequence_keeps_growing_across_commits(uow: UowFactory) -> None:
    seqs = []
    for n in range(3):
        with uow() as u:
            u.outbox.enqueue([outgoing(f"m{n}")])
            u.commit()
        with uow() as u:
            message = u.outbox.get(f"m{n}")
            assert message is not None
            seqs.append(message.seq)
    assert seqs == sorted(seqs)
    assert len(set(seqs)) == 3
