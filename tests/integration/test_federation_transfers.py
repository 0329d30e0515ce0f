"""Evidence transfers between nodes through the services, on real databases (SQLite and PostgreSQL), real keys and
real vaults, joined by the loopback transport: items arrive whole with their custody, origin and conditions, and a
signed receipt comes back; a broken stream or a restarted receiver resumes from the verified chunks; altered chunks
and content that is not what the manifest promised are refused; the token and the order of chunks are enforced;
items received from another State go on to a third only with its consent (Art 36), and every refusal is custody.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from hanoinet.app import bootstrap as boot
from hanoinet.app.node import Node
from hanoinet.cases import service as cases
from hanoinet.evidence import service as evidence
from hanoinet.evidence.domain import (
    AccessDenied,
    CustodyAction,
    EvidenceItem,
    HandlingConditions,
    ItemDescription,
    Origin,
    metadata_digest,
)
from hanoinet.evidence.vault import BlobStore
from hanoinet.federation import consents, messaging, transfers
from hanoinet.federation.domain import (
    TYP_TRANSFER_RECEIPT,
    ConsentStatus,
    MessageKind,
    MessageStatus,
    TransferState,
)
from hanoinet.federation.ports import ConsentRecord, MessageQuery, TransferRecord, TransportError
from hanoinet.platform.errors import Conflict, ValidationFailed
from hanoinet.platform.keys import load_keys
from hanoinet.platform.permissions import Principal, Role
from hanoinet.requests import service as requests
from hanoinet.requests.domain import Action
from hanoinet.rules.loader import builtin_pack_paths, load_builtin_packs, load_packs
from tests.conftest import new_postgres_database
from tests.factories import complete_items
from tests.fakes import FixedClock
from tests.federation_support import OFFICER, LoopbackTransport, connect, content, deliver_all, make_node, pump

NodeFactory = Callable[[str, str], Node]

CHUNK = 4096
"""The test nodes' vault chunk size: a few KiB of content make several chunks (the default is 4 MiB)."""

PROSECUTOR = Principal("prosecutor", frozenset({Role.PROSECUTOR}))


@pytest.fixture
def clock() -> FixedClock:
    """One clock for every node of a test (their transmissions' times must agree)."""
    return FixedClock(datetime(2027, 3, 1, 9, 0, tzinfo=UTC))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def new_node(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> Iterator[NodeFactory]:
    """Make nodes on SQLite files, or each on its own fresh PostgreSQL database; their vaults use small chunks, and
    the shipped rule packs are parsed once (they are immutable), not once per node."""
    engines: list[Engine] = []
    builtin = builtin_pack_paths()
    monkeypatch.setattr(
        boot, "load_packs", lambda paths: load_builtin_packs() if list(paths) == builtin else load_packs(paths)
    )

    def make(state: str, node_id: str) -> Node:
        url = None
        if request.param == "postgresql":
            url = new_postgres_database(
                request.getfixturevalue("postgres_server"), request.getfixturevalue("postgres_template")
            )
        node = make_node(tmp_path, state, node_id, database_url=url, clock=clock, engines=engines)
        master = load_keys(tmp_path / node_id / "keys").master_key
        return replace(node, vault=BlobStore(tmp_path / node_id / "vault", master, chunk_size=CHUNK))

    yield make
    for engine in engines:
        engine.dispose()


@pytest.fixture(autouse=True)
def _close_assemblies() -> Iterator[None]:
    """Close the assemblies a test left open in this process (a failed transfer keeps its own)."""
    before = set(transfers._OPEN)
    yield
    for key in set(transfers._OPEN) - before:
        transfers._OPEN.pop(key).assembly.close()


class Recorder(LoopbackTransport):
    """The loopback transport, noting each stream of records (item, first record, answer or "cut") and able to alter one
    byte of the ``alter``-th record of the next stream, as a faulty network or a forger would."""

    def __init__(self, *nodes: Node) -> None:
        super().__init__(*nodes)
        self.streams: list[tuple[int, int, int | str]] = []
        self.alter: int | None = None

    def send_records(
        self, endpoint: str, transfer_id: str, idx: int, *, start: int, token: str, records: Iterable[bytes]
    ) -> tuple[int, bytes]:
        alter, self.alter = self.alter, None

        def on_the_way() -> Iterator[bytes]:
            for n, record in enumerate(records):
                yield record[:40] + bytes([record[40] ^ 0x01]) + record[41:] if n == alter else record

        try:
            status, body = super().send_records(
                endpoint, transfer_id, idx, start=start, token=token, records=on_the_way()
            )
        except TransportError:
            self.streams.append((idx, start, "cut"))
            raise
        self.streams.append((idx, start, status))
        return status, body


@pytest.fixture
def pair(new_node: NodeFactory) -> tuple[Node, Node, Recorder]:
    """Singapore's central authority (which holds the evidence) and Viet Nam's (which asked for it)."""
    sgp = new_node("SGP", "sgp-ca")
    vnm = new_node("VNM", "vnm-ca")
    connect(sgp, vnm)
    return sgp, vnm, Recorder(sgp, vnm)


def _exchange(wire: LoopbackTransport, requesting: Node, requested: Node, reference: str = "LOTUS") -> str:
    """A request from ``requesting`` to ``requested``'s State, delivered and acknowledged there: evidence may then
    go from the requested node to the requesting one."""
    assert requested.node_state is not None
    cases.open_case(
        requesting, reference=reference, offence="system_interference", max_penalty_years=10, summary="Ransomware"
    )
    draft = requests.RequestDraft(
        case=reference,
        instrument="uncc-2024",
        type="mla",
        requested_state=requested.node_state,
        items=complete_items("uncc-2024", "mla"),
    )
    request_id = requests.create_request(requesting, draft, actor="tran").request.id
    requests.act_on_request(requesting, request_id, Action.SEND, actor="tran")
    deliver_all(wire, requesting, requested)
    requests.act_on_request(requested, request_id, Action.ACKNOWLEDGE, actor="lim")
    deliver_all(wire, requesting, requested)
    return request_id


def _case_of(node: Node, request_id: str) -> str:
    case_id = requests.get_request(node, request_id).request.case_id
    assert case_id is not None
    return case_id


def _data(size: int, seed: int) -> bytes:
    return b"".join(content(size, seed))


def _ingest(
    node: Node, case_id: str, exhibit: str, data: bytes, conditions: HandlingConditions | None = None
) -> EvidenceItem:
    described = ItemDescription(
        case_id=case_id,
        exhibit=exhibit,
        source="seized server, rack 4",
        acquisition_method="disk image",
        acquisition_tool="dd 9.4",
        acquired_by="Lim Wei",
        acquired_at=node.clock.now(),
    )
    conditions = conditions or HandlingConditions(purpose="investigation of the LOTUS ransomware only")
    return evidence.ingest(node, io.BytesIO(data), described, conditions, actor=OFFICER)


def _read(node: Node, item_id: str) -> bytes:
    _, stream = evidence.read_content(node, item_id, OFFICER, "check the received content")
    return b"".join(stream)


def _send(node: Node, to: str, items: list[EvidenceItem], request_id: str) -> TransferRecord:
    return transfers.start_transfer(
        node, to=to, item_ids=[i.id for i in items], principal=OFFICER, reason="answer to LOTUS", request_id=request_id
    )


def _received(node: Node, transfer_id: str) -> list[str]:
    """The local ids of the items an incoming transfer stored."""
    ids = [i.local_item_id for i in transfers.get_transfer(node, transfer_id).items]
    assert None not in ids
    return [i for i in ids if i is not None]


def _custody(node: Node, item_id: str, action: CustodyAction) -> list[dict[str, Any]]:
    _, history = evidence.get_item(node, item_id)
    return [e.details for e in history if e.action is action]


def _vault(node: Node) -> BlobStore:
    assert isinstance(node.vault, BlobStore)
    return node.vault


# --------------------------------------------------------------------------------------------------------------
# Whole, resumable


def test_two_items_arrive_whole_with_their_custody_origin_and_a_signed_receipt(
    pair: tuple[Node, Node, Recorder],
) -> None:
    sgp, vnm, wire = pair
    request_id = _exchange(wire, vnm, sgp)
    case_id = _case_of(sgp, request_id)
    contents = [_data(7 * CHUNK + 123, seed=1), _data(2 * CHUNK, seed=2)]  # the second ends on a chunk boundary
    items = [_ingest(sgp, case_id, f"EX-{n}", data) for n, data in enumerate(contents, 1)]

    transfer = _send(sgp, "vnm-ca", items, request_id)
    assert [(i.chunks_total, i.chunk_size) for i in transfer.items] == [(8, CHUNK), (2, CHUNK)]
    pump(wire, sgp, vnm)

    sent, got = transfers.get_transfer(sgp, transfer.id), transfers.get_transfer(vnm, transfer.id)
    assert (sent.state, got.state) == (TransferState.COMPLETED, TransferState.COMPLETED)
    assert sent.receipt is not None
    assert sent.receipt == got.receipt
    assert vnm.identity is not None
    receipt = vnm.identity.verify(sent.receipt, vnm.identity.signing_key, TYP_TRANSFER_RECEIPT)
    assert (receipt["transfer"], receipt["from"], receipt["to"]) == (transfer.id, "vnm-ca", "sgp-ca")
    assert [i.state for i in sent.items] == ["delivered", "delivered"]
    receipt_sha256 = hashlib.sha256(sent.receipt.encode()).hexdigest()
    (copy_of_receipt,) = messaging.list_messages(vnm, MessageQuery(kind=MessageKind.TRANSFER_RECEIPT))
    assert copy_of_receipt.status is MessageStatus.DELIVERED  # the receipt also went as a message
    assert copy_of_receipt.body["receipt"] == sent.receipt
    assert sgp.signer is not None

    for original, data, local_id in zip(items, contents, _received(vnm, transfer.id), strict=True):
        copy, history = evidence.get_item(vnm, local_id)
        assert (
            (copy.sha256, copy.size)
            == (original.sha256, original.size)
            == (hashlib.sha256(data).hexdigest(), len(data))
        )
        assert _read(vnm, local_id) == data
        assert copy.described.case_id == case_id
        assert copy.conditions.origin == Origin("sgp-ca", "SGP", original.id)
        assert copy.conditions.purpose == original.conditions.purpose
        arrival = history[0]
        assert arrival.action is CustodyAction.TRANSFER_IN
        assert arrival.details["metadata_digest"] == metadata_digest(copy)
        assert (arrival.details["from_node"], arrival.details["their_item_id"]) == ("sgp-ca", original.id)
        theirs = arrival.details["their_custody"]
        assert theirs["custody_key"] == sgp.signer.public_key_hex()
        assert [(e["action"], e["item_id"]) for e in theirs["events"]] == [("acquire", original.id)]
        assert {cp["seq"] for cp in theirs["checkpoints"]} == {e["seq"] for e in theirs["events"]}

        (out,) = _custody(sgp, original.id, CustodyAction.TRANSFER_OUT)  # once, though the receipt came twice
        assert out["receipt_sha256"] == receipt_sha256
        assert (out["to_node"], out["their_item_id"], out["transfer_id"]) == ("vnm-ca", local_id, transfer.id)

    report = evidence.verify(vnm, None, OFFICER)
    assert report.ok, report.problems
    assert report.items == 2


def test_the_receiver_keeps_what_it_verified_and_the_sender_resumes_there_with_the_token(
    pair: tuple[Node, Node, Recorder],
) -> None:
    """A broken stream, chunks out of order or at the wrong offset, a wrong token, a receiver restarted with a
    torn record at the end of its file: the transfer goes on from the receiver's verified chunks, each sent once."""
    sgp, vnm, wire = pair
    request_id = _exchange(wire, vnm, sgp)
    case_id = _case_of(sgp, request_id)
    contents = [_data(9 * CHUNK + 5, seed=3), _data(CHUNK // 2, seed=4)]
    items = [_ingest(sgp, case_id, f"EX-{n}", data) for n, data in enumerate(contents, 1)]
    transfer = _send(sgp, "vnm-ca", items, request_id)
    token = transfers._token(sgp, transfer)
    records = list(_vault(sgp).read_records(items[0].sha256))
    assert len(records) == 10

    def chunks_done() -> list[int]:
        return [int(i["chunks_done"]) for i in transfers.transfer_status(vnm, transfer.id, token)["items"]]

    deliver_all(wire, sgp, vnm)  # the offer only
    for wrong in ("", "not-the-token", token + "x"):
        with pytest.raises(transfers.TransferUnauthorized):
            transfers.transfer_status(vnm, transfer.id, wrong)
        with pytest.raises(transfers.TransferUnauthorized):
            transfers.chunk_writer(vnm, transfer.id, 0, 0, wrong)
        with pytest.raises(transfers.TransferUnauthorized):
            transfers.complete_transfer(vnm, transfer.id, wrong)
    assert chunks_done() == [0, 0]

    wire.cut_after = 3  # the connection breaks after three records of the first item
    pump(wire, sgp, vnm)
    assert transfers.get_transfer(sgp, transfer.id).state == TransferState.SENDING
    assert transfers.get_transfer(vnm, transfer.id).state == TransferState.RECEIVING
    assert chunks_done() == [3, 0]

    for start in (0, 2, 4):
        with pytest.raises(transfers.OffsetMismatch) as wrong_start:
            transfers.chunk_writer(vnm, transfer.id, 0, start, token)
        assert wrong_start.value.expected == 3
    answer = wire.send_records("http://vnm-ca.test", transfer.id, 0, start=5, token=token, records=records[5:])
    assert answer == (409, json.dumps({"chunks_done": 3}).encode())
    with pytest.raises(Conflict, match="has 3 of 10 chunks"):
        transfers.complete_transfer(vnm, transfer.id, token)

    wire.cut_after = 4  # it breaks again, four records further on
    pump(wire, sgp, vnm)
    assert chunks_done() == [7, 0]

    # The receiver restarts: what it had open in memory is gone, and a torn record was left at the end of the file.
    for key in [k for k in transfers._OPEN if k[0] == transfer.id]:
        transfers._OPEN.pop(key).assembly.close()
    assembly = _vault(vnm).root / "tmp" / f"t-{transfer.id}-0.assembly"
    with assembly.open("ab") as file:
        file.write(b"\x00\x00\x10\x00\x00half a record, torn by the crash")
    assert chunks_done() == [7, 0]

    pump(wire, sgp, vnm)
    assert transfers.get_transfer(sgp, transfer.id).state == TransferState.COMPLETED
    assert wire.streams == [(0, 0, "cut"), (0, 5, 409), (0, 3, "cut"), (0, 7, 200), (1, 0, 200)]  # none twice
    for original, data, local_id in zip(items, contents, _received(vnm, transfer.id), strict=True):
        copy, _ = evidence.get_item(vnm, local_id)
        assert copy.sha256 == original.sha256 == hashlib.sha256(data).hexdigest()
        assert _read(vnm, local_id) == data
    assert not assembly.exists()
    assert evidence.verify(vnm, None, OFFICER).ok


# --------------------------------------------------------------------------------------------------------------
# Refused content


def test_content_that_is_not_what_was_promised_is_refused_and_never_stored(pair: tuple[Node, Node, Recorder]) -> None:
    """An altered chunk is refused on arrival. A whole that is not what the manifest promised is refused at
    completion: here each chunk authenticates (they are the sender's own records), but the sender's blob file named
    by one SHA-256 holds other content (a file swapped in its vault)."""
    sgp, vnm, wire = pair
    request_id = _exchange(wire, vnm, sgp)
    case_id = _case_of(sgp, request_id)
    item = _ingest(sgp, case_id, "EX-1", _data(5 * CHUNK, seed=5))
    right = _ingest(sgp, case_id, "EX-2", _data(3 * CHUNK + 7, seed=6))
    other = _ingest(sgp, case_id, "EX-3", _data(3 * CHUNK + 7, seed=7))

    altered = _send(sgp, "vnm-ca", [item], request_id)
    wire.alter = 2  # one byte of the third record is flipped on the way
    pump(wire, sgp, vnm)
    assert wire.streams == [(0, 0, 422)]
    sent = transfers.get_transfer(sgp, altered.id)
    assert sent.state == TransferState.FAILED
    assert sent.error is not None
    assert "the receiver refused a chunk (answered HTTP 422 (" in sent.error
    assert "chunk 2" not in sent.error  # the receiver's words stay with the receiver (issue 11: never echoed)
    with vnm.uow() as uow:
        (rejection,) = uow.rejections.latest(10)
    assert (rejection.reason, rejection.claimed_sender) == ("chunk_rejected", "sgp-ca")
    assert altered.id in rejection.detail
    assert "chunk 2" in rejection.detail
    refused = transfers.get_transfer(vnm, altered.id)  # the receiver gave up too, and kept nothing of it
    assert refused.state == TransferState.FAILED
    assert not any((_vault(vnm).root / "tmp").glob(f"t-{altered.id}-*.assembly"))
    token = transfers._token(sgp, sent)
    with pytest.raises(Conflict, match="failed"):
        transfers.chunk_writer(vnm, altered.id, 0, 2, token)

    vault = _vault(sgp)
    swapped = vault.path_of(right.sha256).with_name("swap")
    swapped.write_bytes(vault.path_of(other.sha256).read_bytes())
    swapped.replace(vault.path_of(right.sha256))
    mismatched = _send(sgp, "vnm-ca", [right], request_id)
    pump(wire, sgp, vnm)
    assert wire.streams[1:] == [(0, 0, 200)]  # every chunk was authentic
    sent, got = transfers.get_transfer(sgp, mismatched.id), transfers.get_transfer(vnm, mismatched.id)
    assert (sent.state, got.state) == (TransferState.FAILED, TransferState.FAILED)
    assert sent.error is not None
    assert "the receiver refused the whole (answered HTTP 422 (body not shown))" in sent.error
    assert other.sha256 not in sent.error  # the receiver's words stay with the receiver (issue 11: never echoed)
    assert got.error is not None
    assert "hash mismatch" in got.error
    with pytest.raises(Conflict, match="failed"):
        transfers.complete_transfer(vnm, mismatched.id, transfers._token(sgp, sent))

    assert evidence.list_items(vnm, case_id=case_id) == []
    assert not _vault(vnm).exists(other.sha256)
    assert [i.local_item_id for t in (altered, mismatched) for i in transfers.get_transfer(vnm, t.id).items] == [
        None,
        None,
    ]
    assert (
        _custody(sgp, item.id, CustodyAction.TRANSFER_OUT) == _custody(sgp, right.id, CustodyAction.TRANSFER_OUT) == []
    )


# --------------------------------------------------------------------------------------------------------------
# What the sender may send


def test_onward_transfer_needs_the_originators_consent_for_that_destination(new_node: NodeFactory) -> None:
    sgp, vnm, tha, mys = (
        new_node("SGP", "sgp-ca"),  # the originator
        new_node("VNM", "vnm-ca"),  # receives the item, then is asked for it
        new_node("THA", "tha-ca"),  # asks Viet Nam for it
        new_node("MYS", "mys-ca"),  # another third State
    )
    nodes = (sgp, vnm, tha, mys)
    connect(*nodes)
    wire = Recorder(*nodes)
    from_sgp = _exchange(wire, vnm, sgp, "LOTUS")
    from_vnm = _exchange(wire, tha, vnm, "ORCHID")
    data = _data(2 * CHUNK + 9, seed=9)
    original = _ingest(sgp, _case_of(sgp, from_sgp), "EX-1", data)
    first = _send(sgp, "vnm-ca", [original], from_sgp)
    pump(wire, *nodes)
    (held_id,) = _received(vnm, first.id)
    held, _ = evidence.get_item(vnm, held_id)

    def refused_onward() -> None:
        with pytest.raises(AccessDenied, match=r"Art 36") as denied:
            _send(vnm, "tha-ca", [held], from_vnm)
        assert "sgp-ca" in str(denied.value)

    def decided(destination: str, *, grant: bool) -> ConsentRecord:
        asked = consents.request_consent(
            vnm, held_id, destination=destination, purpose="prosecution in " + destination, principal=OFFICER
        )
        deliver_all(wire, *nodes)
        (question,) = [c for c in consents.list_consents(sgp) if c.id == asked.id]
        assert (question.role, question.item_id, question.destination) == ("originator", original.id, destination)
        consents.decide(sgp, asked.id, grant=grant, note="decided by the central authority", principal=OFFICER)
        deliver_all(wire, *nodes)
        (answer,) = [c for c in consents.list_consents(vnm, held_id) if c.id == asked.id]
        return answer

    refused_onward()
    refusals = _custody(vnm, held_id, CustodyAction.ACCESS_REFUSED)
    assert [(r["attempted"], r["to_node"], r["to_state"]) for r in refusals] == [("transfer_out", "tha-ca", "THA")]
    assert [t.id for t in transfers.list_transfers(vnm)] == [first.id]  # nothing was offered

    assert decided("mys-ca", grant=True).status == ConsentStatus.GRANTED
    refused_onward()  # a consent for Malaysia does not open the way to Thailand
    assert decided("tha-ca", grant=False).status == ConsentStatus.REFUSED
    refused_onward()  # nor does a refused one
    assert len(_custody(vnm, held_id, CustodyAction.ACCESS_REFUSED)) == 3

    back = _send(vnm, "sgp-ca", [held], from_sgp)  # going back to the originator needs no consent
    assert decided("tha-ca", grant=True).status == ConsentStatus.GRANTED
    onward = _send(vnm, "tha-ca", [held], from_vnm)
    pump(wire, *nodes)
    assert transfers.get_transfer(vnm, back.id).state == TransferState.COMPLETED
    assert transfers.get_transfer(vnm, onward.id).state == TransferState.COMPLETED
    outs = _custody(vnm, held_id, CustodyAction.TRANSFER_OUT)
    assert sorted(str(o["to_node"]) for o in outs) == ["sgp-ca", "tha-ca"]

    (copy_id,) = _received(tha, onward.id)
    copy, history = evidence.get_item(tha, copy_id)
    assert copy.conditions.origin == Origin("sgp-ca", "SGP", original.id)  # the originator, not Viet Nam
    assert _read(tha, copy_id) == data
    via = history[0].details["their_custody"]
    assert via["events"][0]["action"] == "transfer_in"
    assert via["events"][0]["details"]["their_custody"]["events"][0]["item_id"] == original.id
    assert evidence.verify(tha, None, OFFICER).ok


def test_an_item_returned_to_its_originator_is_its_own_again(pair: tuple[Node, Node, Recorder]) -> None:
    """Singapore sends an item to Viet Nam, which sends it back: Singapore's returned copy is Singapore's own
    evidence (Art 36 protects the originator, which needs nobody's consent), so it may send it again."""
    sgp, vnm, wire = pair
    request_id = _exchange(wire, vnm, sgp)
    original = _ingest(sgp, _case_of(sgp, request_id), "EX-1", _data(CHUNK + 1, seed=10))
    there = _send(sgp, "vnm-ca", [original], request_id)
    pump(wire, sgp, vnm)
    (held_id,) = _received(vnm, there.id)
    held, _ = evidence.get_item(vnm, held_id)
    back = _send(vnm, "sgp-ca", [held], request_id)
    pump(wire, sgp, vnm)
    (returned_id,) = _received(sgp, back.id)
    returned, _ = evidence.get_item(sgp, returned_id)

    assert returned.sha256 == original.sha256
    again = _send(sgp, "vnm-ca", [returned], request_id)  # Singapore's own evidence: no consent is needed
    pump(wire, sgp, vnm)
    assert transfers.get_transfer(sgp, again.id).state == TransferState.COMPLETED


def test_nothing_is_offered_that_may_not_go(pair: tuple[Node, Node, Recorder], clock: FixedClock) -> None:
    """A principal the item's conditions do not allow (the refusal is custody), an item without content or unknown,
    a request not exchanged with the destination: refused before anything is offered, naming what is wrong."""
    sgp, vnm, wire = pair
    request_id = _exchange(wire, vnm, sgp)
    case_id = _case_of(sgp, request_id)
    free = _ingest(sgp, case_id, "EX-1", _data(100, seed=11))
    restricted = _ingest(
        sgp, case_id, "EX-2", _data(100, seed=12), HandlingConditions(allowed_roles=(Role.PROSECUTOR,))
    )
    expiring = _ingest(
        sgp, case_id, "EX-3", _data(100, seed=13), HandlingConditions(retention_until=clock.current.date())
    )
    clock.advance(days=1)
    evidence.dispose(sgp, expiring.id, OFFICER, "retention ended")
    cases.open_case(sgp, reference="LOCAL", offence="system_interference", max_penalty_years=10, summary="Local")
    draft = requests.RequestDraft(
        case="LOCAL",
        instrument="uncc-2024",
        type="mla",
        requested_state="VNM",
        items=complete_items("uncc-2024", "mla"),
    )
    local = requests.create_request(sgp, draft, actor="lim").request.id  # drafted here, never sent to Viet Nam

    with pytest.raises(AccessDenied, match="allow roles prosecutor"):
        _send(sgp, "vnm-ca", [free, restricted], request_id)
    (refusal,) = _custody(sgp, restricted.id, CustodyAction.ACCESS_REFUSED)
    assert (refusal["attempted"], refusal["to_node"]) == ("transfer_out", "vnm-ca")

    def fields(item_ids: list[str], request: str, reason: str = "answer") -> list[str]:
        with pytest.raises(ValidationFailed) as failed:
            transfers.start_transfer(
                sgp, to="vnm-ca", item_ids=item_ids, principal=OFFICER, reason=reason, request_id=request
            )
        return [i.field for i in failed.value.issues]

    assert fields([free.id], "no-such-request") == ["request_id"]
    assert fields([free.id], local) == ["request_id"]
    assert fields([free.id, "no-such-item"], request_id) == ["items[1]"]
    assert fields([expiring.id], request_id) == ["items[0]"]
    assert fields([free.id, free.id], request_id) == ["items"]
    assert fields([], request_id) == ["items"]
    assert fields([free.id], request_id, reason=" ") == ["reason"]
    assert transfers.list_transfers(sgp) == []  # not one item was offered
    with sgp.uow() as uow:
        assert uow.outbox.pending("vnm-ca", 10) == []

    allowed = transfers.start_transfer(
        sgp, to="vnm-ca", item_ids=[restricted.id], principal=PROSECUTOR, reason="answer", request_id=request_id
    )
    pump(wire, sgp, vnm)
    assert transfers.get_transfer(sgp, allowed.id).state == TransferState.COMPLETED
    (copy_id,) = _received(vnm, allowed.id)
    copy, _ = evidence.get_item(vnm, copy_id)
    assert copy.conditions.allowed_roles == (Role.PROSECUTOR,)  # the sender's conditions travel with the item
    with pytest.raises(AccessDenied):
        evidence.read_content(vnm, copy_id, OFFICER, "look")

    # Without a request the receiver refuses the offer (receive_offer: "evidence is sent for a request exchanged
    # between the two nodes: name it"), so the sender must refuse it at once too.
    assert fields([free.id], "") == ["request_id"]
