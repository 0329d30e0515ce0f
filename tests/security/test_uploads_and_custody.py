"""Issue 11, items 7, 8 and 9 (chunks), against real ``hanoinet serve`` processes on loopback:

- an upload in progress is sealed on disk from its first byte (no plaintext of what was sent in ``<id>.part``);
- an abandoned upload expires (swept by the node and by ``hanoinet evidence uploads-sweep``);
- an account's uploads in progress are held to a quota, named in the refusal;
- completing an upload while a piece of it is still arriving is refused, never a truncated item;
- a read-only role's reads and verifications append nothing to the custody ledger (they are in the audit log), and
  a verify checks what was appended since the last one: the entries it checks stay flat as the ledger grows;
- a chunk record declaring 4 GiB is refused at its head, the receiver's memory flat.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
import struct
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import HANOINET, Server, check_response, clean_env, free_port, stop_server
from tests.e2e.nodes import NodeProcess, network, wait_for
from tests.factories import reference

MiB = 1 << 20
Json = dict[str, Any]
ACQUIRED_AT = (datetime.now(UTC) - timedelta(days=1)).replace(microsecond=0).isoformat()
ROLES = ("investigator", "auditor", "duty_officer", "prosecutor")


@dataclass
class Node:
    server: Server
    data_dir: Path
    env: dict[str, str]
    tokens: dict[str, str]

    def http(self, who: str = "investigator") -> httpx.Client:
        return httpx.Client(
            base_url=self.server.base_url,
            timeout=60.0,
            headers={"Authorization": f"Bearer {self.tokens[who]}"},
            event_hooks={"response": [check_response]},
        )

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([HANOINET, *args], env=self.env, capture_output=True, text=True, timeout=60, check=False)
        assert "Traceback" not in done.stderr, done.stderr
        return done

    @property
    def uploads(self) -> Path:
        return self.data_dir / "uploads"


def _tokens(data_dir: Path) -> dict[str, str]:
    """An API token per role, made in this process (as ``hanoinet token add`` does, without four interpreters)."""
    from hanoinet.accounts.tokens import create_token  # noqa: PLC0415 - the node's own code, on its data directory
    from hanoinet.app.bootstrap import bootstrap  # noqa: PLC0415
    from hanoinet.platform.permissions import Role  # noqa: PLC0415
    from hanoinet.platform.settings import Settings  # noqa: PLC0415

    built = bootstrap(Settings(data_dir=data_dir, node_state="VNM"))
    return {role: create_token(built, f"{role}-bot", [Role(role)]) for role in ROLES}


def _start(base: Path, **settings: str) -> Node:
    """A node on its own SQLite file with the given settings, and an API token per role."""
    data_dir = base / "data"
    data_dir.mkdir(parents=True)
    env = clean_env(data_dir, **settings)
    tokens = _tokens(data_dir)
    port = free_port()
    log = base / "server.log"
    with log.open("wb") as sink:
        process = subprocess.Popen([HANOINET, "serve", "--port", str(port)], env=env, stdout=sink, stderr=sink)
    server = Server(process, f"http://127.0.0.1:{port}", log, "sqlite")
    deadline = time.monotonic() + 20
    while True:
        assert process.poll() is None, server.log_text()
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{server.base_url}/health", timeout=1.0).status_code == 200:
                return Node(server, data_dir, env, tokens)
        assert time.monotonic() < deadline, server.log_text()
        time.sleep(0.1)


def _stop(node: Node) -> None:
    stop_server(node.server)
    assert "Traceback" not in node.server.log_text(), node.server.log_text()


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    """A node with the default upload limits."""
    running = _start(tmp_path_factory.mktemp("vault-node"))
    yield running
    _stop(running)


@pytest.fixture(scope="module")
def tight(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    """A node whose uploads expire after 2 s and whose accounts may hold 1 MiB in progress."""
    running = _start(
        tmp_path_factory.mktemp("tight-node"),
        HANOINET_UPLOAD_EXPIRY_SECONDS="2",
        HANOINET_UPLOAD_QUOTA_BYTES=str(MiB),
    )
    yield running
    _stop(running)


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def new_case(http: httpx.Client) -> Json:
    body = {
        "reference": reference("LOTUS"),
        "offence": "system_interference",
        "max_penalty_years": 10,
        "summary": "Ransomware attack on a hospital",
    }
    found: Json = ok(http.post("/api/v1/cases", json=body), 201)
    return found


def metadata(case: Json, exhibit: str) -> Json:
    return {
        "case": case["reference"],
        "exhibit": exhibit,
        "source": "server HN-DB-01",
        "acquisition_method": "physical image",
        "acquired_by": "Officer Trần Văn An",
        "acquired_at": ACQUIRED_AT,
    }


def start(http: httpx.Client, size: int | None) -> str:
    upload_id: str = ok(http.post("/api/v1/uploads", json={"size": size}), 201)["id"]
    return upload_id


def send(http: httpx.Client, upload_id: str, offset: int, piece: bytes | Iterator[bytes]) -> httpx.Response:
    return http.patch(f"/api/v1/uploads/{upload_id}", content=piece, headers={"Upload-Offset": str(offset)})


def ingest(http: httpx.Client, case: Json, exhibit: str, content: bytes) -> Json:
    upload_id = start(http, len(content))
    ok(send(http, upload_id, 0, content))
    item: Json = ok(http.post(f"/api/v1/uploads/{upload_id}/complete", json=metadata(case, exhibit)), 201)
    return item


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@contextlib.contextmanager
def peak_rss(pid: int) -> Iterator[list[int]]:
    """The highest RSS of ``pid`` (KiB) seen while the block runs, sampled every 10 ms (a buffer freed at the end
    of a request would not show in a reading taken after it)."""
    peak = [rss_kib(pid)]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.01):
            with contextlib.suppress(OSError, AssertionError):
                peak[0] = max(peak[0], rss_kib(pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield peak
    finally:
        stop.set()
        sampler.join()
        peak[0] = max(peak[0], rss_kib(pid))


# --- 7. uploads ------------------------------------------------------------------------------------------------


def test_an_upload_in_progress_holds_no_plaintext_on_disk(node: Node) -> None:
    marker = b"SUBSCRIBER RECORD: Nguyen Van A, +84 912 345 678\n"
    content = marker * 40_000 + random.Random(7).randbytes(MiB)  # text a search would find, and noise
    with node.http() as http:
        upload_id = start(http, len(content) + 10)  # not complete: the upload stays in progress
        assert ok(send(http, upload_id, 0, content))["offset"] == len(content)
        part = (node.uploads / f"{upload_id}.part").read_bytes()
        assert len(part) > len(content)  # it is all there, sealed
        assert marker not in part
        assert marker[:16] not in part
        noise = content[-MiB:]
        assert not any(noise[i : i + 64] in part for i in range(0, MiB, 64 * 1024))
        for other in node.uploads.iterdir():  # the record beside it holds sizes, never content or key
            assert marker not in other.read_bytes()
        assert (node.uploads / f"{upload_id}.part").stat().st_mode & 0o777 == 0o600

        # resumable still: the rest arrives and the item is exactly what was sent
        ok(send(http, upload_id, len(content), b"0123456789"))
        item = ok(http.post(f"/api/v1/uploads/{upload_id}/complete", json=metadata(new_case(http), "X-1")), 201)
        assert item["sha256"] == hashlib.sha256(content + b"0123456789").hexdigest()
        assert list(node.uploads.iterdir()) == []


def test_an_abandoned_upload_expires(tight: Node) -> None:
    with tight.http() as http:
        abandoned = start(http, None)
        ok(send(http, abandoned, 0, b"half an image"))
        listed = ok(http.get("/api/v1/uploads"))
        assert [u["id"] for u in listed] == [abandoned]
        assert listed[0]["expires_at"]
        time.sleep(2.5)
        fresh = start(http, None)  # starting an upload sweeps the abandoned ones
        assert http.get(f"/api/v1/uploads/{abandoned}").status_code == 404
        assert not (tight.uploads / f"{abandoned}.part").exists()
        assert sorted(p.name for p in tight.uploads.iterdir()) == sorted([f"{fresh}.part", f"{fresh}.json"])
        assert send(http, abandoned, 13, b"the rest").status_code == 404

        time.sleep(2.5)  # and the command line, for a node nobody uploads to
        swept = tight.cli("evidence", "uploads-sweep", "--json")
        assert swept.returncode == 0, swept.stderr
        assert fresh in swept.stdout
        assert list(tight.uploads.iterdir()) == []


def test_an_accounts_uploads_in_progress_are_held_to_the_quota(tight: Node) -> None:
    with tight.http("prosecutor") as http:
        too_big = http.post("/api/v1/uploads", json={"size": 2 * MiB})
        assert too_big.status_code == 409
        assert "HANOINET_UPLOAD_QUOTA_BYTES" in too_big.json()["detail"]
        assert "1.0 MiB" in too_big.json()["detail"]

        first = start(http, None)
        ok(send(http, first, 0, b"a" * (600 * 1024)))
        over = send(http, first, 600 * 1024, b"b" * (600 * 1024))
        assert over.status_code == 409
        assert "quota" in over.json()["detail"]
        assert ok(http.get(f"/api/v1/uploads/{first}"))["offset"] == 600 * 1024  # the piece was taken back whole

        second = start(http, None)  # a second upload shares the same quota
        assert send(http, second, 0, b"c" * (500 * 1024)).status_code == 409
        assert http.post("/api/v1/uploads", json={"size": 500 * 1024}).status_code == 409

        with tight.http("investigator") as other:  # the quota is per account
            ok(send(other, start(other, None), 0, b"d" * (900 * 1024)))

        assert http.delete(f"/api/v1/uploads/{first}").status_code == 204
        assert ok(send(http, second, 0, b"c" * (500 * 1024)))["offset"] == 500 * 1024


def test_completing_during_an_append_never_ingests_a_truncated_item(node: Node) -> None:
    piece = random.Random(3).randbytes(6 * MiB)
    release = threading.Event()

    def slow() -> Iterator[bytes]:
        yield piece[: 5 * MiB]  # more than one batch: the node has written sealed records of it
        release.wait(20)
        yield piece[5 * MiB :]

    with node.http() as http:
        case = new_case(http)
        upload_id = start(http, None)  # no declared size: only the lock stops a complete cutting it short
        with ThreadPoolExecutor(1) as pool:
            pending = pool.submit(send, http, upload_id, 0, slow())
            part = node.uploads / f"{upload_id}.part"
            wait_for("the node writing the piece", lambda: part.stat().st_size > 4 * MiB, timeout=20)
            early = http.post(f"/api/v1/uploads/{upload_id}/complete", json=metadata(case, "C-1"))
            release.set()
            answered = pending.result(timeout=30)
        assert early.status_code == 409, early.text
        assert "complete it once it has answered" in early.json()["detail"]
        assert ok(answered)["offset"] == len(piece)
        assert ok(http.get("/api/v1/evidence", params={"case_id": case["id"]})) == []  # nothing was ingested
        item = ok(http.post(f"/api/v1/uploads/{upload_id}/complete", json=metadata(case, "C-1")), 201)
        assert item["size"] == len(piece)
        assert item["sha256"] == hashlib.sha256(piece).hexdigest()


# --- 8. custody -----------------------------------------------------------------------------------------------


def test_a_read_only_role_appends_no_custody_event_and_is_audited(node: Node) -> None:
    with node.http() as http, node.http("auditor") as auditor, node.http("duty_officer") as duty:
        item = ingest(http, new_case(http), "R-1", b"call records")
        history = ok(http.get(f"/api/v1/evidence/{item['id']}/custody"))
        assert [e["action"] for e in history] == ["acquire"]

        for reader in (auditor, duty):
            ok(reader.get(f"/api/v1/evidence/{item['id']}"))
            ok(reader.get(f"/api/v1/evidence/{item['id']}/custody"))
            report = ok(reader.post(f"/api/v1/evidence/{item['id']}/verify"))
            assert report["ok"], report
        assert ok(http.get(f"/api/v1/evidence/{item['id']}/custody")) == history  # not one event more

        # ...but every one of those accesses is in the audit log, the verifications with their outcome
        entries = ok(auditor.get("/api/v1/audit", params={"limit": 200}))
        verifies = [e for e in entries if e["action"] == "evidence:verify" and e["object_id"] == item["id"]]
        assert sorted(e["actor"] for e in verifies) == ["auditor-bot", "duty_officer-bot"]
        assert all(e["outcome"] == "ok" and e["details"]["ok"] is True for e in verifies)
        views = [e for e in entries if e["action"] == "evidence:view" and e["object_id"] == item["id"]]
        assert len(views) == 2

        # the investigator's verification is a custody event, as it always was
        ok(http.post(f"/api/v1/evidence/{item['id']}/verify"))
        assert [e["action"] for e in ok(http.get(f"/api/v1/evidence/{item['id']}/custody"))] == ["acquire", "verify"]

        # a role without evidence:content cannot append a refusal by asking for content either
        refused = auditor.get(f"/api/v1/evidence/{item['id']}/content", params={"reason": "curious"})
        assert refused.status_code == 403
        assert len(ok(http.get(f"/api/v1/evidence/{item['id']}/custody"))) == 2


def test_a_verify_checks_what_was_appended_since_the_last_not_the_whole_ledger(node: Node) -> None:
    with node.http() as http, node.http("auditor") as auditor:
        case = new_case(http)
        item = ingest(http, case, "I-0", b"the item verified again and again")
        ok(http.post(f"/api/v1/evidence/{item['id']}/verify"))

        def checked() -> Json:
            report: Json = ok(http.post(f"/api/v1/evidence/{item['id']}/verify"))
            assert report["ok"], report
            return report

        small = checked()
        small_ledger = ok(auditor.post(f"/api/v1/evidence/{item['id']}/verify", params={"full": "true"}))
        for n in range(40):  # the ledger grows by 40 acquisitions
            ingest(http, case, f"I-{n + 1}", f"item {n}".encode())
        after_growth = checked()
        assert after_growth["events"] >= 40  # what was appended since is checked once ...
        big = checked()  # ... and then not again
        big_ledger = ok(auditor.post(f"/api/v1/evidence/{item['id']}/verify", params={"full": "true"}))

    assert big_ledger["full"]
    assert small_ledger["full"]
    assert big_ledger["events"] >= small_ledger["events"] + 40  # a full check reads the whole ledger
    assert not small["full"]
    assert not big["full"]
    assert small["events"] == big["events"] <= 2, (small, big)  # flat: the entries checked do not grow
    assert small["checkpoints"] == big["checkpoints"] <= 2
    assert big["since"] > small["since"] > 1
    assert big["item_events"] == small["item_events"] + 2  # the item's own history, checked against signatures


def test_only_an_auditor_may_ask_for_a_full_check(node: Node) -> None:
    with node.http() as http, node.http("duty_officer") as duty:
        item = ingest(http, new_case(http), "F-1", b"content")
        for caller in (http, duty):
            refused = caller.post(f"/api/v1/evidence/{item['id']}/verify", params={"full": "true"})
            assert refused.status_code == 403
            assert "audit:read" in refused.json()["detail"]
    done = node.cli("evidence", "verify", item["id"], "--full", "--json")  # the node's command line may
    assert done.returncode == 0, done.stderr
    assert '"full": true' in done.stdout


# --- 9. chunk records -----------------------------------------------------------------------------------------


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[list[NodeProcess]]:
    specs = [("vnm-ca", "VNM", "central_authority"), ("sgp-247", "SGP", "point_of_contact_24_7")]
    yield from network(tmp_path, specs)


def _incoming_transfer(vnm: NodeProcess, sgp: NodeProcess, tmp: Path) -> tuple[str, str]:
    """A transfer from Singapore that Viet Nam is receiving (the sender killed half way); its id and bearer token,
    read from the sender's own records as a hostile peer holding them would have them."""
    from hanoinet.app.bootstrap import bootstrap  # noqa: PLC0415 - the sender's node, built in this process
    from hanoinet.federation.transfers import _token  # noqa: PLC0415
    from hanoinet.platform.settings import Settings  # noqa: PLC0415
    from tests.e2e.test_federation_e2e import _ingest, _open_request, _view  # noqa: PLC0415

    request_id = _open_request(vnm)
    wait_for("the request at Singapore", lambda: _view(sgp, request_id))
    sgp.call("POST", f"/api/v1/requests/{request_id}/actions", json={"action": "acknowledge"})
    case_id = str(wait_for("the case at Singapore", lambda: _view(sgp, request_id))["case_id"])
    item_id, _ = _ingest(sgp, case_id, "SGP-1", 96, tmp)
    offer = {"to": "vnm-ca", "items": [item_id], "request_id": request_id, "reason": "MLA"}
    transfer = sgp.call("POST", "/api/v1/transfers", json=offer)
    partial = vnm.data_dir / "vault" / "tmp" / f"t-{transfer['id']}-0.assembly"
    wait_for("part of the item at Viet Nam", lambda: partial.exists() and partial.stat().st_size > 0, interval=0.002)
    sgp.kill()
    settings = Settings(data_dir=sgp.data_dir, node_state="SGP", node_id="sgp-247", node_roles="point_of_contact_24_7")
    built = bootstrap(settings)
    with built.uow() as uow:
        record = uow.transfers.get(transfer["id"])
        assert record is not None
    return str(transfer["id"]), _token(built, record)


def test_a_chunk_record_declaring_4_gib_is_refused_at_its_head(pair: list[NodeProcess], tmp_path: Path) -> None:
    vnm, _ = pair[0], pair[1]
    transfer_id, token = _incoming_transfer(pair[0], pair[1], tmp_path)
    bearer = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=vnm.url, timeout=60.0, headers=bearer) as peer:
        status = ok(peer.get(f"/federation/v1/transfers/{transfer_id}"))
        done = status["items"][0]["chunks_done"]

        def writable() -> bool:  # the killed sender's call has let go of the item
            return peer.put(url, params={"start": done}, content=b"").status_code == 200

        url = f"/federation/v1/transfers/{transfer_id}/items/0"
        wait_for("the item to take chunks again", writable, timeout=20, interval=0.1)
        assert vnm.process is not None
        before = rss_kib(vnm.process.pid)

        def body() -> Iterator[bytes]:
            yield struct.pack(">IB", 0xFFFFFFFF, 0)  # "4 GiB of content follow"
            junk = os.urandom(MiB)
            for _ in range(192):  # and then 192 MiB of them, as fast as loopback takes them
                yield junk

        answer: httpx.Response | None = None
        with peak_rss(vnm.process.pid) as peak, contextlib.suppress(httpx.TransportError):  # closed once answered
            answer = peer.put(url, params={"start": done}, content=body())
        grown = peak[0] - before
        print(f"receiver RSS {before} KiB before, grew by {grown} KiB on a declared 4 GiB record + 192 MiB")
        if answer is not None:
            assert answer.status_code == 413, answer.text
            assert "4294967295" in answer.json()["detail"]
        assert grown < 48 * 1024, f"the receiver grew by {grown} KiB on a declared 4 GiB record"
        after = ok(peer.get(f"/federation/v1/transfers/{transfer_id}"))
        assert after["items"][0]["chunks_done"] == done  # nothing of it was taken
