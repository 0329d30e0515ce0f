"""The directory through the services, on real databases (SQLite and PostgreSQL) and real keys, nodes joined by the
loopback transport: an entry is trusted only as its keys signed it; a changed profile or rotated keys reach every
peer in a pushed entry signed by the key it replaces, before anything the new key signs; retired keys still vouch
for what they signed before, revoked ones for nothing; a directory node's register brings the nodes it trusts and
the keys it revoked, entry by entry.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import pytest
from sqlalchemy import Engine

from hanoinet.app import bootstrap as boot
from hanoinet.app.node import Node
from hanoinet.cases import service as cases
from hanoinet.federation import directory, messaging
from hanoinet.federation.domain import (
    TYP_ENTRY,
    TYP_REGISTER,
    EntryStatus,
    EntryVerdict,
    KeyStatus,
    MessageKind,
    MessageStatus,
)
from hanoinet.federation.ports import Identity, MessageQuery
from hanoinet.platform.errors import Conflict, NotFound, ValidationFailed
from hanoinet.requests import service as requests
from hanoinet.requests.domain import Action, RequestState
from hanoinet.rules.loader import builtin_pack_paths, load_builtin_packs, load_packs
from tests.conftest import new_postgres_database
from tests.factories import complete_items
from tests.fakes import FixedClock
from tests.federation_support import LoopbackTransport, connect, deliver_all, endpoint_of, make_node


class NodeFactory(Protocol):
    def __call__(self, state: str, node_id: str, *, base: Path | None = None) -> Node: ...


@pytest.fixture
def clock() -> FixedClock:
    """One clock for every node of a test (their transmissions' times must agree)."""
    return FixedClock(datetime(2027, 3, 1, 9, 0, tzinfo=UTC))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def new_node(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> Iterator[NodeFactory]:
    """Make nodes on SQLite files, or each on its own fresh PostgreSQL database (``base`` holds their data
    directories: another one gives another node with the same id); the shipped rule packs are parsed once."""
    engines: list[Engine] = []
    builtin = builtin_pack_paths()
    monkeypatch.setattr(
        boot, "load_packs", lambda paths: load_builtin_packs() if list(paths) == builtin else load_packs(paths)
    )

    def make(state: str, node_id: str, *, base: Path | None = None) -> Node:
        url = None
        if request.param == "postgresql":
            url = new_postgres_database(
                request.getfixturevalue("postgres_server"), request.getfixturevalue("postgres_template")
            )
        return make_node(base or tmp_path, state, node_id, database_url=url, clock=clock, engines=engines)

    yield make
    for engine in engines:
        engine.dispose()


def _identity(node: Node) -> Identity:
    assert node.identity is not None
    return node.identity


def _b64json(text: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    return value


def _payload(signed: Mapping[str, Any]) -> dict[str, Any]:
    """What a signed document (General JSON JWS) says, unverified."""
    return _b64json(str(signed["payload"]))


def _altered(signed: Mapping[str, Any], **changes: Any) -> dict[str, Any]:
    """The document with its payload changed and its signatures kept, as a forger would send it."""
    text = json.dumps({**_payload(signed), **changes}, sort_keys=True, separators=(",", ":")).encode()
    return {**signed, "payload": base64.urlsafe_b64encode(text).decode().rstrip("=")}


def _keys(node: Node, peer: str) -> dict[str, tuple[str, KeyStatus]]:
    """A peer's keys in this node's directory: kid -> (use, status)."""
    _, keys = directory.get_peer(node, peer)
    return {k.key.kid: (k.use, k.status) for k in keys}


def _rejections(node: Node) -> list[str]:
    with node.uow() as uow:
        return [r.reason for r in uow.rejections.latest(50)]


def _note(node: Node, to: str, text: str) -> str:
    (sent,) = messaging.send_messages(
        node, [messaging.NewMessage(to, MessageKind.SPONTANEOUS_INFORMATION, text)], actor="duty officer"
    )
    return sent.id


def _received_texts(node: Node) -> list[str]:
    """The notes this node took (not those it refused)."""
    with node.uow() as uow:
        received = uow.inbox.list(MessageQuery(kind=MessageKind.SPONTANEOUS_INFORMATION))
    identity = _identity(node)
    return sorted(str(identity.peek(m.jws)[1]["body"]["text"]) for m in received if m.status is MessageStatus.ACCEPTED)


def _outgoing(node: Node, message_id: str) -> messaging.MessageView:
    return messaging.get_message(node, message_id)


# --------------------------------------------------------------------------------------------------------------
# Importing entries


def test_an_entry_is_trusted_only_as_its_keys_signed_it(new_node: NodeFactory, tmp_path: Path) -> None:
    vnm, sgp = new_node("VNM", "vnm-ca"), new_node("SGP", "sgp-ca")
    sgp_id = _identity(sgp)
    entry = directory.publish_own_entry(sgp).signed

    first = directory.import_entry(vnm, entry)
    assert (first.verdict, first.peer.status) == (EntryVerdict.NEW, EntryStatus.ACTIVE)
    assert _keys(vnm, "sgp-ca") == {
        sgp_id.signing_key.kid: ("sig", KeyStatus.CURRENT),
        sgp_id.encryption_key.kid: ("enc", KeyStatus.CURRENT),
    }
    assert sgp.signer is not None
    assert first.peer.entry.custody_key == sgp.signer.public_key_hex()
    assert directory.import_entry(vnm, entry).verdict is EntryVerdict.UNCHANGED

    for forged in (
        _altered(entry, endpoint="http://attacker.test"),
        _altered(entry, endpoint="http://attacker.test", serial=7),
    ):
        with pytest.raises(directory.EntryRefused, match="not signed by the signing key it publishes"):
            directory.import_entry(vnm, forged)
    peer, _ = directory.get_peer(vnm, "sgp-ca")
    assert (peer.entry.endpoint, peer.entry.serial) == (endpoint_of("sgp-ca"), 1)

    with pytest.raises(directory.EntryRefused, match="own id"):
        directory.import_entry(vnm, directory.publish_own_entry(vnm).signed)

    # Thailand's entry, publishing and signed by Singapore's keys: a key belongs to one node.
    borrowed = {**_payload(entry), "node_id": "tha-ca", "state": "THA", "endpoint": endpoint_of("tha-ca")}
    with pytest.raises(directory.EntryRefused, match="already belongs to node sgp-ca"):
        directory.import_entry(vnm, sgp_id.sign_document(borrowed, TYP_ENTRY))
    with pytest.raises(NotFound):
        directory.get_peer(vnm, "tha-ca")

    # New keys without the old key's signature: a rotated entry stripped of it, and a node installed afresh under
    # the same id (its entry made newer than the one on file). Only an operator who checked them lets them in.
    old_kid = sgp_id.signing_key.kid
    rotated = dict(directory.rotate_keys(sgp, actor="ops").signed)
    stripped = {
        **rotated,
        "signatures": [s for s in rotated["signatures"] if _b64json(s["protected"])["kid"] != old_kid],
    }
    assert len(stripped["signatures"]) == 1
    with pytest.raises(directory.EntryRefused, match="without a signature by the previous key"):
        directory.accept_pushed_entry(vnm, stripped)
    impostor = new_node("SGP", "sgp-ca", base=tmp_path / "impostor")
    assert directory.publish_own_entry(impostor).entry.serial == 1
    assert impostor.profile is not None
    fresh = directory.publish_own_entry(replace(impostor, profile=replace(impostor.profile, hours="around the clock")))
    assert fresh.entry.serial == 2
    for offered in (stripped, fresh.signed):
        with pytest.raises(directory.EntryRefused, match="without a signature by the previous key"):
            directory.import_entry(vnm, offered)
    assert _keys(vnm, "sgp-ca")[old_kid] == ("sig", KeyStatus.CURRENT)  # nothing changed

    replaced = directory.import_entry(vnm, fresh.signed, replace_entry=True)
    assert (replaced.verdict, replaced.reason) == (EntryVerdict.UPDATED, "replaced by an operator")
    assert _keys(vnm, "sgp-ca")[_identity(impostor).signing_key.kid] == ("sig", KeyStatus.CURRENT)
    assert _keys(vnm, "sgp-ca")[old_kid] == ("sig", KeyStatus.RETIRED)


# --------------------------------------------------------------------------------------------------------------
# Changes pushed to peers


def test_a_changed_profile_is_signed_anew_and_reaches_every_peer(new_node: NodeFactory) -> None:
    vnm, sgp, tha = new_node("VNM", "vnm-ca"), new_node("SGP", "sgp-ca"), new_node("THA", "tha-ca")
    connect(vnm, sgp, tha)
    wire = LoopbackTransport(vnm, sgp, tha)
    before = directory.publish_own_entry(vnm)
    assert before.entry.serial == 1
    assert directory.publish_own_entry(vnm).entry.serial == 1  # nothing changed: not signed again
    with vnm.uow() as uow:
        assert uow.outbox.pending("sgp-ca", 10) == []

    assert vnm.profile is not None
    moved = replace(vnm, profile=replace(vnm.profile, endpoint="http://vnm-ca.example/", hours="Mon-Fri 8-17 ICT"))
    own = directory.publish_own_entry(moved)
    assert (own.entry.serial, own.entry.endpoint, own.entry.hours) == (2, "http://vnm-ca.example", "Mon-Fri 8-17 ICT")
    with vnm.uow() as uow:
        queued = {p: [m.kind for m in uow.outbox.pending(p, 10)] for p in ("sgp-ca", "tha-ca")}
    assert queued == {"sgp-ca": [MessageKind.ENTRY], "tha-ca": [MessageKind.ENTRY]}

    wire.nodes["http://vnm-ca.example"] = moved
    assert deliver_all(wire, moved, sgp, tha) == 2
    for peer_node in (sgp, tha):
        # The hours are the node's own word; the endpoint (where this node's requests go) waits for an operator.
        peer, _ = directory.get_peer(peer_node, "vnm-ca")
        assert (peer.entry.serial, peer.entry.endpoint, peer.entry.hours) == (
            2,
            "http://vnm-ca.test",
            "Mon-Fri 8-17 ICT",
        )
        assert peer.pending is not None
        assert (peer.pending.changed(), peer.pending.new["endpoint"]) == (("endpoint",), "http://vnm-ca.example")
        assert set(_keys(peer_node, "vnm-ca").values()) == {("sig", KeyStatus.CURRENT), ("enc", KeyStatus.CURRENT)}
        assert _rejections(peer_node) == []
        confirmed = directory.confirm_change(peer_node, "vnm-ca", actor="operator")
        assert (confirmed.entry.endpoint, confirmed.pending) == ("http://vnm-ca.example", None)

    _note(sgp, "vnm-ca", "to the new address")
    deliver_all(wire, moved, sgp, tha)
    assert wire.wire.transmissions[-1][0] == "http://vnm-ca.example"
    assert _received_texts(moved) == ["to the new address"]


def test_rotated_keys_are_followed_and_old_ones_retired_or_revoked(new_node: NodeFactory) -> None:
    vnm, sgp = new_node("VNM", "vnm-ca"), new_node("SGP", "sgp-ca")
    connect(vnm, sgp)
    wire = LoopbackTransport(vnm, sgp)
    sgp_endpoint = endpoint_of("sgp-ca")
    me = _identity(vnm)

    def generation() -> tuple[str, str]:
        return me.signing_key.kid, me.encryption_key.kid

    def kept_envelope(text: str) -> str:
        """Deliver a note now, and keep the envelope it went in (signed by the current key)."""
        _note(vnm, "sgp-ca", text)
        deliver_all(wire, vnm, sgp)
        return wire.wire.transmissions[-1][1]

    # 1. A rotation with nothing waiting: the new entry, signed by both keys, goes first.
    first = generation()
    first_envelope = kept_envelope("signed by the first keys")
    own = directory.rotate_keys(vnm, actor="ops")
    second = generation()
    assert set(second).isdisjoint(first)
    old_signing = directory.get_peer(sgp, "vnm-ca")[0].entry.signing_key
    assert me.verify_document(own.signed, [old_signing, me.signing_key])[1] == {first[0], second[0]}
    assert (own.entry.serial, own.entry.revoked_kids) == (2, ())
    deliver_all(wire, vnm, sgp)
    assert _keys(sgp, "vnm-ca") == {
        first[0]: ("sig", KeyStatus.RETIRED),
        first[1]: ("enc", KeyStatus.RETIRED),
        second[0]: ("sig", KeyStatus.CURRENT),
        second[1]: ("enc", KeyStatus.CURRENT),
    }
    cases.open_case(vnm, reference="LOTUS", offence="system_interference", max_penalty_years=10, summary="Ransomware")
    draft = requests.RequestDraft(
        case="LOTUS",
        instrument="uncc-2024",
        type="mla",
        requested_state="SGP",
        items=complete_items("uncc-2024", "mla"),
    )
    request_id = requests.create_request(vnm, draft, actor="tran").request.id
    requests.act_on_request(vnm, request_id, Action.SEND, actor="tran")
    deliver_all(wire, vnm, sgp)
    requests.act_on_request(sgp, request_id, Action.ACKNOWLEDGE, actor="lim")  # the answer goes to the new key
    deliver_all(wire, vnm, sgp)
    assert requests.get_request(vnm, request_id).request.state is RequestState.ACKNOWLEDGED
    status, body = wire.transmit(sgp_endpoint, first_envelope)
    assert (status, json.loads(body)["title"]) == (401, "retired_key")

    # 2. A note signed before a rotation and delivered after it: its key is retired, not revoked, so it is taken.
    #    (The entry is pushed by hand here: see the next test for the outbox's own order.)
    second_envelope = kept_envelope("signed by the second keys")
    before = _note(vnm, "sgp-ca", "composed before the second rotation")
    own = directory.rotate_keys(vnm, actor="ops")
    third = generation()
    assert wire.push_entry(sgp_endpoint, json.dumps(own.signed)) == (200, b'{"verdict": "updated"}')
    deliver_all(wire, vnm, sgp)
    assert _outgoing(vnm, before).status is MessageStatus.DELIVERED
    assert "composed before the second rotation" in _received_texts(sgp)

    # 3. A rotation that revokes the keys it replaces (they were compromised): what they signed is refused.
    third_envelope = kept_envelope("signed by the third keys")
    before = _note(vnm, "sgp-ca", "composed before the third rotation")
    own = directory.rotate_keys(vnm, revoke_old=True, actor="ops")
    fourth = generation()
    assert set(own.entry.revoked_kids) == set(third)
    assert wire.push_entry(sgp_endpoint, json.dumps(own.signed))[0] == 200
    deliver_all(wire, vnm, sgp)
    refused = _outgoing(vnm, before)
    assert refused.status is MessageStatus.REJECTED
    assert refused.error is not None
    assert f"signed by key {third[0]}, revoked here" in refused.error
    assert "composed before the third rotation" not in _received_texts(sgp)
    assert _keys(sgp, "vnm-ca") == {
        first[0]: ("sig", KeyStatus.RETIRED),
        first[1]: ("enc", KeyStatus.RETIRED),
        second[0]: ("sig", KeyStatus.RETIRED),
        second[1]: ("enc", KeyStatus.RETIRED),
        third[0]: ("sig", KeyStatus.REVOKED),
        third[1]: ("enc", KeyStatus.REVOKED),
        fourth[0]: ("sig", KeyStatus.CURRENT),
        fourth[1]: ("enc", KeyStatus.CURRENT),
    }
    for envelope, title in ((third_envelope, "revoked_key"), (second_envelope, "retired_key")):
        status, body = wire.transmit(sgp_endpoint, envelope)
        assert json.loads(body)["title"] == title
    _note(vnm, "sgp-ca", "signed by the fourth keys")
    deliver_all(wire, vnm, sgp)
    assert "signed by the fourth keys" in _received_texts(sgp)


def test_a_message_waiting_in_the_outbox_does_not_hold_back_the_rotated_entry(
    new_node: NodeFactory, clock: FixedClock
) -> None:
    """A note composed (and signed) before a rotation and still in the outbox when the keys change: the new entry
    must reach the peer first (rotate_keys: "ahead of anything signed with its new key"), since the transmission
    that carries the note is signed with the new key, which the peer cannot know before the entry."""
    vnm, sgp = new_node("VNM", "vnm-ca"), new_node("SGP", "sgp-ca")
    connect(vnm, sgp)
    wire = LoopbackTransport(vnm, sgp)
    before = _note(vnm, "sgp-ca", "composed before the rotation")
    directory.rotate_keys(vnm, actor="ops")

    deliver_all(wire, vnm, sgp)
    clock.advance(seconds=5)  # past the backoff (at most 1 s in these tests): a retry
    deliver_all(wire, vnm, sgp)
    assert _rejections(sgp) == []  # today: "unknown_sender" at every attempt, and the entry never goes
    assert _keys(sgp, "vnm-ca")[_identity(vnm).signing_key.kid] == ("sig", KeyStatus.CURRENT)
    assert _outgoing(vnm, before).status is MessageStatus.DELIVERED
    assert _received_texts(sgp) == ["composed before the rotation"]


# --------------------------------------------------------------------------------------------------------------
# Revocation


def test_a_revoked_node_is_neither_delivered_to_nor_heard(new_node: NodeFactory) -> None:
    vnm, sgp = new_node("VNM", "vnm-ca"), new_node("SGP", "sgp-ca")
    connect(vnm, sgp)
    wire = LoopbackTransport(vnm, sgp)
    vnm_keys = _identity(vnm)

    with pytest.raises(ValidationFailed, match="reason"):
        directory.revoke(sgp, "vnm-ca", reason="  ", actor="lim")
    with pytest.raises(NotFound):
        directory.revoke(sgp, "no-such-node-or-key", reason="typo", actor="lim")
    enc = vnm_keys.encryption_key.kid
    assert directory.revoke(sgp, enc, reason="laptop lost", actor="lim") == f"key {enc} of node vnm-ca"
    with pytest.raises(Conflict, match="already revoked"):
        directory.revoke(sgp, enc, reason="laptop lost, again", actor="lim")

    waiting = _note(sgp, "vnm-ca", "queued before the revocation")
    assert (
        directory.revoke(sgp, "vnm-ca", reason="compromised, said by phone", actor="lim")
        == "node vnm-ca and its 2 key(s)"
    )
    peer, _ = directory.get_peer(sgp, "vnm-ca")
    assert peer.status is EntryStatus.REVOKED
    assert set(_keys(sgp, "vnm-ca").values()) == {("sig", KeyStatus.REVOKED), ("enc", KeyStatus.REVOKED)}
    with pytest.raises(Conflict, match="already revoked"):
        directory.revoke(sgp, vnm_keys.signing_key.kid, reason="again", actor="lim")

    assert messaging.due_peers(sgp) == []
    assert messaging.deliver(sgp, wire, "vnm-ca", owner="test").sent == 0
    assert wire.wire.transmissions == []
    assert _outgoing(sgp, waiting).status is MessageStatus.PENDING
    with pytest.raises(ValidationFailed, match="revoked"):
        _note(sgp, "vnm-ca", "anything new")

    _note(vnm, "sgp-ca", "from a revoked node")
    assert deliver_all(wire, vnm, sgp) == 0
    assert _received_texts(sgp) == []
    own = directory.rotate_keys(vnm, actor="ops")  # new keys do not bring it back
    status, body = wire.push_entry(endpoint_of("sgp-ca"), json.dumps(own.signed))
    assert status == 409
    assert "revoked" in json.loads(body)["detail"]
    assert _rejections(sgp) == ["entry_refused", "revoked_key"]
    assert directory.get_peer(sgp, "vnm-ca")[0].status is EntryStatus.REVOKED


def test_nothing_is_encrypted_to_a_revoked_encryption_key(new_node: NodeFactory) -> None:
    """A peer's encryption key revoked here (its private half leaked): what this node sends must not be readable
    with it, so nothing more goes out encrypted to it until the peer publishes a new one."""
    vnm, sgp = new_node("VNM", "vnm-ca"), new_node("SGP", "sgp-ca")
    connect(vnm, sgp)
    wire = LoopbackTransport(vnm, sgp)
    leaked = _identity(vnm).encryption_key.kid
    directory.revoke(sgp, leaked, reason="its private key leaked", actor="lim")

    waiting = _note(sgp, "vnm-ca", "for Viet Nam's eyes only")
    deliver_all(wire, vnm, sgp)
    used = [_b64json(envelope.split(".")[0])["kid"] for _, envelope in wire.wire.transmissions]
    assert leaked not in used  # today: the note went out encrypted to the revoked key
    assert _outgoing(sgp, waiting).status is MessageStatus.PENDING


# --------------------------------------------------------------------------------------------------------------
# Registers


def test_a_trusted_directory_nodes_register_brings_its_nodes_and_revocations(new_node: NodeFactory) -> None:
    registrar, tha, mys, vnm = (
        new_node("AUS", "aus-directory"),  # a directory node, trusted by Thailand and Malaysia
        new_node("THA", "tha-ca"),
        new_node("MYS", "mys-ca"),
        new_node("VNM", "vnm-ca"),  # trusts only the directory node
    )
    connect(registrar, tha, mys)
    directory.import_entry(vnm, directory.publish_own_entry(registrar).signed)
    directory.import_entry(mys, directory.publish_own_entry(vnm).signed)
    revoked_kid = _identity(mys).signing_key.kid
    directory.revoke(registrar, revoked_kid, reason="reported compromised by Malaysia", actor="registrar")

    with pytest.raises(directory.EntryRefused, match="not a trusted node"):
        directory.import_register(vnm, directory.register(tha))
    genuine = directory.register(registrar)
    payload = _payload(genuine)
    assert payload["revoked_kids"] == [revoked_kid]
    trimmed = _altered(genuine, entries=payload["entries"][:1])
    with pytest.raises(directory.EntryRefused, match="not signed by aus-directory's current key"):
        directory.import_register(vnm, trimmed)

    # Signed by the directory node, but Thailand's entry in it was changed after Thailand signed it.
    (index,) = [n for n, e in enumerate(payload["entries"]) if _payload(e)["node_id"] == "tha-ca"]
    entries = list(payload["entries"])
    entries[index] = _altered(entries[index], endpoint="http://elsewhere.test")
    forged = _identity(registrar).sign_document({**payload, "entries": entries}, TYP_REGISTER)
    result = directory.import_register(vnm, forged)
    assert result.publisher == "aus-directory"
    assert [r.split(":")[0] for r in result.refused] == [f"entries[{index}]"]
    assert "not signed by the signing key it publishes" in result.refused[0]
    assert {(r.peer.entry.node_id, r.verdict) for r in result.imported} == {
        ("aus-directory", EntryVerdict.UNCHANGED),
        ("mys-ca", EntryVerdict.NEW),
    }
    assert result.revoked == (revoked_kid,)
    with pytest.raises(NotFound):
        directory.get_peer(vnm, "tha-ca")
    assert _keys(vnm, "mys-ca")[revoked_kid] == ("sig", KeyStatus.REVOKED)

    again = directory.import_register(vnm, genuine)
    assert {(r.peer.entry.node_id, r.verdict) for r in again.imported} == {
        ("aus-directory", EntryVerdict.UNCHANGED),
        ("tha-ca", EntryVerdict.NEW),
    }
    (mys_refused,) = again.refused  # its entry publishes a key revoked here now
    assert mys_refused.startswith("entries[")
    assert f"key {revoked_kid} has been revoked here" in mys_refused
    assert again.revoked == ()
    assert directory.get_peer(vnm, "tha-ca")[0].entry.endpoint == endpoint_of("tha-ca")

    wire = LoopbackTransport(vnm, mys)
    _note(mys, "vnm-ca", "signed by a key the directory revoked")
    assert deliver_all(wire, mys, vnm) == 0
    assert _rejections(vnm) == ["revoked_key"]
