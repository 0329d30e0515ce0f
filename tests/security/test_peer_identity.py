"""A trusted peer cannot change who it is or where this node sends its requests on its own word (issue 11, part 1).

The attack, reproduced against real nodes: Chile's node, trusted by Viet Nam's, pushes a newer entry of its own,
signed by its same key, saying it is Singapore's (state SGP), a directory node, at another endpoint (a trap service
on loopback). Before the fix Viet Nam's node took it ("updated by the same key") and routed the next request meant
for Singapore to it. Now the change is held: the confirmed values stay in force (routing, delivery), an operator sees
it pending with the old and new values, rejects or confirms it, and the audit log records the change and the
decision. A key rotation signed by the current key still goes through on its own.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from hanoinet.federation.domain import TYP_ENTRY
from hanoinet.federation.jose import JoseIdentity
from tests.e2e.conftest import HANOINET
from tests.e2e.nodes import NodeProcess, network, wait_for
from tests.factories import complete_items
from tests.security.trap import Trap, trap_server

SPECS = [("vnm-ca", "VNM", "central_authority"), ("chl-ca", "CHL", "central_authority")]


@pytest.fixture
def trap() -> Iterator[Trap]:
    """A service on loopback a hostile entry points this node at: it must never be called."""
    with trap_server() as running:
        yield running


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[NodeProcess]]:
    """Viet Nam's and Chile's nodes, trusting each other (one pair for the module: starting nodes is the slow part)."""
    yield from network(tmp_path_factory.mktemp("pair"), SPECS)


def _payload(signed: dict[str, Any]) -> dict[str, Any]:
    text = signed["payload"]
    return dict(json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))))


def _forged(chl: NodeProcess, **changes: Any) -> dict[str, Any]:
    """Chile's entry, changed as asked and signed by Chile's own current key: what a hostile Chile can push."""
    entry = _payload(chl.call("GET", "/federation/v1/entry"))
    keys = JoseIdentity(chl.data_dir / "keys", "chl-ca", "CHL")
    return keys.sign_document({**entry, **changes}, TYP_ENTRY)


def _request_to(vnm: NodeProcess, state: str) -> httpx.Response:
    reference = f"LOTUS-{os.urandom(3).hex()}"
    vnm.call("POST", "/api/v1/cases", json={"reference": reference, "offence": "system_interference",
                                            "max_penalty_years": 10, "summary": "Ransomware"})  # fmt: skip
    created = vnm.call("POST", "/api/v1/requests", json={
        "case": reference, "type": "mla_stored_data", "requested_state": state,
        "items": complete_items("uncc-2024", "mla_stored_data"),
    })  # fmt: skip
    with vnm.client() as http:
        return http.post(f"/api/v1/requests/{created['id']}/actions", json={"action": "send"})


def _peer(vnm: NodeProcess) -> dict[str, Any]:
    peer: dict[str, Any] = vnm.call("GET", "/api/v1/directory/chl-ca")
    return peer


def _audit(node: NodeProcess, object_id: str) -> list[dict[str, Any]]:
    """The audit log about one object, read by an auditor at the node's command line."""
    done = subprocess.run(
        [HANOINET, "audit", "list", "--object", object_id, "--limit", "100", "--json"],
        env={**node.env(), "HANOINET_ROLES": "auditor"}, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    entries: list[dict[str, Any]] = json.loads(done.stdout)
    return entries


def test_a_peer_claiming_another_state_is_held_for_an_operator(pair: list[NodeProcess], trap: Trap) -> None:
    vnm, chl = pair
    serial = _payload(chl.call("GET", "/federation/v1/entry"))["serial"]
    hostile = _forged(chl, state="SGP", roles=["central_authority", "directory"], endpoint=trap.url, serial=serial + 1)
    pushed = httpx.post(f"{vnm.url}/federation/v1/entries", json=hostile, timeout=30)
    assert pushed.status_code == 200, pushed.text
    assert pushed.json()["verdict"] == "held"

    # Nothing of the claim is in force: same State, roles and endpoint; the serial moved on.
    peer = _peer(vnm)
    assert (peer["state"], peer["roles"], peer["endpoint"], peer["serial"]) == (
        "CHL", ["central_authority"], chl.url, serial + 1
    )  # fmt: skip
    assert peer["pending"]["changed"] == ["state", "roles", "endpoint"]
    assert peer["pending"]["old"] == {"state": "CHL", "roles": ["central_authority"], "endpoint": chl.url}
    assert peer["pending"]["new"] == {"state": "SGP", "roles": ["central_authority", "directory"], "endpoint": trap.url}
    (listed,) = vnm.call("GET", "/api/v1/directory/pending")
    assert listed["node_id"] == "chl-ca"

    # Routing uses the confirmed values: nothing carries a request for Singapore; one for Chile goes to Chile.
    refused = _request_to(vnm, "SGP")
    assert refused.status_code == 409, refused.text
    assert "no active node of SGP" in refused.text
    assert _request_to(vnm, "CHL").status_code == 200
    wait_for("the request at Chile", lambda: chl.call("GET", "/api/v1/requests"))
    assert trap.hits == []  # the held endpoint was never called

    # The same claim again (same serial) changes nothing; the operator rejects it at the command line.
    assert httpx.post(f"{vnm.url}/federation/v1/entries", json=hostile, timeout=30).json()["verdict"] == "unchanged"
    shown = vnm.cli("directory", "pending")
    assert "chl-ca" in shown.stdout
    assert "SGP" in shown.stdout
    rejected = vnm.cli("directory", "reject", "chl-ca")
    assert "stays CHL" in rejected.stdout
    assert vnm.call("GET", "/api/v1/directory/pending") == []
    assert _peer(vnm)["state"] == "CHL"
    again = vnm.cli("directory", "reject", "chl-ca", check=False)
    assert again.returncode != 0
    assert "no change waiting" in again.stdout + again.stderr

    # A later entry offering a new endpoint is held again; confirmed through the API, it is in force.
    moved = _forged(chl, endpoint=f"{chl.url}/", hours="Mon-Fri 9-17", serial=serial + 2)  # the same place
    assert httpx.post(f"{vnm.url}/federation/v1/entries", json=moved, timeout=30).json()["verdict"] == "updated"
    assert _peer(vnm)["hours"] == "Mon-Fri 9-17"  # hours are the node's own word
    claim = _forged(chl, state="SGP", serial=serial + 3)
    assert httpx.post(f"{vnm.url}/federation/v1/entries", json=claim, timeout=30).json()["verdict"] == "held"
    confirmed = vnm.call("POST", "/api/v1/directory/chl-ca/confirm")
    assert (confirmed["state"], confirmed["pending"]) == ("SGP", None)

    audit = _audit(vnm, "chl-ca")
    actions = [e["action"] for e in audit]
    assert actions.count("directory:change-held") == 2
    held = next(e for e in audit if e["action"] == "directory:change-held")
    assert held["details"]["new"] == {"state": "SGP"}  # the latest, newest first
    decisions = {
        e["action"]: e for e in audit if e["action"] in ("directory:change-rejected", "directory:change-confirmed")
    }
    assert decisions["directory:change-confirmed"]["details"]["new"] == {"state": "SGP"}
    assert decisions["directory:change-confirmed"]["channel"] == "api"
    assert decisions["directory:change-rejected"]["details"]["old"]["state"] == "CHL"
    assert decisions["directory:change-rejected"]["channel"] == "cli"
    assert trap.hits == []

    # An operator's own import of the genuine entry is in force at once (the operator checked it).
    genuine = chl.call("GET", "/federation/v1/entry")
    restored = vnm.call("POST", "/api/v1/directory", params={"replace": "true"}, json=genuine)
    assert (restored["peer"]["state"], restored["peer"]["pending"]) == ("CHL", None)


def test_a_key_rotation_signed_by_the_current_key_still_goes_through_alone(pair: list[NodeProcess]) -> None:
    vnm, chl = pair
    before = _peer(vnm)["signing_key"]
    rotated = chl.call("POST", "/api/v1/node/rotate-keys", json={})["entry"]
    assert rotated["signing_key"]["kid"] != before
    wait_for("the rotated key at Viet Nam", lambda: _peer(vnm)["signing_key"] == rotated["signing_key"]["kid"])
    assert _peer(vnm)["pending"] is None
    assert vnm.call("GET", "/api/v1/directory/pending") == []
