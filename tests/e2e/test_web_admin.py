"""The web UI's audit log, account administration and directory pages end to end: a real ``hanoinet serve``
process, the first administrator made with the real console script, people signed in through the sign-in form and
every form posted with the CSRF token of that form — and what the audit log says checked on its own page, in its CSV
export and, after someone edits the database behind the node's back, by verifying its chain.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path
from typing import Any

import httpx
import pytest

from hanoinet.accounts.service import add_user
from hanoinet.app.api import create_app
from hanoinet.app.bootstrap import bootstrap
from hanoinet.audit.service import CSV_FIELDS
from hanoinet.platform.events import Actor, Channel
from hanoinet.platform.permissions import Role
from hanoinet.platform.settings import Settings
from tests.e2e.conftest import (
    HANOINET,
    Server,
    check_response,
    clean_env,
    form_token,
    run_cli,
    start_server,
    stop_server,
)
from tests.e2e.signin import post_login, post_login_async

PASSWORD = "correct horse battery staple"  # noqa: S105 - a test account's
NEW_PASSWORD = "purple elephants dance slowly"  # noqa: S105 - a test account's
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
OUTCOME_CELL = re.compile(r'<td class="outcome-([a-z]+)">([^<]*)</td>')
SEQ_CELL = re.compile(r'<td class="num">(\d+)</td>')
FIELD_ERROR = re.compile(r'<p class="field-error" id="([a-z_]+)-error">([^<]*)</p>')
Json = dict[str, Any]


def field_errors(html: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for name, message in FIELD_ERROR.findall(html):
        found.setdefault(name, []).append(unescape(message))
    return found


def outcomes(html: str) -> list[str]:
    cells = OUTCOME_CELL.findall(html)
    for value, word in cells:
        assert value == word.strip()
    return [value for value, _ in cells]


def no_inline_code(html: str) -> None:
    """The strict CSP forbids inline scripts and styles: a page that used them would break in the browser."""
    assert "style=" not in html
    assert "<script>" not in html
    assert " onclick=" not in html


@dataclass
class Node:
    """A running node, its data directory and its SQLite file."""

    server: Server
    data_dir: Path

    @property
    def database(self) -> Path:
        return self.data_dir / "hanoinet.db"

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.server.base_url, timeout=30.0, event_hooks={"response": [check_response]})

    def sign_in(self, username: str, password: str = PASSWORD) -> httpx.Client:
        client = self.client()
        signed = post_login(client, username, password, "/")
        assert signed.status_code == 303, signed.text
        assert "hanoinet_session" in client.cookies
        return client

    def sign_in_fails(self, username: str, password: str = PASSWORD) -> None:
        with self.client() as client:
            refused = post_login(client, username, password, "/")
            assert refused.status_code == 401, refused.text
            assert "hanoinet_session" not in client.cookies


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    """A node whose first administrator was made at the command line, with an auditor and a duty officer that the
    administrator's API token added."""
    data_dir = tmp_path_factory.mktemp("web-admin") / "data"
    data_dir.mkdir()
    made = run_cli(data_dir, "user", "add", "adam", "--role", "administrator", "--name", "Adam Lê", "--password-stdin",
               stdin=PASSWORD + "\n")  # fmt: skip
    assert made.code == 0, made
    made = run_cli(data_dir, "user", "add", "bea", "--role", "administrator", "--name", "Bea Trần", "--password-stdin",
               stdin=PASSWORD + "\n")  # fmt: skip
    assert made.code == 0, made
    server = start_server(data_dir, "sqlite")
    with httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {server.token}"}) as api:
        for username, role in (("audrey", "auditor"), ("dora", "duty_officer")):
            body = {"username": username, "display_name": username.title(), "roles": [role], "password": PASSWORD}
            assert api.post("/api/v1/users", json=body).status_code == 201
    # Their roles read cases: they wait for a second administrator, here the node's command line on the host.
    for grant in json.loads(run_cli(data_dir, "user", "grants", "--json").out):
        assert run_cli(data_dir, "user", "approve", grant["id"]).code == 0
    yield Node(server, data_dir)
    stop_server(server)
    assert "Traceback" not in server.log_text(), server.log_text()


@pytest.fixture(scope="module")
def admin(node: Node) -> Iterator[httpx.Client]:
    with closing(node.sign_in("adam")) as client:
        yield client


@pytest.fixture(scope="module")
def approver(node: Node) -> Iterator[httpx.Client]:
    """The second administrator, who approves the first one's grants of casework roles."""
    with closing(node.sign_in("bea")) as client:
        yield client


def approve(approver: httpx.Client, username: str) -> None:
    """Approve the account's pending grant with the button on its page."""
    page = approver.get(f"/users/{username}").text
    found = re.search(r'action="(/grants/[^"]+/approve)"', page)
    assert found is not None, f"no grant of {username} to approve"
    done = approver.post(found.group(1), data={"csrf_token": form_token(page, found.group(1))})
    assert done.status_code == 303, done.text
    assert done.headers["location"] == f"/users/{username}?done=granted"


@pytest.fixture(scope="module")
def auditor(node: Node) -> Iterator[httpx.Client]:
    with closing(node.sign_in("audrey")) as client:
        yield client


@pytest.fixture(scope="module")
def duty(node: Node) -> Iterator[httpx.Client]:
    with closing(node.sign_in("dora")) as client:
        yield client


@pytest.fixture(scope="module")
def refusals(duty: httpx.Client, auditor: httpx.Client) -> None:
    """A duty officer and an auditor try the administrator's pages; both are refused."""
    assert duty.get("/users").status_code == 403
    assert duty.get("/users/adam").status_code == 403
    token = form_token(duty.get("/account").text, "/logout")
    assert duty.post("/users/adam/disable", data={"csrf_token": token}).status_code == 403
    assert auditor.get("/users").status_code == 403


def add_account(admin: httpx.Client, username: str, *roles: str, password: str = PASSWORD) -> httpx.Response:
    page = admin.get("/users")
    assert page.status_code == 200
    data = {
        "csrf_token": form_token(page.text, "/users"),
        "username": username,
        "display_name": f"{username.title()} Nguyễn",
        "roles": list(roles),
        "password": password,
        "repeat": password,
    }
    return admin.post("/users", data=data)


def post_account_form(admin: httpx.Client, username: str, what: str, **fields: Any) -> httpx.Response:
    """Post one of the forms of an account's page, with that form's token."""
    action = f"/users/{username}/{what}"
    page = admin.get(f"/users/{username}")
    assert page.status_code == 200, page.text
    return admin.post(action, data={"csrf_token": form_token(page.text, action), **fields})


# --- the audit log


def test_the_auditor_reads_the_log_with_the_sign_ins(auditor: httpx.Client) -> None:
    page = auditor.get("/audit")
    assert page.status_code == 200
    html = page.text
    assert '<table class="audit">' in html
    headings = re.findall(r'<th scope="col">([^<]+)</th>', html)
    assert headings == [
        "Seq", "Time (UTC)", "Actor", "Roles", "Channel", "Action", "Subject", "Object", "Outcome", "Details",
    ]  # fmt: skip
    assert "<code>session:login</code>" in html
    assert "audrey" in html
    assert "<code>user:add</code>" in html  # the accounts the administrator's token made
    seqs = [int(s) for s in SEQ_CELL.findall(html)]
    assert seqs == sorted(seqs, reverse=True), "newest first"
    assert set(outcomes(html)) <= {"ok", "refused", "failed"}
    assert 'aria-current="page"' in html
    no_inline_code(html)


def test_a_refusal_is_in_the_log_and_the_outcome_filter_shows_only_refusals(
    auditor: httpx.Client, refusals: None
) -> None:
    page = auditor.get("/audit", params={"outcome": "refused"})
    assert page.status_code == 200
    found = outcomes(page.text)
    assert found
    assert set(found) == {"refused"}
    assert '<td class="outcome-refused">refused</td>' in page.text
    assert "<code>user:list</code>" in page.text
    assert "missing=users:manage" in page.text  # the details column: which permission was missing
    assert '<option value="refused" selected>' in page.text
    by_dora = auditor.get("/audit", params={"outcome": "refused", "actor": "dora"}).text
    assert "<code>user:view</code>" in by_dora
    assert "<code>adam</code>" in by_dora  # the account she tried to open
    assert "audrey" not in re.sub(r"<header.*?</header>", "", by_dora, flags=re.DOTALL)


def test_filters_narrow_by_actor_action_and_dates(auditor: httpx.Client) -> None:
    logins = auditor.get("/audit", params={"action": "session:login", "actor": "audrey"}).text
    actions = re.findall(r"<td class=\"action\"><code>([^<]+)</code></td>", logins)
    assert actions
    assert set(actions) == {"session:login"}
    today = datetime.now(UTC).date()
    within = auditor.get("/audit", params={"since": today.isoformat(), "until": today.isoformat()})
    assert within.status_code == 200
    assert SEQ_CELL.findall(within.text)
    tomorrow = (today + timedelta(days=1)).isoformat()
    later = auditor.get("/audit", params={"since": tomorrow})
    assert later.status_code == 200
    assert not SEQ_CELL.findall(later.text)
    assert "No entry matches these filters." in later.text


def test_invalid_filters_get_a_422_page_naming_each_field(auditor: httpx.Client) -> None:
    page = auditor.get("/audit", params={"since": "31/12/2024", "outcome": "maybe", "actor": "dora"})
    assert page.status_code == 422
    errors = field_errors(page.text)
    assert set(errors) == {"since", "outcome"}
    assert "must be a date (YYYY-MM-DD)" in errors["since"][0]
    assert "ok, refused, failed" in errors["outcome"][0]
    assert 'role="alert"' in page.text
    assert 'value="dora"' in page.text  # what was typed stays in the form
    backwards = auditor.get("/audit", params={"since": "2025-02-01", "until": "2025-01-01"})
    assert backwards.status_code == 422
    assert field_errors(backwards.text) == {"until": ["must be after since"]}


def test_pages_of_fifty_newest_first(auditor: httpx.Client) -> None:
    for _ in range(51):  # every export is an entry; reading the pages adds views, not exports
        assert auditor.get("/audit/export.csv", params={"action": "none:none"}).status_code == 200
    first = auditor.get("/audit", params={"action": "audit:export"}).text
    assert len(SEQ_CELL.findall(first)) == 50
    assert 'href="/audit?action=audit%3Aexport&offset=50">Older</a>' in first
    assert "Newer</a>" not in first
    second = auditor.get("/audit", params={"action": "audit:export", "offset": "50"}).text
    assert 'href="/audit?action=audit%3Aexport&offset=0">Newer</a>' in second
    assert "Older</a>" not in second
    assert max(int(s) for s in SEQ_CELL.findall(second)) < min(int(s) for s in SEQ_CELL.findall(first))


def test_the_csv_export_has_the_filtered_entries_with_their_hashes(auditor: httpx.Client, refusals: None) -> None:
    exported = auditor.get("/audit/export.csv", params={"outcome": "refused"})
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    assert exported.headers["content-disposition"].startswith("attachment;")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert tuple(rows[0].keys()) == CSV_FIELDS
    assert {"prev_hash", "hash"} <= set(CSV_FIELDS)
    assert rows
    assert {r["outcome"] for r in rows} == {"refused"}
    assert [int(r["seq"]) for r in rows] == sorted(int(r["seq"]) for r in rows), "oldest first"
    assert all(re.fullmatch(r"[0-9a-f]{64}", r["hash"]) for r in rows)
    assert any(r["action"] == "user:list" and r["actor"] == "dora" for r in rows)
    assert json.loads(rows[0]["details"])["missing"] == "users:manage"
    listed = auditor.get("/audit", params={"action": "audit:export"}).text
    assert "<code>audit:export</code>" in listed  # exporting the log is recorded in it
    bad = auditor.get("/audit/export.csv", params={"until": "soon"})
    assert bad.status_code == 422
    assert "until" in bad.text


def test_verifying_the_chain_says_it_is_intact(auditor: httpx.Client) -> None:
    page = auditor.get("/audit").text
    assert "Verify the chain</button>" in page
    verified = auditor.post("/audit/verify", data={"csrf_token": form_token(page, "/audit/verify")})
    assert verified.status_code == 200
    status = re.search(r'<p class="flash ok" role="status">([^<]+)</p>', verified.text)
    assert status is not None, verified.text
    assert status.group(1).startswith("The audit log is intact: ")
    count = int(re.search(r"intact: (\d+) entries", status.group(1)).group(1))  # type: ignore[union-attr]
    assert count > 50
    assert 'role="alert"' not in verified.text
    no_inline_code(verified.text)
    forged = auditor.post("/audit/verify", data={"csrf_token": "not-the-session-token"})
    assert forged.status_code == 403
    assert "<code>audit:verify</code>" in auditor.get("/audit", params={"action": "audit:verify"}).text


def test_only_the_auditor_reads_the_log(duty: httpx.Client, admin: httpx.Client) -> None:
    assert duty.get("/audit").status_code == 403
    assert admin.get("/audit").status_code == 403
    assert admin.get("/audit/export.csv").status_code == 403
    with httpx.Client(base_url=str(duty.base_url)) as anonymous:
        sent = anonymous.get("/audit")
        assert sent.status_code == 303
        assert sent.headers["location"].startswith("/login?next=")


# --- accounts


def test_non_administrators_are_refused_the_accounts_pages(
    duty: httpx.Client, auditor: httpx.Client, refusals: None, node: Node
) -> None:
    refused = duty.get("/users")
    assert refused.status_code == 403
    assert "users:manage" in refused.text
    assert "<nav" in refused.text
    assert "/users" not in re.findall(r'<a href="([^"]+)"', duty.get("/account").text)  # not offered in the menu
    node.sign_in("adam").close()  # her forged disable did nothing


def test_the_accounts_table_lists_everyone_without_secrets(admin: httpx.Client) -> None:
    page = admin.get("/users")
    assert page.status_code == 200
    html = page.text
    assert '<th scope="row"><a href="/users/audrey">audrey</a></th>' in html
    assert "duty officer" in html
    headings = re.findall(r'<th scope="col">([^<]+)</th>', html)
    assert headings == ["User name", "Name", "Roles", "Last sign-in", "Locked until", "Disabled"]
    assert "argon2" not in html
    assert "<legend>Roles" in html  # the roles of a new account are checkboxes in a fieldset
    assert re.search(r'<input type="checkbox" id="role-auditor" name="roles" value="auditor"', html)
    assert '<label for="role-auditor">auditor</label>' in html
    no_inline_code(html)


def test_an_administrator_adds_an_account_that_can_then_sign_in(
    admin: httpx.Client, approver: httpx.Client, node: Node
) -> None:
    added = add_account(admin, "Ivan.Le", "investigator", "prosecutor")
    assert added.status_code == 303, added.text
    assert added.headers["location"] == "/users?done=grant"  # casework roles wait for a second administrator
    listed = admin.get(added.headers["location"]).text
    assert "The new roles wait for another administrator&#39;s approval" in listed
    assert '<a href="/users/ivan.le">ivan.le</a>' in listed
    assert "Ivan.Le Nguyễn" in listed
    assert 'action="/grants/' in listed
    assert "Another administrator approves this." in listed
    with closing(node.sign_in("ivan.le")) as ivan:
        assert ivan.get("/inbox").status_code == 403  # no role in effect yet
    approve(approver, "ivan.le")
    with closing(node.sign_in("ivan.le")) as ivan:
        assert ivan.get("/inbox").status_code == 200
    page = admin.get("/users/ivan.le").text
    assert "investigator, prosecutor" in page
    assert re.search(r'id="role-prosecutor" name="roles" value="prosecutor" checked', page)


def test_a_weak_password_is_refused_with_the_field_error(admin: httpx.Client) -> None:
    weak = add_account(admin, "weak.one", "auditor", password="short")  # noqa: S106 - a weak one, refused
    assert weak.status_code == 422
    errors = field_errors(weak.text)
    assert errors["password"] == ["must be at least 12 characters (a few words make a good one)"]
    assert 'aria-invalid="true"' in weak.text
    assert 'value="weak.one"' in weak.text  # the form keeps what was typed, never the password
    assert "short" not in re.findall(r'type="password" value="([^"]*)"', weak.text)
    assert "weak.one</a>" not in weak.text
    page = admin.get("/users")
    token = form_token(page.text, "/users")
    mismatch = admin.post(
        "/users",
        data={"csrf_token": token, "username": "weak.two", "roles": "auditor", "password": PASSWORD, "repeat": "x"},
    )
    assert mismatch.status_code == 422
    assert field_errors(mismatch.text) == {"repeat": ["does not match the password"]}
    no_roles = admin.post(
        "/users", data={"csrf_token": token, "username": "weak.three", "password": PASSWORD, "repeat": PASSWORD}
    )
    assert no_roles.status_code == 422
    assert "roles" in field_errors(no_roles.text)
    forged_role = admin.post(
        "/users",
        data={"csrf_token": token, "username": "weak.four", "roles": "root", "password": PASSWORD, "repeat": PASSWORD},
    )
    assert forged_role.status_code == 422
    assert "unknown role 'root'" in field_errors(forged_role.text)["roles"][0]
    taken = add_account(admin, "audrey", "auditor")
    assert taken.status_code == 409
    assert "already exists" in field_errors(taken.text)["username"][0]
    assert "weak." not in admin.get("/users").text


def test_changing_roles_ends_the_accounts_sessions(admin: httpx.Client, approver: httpx.Client, node: Node) -> None:
    assert add_account(admin, "mai", "investigator", "auditor").status_code == 303
    approve(approver, "mai")
    mai = node.sign_in("mai")
    assert mai.get("/inbox").status_code == 200
    changed = post_account_form(admin, "mai", "roles", roles=["auditor"])  # taking one away needs nobody else
    assert changed.status_code == 303
    assert changed.headers["location"] == "/users/mai?done=user"
    page = admin.get(changed.headers["location"]).text
    assert "The account is saved." in page
    assert "<dt>Roles</dt><dd>auditor</dd>" in page
    gone = mai.get("/inbox")
    assert gone.status_code == 303
    assert gone.headers["location"].startswith("/login")
    mai.close()
    with closing(node.sign_in("mai")) as again:
        assert again.get("/audit").status_code == 200
    none = post_account_form(admin, "mai", "roles")
    assert none.status_code == 422
    assert "roles" in field_errors(none.text)


def test_nobody_changes_their_own_roles_and_a_grant_waits_for_another_administrator(
    admin: httpx.Client, approver: httpx.Client, auditor: httpx.Client
) -> None:
    page = admin.get("/users/adam").text
    assert 'action="/users/adam/roles"' not in page
    assert "You cannot change your own roles: another administrator does." in page
    forced = admin.post("/users/adam/roles", data={"csrf_token": form_token(page, "/logout"), "roles": ["prosecutor"]})
    assert forced.status_code == 403
    assert "nobody changes their own roles" in unescape(forced.text)
    assert "<dd>administrator</dd>" in admin.get("/users/adam").text
    asked = post_account_form(admin, "audrey", "roles", roles=["auditor", "prosecutor"])
    assert asked.headers["location"] == "/users/audrey?done=grant"
    waiting = approver.get("/users").text
    assert "Waiting for approval" in waiting
    assert "<strong>prosecutor</strong>" in waiting
    rejected = re.search(r'action="(/grants/[^"]+/reject)"', waiting)
    assert rejected is not None
    done = approver.post(rejected.group(1), data={"csrf_token": form_token(waiting, rejected.group(1))})
    assert done.headers["location"] == "/users/audrey?done=rejected"
    assert "<dt>Roles</dt><dd>auditor</dd>" in approver.get("/users/audrey").text
    logged = auditor.get("/audit", params={"object_id": "audrey", "action": "user:grant-reject"}).text
    assert "bea" in logged
    assert "requested_by=adam" in logged


def test_a_disabled_account_cannot_sign_in_until_enabled(admin: httpx.Client, node: Node) -> None:
    assert add_account(admin, "pia", "duty_officer").status_code == 303
    pia = node.sign_in("pia")
    page = admin.get("/users/pia").text
    assert re.search(r'<form method="post" action="/users/pia/disable" data-confirm="[^"]+">', page)
    disabled = post_account_form(admin, "pia", "disable")
    assert disabled.status_code == 303
    assert pia.get("/account").status_code == 303  # her session ended at once
    pia.close()
    node.sign_in_fails("pia")
    listed = admin.get("/users").text
    assert "disabled since" in listed
    enabled = post_account_form(admin, "pia", "enable")
    assert enabled.status_code == 303
    node.sign_in("pia").close()


def test_an_administrator_cannot_disable_their_own_account(admin: httpx.Client) -> None:
    page = admin.get("/users/adam").text
    assert 'action="/users/adam/disable"' not in page
    assert "You cannot disable your own account." in page
    assert 'action="/users/adam/password"' not in page  # their own password is changed on their account page
    forced = admin.post("/users/adam/disable", data={"csrf_token": form_token(page, "/logout")})
    assert forced.status_code == 422
    assert "an administrator cannot disable their own account" in forced.text
    assert 'role="alert"' in forced.text


def test_unlock_after_five_failed_sign_ins(admin: httpx.Client, approver: httpx.Client, node: Node) -> None:
    assert add_account(admin, "lena", "investigator").status_code == 303
    approve(approver, "lena")
    for _ in range(5):
        node.sign_in_fails("lena", "not her password at all")
    with node.client() as same_place:  # this place now waits (1 s, 2 s …) before its next attempt is even checked
        for _ in range(6):  # a loaded machine may let a short wait run out between two attempts: the next is longer
            waited = post_login(same_place, "lena", "still not it", "/")
            if waited.status_code == 429:
                break
            assert waited.status_code == 401, waited.text
        assert waited.status_code == 429
        held = post_login(same_place, "lena", PASSWORD, "/")  # even the right password is not checked yet
        assert held.status_code == 429
        assert int(held.headers["retry-after"]) >= 1
        assert "hanoinet_session" not in same_place.cookies
    listed = admin.get("/users").text
    row = re.search(r'<a href="/users/lena">lena</a></th>(.*?)</tr>', listed, re.DOTALL)
    assert row is not None
    assert '<span class="badge due_soon">' not in row.group(1)  # the account itself is not locked
    page = admin.get("/users/lena").text
    assert re.search(r"<dt>Failed sign-ins in a row</dt><dd>[1-9]\d*</dd>", page)
    assert "<dt>Locked until</dt><dd>not locked</dd>" in page
    unlocked = post_account_form(admin, "lena", "unlock")
    assert unlocked.status_code == 303
    assert "<dt>Failed sign-ins in a row</dt><dd>0</dd>" in admin.get("/users/lena").text
    node.sign_in("lena").close()  # the delays are lifted: checked at once


def test_an_administrator_sets_a_new_password(admin: httpx.Client, node: Node) -> None:
    assert add_account(admin, "quan", "prosecutor").status_code == 303
    weak = post_account_form(admin, "quan", "password", password="quan123", repeat="quan123")  # noqa: S106 - refused
    assert weak.status_code == 422
    assert set(field_errors(weak.text)) == {"password"}
    mismatch = post_account_form(admin, "quan", "password", password=NEW_PASSWORD, repeat=PASSWORD)
    assert mismatch.status_code == 422
    assert field_errors(mismatch.text) == {"repeat": ["does not match the password"]}
    done = post_account_form(admin, "quan", "password", password=NEW_PASSWORD, repeat=NEW_PASSWORD)
    assert done.status_code == 303
    node.sign_in_fails("quan")
    node.sign_in("quan", NEW_PASSWORD).close()


def test_account_changes_are_each_in_the_log_once(auditor: httpx.Client) -> None:
    for action, target in (
        ("user:add", "mai"),
        ("user:roles", "mai"),
        ("user:disable", "pia"),
        ("user:unlock", "lena"),
    ):
        page = auditor.get("/audit", params={"action": action, "object_id": target}).text
        assert len(SEQ_CELL.findall(page)) == 1, (action, target)
        assert "adam" in page
        assert "<td>web</td>" in page


def test_an_unknown_account_is_a_404_page(admin: httpx.Client) -> None:
    missing = admin.get("/users/nobody")
    assert missing.status_code == 404
    assert "no account 'nobody'" in unescape(missing.text)


# --- the directory


def test_the_directory_shows_this_node_and_its_peers_read_only(duty: httpx.Client, node: Node) -> None:
    with httpx.Client(base_url=node.server.base_url, headers={"Authorization": f"Bearer {node.server.token}"}) as api:
        own = api.get("/api/v1/node").json()["entry"]
    page = duty.get("/directory")
    assert page.status_code == 200
    html = page.text
    assert f"<code>{own['node_id']}</code>" in html
    assert "Viet Nam (VNM)" in html
    assert f"<code>{own['endpoint']}</code>" in html
    assert f"<code>{own['signing_key']['kid']}</code>" in html
    assert f"<code>{own['encryption_key']['kid']}</code>" in html
    assert "This node trusts no other node yet." in html
    assert "command line" in html  # trust and revocation are not done here
    no_inline_code(html)

    other = node.data_dir.parent / "other"
    exported = subprocess.run(
        [HANOINET, "node", "export"], env=clean_env(other, HANOINET_NODE_STATE="THA"),
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    with httpx.Client(base_url=node.server.base_url, headers={"Authorization": f"Bearer {node.server.token}"}) as api:
        imported = api.post("/api/v1/directory", json=json.loads(exported.stdout))
        assert imported.status_code == 201, imported.text
    peer_id = imported.json()["peer"]["node_id"]
    html = duty.get("/directory").text
    row = re.search(rf"<th scope=\"row\"><code>{re.escape(peer_id)}</code></th>(.*?)</tr>", html, re.DOTALL)
    assert row is not None, html
    assert '<abbr title="Thailand (THA)">THA</abbr>' in row.group(1)
    assert '<span class="badge ok">trusted</span>' in row.group(1)
    assert "0 waiting" in row.group(1)
    assert "nothing delivered yet" in row.group(1)
    assert '<form method="post"' not in html.replace('<form method="post" action="/logout"', "")


def test_the_auditor_may_read_the_directory_but_not_the_administrator_pages(auditor: httpx.Client) -> None:
    assert auditor.get("/directory").status_code == 200
    assert 'href="/directory"' in auditor.get("/audit").text


def test_a_node_without_a_federation_identity_says_so(tmp_path: Path) -> None:
    """In process: a second server only to lack a State would cost seconds, and the page is the same code."""
    built = bootstrap(Settings(data_dir=tmp_path / "data", node_state=None))
    cli_actor = Actor("root", frozenset(), Channel.CLI, "local")
    add_user(built, username="nadia", password=PASSWORD, roles=frozenset({Role.DUTY_OFFICER}), actor=cli_actor)

    async def visit() -> httpx.Response:
        transport = httpx.ASGITransport(app=create_app(built))
        async with httpx.AsyncClient(transport=transport, base_url="http://node.test") as browser:
            signed = await post_login_async(browser, "nadia", PASSWORD)
            assert signed.status_code == 303
            return await browser.get("/directory")

    page = asyncio.run(visit())
    assert page.status_code == 200
    assert "This node has no federation identity: it does not exchange with other nodes." in page.text
    assert "HANOINET_NODE_STATE" in page.text
    assert "<table" not in page.text


# --- tampering: last, and undone, so that it leaves the node as it found it


def test_an_entry_changed_in_the_database_is_found(auditor: httpx.Client, node: Node) -> None:
    with sqlite3.connect(node.database, timeout=30) as db:
        seq, original = db.execute("SELECT seq, actor FROM audit_log WHERE action = 'user:add' ORDER BY seq").fetchone()
        db.execute("UPDATE audit_log SET actor = 'nobody' WHERE seq = ?", (seq,))
    db.close()
    try:
        page = auditor.get("/audit").text
        verified = auditor.post("/audit/verify", data={"csrf_token": form_token(page, "/audit/verify")})
        assert verified.status_code == 200
        assert "The audit log is intact" not in verified.text
        alert = re.search(r'<div class="error" role="alert">(.*?)</div>', verified.text, re.DOTALL)
        assert alert is not None, verified.text
        assert "The audit log does not verify" in alert.group(1)
        assert f"audit entry {seq} was altered: its contents do not match its hash" in alert.group(1)
        run = run_cli(node.data_dir, "audit", "verify")
        assert run.code != 0
        assert f"audit entry {seq} was altered" in run.err
    finally:
        with sqlite3.connect(node.database, timeout=30) as db:
            db.execute("UPDATE audit_log SET actor = ? WHERE seq = ?", (original, seq))
        db.close()
    page = auditor.get("/audit").text
    again = auditor.post("/audit/verify", data={"csrf_token": form_token(page, "/audit/verify")})
    assert "The audit log is intact" in again.text
