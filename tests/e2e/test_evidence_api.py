"""Evidence over HTTP, end to end: a real ``hanoinet serve`` process on SQLite and on PostgreSQL, API tokens made
with the real ``hanoinet token add``, a resumable upload that survives a broken connection, a streamed download
whose digest the client checks, refusals that land in the custody, and precise errors — never a stack trace.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import random
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx
import pytest

from hanoinet.platform.security import TOKEN_TTL_SECONDS
from tests.conftest import new_postgres_database
from tests.e2e.conftest import HANOINET, Server, check_response, clean_env, start_server, stop_server
from tests.factories import reference

MiB = 1024 * 1024
Json = dict[str, Any]
ACQUIRED_AT = (datetime.now(UTC) - timedelta(days=1)).replace(microsecond=0).isoformat()


def run_cli(data_dir: Path, database_url: str | None, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the real console script against the given data directory and database (those of the server)."""
    extra = {"HANOINET_DATABASE_URL": database_url} if database_url else {}
    done = subprocess.run(
        [HANOINET, "--data-dir", str(data_dir), *args],
        env=clean_env(data_dir, **extra),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done


def make_token(data_dir: Path, database_url: str | None, name: str, role: str) -> str:
    """``hanoinet token add``: the token is the only thing on stdout, shown once."""
    done = run_cli(data_dir, database_url, "token", "add", name, "--role", role)
    assert done.returncode == 0, done.stderr
    (token,) = done.stdout.split()
    assert token.startswith("hnt_")
    assert token not in done.stderr
    return token


@dataclass
class VaultNode:
    """A running node, where its data live, and the API tokens made for it."""

    server: Server
    data_dir: Path
    database_url: str | None
    tokens: dict[str, str]
    expected_tracebacks: list[str] = field(default_factory=list)
    """Text that marks a stack trace in the node's log as one a test caused on purpose (damaged content)."""

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run_cli(self.data_dir, self.database_url, *args)

    def add_token(self, name: str, role: str) -> str:
        return make_token(self.data_dir, self.database_url, name, role)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def vault(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[VaultNode]:
    base = tmp_path_factory.mktemp(f"vault-{request.param}")
    database_url = None
    if request.param == "postgresql":
        database_url = new_postgres_database(request.getfixturevalue("postgres_server"), "template0")
    data_dir = base / "data"
    tokens = {  # made before the server starts
        "investigator": make_token(data_dir, database_url, "evidence-bot", "investigator"),
        "duty_officer": make_token(data_dir, database_url, "night-desk", "duty_officer"),
        "prosecutor": make_token(data_dir, database_url, "prosecutor-office", "prosecutor"),
    }
    server = start_server(data_dir, request.param, database_url)
    node = VaultNode(server, data_dir, database_url, tokens)
    yield node
    stop_server(server)
    log = server.log_text()
    unexpected = [
        block
        for block in log.split("Traceback (most recent call last):")[1:]
        if not any(marker in block for marker in node.expected_tracebacks)
    ]
    assert unexpected == [], log
    for token in node.tokens.values():
        assert token not in log


@pytest.fixture(scope="module")
def api(vault: VaultNode) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=vault.server.base_url, timeout=30.0, event_hooks={"response": [check_response]}
    ) as client:
        yield client


def auth(vault: VaultNode, who: str = "investigator") -> dict[str, str]:
    return {"Authorization": f"Bearer {vault.tokens[who]}"}


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


@pytest.fixture(scope="module")
def case(api: httpx.Client, vault: VaultNode) -> Json:
    body: Json = ok(
        api.post(
            "/api/v1/cases",
            headers=auth(vault),
            json={
                "reference": reference("LOTUS"),
                "offence": "system_interference",
                "max_penalty_years": 10,
                "summary": "Ransomware attack on a hospital in Hà Nội",
            },
        ),
        201,
    )
    return body


def metadata(case: Json, exhibit: str, **changes: Any) -> Json:
    return {
        "case": case["reference"],
        "exhibit": exhibit,
        "source": "server HN-DB-01 of Bạch Mai hospital",
        "acquisition_method": "physical image",
        "acquisition_tool": "dc3dd 7.3.1",
        "acquired_by": "Officer Trần Văn An",
        "acquired_at": ACQUIRED_AT,
        "file_name": "hn-db-01.img",
        **changes,
    }


def start_upload(api: httpx.Client, vault: VaultNode, size: int | None, who: str = "investigator") -> str:
    body: Json = ok(api.post("/api/v1/uploads", json={"size": size}, headers=auth(vault, who)), 201)
    assert body["offset"] == 0
    upload_id: str = body["id"]
    return upload_id


def send(api: httpx.Client, vault: VaultNode, upload_id: str, offset: int, piece: bytes) -> httpx.Response:
    return api.patch(
        f"/api/v1/uploads/{upload_id}",
        content=piece,
        headers={**auth(vault), "Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream"},
    )


def offset_of(api: httpx.Client, vault: VaultNode, upload_id: str) -> int:
    body: Json = ok(api.get(f"/api/v1/uploads/{upload_id}", headers=auth(vault)))
    offset: int = body["offset"]
    return offset


def upload(api: httpx.Client, vault: VaultNode, case: Json, exhibit: str, content: bytes, **changes: Any) -> Json:
    upload_id = start_upload(api, vault, len(content))
    assert ok(send(api, vault, upload_id, 0, content))["offset"] == len(content)
    item: Json = ok(
        api.post(f"/api/v1/uploads/{upload_id}/complete", json=metadata(case, exhibit, **changes), headers=auth(vault)),
        201,
    )
    return item


def custody(api: httpx.Client, vault: VaultNode, item_id: str) -> list[Json]:
    events: list[Json] = ok(api.get(f"/api/v1/evidence/{item_id}/custody", headers=auth(vault)))
    return events


def interrupt(vault: VaultNode, upload_id: str, offset: int, declared: int, sent: bytes) -> None:
    """Send a PATCH that announces ``declared`` bytes, send only ``sent``, and drop the connection."""
    url = urlsplit(vault.server.base_url)
    assert url.hostname is not None
    assert url.port is not None
    head = (
        f"PATCH /api/v1/uploads/{upload_id} HTTP/1.1\r\n"
        f"Host: {url.hostname}:{url.port}\r\n"
        f"Authorization: Bearer {vault.tokens['investigator']}\r\n"
        f"Upload-Offset: {offset}\r\n"
        "Content-Type: application/offset+octet-stream\r\n"
        f"Content-Length: {declared}\r\n\r\n"
    )
    with socket.create_connection((url.hostname, url.port)) as conn:
        conn.sendall(head.encode() + sent)
        time.sleep(0.2)  # let the node read (and write) part of it


# --- authentication ---------------------------------------------------------------------------------------------


def test_evidence_needs_a_valid_token(api: httpx.Client, vault: VaultNode) -> None:
    token = vault.tokens["investigator"]
    bad = [
        {},
        {"Authorization": "Bearer hnt_" + "A" * 43},
        {"Authorization": f"Bearer {token[:-1]}{'B' if token[-1] != 'B' else 'C'}"},
        {"Authorization": f"Basic {base64.b64encode(b'evidence-bot:' + token.encode()).decode()}"},
        {"Authorization": token},
        {"Authorization": "Bearer"},
    ]
    for headers in bad:
        for method, path in [
            ("GET", "/api/v1/evidence"),
            ("POST", "/api/v1/uploads"),
            ("GET", "/api/v1/evidence/00000000-0000-4000-8000-000000000000/content?reason=x"),
        ]:
            response = api.request(method, path, headers=headers, json={} if method == "POST" else None)
            assert response.status_code == 401, (headers, path, response.text)
            assert response.headers["www-authenticate"] == "Bearer"
            assert response.json()["title"] == "unauthorized"
            assert token not in response.text
    assert ok(api.get("/api/v1/evidence", headers=auth(vault))) is not None


def test_a_token_made_while_the_node_runs_works_until_it_is_revoked(api: httpx.Client, vault: VaultNode) -> None:
    token = vault.add_token("temporary-bot", "auditor")
    vault.tokens["temporary"] = token
    headers = {"Authorization": f"Bearer {token}"}
    assert api.get("/api/v1/evidence", headers=headers).status_code == 200

    revoked = vault.cli("token", "revoke", "temporary-bot")
    assert revoked.returncode == 0, revoked.stderr
    # A server remembers a token's holder for at most TOKEN_TTL_SECONDS: the revocation holds from then on.
    time.sleep(TOKEN_TTL_SECONDS)
    for _ in range(3):
        response = api.get("/api/v1/evidence", headers=headers)
        assert response.status_code == 401
        assert response.json()["title"] == "unauthorized"


# --- resumable upload -------------------------------------------------------------------------------------------


def test_a_resumable_upload_survives_an_interruption(api: httpx.Client, vault: VaultNode, case: Json) -> None:
    content = random.Random(9).randbytes(9 * MiB + 123)
    first = 2 * MiB
    upload_id = start_upload(api, vault, len(content))
    assert ok(send(api, vault, upload_id, 0, content[:first]))["offset"] == first
    assert offset_of(api, vault, upload_id) == first
    assert (vault.data_dir / "uploads" / f"{upload_id}.part").stat().st_mode & 0o777 == 0o600  # plaintext evidence

    # the connection breaks 4.5 MiB into a 5 MiB piece: the node keeps only what it had before that piece
    interrupt(vault, upload_id, first, 5 * MiB, content[first : first + 4 * MiB + MiB // 2])
    deadline = time.monotonic() + 10
    while offset_of(api, vault, upload_id) != first and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    assert offset_of(api, vault, upload_id) == first
    log_after_interruption = vault.server.log_text()

    for wrong in (0, first - 1, first + 1, len(content)):
        response = send(api, vault, upload_id, wrong, content[wrong : wrong + 10])
        assert response.status_code == 409, response.text
        assert f"send from offset {first}, not {wrong}" in response.json()["detail"]
    assert offset_of(api, vault, upload_id) == first

    middle = first + 3 * MiB
    assert ok(send(api, vault, upload_id, first, content[first:middle]))["offset"] == middle
    assert ok(send(api, vault, upload_id, middle, content[middle:]))["offset"] == len(content)

    too_much = send(api, vault, upload_id, len(content), b"x")
    assert too_much.status_code == 409
    assert "declared size" in too_much.json()["detail"]
    assert offset_of(api, vault, upload_id) == len(content)

    # someone else cannot see or finish this upload
    other = {"Authorization": f"Bearer {vault.tokens['prosecutor']}"}
    assert api.get(f"/api/v1/uploads/{upload_id}", headers=other).status_code == 404
    stolen = api.post(f"/api/v1/uploads/{upload_id}/complete", json=metadata(case, "LOTUS/X"), headers=other)
    assert stolen.status_code == 404

    item: Json = ok(
        api.post(
            f"/api/v1/uploads/{upload_id}/complete",
            json=metadata(case, "LOTUS/B-1", extra_hashes=["md5"]),
            headers=auth(vault),
        ),
        201,
    )
    assert item["sha256"] == hashlib.sha256(content).hexdigest()
    assert item["hashes"]["md5"] == hashlib.md5(content).hexdigest()  # noqa: S324 - legacy court systems
    assert item["size"] == len(content)
    assert item["case_id"] == case["id"]
    assert api.get(f"/api/v1/uploads/{upload_id}", headers=auth(vault)).status_code == 404
    assert list((vault.data_dir / "uploads").iterdir()) == []  # the plain copy is gone once in the vault

    (acquired,) = custody(api, vault, item["id"])
    assert (acquired["action"], acquired["actor"]) == ("acquire", "evidence-bot")
    assert acquired["details"]["hashes"] == item["hashes"]

    # a broken connection is what resumable uploads are for: not an internal error with a stack trace
    assert "internal error" not in log_after_interruption, log_after_interruption
    assert "Traceback" not in log_after_interruption, log_after_interruption


def wait_until_open(vault: VaultNode, path: Path) -> None:
    """Wait until the node's process holds ``path`` open (seen in /proc): a request is writing to it."""
    fds = Path(f"/proc/{vault.server.process.pid}/fd")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for fd in fds.iterdir():
            with contextlib.suppress(OSError):
                if fd.readlink() == path:
                    return
        time.sleep(0.01)
    pytest.fail(f"the node never opened {path}")


def test_two_writers_at_the_same_offset_cannot_both_append(api: httpx.Client, vault: VaultNode) -> None:
    """A client retrying while its first attempt is still being received must not get both pieces appended."""
    piece = random.Random(2).randbytes(2 * MiB)
    upload_id = start_upload(api, vault, None)
    release = threading.Event()

    def slow() -> Iterator[bytes]:
        yield piece[:MiB]
        release.wait(10)
        yield piece[MiB:]

    def first_attempt() -> httpx.Response:
        return api.patch(f"/api/v1/uploads/{upload_id}", content=slow(), headers={**auth(vault), "Upload-Offset": "0"})

    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(first_attempt)
        wait_until_open(vault, vault.data_dir / "uploads" / f"{upload_id}.part")  # the node is receiving it
        timer = threading.Timer(1.0, release.set)  # whether or not the retry waits for it
        timer.start()
        retry = send(api, vault, upload_id, 0, piece)
        first = pending.result(timeout=30)
        timer.join()

    stored = offset_of(api, vault, upload_id)
    statuses = sorted([first.status_code, retry.status_code])
    assert statuses == [200, 409], f"both answered {first.text} / {retry.text}; the node now holds {stored} bytes"
    assert stored == len(piece)


# --- download, refusal, verify ----------------------------------------------------------------------------------


def test_download_streams_the_content_with_its_digest(api: httpx.Client, vault: VaultNode, case: Json) -> None:
    content = random.Random(3).randbytes(5 * MiB + 7)
    item = upload(api, vault, case, "LOTUS/B-2", content)

    received = bytearray()
    with api.stream(
        "GET", f"/api/v1/evidence/{item['id']}/content", params={"reason": "forensic examination"}, headers=auth(vault)
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-length"] == str(len(content))
        assert response.headers["content-type"] == "application/octet-stream"
        digest = response.headers["repr-digest"]
        for chunk in response.iter_bytes():
            received += chunk
    assert bytes(received) == content
    assert digest == f"sha-256=:{base64.b64encode(hashlib.sha256(received).digest()).decode()}:"

    last = custody(api, vault, item["id"])[-1]
    assert (last["action"], last["actor"], last["reason"]) == ("download", "evidence-bot", "forensic examination")

    empty = upload(api, vault, case, "LOTUS/B-empty", b"")
    response = api.get(f"/api/v1/evidence/{empty['id']}/content", params={"reason": "check"}, headers=auth(vault))
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-length"] == "0"


def test_a_file_name_in_vietnamese_does_not_break_the_download(api: httpx.Client, vault: VaultNode, case: Json) -> None:
    item = upload(api, vault, case, "LOTUS/B-2a", b"photos", file_name="ảnh-điện-thoại.zip")
    with httpx.Client(base_url=vault.server.base_url, timeout=30.0) as plain:  # this test inspects the failure itself
        response = plain.get(f"/api/v1/evidence/{item['id']}/content", params={"reason": "check"}, headers=auth(vault))
    assert response.status_code == 200, response.text
    assert response.content == b"photos"
    assert "ảnh-điện-thoại.zip" in unquote(response.headers["content-disposition"].encode("latin-1").decode())


def test_a_refusal_is_403_and_recorded_in_custody(api: httpx.Client, vault: VaultNode, case: Json) -> None:
    item = upload(api, vault, case, "LOTUS/B-3", b"subscriber records", allowed_roles=["prosecutor"])

    for who, action in (("duty_officer", "download"), ("investigator", "download")):
        response = api.get(
            f"/api/v1/evidence/{item['id']}/content", params={"reason": "night shift"}, headers=auth(vault, who)
        )
        assert response.status_code == 403, response.text
        body = response.json()
        assert body["title"] == "forbidden"
        assert f"may not {action} item {item['id']}" in body["detail"]
        assert "subscriber records" not in response.text

    refusals = [e for e in custody(api, vault, item["id"]) if e["action"] == "access_refused"]
    assert [(e["actor"], e["details"]["attempted"], e["reason"]) for e in refusals] == [
        ("night-desk", "download", "night shift"),
        ("evidence-bot", "download", "night shift"),
    ]
    granted = api.get(
        f"/api/v1/evidence/{item['id']}/content", params={"reason": "indictment"}, headers=auth(vault, "prosecutor")
    )
    assert granted.status_code == 200
    assert granted.content == b"subscriber records"


def test_verify_an_item(api: httpx.Client, vault: VaultNode, case: Json) -> None:
    item = upload(api, vault, case, "LOTUS/B-4", b"chat logs")
    report: Json = ok(api.post(f"/api/v1/evidence/{item['id']}/verify", headers=auth(vault)))
    assert report["ok"] is True
    assert report["problems"] == []
    assert report["items"] == 1
    assert report["events"] >= 1
    last = custody(api, vault, item["id"])[-1]
    assert (last["action"], last["actor"], last["details"]["ok"]) == ("verify", "evidence-bot", True)

    listed: list[Json] = ok(api.get("/api/v1/evidence", params={"case_id": case["id"]}, headers=auth(vault)))
    assert item["id"] in [i["id"] for i in listed]
    assert ok(api.get(f"/api/v1/evidence/{item['id']}", headers=auth(vault)))["sha256"] == item["sha256"]


def drain(response: httpx.Response, into: bytearray) -> None:
    for chunk in response.iter_bytes():
        into.extend(chunk)


def test_damaged_content_is_never_delivered_as_good(api: httpx.Client, vault: VaultNode, case: Json) -> None:
    content = random.Random(4).randbytes(9 * MiB)  # three chunks
    item = upload(api, vault, case, "LOTUS/B-7", content)
    blob = vault.data_dir / "vault" / "blobs" / item["sha256"][:2] / item["sha256"]
    original = blob.read_bytes()
    url = f"/api/v1/evidence/{item['id']}/content"
    with httpx.Client(base_url=vault.server.base_url, timeout=30.0, headers=auth(vault)) as plain:
        try:
            damaged = bytearray(original)
            damaged[len(damaged) - 100] ^= 0x20  # in the last chunk: found only after most bytes were sent
            blob.write_bytes(bytes(damaged))
            vault.expected_tracebacks.append(item["sha256"])  # the node logs the damage it found
            received = bytearray()
            with plain.stream("GET", url, params={"reason": "court"}) as r:
                assert r.status_code == 200
                with pytest.raises(httpx.RemoteProtocolError):
                    drain(r, received)
            assert len(received) < len(content)  # the connection was cut: the client cannot take it for whole

            damaged = bytearray(original)
            damaged[20] ^= 0x01  # in the header: nothing can be decrypted
            blob.write_bytes(bytes(damaged))
            response = plain.get(url, params={"reason": "court"})
            assert response.status_code != 200
            assert "internal error" not in response.text, "a damaged item must be refused saying so"
            assert "header" in response.text or "damaged" in response.text, response.text
        finally:
            blob.write_bytes(original)
    assert ok(api.post(f"/api/v1/evidence/{item['id']}/verify", headers=auth(vault)))["ok"] is True


def test_unknown_items_and_uploads_are_404(api: httpx.Client, vault: VaultNode) -> None:
    unknown = "00000000-0000-4000-8000-000000000000"
    for method, path in [
        ("GET", f"/api/v1/evidence/{unknown}"),
        ("GET", f"/api/v1/evidence/{unknown}/custody"),
        ("GET", f"/api/v1/evidence/{unknown}/content?reason=check"),
        ("POST", f"/api/v1/evidence/{unknown}/verify"),
        ("GET", "/api/v1/uploads/0123456789abcdef0123456789abcdef"),
        ("GET", "/api/v1/uploads/..keys"),
    ]:
        response = api.request(method, path, headers=auth(vault))
        assert response.status_code == 404, (path, response.text)
        assert response.json()["title"] == "not found"


def test_bad_metadata_is_422_naming_the_field_and_keeps_the_upload(
    api: httpx.Client, vault: VaultNode, case: Json
) -> None:
    content = b"mailbox export"
    upload_id = start_upload(api, vault, len(content))
    assert ok(send(api, vault, upload_id, 0, content))["offset"] == len(content)
    future = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    past = (datetime.now(UTC) - timedelta(days=2)).date().isoformat()
    bad: list[tuple[Json, str]] = [
        ({"exhibit": ""}, "exhibit"),
        ({"acquired_by": ""}, "acquired_by"),
        ({"acquired_at": "2026-11-20T10:00:00"}, "acquired_at"),  # no offset
        ({"acquired_at": future}, "acquired_at"),
        ({"allowed_roles": ["janitor"]}, "allowed_roles.0"),
        ({"retention_until": past}, "retention_until"),
        ({"case": "NO-SUCH-CASE"}, "case"),
        ({"extra_hashes": ["sha512"]}, "hashes"),
        ({"colour": "blue"}, "colour"),
    ]
    for change, name in bad:
        response = api.post(
            f"/api/v1/uploads/{upload_id}/complete", json={**metadata(case, "LOTUS/B-5"), **change}, headers=auth(vault)
        )
        assert response.status_code == 422, (change, response.text)
        assert name in [d["field"] for d in response.json()["detail"]], (change, response.text)
    missing = metadata(case, "LOTUS/B-5")
    del missing["source"]
    response = api.post(f"/api/v1/uploads/{upload_id}/complete", json=missing, headers=auth(vault))
    assert response.status_code == 422
    assert "source" in [d["field"] for d in response.json()["detail"]]

    assert offset_of(api, vault, upload_id) == len(content)
    item: Json = ok(
        api.post(f"/api/v1/uploads/{upload_id}/complete", json=metadata(case, "LOTUS/B-5"), headers=auth(vault)),
        201,
    )
    assert item["sha256"] == hashlib.sha256(content).hexdigest()


def test_case_uco_export_over_the_api(api: httpx.Client, vault: VaultNode, case: Json) -> None:
    """Issue 3, part 6: API endpoints for … custody history and CASE export."""
    paths = ok(api.get("/openapi.json"))["paths"]
    routes = [p for p in paths if "case" in p.lower() and ("jsonld" in p.lower() or "export" in p.lower())]
    assert routes == ["/api/v1/cases/{case}/evidence.jsonld"], sorted(paths)

    item = upload(api, vault, case, "LOTUS/B-6", b"registry hive", extra_hashes=["sha1"])
    url = f"/api/v1/cases/{case['reference']}/evidence.jsonld"
    assert api.get(url, params={"reason": "defence expert"}).status_code == 401
    graph: Json = ok(api.get(url, params={"reason": "defence expert", "item": item["id"]}, headers=auth(vault)))
    assert "@context" in graph
    text = str(graph)
    assert item["sha256"] in text
    assert item["hashes"]["sha1"] in text
    assert "LOTUS/B-6" in text
    last = custody(api, vault, item["id"])[-1]
    assert (last["action"], last["actor"], last["reason"]) == ("export", "evidence-bot", "defence expert")
    assert last["details"]["format"] == "case-uco-jsonld"

    missing_reason = api.get(url, headers=auth(vault))
    assert missing_reason.status_code == 422
    assert "query.reason" in [d["field"] for d in missing_reason.json()["detail"]]
    assert (
        api.get("/api/v1/cases/NO-SUCH-CASE/evidence.jsonld", params={"reason": "x"}, headers=auth(vault)).status_code
        == 404
    )
