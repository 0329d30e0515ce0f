"""The audit log and accounts over the API end to end: a real ``hanoinet serve`` process, an auditor's API token
made with the real console script, the administrator's token of the test server — and the audit log's chain checked
after someone edits the SQLite file behind the node's back.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from hanoinet.audit.service import CSV_FIELDS
from tests.e2e.conftest import HANOINET, Server, check_response, clean_env, start_server, stop_server
from tests.e2e.signin import post_login

PASSWORD = "correct horse battery staple"  # noqa: S105 - a test account's
ENTRY_FIELDS = {
    "seq", "at", "actor", "roles", "channel", "action", "subject", "object_id", "outcome", "details", "remote",
    "prev_hash", "hash",
}  # fmt: skip
USER_FIELDS = {
    "username", "display_name", "roles", "created_at", "last_login_at", "failed_logins", "locked_until", "disabled",
    "disabled_at", "pending_grant",
}  # fmt: skip
Json = dict[str, Any]


@dataclass
class Api:
    """A running node, with an HTTP client per token: its administrator's, a second administrator's (who approves
    the first one's grants of casework roles) and an auditor's."""

    server: Server
    data_dir: Path
    admin: httpx.Client
    auditor: httpx.Client
    approver: httpx.Client

    def approve(self, user: Json) -> Json:
        """Approve the grant waiting in ``user`` (as the API returned it) with the second administrator's token."""
        grant = user["pending_grant"]
        assert grant is not None, user
        approved = self.approver.post(f"/api/v1/grants/{grant['id']}/approve")
        assert approved.status_code == 200, approved.text
        body: Json = approved.json()
        return body

    def audit(self, **params: Any) -> list[Json]:
        listed = self.auditor.get("/api/v1/audit", params=params)
        assert listed.status_code == 200, listed.text
        entries: list[Json] = listed.json()
        return entries

    def signs_in(self, username: str, password: str = PASSWORD) -> bool:
        with httpx.Client(base_url=self.server.base_url) as browser:
            signed = post_login(browser, username, password, "/")
        return signed.status_code == 303


def client(server: Server, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=server.base_url,
        timeout=30.0,
        headers={"Authorization": f"Bearer {token}"},
        event_hooks={"response": [check_response]},
    )


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    data_dir = tmp_path_factory.mktemp("api-admin") / "data"
    server = start_server(data_dir, "sqlite")  # with an administrator's (and central authority's) token
    made, second = (
        subprocess.run(
            [HANOINET, "token", "add", name, "--role", role],
            env=clean_env(data_dir),
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        for name, role in (("audit-tool", "auditor"), ("second-admin", "administrator"))
    )
    with (
        client(server, server.token) as admin,
        client(server, made.stdout.strip()) as auditor,
        client(server, second.stdout.strip()) as approver,
    ):
        yield Api(server, data_dir, admin, auditor, approver)
    stop_server(server)
    assert "Traceback" not in server.log_text(), server.log_text()


def problem(response: httpx.Response, status: int) -> Json:
    assert response.status_code == status, response.text
    body: Json = response.json()
    assert set(body) == {"title", "detail"}
    return body


def fields(body: Json) -> list[str]:
    return [d["field"] for d in body["detail"]]


def new_user(api: Api, username: str, *roles: str, **extra: Any) -> httpx.Response:
    body = {
        "username": username,
        "display_name": f"{username.title()} Trần",
        "roles": list(roles),
        "password": PASSWORD,
    }
    return api.admin.post("/api/v1/users", json={**body, **extra})


# --- accounts


def test_an_administrator_creates_an_account_that_can_sign_in(api: Api) -> None:
    made = new_user(api, "Hoa.Pham", "investigator", "prosecutor")
    assert made.status_code == 201, made.text
    user = made.json()
    assert set(user) == USER_FIELDS
    assert user["username"] == "hoa.pham"
    assert user["roles"] == []  # casework roles wait for a second administrator
    assert user["pending_grant"]["roles"] == ["investigator", "prosecutor"]
    assert user["pending_grant"]["requested_by"].startswith("tests-")
    assert user["disabled"] is False
    assert user["locked_until"] is None
    assert api.approve(user)["status"] == "approved"
    assert api.admin.get("/api/v1/users/hoa.pham").json()["roles"] == ["investigator", "prosecutor"]
    assert api.signs_in("hoa.pham")
    listed = api.admin.get("/api/v1/users")
    assert listed.status_code == 200
    assert "hoa.pham" in [u["username"] for u in listed.json()]
    assert all(set(u) == USER_FIELDS for u in listed.json())
    assert "argon2" not in listed.text
    assert "password" not in listed.text
    one = api.admin.get("/api/v1/users/HOA.PHAM")
    assert one.status_code == 200
    assert one.json()["display_name"] == "Hoa.Pham Trần"
    assert one.json()["last_login_at"] is not None


def test_invalid_accounts_are_refused_with_their_fields(api: Api) -> None:
    weak = problem(new_user(api, "weak", "auditor", password="short"), 422)  # noqa: S106 - refused
    assert fields(weak) == ["password"]
    assert "at least 12 characters" in weak["detail"][0]["message"]
    assert fields(problem(new_user(api, "norole"), 422)) == ["roles"]
    assert fields(problem(new_user(api, "Not A Name!", "auditor"), 422)) == ["username"]
    assert fields(problem(new_user(api, "bad.role", "root"), 422)) == ["roles.0"]
    assert fields(problem(new_user(api, "typo", "auditor", admin=True), 422)) == ["admin"]
    assert "already exists" in problem(new_user(api, "hoa.pham", "auditor"), 409)["detail"]
    assert problem(api.admin.get("/api/v1/users/nobody"), 404)["detail"] == "no account 'nobody'"
    usernames = [u["username"] for u in api.admin.get("/api/v1/users").json()]
    assert not {"weak", "norole", "bad.role", "typo"} & set(usernames)


def test_roles_disable_enable_and_unlock(api: Api) -> None:
    made = new_user(api, "minh", "duty_officer")
    assert made.status_code == 201
    api.approve(made.json())
    asked = api.admin.put("/api/v1/users/minh/roles", json={"roles": ["auditor", "investigator"]})
    assert asked.status_code == 202, asked.text  # waiting for the second administrator
    assert asked.json()["roles"] == ["duty_officer"]
    api.approve(asked.json())
    changed = api.admin.put("/api/v1/users/minh/roles", json={"roles": ["investigator"]})  # taking one away
    assert changed.status_code == 200, changed.text
    assert changed.json()["roles"] == ["investigator"]
    assert changed.json()["pending_grant"] is None
    assert fields(problem(api.admin.put("/api/v1/users/minh/roles", json={"roles": []}), 422)) == ["roles"]
    problem(api.admin.put("/api/v1/users/minh/roles", json={"role": ["auditor"]}), 422)

    disabled = api.admin.post("/api/v1/users/minh/disable")
    assert disabled.status_code == 200
    assert disabled.json()["disabled"] is True
    assert not api.signs_in("minh")
    enabled = api.admin.post("/api/v1/users/minh/enable")
    assert enabled.json()["disabled"] is False
    assert api.signs_in("minh")

    for _ in range(5):
        assert not api.signs_in("minh", "not the password at all")
    failed = api.admin.get("/api/v1/users/minh").json()
    assert failed["failed_logins"] == 5
    assert failed["locked_until"] is None  # failures lock no account (issue 11) …
    assert not api.signs_in("minh")  # … they make this place wait (429) before its next attempt is checked
    unlocked = api.admin.post("/api/v1/users/minh/unlock")
    assert unlocked.json()["locked_until"] is None
    assert unlocked.json()["failed_logins"] == 0
    assert api.signs_in("minh")
    problem(api.admin.post("/api/v1/users/nobody/unlock"), 404)


def test_only_an_administrator_manages_accounts_and_refusals_are_logged(api: Api) -> None:
    refused = problem(api.auditor.get("/api/v1/users"), 403)
    assert "users:manage" in refused["detail"]
    problem(api.auditor.post("/api/v1/users", json={"username": "sneaky", "roles": ["administrator"],
                                                     "password": PASSWORD}), 403)  # fmt: skip
    problem(api.auditor.post("/api/v1/users/hoa.pham/disable"), 403)
    assert api.signs_in("hoa.pham")
    with httpx.Client(base_url=api.server.base_url) as anonymous:
        assert anonymous.get("/api/v1/users").status_code == 401
    entries = api.audit(outcome="refused", actor="audit-tool")
    assert entries
    assert {e["outcome"] for e in entries} == {"refused"}
    listed = next(e for e in entries if e["action"] == "user:list")
    assert listed["channel"] == "api"
    assert listed["details"]["missing"] == "users:manage"
    assert any(e["object_id"] == "hoa.pham" for e in entries)  # the account the disable was aimed at


def test_each_account_change_is_logged_once_by_the_service(api: Api) -> None:
    admin = api.admin.get("/api/v1/users").json()  # the token's name is the actor
    assert admin
    for action in ("user:add", "user:roles", "user:disable", "user:enable", "user:unlock"):
        entries = api.audit(action=action, object_id="minh")
        assert len(entries) == 1, (action, entries)
        assert entries[0]["channel"] == "api"
        assert entries[0]["actor"].startswith("tests-")
        assert entries[0]["outcome"] == "ok"


# --- the audit log


def test_the_log_newest_first_with_every_field(api: Api) -> None:
    entries = api.audit()
    assert entries
    assert all(set(e) == ENTRY_FIELDS for e in entries)
    seqs = [e["seq"] for e in entries]
    assert seqs == sorted(seqs, reverse=True)
    assert all(re.fullmatch(r"[0-9a-f]{64}", e["hash"]) for e in entries)
    logins = api.audit(action="session:login", outcome="failed")
    assert logins
    assert all(e["action"] == "session:login" and e["outcome"] == "failed" for e in logins)
    assert any(e["details"].get("reason") == "wrong password" for e in logins)
    first_two = api.audit(action="session:login", limit=2)  # reading the log adds views, not sign-ins
    assert len(first_two) == 2
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    after = api.audit(action="session:login", limit=2, offset=2, until=tomorrow)
    assert first_two[1]["seq"] > after[0]["seq"]
    assert api.audit(channel="cli", action="command:token-add")  # the tokens, made at the command line
    assert api.audit(since=(datetime.now(UTC) + timedelta(days=1)).isoformat()) == []
    assert api.audit(action="audit:view")  # reading the log is in the log


def test_invalid_filters_are_422_naming_the_field(api: Api) -> None:
    bad = problem(api.auditor.get("/api/v1/audit", params={"outcome": "maybe", "since": "yesterday"}), 422)
    assert sorted(fields(bad)) == ["outcome", "since"]
    assert fields(problem(api.auditor.get("/api/v1/audit", params={"channel": "fax"}), 422)) == ["channel"]
    assert fields(problem(api.auditor.get("/api/v1/audit", params={"limit": 0}), 422)) == ["query.limit"]
    assert fields(problem(api.auditor.get("/api/v1/audit", params={"limit": 501}), 422)) == ["query.limit"]
    backwards = {"since": "2025-02-01", "until": "2025-01-01T00:00:00Z"}
    assert fields(problem(api.auditor.get("/api/v1/audit", params=backwards), 422)) == ["until"]
    assert fields(problem(api.auditor.get("/api/v1/audit.csv", params={"outcome": "x"}), 422)) == ["outcome"]


def test_only_the_auditor_reads_the_log(api: Api) -> None:
    assert "audit:read" in problem(api.admin.get("/api/v1/audit"), 403)["detail"]
    problem(api.admin.get("/api/v1/audit.csv"), 403)
    problem(api.admin.post("/api/v1/audit/verify"), 403)
    with httpx.Client(base_url=api.server.base_url) as anonymous:
        assert anonymous.get("/api/v1/audit").status_code == 401
    refused = {e["actor"].split("-")[0] for e in api.audit(outcome="refused", action="audit:view")}
    assert refused == {"tests", "anonymous"}  # even a call without a token is recorded


def test_the_csv_export(api: Api) -> None:
    exported = api.auditor.get("/api/v1/audit.csv", params={"subject": "user"})
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    assert exported.headers["content-disposition"].startswith('attachment; filename="hanoinet-audit-')
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert tuple(rows[0]) == CSV_FIELDS
    assert {r["subject"] for r in rows} == {"user"}
    seqs = [int(r["seq"]) for r in rows]
    assert seqs == sorted(seqs)
    listed = {e["seq"]: e for e in api.audit(subject="user", limit=500)}
    for row in rows:
        assert row["hash"] == listed[int(row["seq"])]["hash"]
        assert json.loads(row["details"]) == listed[int(row["seq"])]["details"]
    assert api.audit(action="audit:export")


def test_verify_says_the_chain_is_intact(api: Api) -> None:
    verified = api.auditor.post("/api/v1/audit/verify")
    assert verified.status_code == 200
    report = verified.json()
    assert report["ok"] is True
    assert report["problems"] == []
    assert report["entries"] == api.audit(limit=1)[0]["seq"] - 1  # then the verification itself was recorded
    assert api.audit(action="audit:verify", limit=1)[0]["outcome"] == "ok"


# --- tampering: last, and undone, so that it leaves the node as it found it


def test_an_entry_changed_in_the_database_is_found(api: Api) -> None:
    database = api.data_dir / "hanoinet.db"
    target = api.audit(action="user:add", object_id="hoa.pham")[0]["seq"]
    with sqlite3.connect(database, timeout=30) as db:
        (original,) = db.execute("SELECT details FROM audit_log WHERE seq = ?", (target,)).fetchone()
        forged = json.dumps({**json.loads(original), "roles": ["administrator"]})
        db.execute("UPDATE audit_log SET details = ? WHERE seq = ?", (forged, target))
    db.close()
    try:
        report = api.auditor.post("/api/v1/audit/verify").json()
        assert report["ok"] is False
        assert report["problems"] == [f"audit entry {target} was altered: its contents do not match its hash"]
        cli = subprocess.run(
            [HANOINET, "audit", "verify"], env=clean_env(api.data_dir), capture_output=True, text=True, timeout=60,
            check=False,
        )  # fmt: skip
        assert cli.returncode != 0
        assert f"audit entry {target} was altered" in cli.stderr
        assert api.audit(action="audit:verify", limit=1)[0]["outcome"] == "ok"  # the check ran; it found a problem
    finally:
        with sqlite3.connect(database, timeout=30) as db:
            db.execute("UPDATE audit_log SET details = ? WHERE seq = ?", (original, target))
        db.close()
    assert api.auditor.post("/api/v1/audit/verify").json()["ok"] is True
