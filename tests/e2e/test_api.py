"""The node's HTTP API, end to end: a real ``hanoinet serve`` process, on SQLite and on PostgreSQL.

Every response goes through the client fixture's check: never a 500, never a stack trace in a body.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import PeerEntry, add_peer, outbox_for
from tests.factories import UN_PARTIES, complete_items, deposits_csv, reference

UN = "uncc-2024"
CSV = {"content-type": "text/csv"}
Json = dict[str, Any]


@pytest.fixture(scope="module")
def in_force(client: httpx.Client) -> Json:
    """Import the treaty deposits that put the UN Convention in force, once per server."""
    response = client.post(f"/api/v1/treaty/{UN}/deposits", content=deposits_csv(), headers=CSV)
    assert response.status_code == 200, response.text
    body: Json = response.json()
    return body


@pytest.fixture(scope="module")
def tha(client: httpx.Client, peer_entries: Callable[[str], PeerEntry]) -> str:
    """Thailand's node in the directory (its central authority and 24/7 point of contact), so that requests to
    Thailand have a node to carry them; its node id. Nothing listens where it says it does: what is sent to it
    waits in the outbox."""
    return add_peer(client, peer_entries("THA"))


def ok(response: httpx.Response, status: int = 200) -> Json:
    assert response.status_code == status, response.text
    body: Json = response.json()
    return body


def problem(response: httpx.Response, status: int) -> Json:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: Json = response.json()
    assert set(body) == {"title", "detail"}
    return body


def new_case(client: httpx.Client) -> Json:
    return ok(
        client.post(
            "/api/v1/cases",
            json={
                "reference": reference("LOTUS"),
                "offence": "system_interference",
                "max_penalty_years": 10,
                "summary": "Ransomware attack on a hospital in Hà Nội",
            },
        ),
        201,
    )


def new_request(client: httpx.Client, case_id: str, type_: str = "preservation", **body: Any) -> Json:
    payload = {"case": case_id, "type": type_, "requested_state": "THA", "items": complete_items(UN, type_), **body}
    return ok(client.post("/api/v1/requests", json=payload), 201)


def act(client: httpx.Client, request_id: str, action: str, **body: Any) -> httpx.Response:
    return client.post(f"/api/v1/requests/{request_id}/actions", json={"action": action, **body})


def inbox(client: httpx.Client, **params: Any) -> list[Json]:
    response = client.get("/api/v1/requests", params=params)
    assert response.status_code == 200, response.text
    rows: list[Json] = response.json()
    return rows


def fields(body: Json) -> list[str]:
    return [d["field"] for d in body["detail"]]


# --- node, docs, packs ------------------------------------------------------------------------------------------


def test_health(client: httpx.Client) -> None:
    health = ok(client.get("/health"))
    assert health["status"] == "ok"
    assert {UN, "budapest-ets185"} <= set(health["packs"])
    assert health["node_state"] == "VNM"


def test_openapi_and_docs_are_served(client: httpx.Client) -> None:
    spec = ok(client.get("/openapi.json"))
    assert spec["info"]["title"] == "hanoinet node API"
    assert {"/api/v1/requests", "/api/v1/requests/{request_id}/actions", "/api/v1/treaty/{instrument}/deposits"} <= set(
        spec["paths"]
    )
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "swagger-ui" in docs.text.lower()
    assert "/openapi.json" in docs.text
    # Served by the node itself: a node on a closed network must not depend on a CDN.
    scripts = re.findall(r'<script src="([^"]+)"', docs.text)
    assert scripts
    assert all(src.startswith("/") for src in scripts)
    for src in scripts:
        script = client.get(src)
        assert script.status_code == 200
        assert "SwaggerUIBundle" in script.text


def test_rule_pack_is_served_with_articles(client: httpx.Client) -> None:
    pack = ok(client.get(f"/api/v1/packs/{UN}"))
    (preservation,) = [t for t in pack["request_types"] if t["key"] == "preservation"]
    necessity = next(i for i in preservation["items"] if i["key"] == "necessity")
    assert necessity["article"] == "Art 42(2)(e)"
    assert problem(client.get("/api/v1/packs/no-such-pack"), 404)["title"] == "not found"


# --- treaty -----------------------------------------------------------------------------------------------------


def test_treaty_status_after_import(client: httpx.Client, in_force: Json) -> None:
    assert in_force["instrument"] == UN
    assert in_force["recorded"] + in_force["unchanged"] == 2 * len(UN_PARTIES)

    status = ok(client.get(f"/api/v1/treaty/{UN}/status"))
    assert status["in_force"] is True
    assert status["entry_into_force"] == "2026-04-12"
    assert status["instruments_counted"] == len(UN_PARTIES)
    assert sorted(status["parties"]) == sorted(UN_PARTIES)
    assert sorted(status["signatories"]) == sorted(UN_PARTIES)

    before = ok(client.get(f"/api/v1/treaty/{UN}/status", params={"on": "2026-04-11"}))
    assert before["in_force"] is False
    assert before["parties"] == []


def test_reimporting_the_same_file_records_nothing(client: httpx.Client, in_force: Json) -> None:
    again = ok(client.post(f"/api/v1/treaty/{UN}/deposits", content=deposits_csv(), headers=CSV))
    assert again == {"instrument": UN, "recorded": 0, "unchanged": 2 * len(UN_PARTIES)}


def test_treaty_party_and_basis(client: httpx.Client, in_force: Json) -> None:
    vnm = ok(client.get(f"/api/v1/treaty/{UN}/parties/vnm"))
    assert vnm["state"] == "VNM"
    assert vnm["party"] is True
    assert vnm["party_since"] == "2026-04-12"
    assert vnm["consent_action"] == "ratification"

    usa = ok(client.get(f"/api/v1/treaty/{UN}/parties/USA"))
    assert usa["party"] is False

    basis = ok(client.get("/api/v1/treaty/basis", params={"a": "VNM", "b": "THA"}))
    assert basis["instruments"] == [UN]
    assert ok(client.get("/api/v1/treaty/basis", params={"a": "VNM", "b": "USA"}))["instruments"] == []


def test_treaty_csv_with_bad_rows_is_refused_whole(client: httpx.Client, in_force: Json) -> None:
    before = ok(client.get(f"/api/v1/treaty/{UN}/status"))
    body = (
        "state,action,date\n"
        "XYZ,signature,2025-10-25\n"  # 2: unknown State
        "USA,signature,2025-10-25\n"  # 3: fine on its own, but the file is refused
        "GBR,signature,2026-02-30\n"  # 4: no such date
        "NOR,ratify,2026-01-12\n"  # 5: unknown action
        "DEU,signature,2099-01-01\n"  # 6: in the future
    )
    refused = problem(client.post(f"/api/v1/treaty/{UN}/deposits", content=body, headers=CSV), 422)
    assert fields(refused) == ["line 2", "line 4", "line 5", "line 6"]
    messages = " | ".join(d["message"] for d in refused["detail"])
    assert "'XYZ'" in messages
    assert "2026-02-30" in messages
    assert "'ratify'" in messages
    assert "in the future" in messages

    after = ok(client.get(f"/api/v1/treaty/{UN}/status"))
    assert after == before
    assert "USA" not in after["signatories"]
    assert ok(client.get(f"/api/v1/treaty/{UN}/parties/USA"))["signed_on"] is None


def test_treaty_csv_that_is_not_a_deposit_table(client: httpx.Client) -> None:
    refused = problem(
        client.post(
            f"/api/v1/treaty/{UN}/deposits", content="country,what,when\nVNM,signature,2025-10-25\n", headers=CSV
        ),
        422,
    )
    assert fields(refused) == ["file"]
    assert refused["detail"][0]["message"].startswith("upload:1: the header must be")


def test_treaty_unknown_instrument_and_state(client: httpx.Client) -> None:
    assert "no-such-treaty" in problem(client.get("/api/v1/treaty/no-such-treaty/status"), 404)["detail"]
    unknown_state = problem(client.get(f"/api/v1/treaty/{UN}/parties/XYZ"), 422)
    assert fields(unknown_state) == ["state"]
    assert "unknown State 'XYZ'" in unknown_state["detail"][0]["message"]
    assert fields(problem(client.get(f"/api/v1/treaty/{UN}/status", params={"on": "2026-13-01"}), 422)) == ["query.on"]


# --- the request lifecycle --------------------------------------------------------------------------------------


def test_a_sent_request_goes_to_the_requested_states_node(client: httpx.Client, in_force: Json, tha: str) -> None:
    """Viet Nam asks Thailand: the request goes to Thailand's node and waits in the outbox until that node takes
    it; Thailand's answers arrive from that node as signed messages, they are never typed in here."""
    case = new_case(client)
    assert ok(client.get(f"/api/v1/cases/{case['reference']}"))["id"] == case["id"]

    preservation = new_request(client, case["id"])
    pid = preservation["id"]
    assert preservation["state"] == "draft"
    assert preservation["requesting_state"] == "VNM"
    assert preservation["issues"] == []
    assert preservation["allowed_actions"] == ["send", "withdraw"]

    sent = ok(act(client, pid, "send"))
    assert sent["state"] == "sent"
    assert sent["peer"] == tha
    (ack,) = sent["clocks"]
    assert (ack["name"], ack["status"], ack["urgency"]) == ("acknowledge", "running", "due_soon")
    (waiting,) = outbox_for(client, tha, pid)
    assert waiting["kind"] == "request"
    assert [m["id"] for m in ok(client.get(f"/api/v1/requests/{pid}"))["messages"]] == [waiting["id"]]

    refused = problem(act(client, pid, "acknowledge"), 409)
    detail = refused["detail"]
    assert f"acknowledge is for the requested State to do; on this request it arrives from node {tha}" in detail
    assert [e["kind"] for e in ok(client.get(f"/api/v1/requests/{pid}"))["events"]] == ["created", "sent"]


def test_whole_lifecycle_of_a_preservation_and_its_mla_request(client: httpx.Client, in_force: Json) -> None:
    """The requested State's side, where every step is this node's: Thailand's preservation request and its MLA
    request reached Viet Nam by other means and are registered as received."""
    case = new_case(client)
    from_tha = {"direction": "incoming", "requesting_state": "THA", "requested_state": "VNM"}

    preservation = new_request(client, case["id"], **from_tha)
    pid = preservation["id"]
    assert preservation["state"] == "received"
    assert (preservation["requesting_state"], preservation["requested_state"]) == ("THA", "VNM")
    assert preservation["issues"] == []
    assert "send" not in preservation["allowed_actions"]
    (ack,) = preservation["clocks"]
    assert (ack["name"], ack["status"], ack["urgency"]) == ("acknowledge", "running", "due_soon")

    assert ok(act(client, pid, "acknowledge"))["state"] == "acknowledged"
    preserved = ok(act(client, pid, "preserve"))
    assert preserved["state"] == "preserved"
    (clock,) = [c for c in preserved["clocks"] if c["name"] == "preservation"]
    preserved_at = datetime.fromisoformat(preserved["events"][-1]["at"])
    assert datetime.fromisoformat(clock["due_at"]) == preserved_at + timedelta(days=60)
    assert {"extend", "release"} <= set(preserved["allowed_actions"])

    mla = new_request(client, case["id"], "mla", follows_up=pid, **from_tha)
    mid = mla["id"]
    assert mla["follows_up"] == pid
    assert mla["state"] == "received"

    held = ok(client.get(f"/api/v1/requests/{pid}"))
    (clock,) = [c for c in held["clocks"] if c["name"] == "preservation"]
    assert (clock["status"], clock["due_at"]) == ("held", None)
    (line,) = [r for r in inbox(client, case_id=case["id"]) if r["id"] == pid]
    assert (line["next_due_at"], line["next_clock"]) == (None, None)

    ok(act(client, mid, "acknowledge"))
    executed = ok(act(client, mid, "execute", note="data disclosed"))
    assert executed["state"] == "executed"
    assert executed["events"][-1]["data"] == {"note": "data disclosed"}

    running = ok(client.get(f"/api/v1/requests/{pid}"))
    (clock,) = [c for c in running["clocks"] if c["name"] == "preservation"]
    assert clock["status"] == "running"
    assert datetime.fromisoformat(clock["due_at"]) >= preserved_at + timedelta(days=60)
    (line,) = [r for r in inbox(client, case_id=case["id"]) if r["id"] == pid]
    assert line["next_clock"] == "preservation"

    assert ok(act(client, pid, "release"))["state"] == "released"
    closed = ok(act(client, pid, "close"))
    assert closed["state"] == "closed"
    assert closed["allowed_actions"] == []
    assert [(e["seq"], e["kind"]) for e in closed["events"]] == [
        (1, "received"),
        (2, "acknowledged"),
        (3, "preserved"),
        (4, "released"),
        (5, "closed"),
    ]
    assert all(e["actor"].startswith("tests-") for e in closed["events"])  # the token holder acted
    assert closed["messages"] == []  # registered by hand: nothing goes over the network
    reloaded = ok(client.get(f"/api/v1/requests/{pid}"))
    assert {k: v for k, v in reloaded.items() if k != "clocks"} == {k: v for k, v in closed.items() if k != "clocks"}


def test_missing_item_is_reported_with_its_article(client: httpx.Client, in_force: Json, tha: str) -> None:
    case = new_case(client)
    items = complete_items(UN, "preservation")
    del items["necessity"]

    checked = ok(
        client.post(
            "/api/v1/requests/validate",
            json={"case": case["id"], "type": "preservation", "requested_state": "THA", "items": items},
        )
    )
    assert (checked["complete"], checked["ready"], checked["node"]) == (False, False, tha)
    assert checked["legal_basis"]["holds"] is True
    assert [i["text"] for i in checked["issues"]] == ["Art 42(2)(e): the necessity of the preservation is missing"]

    draft = new_request(client, case["id"], items=items)
    assert [i["field"] for i in draft["issues"]] == ["items.necessity"]

    refused = problem(act(client, draft["id"], "send"), 422)
    (issue,) = refused["detail"]
    assert issue["field"] == "items.necessity"
    assert issue["article"] == "Art 42(2)(e)"
    assert "the necessity of the preservation" in issue["message"]
    assert issue["text"] == "Art 42(2)(e): the necessity of the preservation is missing"
    assert ok(client.get(f"/api/v1/requests/{draft['id']}"))["state"] == "draft"

    amended = ok(client.patch(f"/api/v1/requests/{draft['id']}", json={"items": complete_items(UN, "preservation")}))
    assert amended["issues"] == []
    assert amended["events"][-1]["data"] == {"changed": ["necessity"]}
    assert outbox_for(client, tha, draft["id"]) == []  # nothing went while it was refused
    assert ok(act(client, draft["id"], "send"))["state"] == "sent"
    (waiting,) = outbox_for(client, tha, draft["id"])
    assert waiting["kind"] == "request"


def test_unknown_fields_are_refused(client: httpx.Client, in_force: Json) -> None:
    case_body = {"reference": reference(), "offence": "illegal_access", "summary": "x", "colour": "red"}
    assert fields(problem(client.post("/api/v1/cases", json=case_body), 422)) == ["colour"]

    case = new_case(client)
    body = {"case": case["id"], "type": "preservation", "requested_state": "THA", "itemz": {}}
    assert fields(problem(client.post("/api/v1/requests", json=body), 422)) == ["itemz"]

    draft = new_request(client, case["id"])
    assert fields(problem(act(client, draft["id"], "send", reason="urgent"), 422)) == ["reason"]
    assert fields(problem(client.patch(f"/api/v1/requests/{draft['id']}", json={"items": {}, "x": 1}), 422)) == ["x"]
    assert ok(client.get(f"/api/v1/requests/{draft['id']}"))["state"] == "draft"


def test_unknown_items_are_refused(client: httpx.Client, in_force: Json) -> None:
    case = new_case(client)
    items = {**complete_items(UN, "preservation"), "favourite_colour": "red"}
    body = {"case": case["id"], "type": "preservation", "requested_state": "THA", "items": items}
    refused = problem(client.post("/api/v1/requests", json=body), 422)
    assert fields(refused) == ["items.favourite_colour"]


def test_bad_dates_are_refused(client: httpx.Client, in_force: Json) -> None:
    case = new_case(client)
    base = {"case": case["id"], "type": "mla", "requested_state": "THA", "items": complete_items(UN, "mla")}
    for deadline in ("2027-02-30T10:00:00Z", "next tuesday", "2030-03-01T10:00:00"):
        refused = problem(client.post("/api/v1/requests", json={**base, "deadline": deadline}), 422)
        assert fields(refused) == ["deadline"], deadline
    past = problem(client.post("/api/v1/requests", json={**base, "deadline": "2020-01-01T00:00:00Z"}), 422)
    assert [(d["field"], d["message"]) for d in past["detail"]] == [("deadline", "is in the past")]
    assert inbox(client, case_id=case["id"]) == []


def test_unknown_states_instruments_and_types_are_refused(client: httpx.Client, in_force: Json) -> None:
    case = new_case(client)
    base = {"case": case["id"], "type": "preservation", "requested_state": "THA"}

    unknown_state = problem(client.post("/api/v1/requests", json={**base, "requested_state": "XYZ"}), 422)
    assert fields(unknown_state) == ["requested_state"]
    assert "unknown State 'XYZ'" in unknown_state["detail"][0]["message"]

    unknown_instrument = problem(client.post("/api/v1/requests", json={**base, "instrument": "nope-1999"}), 422)
    assert fields(unknown_instrument) == ["instrument"]
    assert "unknown instrument 'nope-1999'" in unknown_instrument["detail"][0]["message"]

    unknown_type = problem(client.post("/api/v1/requests", json={**base, "type": "teleportation"}), 422)
    assert fields(unknown_type) == ["type"]
    assert "'teleportation'" in unknown_type["detail"][0]["message"]

    unknown_case = problem(client.post("/api/v1/requests", json={**base, "case": "NO-SUCH-CASE"}), 422)
    assert fields(unknown_case) == ["case"]

    assert fields(problem(client.post("/api/v1/requests", json=[1, 2]), 422)) == ["body"]
    assert fields(problem(act(client, str(uuid.uuid4()), "teleport"), 422)) == ["action"]
    assert inbox(client, case_id=case["id"]) == []


def test_illegal_transition_is_a_conflict(client: httpx.Client, in_force: Json) -> None:
    case = new_case(client)
    draft = new_request(client, case["id"], "mla")

    refused = problem(act(client, draft["id"], "execute"), 409)
    assert refused["title"] == "illegal transition"
    assert refused["detail"] == "cannot execute a request that is draft; allowed now: send, withdraw"
    assert ok(client.get(f"/api/v1/requests/{draft['id']}"))["events"] == draft["events"]


def test_sending_without_legal_basis_is_a_conflict(client: httpx.Client, in_force: Json) -> None:
    case = new_case(client)
    draft = new_request(client, case["id"], requested_state="USA")

    refused = problem(act(client, draft["id"], "send"), 409)
    assert refused["title"] == "no legal basis"
    assert "USA (United States" in refused["detail"]
    assert "is not a Party" in refused["detail"]
    assert "VNM (" not in refused["detail"]  # Viet Nam is a Party: only the State that is not one is named

    after = ok(client.get(f"/api/v1/requests/{draft['id']}"))
    assert after["state"] == "draft"
    assert after["events"] == draft["events"]
    assert after["version"] == draft["version"]


def test_refusal_on_a_ground_not_allowed_is_invalid_input(client: httpx.Client, in_force: Json) -> None:
    case = new_case(client)
    received = new_request(
        client, case["id"], "mla", direction="incoming", requesting_state="THA", requested_state="VNM"
    )
    rid = received["id"]
    assert received["state"] == "received"

    refused = problem(act(client, rid, "refuse", grounds=["political_offence"]), 422)
    (issue,) = refused["detail"]
    assert issue["field"] == "grounds[0]"
    assert issue["article"] == "Art 40"
    assert "'political_offence' is not a ground for refusal" in issue["message"]

    never = problem(act(client, rid, "refuse", grounds=["bank_secrecy"]), 422)
    assert "is never a ground for refusal" in never["detail"][0]["message"]
    assert fields(problem(act(client, rid, "refuse"), 422)) == ["grounds"]

    unchanged = ok(client.get(f"/api/v1/requests/{rid}"))
    assert unchanged["state"] == "received"
    assert unchanged["events"] == received["events"]

    done = ok(act(client, rid, "refuse", grounds=["essential_interests"]))
    assert done["state"] == "refused"
    assert done["events"][-1]["data"] == {"grounds": ["essential_interests"]}


def test_unknown_ids_are_404(client: httpx.Client) -> None:
    missing = str(uuid.uuid4())
    assert missing in problem(client.get(f"/api/v1/requests/{missing}"), 404)["detail"]
    assert problem(act(client, missing, "send"), 404)["title"] == "not found"
    assert problem(client.patch(f"/api/v1/requests/{missing}", json={"items": {}}), 404)["title"] == "not found"
    assert problem(client.get("/api/v1/cases/NO-SUCH-CASE"), 404)["title"] == "not found"
    assert client.get("/api/v1/no-such-endpoint").status_code == 404


# --- the inbox --------------------------------------------------------------------------------------------------


def test_inbox_due_within_hours_and_overdue(client: httpx.Client, in_force: Json, tha: str) -> None:
    case = new_case(client)
    deadline = datetime.now(UTC) + timedelta(seconds=2)
    urgent = new_request(client, case["id"], "mla", deadline=deadline.isoformat())
    ok(act(client, urgent["id"], "send"))
    preservation = new_request(client, case["id"])
    ok(act(client, preservation["id"], "send"))
    draft = new_request(client, case["id"], requested_state="KHM")

    # before the deadline: both sent requests fall due within 25 hours, soonest first; the draft runs no clock
    soon = inbox(client, case_id=case["id"], due_within="25h")
    assert [r["id"] for r in soon] == [urgent["id"], preservation["id"]]
    assert soon[0]["next_clock"] == "requester_deadline"
    assert soon[1]["next_clock"] == "acknowledge"
    assert [r["id"] for r in inbox(client, case_id=case["id"], due_within="23h")] == [urgent["id"]]
    assert draft["id"] not in {r["id"] for r in inbox(client, case_id=case["id"], due_within="366d")}

    time.sleep(max(0.0, (deadline - datetime.now(UTC)).total_seconds()) + 0.3)

    overdue = inbox(client, case_id=case["id"], overdue="true")
    assert [r["id"] for r in overdue] == [urgent["id"]]
    assert overdue[0]["urgency"] == "overdue"
    assert [r["id"] for r in inbox(client, case_id=case["id"], due_within="25h")] == [preservation["id"]]

    everything = inbox(client, case_id=case["id"])
    assert [r["id"] for r in everything] == [draft["id"], preservation["id"], urgent["id"]]  # newest first
    assert [r["id"] for r in inbox(client, case_id=case["id"], limit=1, offset=1)] == [preservation["id"]]
    assert [r["id"] for r in inbox(client, case_id=case["id"], state="draft")] == [draft["id"]]
    assert [r["id"] for r in inbox(client, case_id=case["id"], counterpart_state="khm")] == [draft["id"]]
    assert [r["id"] for r in inbox(client, case_id=case["id"], type="mla")] == [urgent["id"]]

    # what the inbox marks overdue must read as overdue, even less than a second after the deadline
    assert overdue[0]["time_left"].startswith("overdue"), (overdue[0]["time_left"], overdue[0]["next_due_at"])

    # both sent requests wait in the outbox for Thailand's node; Cambodia is bound, but no node of it is known
    # here: the draft says it could not be sent
    assert [len(outbox_for(client, tha, r["id"])) for r in (urgent, preservation)] == [1, 1]
    (no_node,) = ok(client.get(f"/api/v1/requests/{draft['id']}"))["issues"]
    assert no_node["field"] == "requested_state"
    assert no_node["message"].startswith("no active node of KHM (Cambodia) is in this node's directory")


def test_inbox_refuses_bad_filters(client: httpx.Client) -> None:
    for bad in ("0h", "24x", "367d", "h"):
        refused = problem(client.get("/api/v1/requests", params={"due_within": bad}), 422)
        assert fields(refused) == ["query.due_within"], bad
    assert fields(problem(client.get("/api/v1/requests", params={"state": "lost"}), 422)) == ["query.state"]
    assert fields(problem(client.get("/api/v1/requests", params={"limit": 100_000}), 422)) == ["query.limit"]


@pytest.mark.parametrize("path", ["/api/v1/cases", "/api/v1/requests", "/api/v1/evidence", "/api/v1/messages"])
def test_a_page_offset_past_any_list_is_refused_naming_the_field(client: httpx.Client, path: str) -> None:
    # An offset past 64 bits used to reach the database and come back as a 500 on every paged route.
    refused = problem(client.get(path, params={"offset": "99999999999999999999"}), 422)
    assert fields(refused) == ["query.offset"]
    assert problem(client.get(path, params={"offset": "-1"}), 422)
    assert client.get(path, params={"offset": str(2**31 - 1)}).status_code == 200


DEEP_TARGETS = [
    ("/api/v1/cases", '{{"reference": "deep", "offence": "illegal_access", "summary": {nested}}}'),
    ("/api/v1/directory", '{{"payload": {nested}, "signatures": []}}'),
    ("/api/v1/messages", '{{"messages": [{{"to": "nowhere-node", "text": "x", "conditions": {{"c": {nested}}}}}]}}'),
]


@pytest.mark.parametrize("depth", [64, 500, 900, 2_000, 100_000])
@pytest.mark.parametrize(("path", "template"), DEEP_TARGETS)
def test_deeply_nested_json_is_a_bad_request_and_saves_nothing(
    client: httpx.Client, path: str, template: str, depth: int
) -> None:
    # Nesting deeper than any body needs used to answer 500; now it is refused before anything reads it.
    before = ok(client.get("/api/v1/cases", params={"limit": 500}))
    body = template.format(nested="[" * depth + "]" * depth)
    response = client.post(path, content=body, headers={"content-type": "application/json"})
    assert 400 <= response.status_code < 500, response.text
    if depth > 64:
        assert response.status_code == 400, response.text
        assert "nest" in response.text
    assert ok(client.get("/api/v1/cases", params={"limit": 500})) == before


# --- formal documents (issue 12) ------------------------------------------------------------------------------


def test_a_request_has_a_signed_pdf_that_the_node_verifies(client: httpx.Client, in_force: Json, tha: str) -> None:
    case = new_case(client)
    request = new_request(client, case["id"], "mla", language="en", translations={"purpose": "Obtenir les journaux."})
    response = client.get(f"/api/v1/requests/{request['id']}/document", params={"to_language": "fr"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    assert response.headers["x-content-sha256"] == hashlib.sha256(response.content).hexdigest()
    assert "-en-fr.pdf" in response.headers["content-disposition"]

    checked = ok(
        client.post("/api/v1/documents/verify", content=response.content, headers={"content-type": "application/pdf"})
    )
    assert checked["ok"] is True, checked["problems"]
    assert checked["signature"]["intact"]
    assert checked["signature"]["covers_whole_file"]
    assert checked["request"]["items"] == request["items"]
    assert checked["request"]["translations"] == {"purpose": "Obtenir les journaux."}
    assert checked["document"]["languages"] == ["en", "fr"]
    certificate = ok(client.get("/api/v1/documents/certificate"))
    assert certificate["self_issued"] is True
    assert checked["signature"]["signer_sha256"] == certificate["sha256"]


def test_an_incomplete_request_has_no_document_and_says_what_is_missing(client: httpx.Client, tha: str) -> None:
    case = new_case(client)
    draft = ok(
        client.post("/api/v1/requests", json={"case": case["id"], "type": "preservation", "requested_state": "THA"}),
        201,
    )
    body = problem(client.get(f"/api/v1/requests/{draft['id']}/document"), 422)
    assert "Art 42" in body["detail"][0]["text"] or "Art 42" in str(body["detail"])


def test_a_file_that_is_not_a_pdf_is_refused_for_checking(client: httpx.Client) -> None:
    body = problem(
        client.post("/api/v1/documents/verify", content=b"hello", headers={"content-type": "application/pdf"}), 422
    )
    assert "not a PDF" in str(body["detail"])
    too_big = client.post(
        "/api/v1/documents/verify",
        content=b"%PDF-" + b"0" * (33 * 1024 * 1024),
        headers={"content-type": "application/pdf"},
    )
    assert too_big.status_code == 413


def test_a_request_sent_by_e_mail_is_sent_not_delivered_and_its_answer_is_recorded(
    client: httpx.Client, in_force: Json, tha: str
) -> None:
    case = new_case(client)
    draft = new_request(client, case["id"], "mla")
    sent = ok(
        client.post(
            f"/api/v1/requests/{draft['id']}/send-off-network",
            json={"means": "email", "to": "central.authority@oag.go.th", "to_language": "en"},
        )
    )
    assert sent["state"] == "sent"
    assert sent["means"] == "email"
    assert sent["peer"] is None
    assert sent["messages"] == []  # nothing went over the network, so nothing says delivered
    assert {c["name"] for c in sent["clocks"]}
    event = sent["events"][-1]
    assert event["data"]["to"] == "central.authority@oag.go.th"
    assert len(event["data"]["sha256"]) == 64
    answered = ok(
        client.post(
            f"/api/v1/requests/{draft['id']}/answers",
            params={"action": "acknowledge", "by": "email", "from": "OAG Thailand", "file_name": "ack.pdf"},
            content=b"%PDF-1.4 acknowledgement of receipt",
            headers={"content-type": "application/octet-stream"},
        )
    )
    assert answered["state"] == "acknowledged"
    assert answered["events"][-1]["data"]["from"] == "OAG Thailand"
    again = problem(
        client.post(f"/api/v1/requests/{draft['id']}/send-off-network", json={"means": "email", "to": "someone else"}),
        409,
    )
    assert "acknowledged" in again["detail"]


def test_a_node_does_not_register_a_request_addressed_to_another_state(
    client: httpx.Client, in_force: Json, tha: str
) -> None:
    case = new_case(client)
    draft = new_request(client, case["id"], "preservation")
    pdf = client.get(f"/api/v1/requests/{draft['id']}/document").content
    body = problem(
        client.post(
            "/api/v1/documents/register",
            params={"by": "email"},
            content=pdf,
            headers={"content-type": "application/octet-stream"},
        ),
        422,
    )
    assert "addressed to THA" in str(body["detail"])


# --- property (Arts 31, 49-52) ------------------------------------------------------------------------------------


def test_the_lotus_ransom_is_frozen_confiscated_and_returned_to_the_hospital(client: httpx.Client) -> None:
    """The ransom, in bitcoin at an exchange in Thailand: Viet Nam's request for its confiscation points at it;
    Thailand freezes it, confiscates it and returns it to the hospital; the Art 57 figures sum it exactly."""
    case = new_case(client)
    request = new_request(client, case["id"], "confiscation")
    ransom = {
        "case": case["reference"],
        "kind": "virtual_asset",
        "description": "Ransom paid by the hospital",
        "location_state": "THA",
        "location": "An exchange in Bangkok",
        "estimated_value": "2.123456789012345678",
        "currency": "BTC",
        "address": "bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh",
        "network": "bitcoin",
    }
    asset = ok(client.post("/api/v1/assets", json=ransom), 201)
    assert (asset["status"], asset["estimated_value"], asset["case_id"]) == (
        "identified",
        "2.123456789012345678",  # 18 decimals survive the database on both backends
        case["id"],
    )
    today = datetime.now(UTC).date().isoformat()

    def measure(kind: str, amount: str, status: int = 201, **body: Any) -> Json:
        payload = {"kind": kind, "taken_on": today, "state": "THA", "amount": amount, **body}
        response = client.post(f"/api/v1/assets/{asset['id']}/measures", json=payload)
        assert response.status_code == status, response.text
        found: Json = response.json()
        return found

    frozen = measure("frozen", "2.123456789012345678", order_reference="BKK-FRZ-1", request=request["id"])
    assert (frozen["status"], frozen["still_frozen"], frozen["requests"]) == (
        "frozen",
        "2.123456789012345678",
        [request["id"]],
    )
    too_much = measure("released", "3", status=422)
    assert too_much["detail"][0]["field"] == "amount"
    assert "still frozen" in too_much["detail"][0]["message"]
    measure("confiscated", "2.123456789012345678", order_reference="BKK-CONF-7")
    returned = measure("returned", "2.123456789012345678", recipient="victims", recipient_name="The hospital")
    assert (returned["status"], returned["still_confiscated"]) == ("returned", "0.000000000000000000")
    assert [m["kind"] for m in returned["measures"]] == ["frozen", "confiscated", "returned"]
    assert ok(client.get(f"/api/v1/assets/{asset['id']}")) == returned
    listed = client.get("/api/v1/assets", params={"case": case["id"]}).json()
    assert [a["id"] for a in listed] == [asset["id"]]

    figures = ok(client.get("/api/v1/statistics"))["assets"]
    ours = [f for f in figures if f["currency"] == "BTC" and f["state"] == "THA"]
    by_measure = {f["measure"]: f for f in ours}
    assert {"frozen", "confiscated", "returned"} <= set(by_measure)
    assert by_measure["returned"]["recipient"] == "victims"
    assert by_measure["frozen"]["for_state"] == "VNM"  # taken on Viet Nam's request
    rows = list(csv.reader(io.StringIO(client.get("/api/v1/statistics.csv").text)))
    year = today[:4]
    returned_row = {r[4]: r for r in rows if r[0] == "assets" and r[1] == f"returned:THA:{year}:BTC::victims"}
    assert returned_row["amount"][5] == "2.123456789012345678"
    assert returned_row["measures"][3] == "Art 52"


def test_bad_property_names_its_fields_and_records_nothing(client: httpx.Client) -> None:
    case = new_case(client)
    body = {"case": case["id"], "kind": "account", "description": "", "location_state": "ZZZ", "currency": "EURO"}
    refused = client.post("/api/v1/assets", json=body)
    assert refused.status_code == 422, refused.text
    assert {d["field"] for d in refused.json()["detail"]} == {"description", "location_state", "currency"}
    listed = client.get("/api/v1/assets", params={"case": case["id"]})
    assert (listed.status_code, listed.json()) == (200, [])
    as_number = client.post("/api/v1/assets", json={**body, "estimated_value": 1.5})
    assert as_number.status_code == 422  # an amount is decimal text, never a float
    problem(client.get(f"/api/v1/assets/{uuid.uuid4()}"), 404)
    problem(client.get("/api/v1/assets", params={"case": "NO-SUCH-CASE"}), 404)
