"""The web UI's evidence pages end to end: a real ``hanoinet serve`` process, people signed in through the sign-in
form (the prosecutor's account made with the real ``hanoinet user add``), and what a court will ask afterwards
checked where it is kept: the item's custody and the node's audit log (once with ``hanoinet audit list`` on the
node itself). Items are ingested over the API to keep the file fast; the console script starts slowly.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Server, check_response, cli, ok, start_server, stop_server
from tests.e2e.signin import post_login
from tests.factories import reference

PASSWORD = "a long passphrase for the evidence room"  # noqa: S105 - a test account
ACQUIRED_AT = (datetime.now(UTC) - timedelta(days=1)).replace(microsecond=0).isoformat()
IMAGE = b"physical image of HN-DB-01\n" * 2000
RECORDS = "Thuê bao di động của nghi phạm\n".encode() * 50
HIDDEN = re.compile(r'<input type="hidden" name="([^"]*)" value="([^"]*)">')
Json = dict[str, Any]


@dataclass
class Room:
    """A running node with a case, two items and an account per role."""

    server: Server
    data_dir: Path
    api: httpx.Client
    """The node's API, as the administrator and central authority every e2e server is made with."""
    case: Json
    image: Json
    records: Json
    """Subscriber records whose handling conditions allow prosecutors only."""

    def custody(self, item_id: str) -> list[Json]:
        events: list[Json] = ok(self.api.get(f"/api/v1/evidence/{item_id}/custody"))
        return events

    def sign_in(self, username: str) -> httpx.Client:
        client = httpx.Client(base_url=self.server.base_url, timeout=30.0, event_hooks={"response": [check_response]})
        signed = post_login(client, username, PASSWORD, "/evidence")
        assert signed.status_code == 303, signed.text
        assert signed.headers["location"] == "/evidence"
        assert "hanoinet_session" in client.cookies
        return client


def ingest(api: httpx.Client, case: Json, exhibit: str, content: bytes, **conditions: Any) -> Json:
    """A resumable upload in one piece, completed into an item (the API's way in; the CLI's is tested elsewhere)."""
    upload_id = ok(api.post("/api/v1/uploads", json={"size": len(content)}), 201)["id"]
    headers = {"Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"}
    assert ok(api.patch(f"/api/v1/uploads/{upload_id}", content=content, headers=headers))["offset"] == len(content)
    described = {
        "case": case["reference"],
        "exhibit": exhibit,
        "source": "server HN-DB-01 of Bạch Mai hospital",
        "acquisition_method": "physical image",
        "acquisition_tool": "dc3dd 7.3.1",
        "acquired_by": "Officer Trần Văn An",
        "acquired_at": ACQUIRED_AT,
        **conditions,
    }
    item: Json = ok(api.post(f"/api/v1/uploads/{upload_id}/complete", json=described), 201)
    return item


@pytest.fixture(scope="module")
def room(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Room]:
    data_dir = tmp_path_factory.mktemp("web-evidence") / "data"
    server = start_server(data_dir, "sqlite")
    # The accounts are made on the host, where casework roles are granted at once (through the API they would wait
    # for a second administrator); the console script starts slowly, so it runs while the API does the rest.
    accounts = (("pros.nguyen", "prosecutor"), ("duty.tran", "duty_officer"), ("audit.le", "auditor"))
    with ThreadPoolExecutor(1) as pool:
        made = [
            pool.submit(cli, data_dir, "user", "add", name, "--role", role, "--password-stdin", stdin=PASSWORD + "\n")
            for name, role in accounts
        ]
        api = httpx.Client(
            base_url=server.base_url,
            timeout=30.0,
            headers={"Authorization": f"Bearer {server.token}"},
            event_hooks={"response": [check_response]},
        )
        body = {"reference": reference("LOTUS"), "offence": "system_interference", "summary": "Ransomware, Hà Nội"}
        case: Json = ok(api.post("/api/v1/cases", json=body), 201)
        image = ingest(api, case, "LOTUS/W-1", IMAGE, file_name="hn-db-01.img", extra_hashes=["sha1", "md5"])
        records = ingest(
            api, case, "LOTUS/W-2", RECORDS, file_name="thuê-bao.csv", allowed_roles=["prosecutor"], purpose="trial"
        )
        for done in made:
            done.result()
    yield Room(server, data_dir, api, case, image, records)
    api.close()
    stop_server(server)
    assert "Traceback" not in server.log_text(), server.log_text()


@pytest.fixture(scope="module")
def prosecutor(room: Room) -> Iterator[httpx.Client]:
    client = room.sign_in("pros.nguyen")
    yield client
    client.close()


@pytest.fixture(scope="module")
def duty(room: Room) -> Iterator[httpx.Client]:
    client = room.sign_in("duty.tran")
    yield client
    client.close()


@pytest.fixture(scope="module")
def auditor(room: Room) -> Iterator[httpx.Client]:
    client = room.sign_in("audit.le")
    yield client
    client.close()


def audit_log(auditor: httpx.Client, action: str, object_id: str) -> list[Json]:
    """The audit log's entries about one object, newest first, as the auditor reads them."""
    entries: list[Json] = ok(auditor.get("/api/v1/audit", params={"action": action, "object_id": object_id}))
    return entries


def hidden_fields(client: httpx.Client, page: str, action: str) -> dict[str, str]:
    """The hidden fields of the page's form that posts to ``action``: what a browser sends with it (the CSRF
    token among them)."""
    html = client.get(page).text
    form = re.search(rf'<form method="post" action="{re.escape(action)}".*?</form>', html, re.DOTALL)
    assert form, f"{page} has no form for {action}"
    return dict(HIDDEN.findall(form.group(0)))


def download(client: httpx.Client, item: Json, reason: str, *, token: str | None = "") -> httpx.Response:
    """Submit the download form: with the page's CSRF token, or ``token`` (``None``: none at all)."""
    action = f"/evidence/{item['id']}/download"
    data = {"reason": reason}
    if token is not None:
        data["csrf_token"] = token or hidden_fields(client, f"/evidence/{item['id']}", action)["csrf_token"]
    return client.post(action, data=data)


def test_list_and_item_pages_show_records_digests_and_custody(room: Room, prosecutor: httpx.Client) -> None:
    listed = prosecutor.get("/evidence")
    assert listed.status_code == 200
    for item in (room.image, room.records):
        assert f'href="/evidence/{item["id"]}"' in listed.text
        assert item["sha256"] in listed.text
    assert room.case["reference"] in listed.text
    assert "Export as CASE/UCO (JSON-LD)" not in listed.text  # only for one case

    by_case = prosecutor.get("/evidence", params={"case": room.case["reference"]})
    assert f'href="/cases/{room.case["id"]}/evidence.jsonld"' in by_case.text
    assert "Export as CASE/UCO (JSON-LD)" in by_case.text
    missing = prosecutor.get("/evidence", params={"case": "NO-SUCH-CASE"})
    assert missing.status_code == 404
    assert "no case &#39;NO-SUCH-CASE&#39;" in missing.text

    page = prosecutor.get(f"/evidence/{room.image['id']}")
    assert page.status_code == 200
    for name in ("sha256", "sha1", "md5"):
        assert f'<code id="digest-{name}">{room.image["hashes"][name]}</code>' in page.text
    assert f'href="/cases/{room.case["id"]}"' in page.text
    assert '<ol class="timeline">' in page.text
    assert "acquired by Officer Trần Văn An from server HN-DB-01 of Bạch Mai hospital" in page.text
    assert "dc3dd 7.3.1" in page.text
    assert "Reason for opening the content" in page.text
    assert ">Download</button>" in page.text
    assert " style=" not in page.text  # the strict CSP would drop it
    assert "<script>" not in page.text

    conditions = prosecutor.get(f"/evidence/{room.records['id']}").text
    assert "<strong>prosecutor</strong>" in conditions
    assert "trial" in conditions
    assert "Not allowed" in conditions
    assert 'id="not-permitted"' not in conditions


def test_a_prosecutor_downloads_with_a_reason_and_it_is_recorded(
    room: Room, prosecutor: httpx.Client, auditor: httpx.Client
) -> None:
    reason = "prepare the indictment, file 2026/HN/114"
    got = download(prosecutor, room.records, reason)
    assert got.status_code == 200, got.text
    assert got.content == RECORDS
    assert hashlib.sha256(got.content).hexdigest() == room.records["sha256"]
    assert got.headers["content-disposition"] == (
        "attachment; filename=\"thue-bao.csv\"; filename*=UTF-8''thu%C3%AA-bao.csv"
    )

    last = room.custody(room.records["id"])[-1]
    assert (last["action"], last["actor"], last["reason"]) == ("download", "pros.nguyen", reason)
    reloaded = prosecutor.get(f"/evidence/{room.records['id']}")
    assert "Content downloaded" in reloaded.text
    assert reason in reloaded.text
    entries = audit_log(auditor, "evidence:download", room.records["id"])
    assert [(e["actor"], e["outcome"], e["channel"]) for e in entries][:1] == [("pros.nguyen", "ok", "web")]


def test_without_a_reason_nothing_is_opened(room: Room, prosecutor: httpx.Client) -> None:
    before = room.custody(room.image["id"])
    got = download(prosecutor, room.image, "   ")
    assert got.status_code == 422
    assert "text/html" in got.headers["content-type"]
    assert "Reason for opening the content" in got.text
    assert 'aria-invalid="true"' in got.text
    assert "say why you need this item" in got.text
    assert IMAGE not in got.content
    after = room.custody(room.image["id"])
    assert [e for e in after if e["action"] == "download"] == [e for e in before if e["action"] == "download"] == []


def test_handling_conditions_refuse_a_duty_officer(room: Room, duty: httpx.Client) -> None:
    page = duty.get(f"/evidence/{room.records['id']}")
    assert page.status_code == 200
    assert 'id="not-permitted"' in page.text  # told before trying
    refused = download(duty, room.records, "night shift check")
    assert refused.status_code == 403
    assert "text/html" in refused.headers["content-type"]
    assert "duty.tran may not download item" in refused.text
    assert RECORDS not in refused.content

    last = room.custody(room.records["id"])[-1]
    assert (last["action"], last["actor"], last["reason"]) == ("access_refused", "duty.tran", "night shift check")
    # The node's own log, read on the node as a court's expert would: the refusal is there.
    logged = json.loads(cli(room.data_dir, "audit", "list", "--action", "evidence:download", "--json"))
    mine = [e for e in logged if e["object_id"] == room.records["id"] and e["actor"] == "duty.tran"]
    assert [(e["outcome"], e["channel"]) for e in mine] == [("refused", "web")]
    assert "may not download" in mine[0]["details"]["reason"]


def test_an_auditor_sees_records_but_never_content(room: Room, auditor: httpx.Client) -> None:
    page = auditor.get(f"/evidence/{room.image['id']}")
    assert page.status_code == 200
    assert room.image["sha256"] in page.text
    assert ">Download</button>" not in page.text
    by_case = auditor.get("/evidence", params={"case": room.case["id"]})
    assert "Export as CASE/UCO (JSON-LD)" not in by_case.text

    before = room.custody(room.image["id"])
    # No download form for them: the session's token taken from the verify form, as a forged form would.
    token = hidden_fields(auditor, f"/evidence/{room.image['id']}", f"/evidence/{room.image['id']}/verify")
    refused = download(auditor, room.image, "curiosity", token=token["csrf_token"])
    assert refused.status_code == 403
    assert IMAGE not in refused.content
    assert auditor.get(f"/cases/{room.case['id']}/evidence.jsonld").status_code == 403
    assert room.custody(room.image["id"]) == before
    entries = audit_log(auditor, "evidence:download", room.image["id"])
    assert ("audit.le", "refused") in [(e["actor"], e["outcome"]) for e in entries]


def test_a_form_without_the_sessions_csrf_token_is_refused(room: Room, prosecutor: httpx.Client) -> None:
    before = room.custody(room.image["id"])
    for token in (None, "forged"):
        refused = download(prosecutor, room.image, "looks legitimate", token=token)
        assert refused.status_code == 403
        assert "this form is out of date" in refused.text
        assert IMAGE not in refused.content
    assert room.custody(room.image["id"]) == before


def test_signed_out_people_are_sent_to_sign_in(room: Room) -> None:
    with httpx.Client(base_url=room.server.base_url, event_hooks={"response": [check_response]}) as anonymous:
        page = anonymous.get(f"/evidence/{room.image['id']}")
        assert page.status_code == 303
        assert page.headers["location"].startswith("/login?next=")
        assert anonymous.post(f"/evidence/{room.image['id']}/download", data={"reason": "x"}).status_code == 303


def test_verify_reports_an_intact_item(room: Room, prosecutor: httpx.Client) -> None:
    action = f"/evidence/{room.image['id']}/verify"
    checked = prosecutor.post(action, data=hidden_fields(prosecutor, f"/evidence/{room.image['id']}", action))
    assert checked.status_code == 200
    assert 'role="status" id="verify-result"' in checked.text
    assert "Intact." in checked.text
    assert room.image["sha256"] in checked.text
    last = room.custody(room.image["id"])[-1]
    assert (last["action"], last["actor"], last["details"]["ok"]) == ("verify", "pros.nguyen", True)
    assert prosecutor.get("/evidence/no-such-item").status_code == 404


def test_case_uco_export_is_a_file_with_the_items_digests(
    room: Room, prosecutor: httpx.Client, auditor: httpx.Client
) -> None:
    got = prosecutor.get(f"/cases/{room.case['id']}/evidence.jsonld")
    assert got.status_code == 200, got.text
    assert got.headers["content-type"].startswith("application/ld+json")
    assert got.headers["content-disposition"].startswith(f'attachment; filename="{room.case["reference"]}-evidence')
    assert "@context" in got.json()
    assert room.image["sha256"] in got.text
    assert room.records["sha256"] in got.text
    last = room.custody(room.image["id"])[-1]
    assert (last["action"], last["actor"], last["details"]["format"]) == ("export", "pros.nguyen", "case-uco-jsonld")
    entries = audit_log(auditor, "evidence:export", room.case["id"])
    assert [(e["actor"], e["outcome"]) for e in entries][:1] == [("pros.nguyen", "ok")]
