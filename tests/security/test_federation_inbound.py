"""What an anonymous caller and a hostile peer can make a node's federation routes do (issue 11), against real
``hanoinet serve`` processes on loopback:

- a flood of refused transmissions from one address costs a bounded number of rows and signed audit entries (the
  first ones each recorded, the rest counted), is answered 429 beyond its rate, and leaves the server's memory
  bounded; another address is not throttled by it;
- header values an attacker chooses (a JWE ``kid`` with a newline, a 100,000-character one) reach neither the log
  as a forged line nor an answer or a stored refusal at length;
- a register is taken only from a node this node trusts as a directory, revocations included; only directory
  nodes serve ``/federation/v1/register``, and nothing but the node's own signed entry is served without
  authentication.

Counts are read from the node's SQLite file (what an operator's database holds), memory from /proc.
"""

from __future__ import annotations

import base64
import json
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import free_port, peer_entry
from tests.e2e.nodes import NodeProcess, prepare

FLOOD = 1000
RATE = 5.0
BURST = 20
CAP = 10
LIMITS = {
    "HANOINET_FEDERATION_REFUSAL_RATE": str(RATE),
    "HANOINET_FEDERATION_REFUSAL_BURST": str(BURST),
    "HANOINET_FEDERATION_REFUSAL_RECORD_CAP": str(CAP),
    "HANOINET_FEDERATION_REFUSAL_WINDOW_SECONDS": "3600",  # one window for the whole module: exact counts
}
RSS_CEILING_MIB = 40
FLOODED: dict[str, int] = {}
"""What the flood test saw, for the test of the counts the node records when it stops."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _jwe(**header: Any) -> str:
    """A compact JWE no key opens, with the header an attacker chooses (the algorithms this node takes, so that it
    is read as far as decryption)."""
    protected = {"alg": "ECDH-ES+A256KW", "enc": "A256GCM", "typ": "hanoinet-sealed+jwe", **header}
    return ".".join([_b64(json.dumps(protected).encode()), _b64(b"k" * 40), _b64(b"i" * 12), _b64(b"c" * 64), "t" * 22])


def _client(source: str = "127.0.0.1") -> httpx.Client:
    """An HTTP client connecting from ``source`` (any address of 127.0.0.0/8 reaches a loopback server)."""
    return httpx.Client(transport=httpx.HTTPTransport(local_address=source), timeout=30.0)


def _post(http: httpx.Client, node: NodeProcess, envelope: str) -> httpx.Response:
    return http.post(
        f"{node.url}/federation/v1/transmissions", content=envelope, headers={"Content-Type": "application/jose"}
    )


def _rss_kib(node: NodeProcess) -> int:
    assert node.process is not None
    for line in Path(f"/proc/{node.process.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _query(node: NodeProcess, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(f"file:{node.data_dir / 'hanoinet.db'}?mode=ro", uri=True, timeout=30) as db:
        return db.execute(sql, args).fetchall()


def _refusal_audit(node: NodeProcess) -> list[tuple[str, str]]:
    return [
        (str(a), str(d))
        for a, d in _query(node, "SELECT action, details FROM audit_log WHERE action LIKE 'transmission:refuse%'")
    ]


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[NodeProcess, NodeProcess]]:
    """Viet Nam's central authority (under attack) and Singapore's, neither of them a directory node."""
    base = tmp_path_factory.mktemp("fedin")
    sgp = NodeProcess("sgp-ca", "SGP", base / "sgp-ca", free_port())
    # Viet Nam's operator lets `directory sync` reach Singapore's address, so that what refuses its register is the
    # publisher's missing directory role, not the address.
    vnm = NodeProcess(
        "vnm-ca", "VNM", base / "vnm-ca", free_port(), extra={**LIMITS, "HANOINET_DIRECTORY_URLS": sgp.url}
    )
    for node in (vnm, sgp):
        prepare(node)
        node.start()
    try:
        yield vnm, sgp
    finally:
        for node in (vnm, sgp):
            node.stop()
        for node in (vnm, sgp):
            assert "Traceback" not in node.log_text(), node.log_text()


def test_a_flood_of_refused_transmissions_costs_bounded_rows_audit_entries_and_memory(
    nodes: tuple[NodeProcess, NodeProcess],
) -> None:
    vnm, _ = nodes
    envelope = _jwe(kid="no-such-key")
    statuses: Counter[int] = Counter()
    with _client() as http:
        _post(http, vnm, envelope)  # warm the route up before measuring
        before = _rss_kib(vnm)
        started = time.monotonic()
        for _ in range(FLOOD):
            response = _post(http, vnm, envelope)
            statuses[response.status_code] += 1
            assert len(response.content) < 2048, response.text
        elapsed = time.monotonic() - started
        after = _rss_kib(vnm)
    rows = _query(vnm, "SELECT count(*) FROM federation_rejections")[0][0]
    audit = _refusal_audit(vnm)
    print(  # the figures for the note (pytest -s)
        f"\n{FLOOD} refused transmissions in {elapsed:.1f} s: {dict(statuses)}; {rows} rejection rows, "
        f"{len(audit)} refusal audit entries; RSS {before // 1024} -> {after // 1024} MiB"
    )
    assert set(statuses) <= {400, 429}, statuses
    processed = statuses[400]
    FLOODED.update(refused=processed + 1, throttled=statuses[429])
    # The bucket holds BURST refusals and refills at RATE a second: the rest is answered 429 without being read.
    assert processed <= BURST + RATE * (elapsed + 1) + 1, (statuses, elapsed)
    assert statuses[429] >= FLOOD - processed
    assert rows <= CAP + 1, rows  # the first CAP of the window one by one (the warm-up's included), then counted
    assert len(audit) <= CAP + 1, audit
    assert (after - before) / 1024 < RSS_CEILING_MIB, (before, after)

    # Another address is not throttled by the first one's flood: its refusal is a plain 400 with its reason.
    with _client("127.0.0.3") as other:
        refused = _post(other, vnm, envelope)
    assert refused.status_code == 400, refused.text
    assert refused.json()["title"] == "undecryptable"


FORGED = "WARNING hanoinet.federation: operator approved"


def test_header_values_an_attacker_chooses_are_escaped_and_truncated_everywhere(
    nodes: tuple[NodeProcess, NodeProcess],
) -> None:
    vnm, _ = nodes
    huge = "K" * 100_000
    with _client("127.0.0.4") as http:
        forged = _post(http, vnm, _jwe(kid=f"x\n{FORGED}\r\n\x1b[2J"))
        long = _post(http, vnm, _jwe(kid=huge, alg="ECDH-ES+A256KW"))
        algorithms = _post(http, vnm, _jwe(kid="k", alg=f"none\n{FORGED}" + "A" * 50_000))
    print(f"\nanswers to hostile headers: {[len(r.content) for r in (forged, long, algorithms)]} bytes")
    for response in (forged, long, algorithms):
        assert response.status_code == 400, response.text
        assert len(response.content) < 2048, len(response.content)
        assert FORGED not in response.text.split("\n")[1:]
        assert "\x1b" not in response.text
    assert "\\n" in forged.json()["detail"]  # shown escaped, not dropped: the operator sees what was sent
    lines = vnm.log_text().splitlines()
    assert not [line for line in lines if line.startswith(FORGED)], "a forged log line"
    assert "\x1b" not in vnm.log_text()
    assert max(len(line) for line in lines) < 4096
    details = [d for (d,) in _query(vnm, "SELECT detail FROM federation_rejections ORDER BY id DESC LIMIT 3")]
    assert details
    assert all(len(d) < 2048 and "\n" not in d for d in details), details
    audit = [d for (d,) in _query(vnm, "SELECT details FROM audit_log ORDER BY seq DESC LIMIT 3")]
    assert all(len(d) < 4096 for d in audit), [len(d) for d in audit]


def _directory_keys(node: NodeProcess, peer: str) -> dict[str, str]:
    return {k["kid"]: k["status"] for k in node.call("GET", f"/api/v1/directory/{peer}")["keys"]}


def test_a_register_is_taken_only_from_a_directory_node_and_served_only_by_one(
    nodes: tuple[NodeProcess, NodeProcess], tmp_path: Path
) -> None:
    vnm, sgp = nodes
    tha = peer_entry(tmp_path, "THA")  # a third node, trusted by both
    for node in (vnm, sgp):
        node.call("POST", "/api/v1/directory", json=tha.signed)
    vnm.call("POST", "/api/v1/directory", json=sgp.call("GET", "/federation/v1/entry"))  # as a central authority
    sgp.call("POST", f"/api/v1/directory/{tha.node_id}/revoke", json={"reason": "says Singapore"})

    # A node that is not a directory serves no register: its trust list is its own business.
    with httpx.Client(timeout=30) as http:
        assert http.get(f"{sgp.url}/federation/v1/register").status_code == 404
        entry = http.get(f"{sgp.url}/federation/v1/entry")
    assert entry.status_code == 200

    # Singapore's node now calls itself a directory and serves a register revoking Thailand's keys; Viet Nam trusts
    # it as a central authority only, so the register is refused whole, revocations included.
    sgp.stop()
    sgp.roles = "central_authority,directory"
    sgp.start()
    with httpx.Client(timeout=30) as http:
        served = http.get(f"{sgp.url}/federation/v1/register")
    assert served.status_code == 200, served.text
    with vnm.client() as api:
        synced = api.post("/api/v1/directory/sync", json={"url": sgp.url})
    assert synced.status_code == 409, synced.text
    assert "directory" in synced.json()["detail"], synced.text
    assert set(_directory_keys(vnm, tha.node_id).values()) == {"current"}
    audited = "SELECT details FROM audit_log WHERE action = 'register:refuse' AND actor = ?"
    refusals = [json.loads(d) for (d,) in _query(vnm, audited, "sgp-ca")]
    assert refusals
    assert refusals[-1]["revocations"] == 2, refusals


def test_only_the_own_entry_is_served_without_authentication(nodes: tuple[NodeProcess, NodeProcess]) -> None:
    vnm, _ = nodes
    with vnm.client() as api:
        spec = api.get("/openapi.json").json()
    open_reads = sorted(
        path for path, methods in spec["paths"].items() if path.startswith("/federation/v1/") and "get" in methods
    )
    # Every read a peer may make: the own entry, the register (directory nodes only), a transfer's progress
    # (with the transfer's bearer token). A new one must be added here, knowingly.
    assert open_reads == ["/federation/v1/entry", "/federation/v1/register", "/federation/v1/transfers/{transfer_id}"]
    with httpx.Client(base_url=vnm.url, timeout=30) as anonymous:
        entry = anonymous.get("/federation/v1/entry")
        assert anonymous.get("/federation/v1/register").status_code == 404
        transfer = anonymous.get(
            "/federation/v1/transfers/" + "x" * 5000, headers={"Authorization": "Bearer " + "t" * 5000}
        )
    payload = json.loads(base64.urlsafe_b64decode(entry.json()["payload"] + "=="))
    assert payload["node_id"] == "vnm-ca"
    assert "entries" not in payload
    assert transfer.status_code in (401, 404, 422), transfer.text
    assert len(transfer.content) < 2048


def test_the_counted_refusals_are_one_row_and_one_audit_entry_with_the_count(
    nodes: tuple[NodeProcess, NodeProcess],
) -> None:
    vnm, _ = nodes
    assert FLOODED, "runs after the flood test"
    vnm.stop()  # the window is still open: the node records its counts when it stops
    counted = _query(
        vnm, "SELECT refused, throttled, reasons FROM federation_refusal_counts WHERE remote = ?", "127.0.0.1"
    )
    assert [(r, t) for r, t, _ in counted] == [(FLOODED["refused"] - CAP, FLOODED["throttled"])]
    assert json.loads(counted[0][2]) == {"undecryptable": FLOODED["refused"] - CAP}
    entries = [json.loads(d) for a, d in _refusal_audit(vnm) if a == "transmission:refuse-counted"]
    assert [(e["remote"], e["refused"], e["throttled"]) for e in entries] == [
        ("127.0.0.1", FLOODED["refused"] - CAP, FLOODED["throttled"])
    ]
    assert "counted" in vnm.log_text()
