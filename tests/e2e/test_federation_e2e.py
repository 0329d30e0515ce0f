"""Federation between real node processes over real HTTP on loopback: requests and answers, a thousand messages
through a receiver killed and restarted, evidence transfers through a SIGKILL on either side, a receiver down for a
while, and forged, tampered, replayed, stale or unknown-sender transmissions refused with their reason."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from hanoinet.federation.domain import TYP_BATCH, PublicKey
from hanoinet.federation.jose import JoseIdentity
from tests.conftest import new_postgres_database
from tests.e2e.nodes import NodeProcess, network, wait_for
from tests.factories import complete_items

SPECS = [("vnm-ca", "VNM", "central_authority"), ("sgp-247", "SGP", "point_of_contact_24_7")]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def pair(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[list[NodeProcess]]:
    """Viet Nam's central authority and Singapore's 24/7 point of contact, as processes, trusting each other."""
    urls: list[str | None] = [None, None]
    if request.param == "postgresql":
        server: str = request.getfixturevalue("postgres_server")
        urls = [new_postgres_database(server, "template0") for _ in SPECS]  # empty: each node migrates its own
    yield from network(tmp_path, SPECS, urls, HANOINET_FEDERATION_BATCH_SIZE="25")


@pytest.fixture
def sqlite_pair(tmp_path: Path) -> Iterator[list[NodeProcess]]:
    """The same two nodes, on SQLite only (for the slower crash tests)."""
    yield from network(tmp_path, SPECS)


def _open_request(vnm: NodeProcess, type_: str = "mla_stored_data") -> str:
    reference = f"LOTUS-{os.urandom(3).hex()}"
    vnm.call(
        "POST",
        "/api/v1/cases",
        json={
            "reference": reference,
            "offence": "system_interference",
            "max_penalty_years": 10,
            "summary": "Ransomware against a hospital",
        },
    )
    created = vnm.call(
        "POST",
        "/api/v1/requests",
        json={"case": reference, "type": type_, "requested_state": "SGP", "items": complete_items("uncc-2024", type_)},
    )
    vnm.call("POST", f"/api/v1/requests/{created['id']}/actions", json={"action": "send"})
    return str(created["id"])


def _view(node: NodeProcess, request_id: str) -> dict[str, Any] | None:
    with node.client() as http:
        response = http.get(f"/api/v1/requests/{request_id}")
    return response.json() if response.status_code == 200 else None


def _incoming(node: NodeProcess, kind: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = node.call(
        "GET", "/api/v1/messages", params={"direction": "incoming", "kind": kind, "limit": 1000}
    )
    return messages


def test_a_request_goes_out_and_every_answer_comes_back(pair: list[NodeProcess]) -> None:
    vnm, sgp = pair
    request_id = _open_request(vnm)
    arrived = wait_for("the request at Singapore", lambda: _view(sgp, request_id))
    assert arrived["state"] == "received"
    assert arrived["direction"] == "incoming"
    assert sgp.call("POST", f"/api/v1/requests/{request_id}/read") == {"marked": 1}
    assert sgp.call("POST", f"/api/v1/requests/{request_id}/read") == {"marked": 0}
    for action in ("acknowledge", "begin_execution", "execute"):
        sgp.call("POST", f"/api/v1/requests/{request_id}/actions", json={"action": action, "note": "done"})
    seen = wait_for(
        "Viet Nam to see the execution", lambda: (v := _view(vnm, request_id)) and v["state"] == "executed" and v
    )
    assert [e["kind"] for e in seen["events"]] == ["created", "sent", "acknowledged", "execution_begun", "executed"]
    sent = [m for m in seen["messages"] if m["direction"] == "outgoing" and m["kind"] == "request"]
    assert sent[0]["status"] == "delivered"
    # Singapore marked the request read: Viet Nam learns it was read, and when.
    wait_for(
        "the read notice",
        lambda: (v := _view(vnm, request_id)) and [m for m in v["messages"] if m["kind"] == "request" and m["read_at"]],
    )


def test_a_thousand_messages_through_a_killed_receiver_arrive_exactly_once(pair: list[NodeProcess]) -> None:
    vnm, sgp = pair
    total, sent = 1000, 0

    def send(count: int) -> None:
        nonlocal sent
        batch = [{"to": "sgp-247", "kind": "spontaneous_information", "text": f"note {sent + i}"} for i in range(count)]
        vnm.call("POST", "/api/v1/messages", json={"messages": batch})
        sent += count

    send(200)
    wait_for("part of the messages at Singapore", lambda: len(_incoming(sgp, "spontaneous_information")) >= 50)
    sgp.kill()  # mid-delivery: batches of 25, some taken, some not, perhaps one half-done
    while sent < total:
        send(100)  # the sender keeps composing while the receiver is down
    sgp.start()
    status = wait_for(
        "every message to be receipted",
        lambda: (s := vnm.call("GET", "/api/v1/federation/status"))["peers"][0]["delivered"] == total and s,
        timeout=120,
    )
    assert status["peers"][0]["pending"] == 0
    texts = [str(m["body"]["text"]) for m in _incoming(sgp, "spontaneous_information")]
    assert len(texts) == total
    assert sorted(texts) == sorted(f"note {i}" for i in range(total))  # each once: no loss, no duplicate effect


def _ingest(node: NodeProcess, case_id: str, exhibit: str, size_mib: int, tmp: Path) -> tuple[str, str]:
    path = tmp / f"{exhibit}.img"
    digest = hashlib.sha256()
    with path.open("wb") as f:
        for _ in range(size_mib):
            block = os.urandom(1 << 20)
            digest.update(block)
            f.write(block)
    out = node.cli(
        "evidence",
        "ingest",
        str(path),
        "--case",
        case_id,
        "--exhibit",
        exhibit,
        "--source",
        "C2 server",
        "--method",
        "physical image",
        "--acquired-by",
        "Inspector Lim",
    ).stdout
    path.unlink()
    item_id = out.split()[1].rstrip(":")
    return item_id, digest.hexdigest()


def _assembly(node: NodeProcess, transfer_id: str) -> Path:
    return node.data_dir / "vault" / "tmp" / f"t-{transfer_id}-0.assembly"


@pytest.mark.parametrize("victim", ["receiver", "sender"])
def test_a_transfer_resumes_after_a_sigkill_and_arrives_whole(
    sqlite_pair: list[NodeProcess], tmp_path: Path, victim: str
) -> None:
    vnm, sgp = sqlite_pair
    request_id = _open_request(vnm)
    wait_for("the request at Singapore", lambda: _view(sgp, request_id))
    sgp.call("POST", f"/api/v1/requests/{request_id}/actions", json={"action": "acknowledge"})
    case_id = str(wait_for("the case at Singapore", lambda: _view(sgp, request_id))["case_id"])
    item_id, sha256 = _ingest(sgp, case_id, "SGP-1", 384, tmp_path)
    size = 384 << 20
    transfer = sgp.call(
        "POST",
        "/api/v1/transfers",
        json={"to": "vnm-ca", "items": [item_id], "request_id": request_id, "reason": "execution of the MLA request"},
    )
    partial = _assembly(vnm, transfer["id"])
    wait_for(
        "part of the item at Viet Nam",
        lambda: partial.exists() and partial.stat().st_size > size // 6,
        timeout=60,
        interval=0.005,
    )
    (vnm if victim == "receiver" else sgp).kill()
    got = partial.stat().st_size
    assert got < size, "the transfer finished before the kill: nothing was interrupted"
    (vnm if victim == "receiver" else sgp).start()
    done = wait_for(
        "the transfer to complete",
        lambda: (t := sgp.call("GET", f"/api/v1/transfers/{transfer['id']}"))["state"] in ("completed", "failed") and t,
        timeout=120,
    )
    assert done["state"] == "completed", done["error"]
    received = vnm.call("GET", f"/api/v1/transfers/{transfer['id']}")
    local = received["items"][0]["local_item_id"]
    item = vnm.call("GET", f"/api/v1/evidence/{local}")
    assert item["sha256"] == sha256
    assert vnm.call("POST", f"/api/v1/evidence/{local}/verify")["ok"] is True
    custody = vnm.call("GET", f"/api/v1/evidence/{local}/custody")
    assert custody[0]["action"] == "transfer_in"
    assert custody[0]["details"]["from_node"] == "sgp-247"
    assert [e["action"] for e in sgp.call("GET", f"/api/v1/evidence/{item_id}/custody")] == ["acquire", "transfer_out"]
    assert not partial.exists()
    log = sgp.log_text() if victim == "receiver" else vnm.log_text()
    assert "Traceback" not in log


def test_a_receiver_down_for_a_while_gets_everything_when_it_returns(sqlite_pair: list[NodeProcess]) -> None:
    vnm, sgp = sqlite_pair
    sgp.stop()
    request_id = _open_request(vnm, "preservation")
    vnm.call("POST", f"/api/v1/requests/{request_id}/correspondence", json={"text": "the data are at risk"})
    waiting = wait_for(
        "the delivery to fail and back off",
        lambda: (s := vnm.call("GET", "/api/v1/federation/status"))["peers"][0]["failures"] >= 2 and s,
        timeout=30,
    )
    assert waiting["peers"][0]["pending"] == 2
    assert "127.0.0.1" in waiting["peers"][0]["last_error"]
    sgp.start()
    arrived = wait_for(
        "the request and its message at Singapore", lambda: (v := _view(sgp, request_id)) and v["messages"] and v
    )
    assert arrived["state"] == "received"
    assert [m["body"]["text"] for m in arrived["messages"] if m["kind"] == "correspondence"] == ["the data are at risk"]


def _post(node: NodeProcess, envelope: str) -> httpx.Response:
    return httpx.post(
        f"{node.url}/federation/v1/transmissions",
        content=envelope.encode(),
        headers={"Content-Type": "application/jose"},
        timeout=30,
    )


def test_forged_tampered_replayed_stale_and_unknown_transmissions_are_refused(
    sqlite_pair: list[NodeProcess], tmp_path: Path
) -> None:
    vnm, sgp = sqlite_pair
    before = len(_incoming(sgp, "spontaneous_information"))
    entry = sgp.call("GET", "/api/v1/node")["entry"]
    to = PublicKey(entry["encryption_key"]["kid"], {k: entry["encryption_key"][k] for k in ("kty", "crv", "x")})
    genuine = JoseIdentity(vnm.data_dir / "keys")  # Viet Nam's own keys: what its node would send
    stranger = JoseIdentity(tmp_path / "stranger-keys", "xyz-rogue", "XYZ")

    def batch(sender: JoseIdentity, claimed: str = "vnm-ca", age: timedelta = timedelta(0)) -> str:
        message = sender.sign(
            {
                "hanoinet_message": 1,
                "id": os.urandom(8).hex(),
                "kind": "spontaneous_information",
                "from": claimed,
                "to": "sgp-247",
                "created_at": datetime.now(UTC).isoformat(),
                "request_id": None,
                "body": {"text": "forged?"},
            },
            "hanoinet-message+jws",
        )
        claims = {
            "hanoinet_batch": 1,
            "id": os.urandom(8).hex(),
            "from": claimed,
            "to": "sgp-247",
            "sent_at": (datetime.now(UTC) - age).isoformat(),
            "messages": [message],
        }
        return sender.seal(claims, TYP_BATCH, to)

    good = batch(genuine)
    assert _post(sgp, good).status_code == 200
    cases = {
        "replay": good,
        "undecryptable": good[:-30] + ("A" if good[-30] != "A" else "B") + good[-29:],
        "unknown_sender": batch(stranger, claimed="vnm-ca"),
        "stale": batch(genuine, age=timedelta(minutes=10)),
        "malformed": "not.a.jwe",
    }
    for reason, envelope in cases.items():
        response = _post(sgp, envelope)
        assert response.status_code in (400, 401, 409), (reason, response.text)
        assert response.json()["title"] == reason, (reason, response.text)
        assert "Traceback" not in response.text
    # A transmission re-encrypted by an attacker who altered the signed batch: the JWS no longer verifies.
    inner = genuine.sign(
        {
            "hanoinet_batch": 1,
            "id": "x",
            "from": "vnm-ca",
            "to": "sgp-247",
            "sent_at": datetime.now(UTC).isoformat(),
            "messages": [],
        },
        TYP_BATCH,
    )
    head, payload, signature = inner.split(".")
    forged_payload = payload[:-4] + ("AAAA" if payload[-4:] != "AAAA" else "BBBB")
    forged = stranger.encrypt_to(f"{head}.{forged_payload}.{signature}".encode(), to, "hanoinet-sealed+jwe", TYP_BATCH)
    response = _post(sgp, forged)
    assert (response.status_code, response.json()["title"]) in ((401, "bad_signature"), (400, "malformed"))
    assert len(_incoming(sgp, "spontaneous_information")) == before + 1  # only the genuine one had an effect
    reasons = {r["reason"] for r in sgp.call("GET", "/api/v1/federation/status")["rejections"]}
    assert set(cases) <= reasons
    assert "refused" in sgp.log_text()
