"""Outbound requests go only where an operator pointed them, never into the node's own network, and what comes back
is capped and never shown (issue 11, part 4), against real ``hanoinet serve`` processes on loopback.

The attacks, reproduced before the fix: ``directory sync`` to any URL (a loopback service) echoed 200 bytes of its
answer in the 422 and read a 300 MiB answer whole (+580 MiB); a peer's endpoint on loopback made the delivery worker
POST there and show 300 bytes of the answer in ``/api/v1/federation/status``. Now: a sync URL that is neither
configured (``HANOINET_DIRECTORY_URLS``) nor a trusted directory node's confirmed endpoint is refused before any
connection; a private or loopback address is refused unless ``HANOINET_ALLOW_PRIVATE_PEERS``; answers are read as a
stream and cut at ``HANOINET_FEDERATION_MAX_ANSWER_BYTES``; errors say "answered HTTP 500 (body not shown)".
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import HANOINET, free_port
from tests.e2e.nodes import NodeProcess, prepare, wait_for
from tests.security.trap import SECRET, Trap, trap_server

MiB = 1 << 20
ANSWER_CAP = 4 * MiB
HUGE_ANSWER = 300 * MiB
RSS_CEILING = 64 * MiB
"""How much the node may grow while a 300 MiB answer comes in: a few times the cap, far below the answer."""


@pytest.fixture(scope="module")
def trap() -> Iterator[Trap]:
    with trap_server() as running:
        yield running


@pytest.fixture(autouse=True)
def fresh_trap(trap: Trap) -> None:
    """Each test starts with a trap that has seen nothing and answers 500 with its secret."""
    trap.hits.clear()
    trap.status, trap.body_bytes = 500, 0


def _node(base: Path, name: str, **extra: str) -> Iterator[NodeProcess]:
    node = NodeProcess(f"vnm-{name}", "VNM", base / name, free_port(), extra=extra)
    prepare(node)
    node.start()
    try:
        yield node
    finally:
        node.stop()
        assert "Traceback" not in node.log_text(), node.log_text()


@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory, trap: Trap) -> Iterator[NodeProcess]:
    """A node as deployed: no private peers, the trap configured as a directory URL (an operator's mistake)."""
    yield from _node(
        tmp_path_factory.mktemp("strict"),
        "strict",
        HANOINET_ALLOW_PRIVATE_PEERS="false",
        HANOINET_DIRECTORY_URLS=trap.url,
    )


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory, trap: Trap) -> Iterator[NodeProcess]:
    """A node that may reach loopback (as the demo's), with a small answer cap."""
    yield from _node(
        tmp_path_factory.mktemp("lab"), "lab",
        HANOINET_ALLOW_PRIVATE_PEERS="true", HANOINET_DIRECTORY_URLS=f"{trap.url}/",
        HANOINET_FEDERATION_MAX_ANSWER_BYTES=str(ANSWER_CAP),
    )  # fmt: skip


def _sync(node: NodeProcess, url: str) -> httpx.Response:
    with node.client() as http:
        return http.post("/api/v1/directory/sync", json={"url": url})


def _peak_rss(node: NodeProcess) -> int:
    """The server process's peak resident memory so far (VmHWM): what an answer read whole would have raised."""
    assert node.process is not None
    for line in Path(f"/proc/{node.process.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def _trap_peer(base: Path, trap: Trap) -> dict[str, Any]:
    """The signed entry of a node whose endpoint is the trap (imported by an operator: a confirmed endpoint)."""
    port = int(trap.url.rsplit(":", 1)[1])
    peer = NodeProcess("sgp-trap", "SGP", base / "sgp-trap", port)
    peer.data_dir.mkdir(parents=True)
    peer.cli("init")
    entry: dict[str, Any] = json.loads(peer.cli("node", "export").stdout)
    return entry


def _send_to(node: NodeProcess, peer: str) -> None:
    message = {"to": peer, "kind": "spontaneous_information", "text": "for the trap", "conditions": {}}
    node.call("POST", "/api/v1/messages", json={"messages": [message]})


def test_sync_goes_only_to_configured_directories_and_never_to_loopback(strict: NodeProcess, trap: Trap) -> None:
    elsewhere = _sync(strict, "http://127.0.0.2:9")
    assert elsewhere.status_code == 422
    assert "is not a directory this node syncs from" in elsewhere.text
    assert trap.url in elsewhere.text  # the operator is told what is configured

    configured = _sync(strict, trap.url)
    assert configured.status_code == 422, configured.text
    assert "loopback address" in configured.text
    assert "HANOINET_ALLOW_PRIVATE_PEERS" in configured.text
    assert trap.hits == []  # refused before any connection

    cli = subprocess.run(
        [HANOINET, "directory", "sync", "http://10.1.2.3"], env=strict.env(), capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip
    assert cli.returncode != 0
    assert "is not a directory this node syncs from" in cli.stdout + cli.stderr


def test_an_answer_is_never_echoed_and_never_read_past_the_cap(lab: NodeProcess, trap: Trap) -> None:
    answered = _sync(lab, trap.url)
    assert answered.status_code == 422
    assert "answered HTTP 500 (body not shown)" in answered.text
    assert SECRET.decode() not in answered.text
    assert "hunter2" not in answered.text
    assert trap.hits == ["GET /federation/v1/register"]

    trap.status, trap.body_bytes = 200, HUGE_ANSWER
    before = _peak_rss(lab)
    huge = _sync(lab, trap.url)
    grown = _peak_rss(lab) - before
    assert huge.status_code == 422, huge.text
    assert f"longer than {ANSWER_CAP} bytes" in huge.text
    assert grown < RSS_CEILING, f"the node grew by {grown / MiB:.0f} MiB reading a {HUGE_ANSWER // MiB} MiB answer"
    print(f"peak RSS growth under a {HUGE_ANSWER // MiB} MiB answer: {grown / MiB:.1f} MiB")


def test_deliveries_show_no_answer_and_reach_no_private_address(
    tmp_path: Path, lab: NodeProcess, strict: NodeProcess, trap: Trap
) -> None:
    entry = _trap_peer(tmp_path, trap)
    for node in (lab, strict):
        node.call("POST", "/api/v1/directory", json=entry)

    def failed(node: NodeProcess) -> dict[str, Any] | None:
        (peer,) = node.call("GET", "/api/v1/federation/status")["peers"]
        return peer if peer["failures"] >= 1 and peer["last_error"] else None

    # the strict node first, alone: the lab node's retries would reach the trap while it is watched
    _send_to(strict, "sgp-trap")
    refused = wait_for("a refused delivery from the strict node", lambda: failed(strict), timeout=30)
    assert "loopback address" in refused["last_error"]
    assert trap.hits == []  # the strict node never connected

    _send_to(lab, "sgp-trap")
    shown = wait_for("a failed delivery from the lab node", lambda: failed(lab), timeout=30)
    assert shown["last_error"] == "answered HTTP 500 (body not shown)"
    status = lab.call("GET", "/api/v1/federation/status")
    assert "hunter2" not in json.dumps(status)
    assert "POST /federation/v1/transmissions" in trap.hits
