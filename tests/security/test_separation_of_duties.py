"""Separation of duties, against a real ``hanoinet serve``: an administrator cannot give itself casework roles
(API, web, CLI — each refusal in the audit log), and an account it creates with a casework role cannot read a case
until a second administrator approves the grant; the approval makes it effective, and the audit log names both.

The reproduction (issue 11): an administrator's ``PUT /api/v1/users/<itself>/roles`` with ``investigator`` was
accepted, and so was ``POST /api/v1/users`` of an investigator whose password it chose — either way it read cases.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

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
from tests.e2e.signin import post_login

PASSWORD = "correct horse battery staple"  # noqa: S105 - a test account's
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Node:
    server: Server
    data_dir: Path

    def sign_in(self, username: str) -> httpx.Client:
        """A person's session, usable on the API too (the session's CSRF token in ``X-CSRF-Token``)."""
        client = httpx.Client(base_url=self.server.base_url, timeout=30.0, event_hooks={"response": [check_response]})
        signed = post_login(client, username, PASSWORD, next="/")
        assert signed.status_code == 303, signed.text
        found = CSRF_INPUT.search(client.get("/account").text)
        assert found is not None
        client.headers["X-CSRF-Token"] = found.group(1)
        return client

    def audit(self, *filters: str) -> list[dict[str, Any]]:
        """The audit log's entries as the node's command line lists them (newest first)."""
        listed = run_cli(self.data_dir, "audit", "list", "--json", "--limit", "200", *filters)
        assert listed.code == 0, listed.err
        entries: list[dict[str, Any]] = listed.json()
        return entries


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    """A node with two administrators, both made at the command line on the host."""
    data_dir = tmp_path_factory.mktemp("sod") / "data"
    data_dir.mkdir()
    for name in ("ada", "ben"):
        made = run_cli(data_dir, "user", "add", name, "--role", "administrator", "--password-stdin",
                       stdin=PASSWORD + "\n")  # fmt: skip
        assert made.code == 0, made
    server = start_server(data_dir, "sqlite")
    yield Node(server, data_dir)
    stop_server(server)
    assert "Traceback" not in server.log.read_text(errors="replace")


@pytest.fixture(scope="module")
def ada(node: Node) -> Iterator[httpx.Client]:
    with closing(node.sign_in("ada")) as client:
        yield client


@pytest.fixture(scope="module")
def ben(node: Node) -> Iterator[httpx.Client]:
    with closing(node.sign_in("ben")) as client:
        yield client


def test_an_administrator_cannot_give_itself_a_casework_role_anywhere(node: Node, ada: httpx.Client) -> None:
    assert ada.get("/api/v1/cases").status_code == 403  # the administrator reads no case
    over_api = ada.put("/api/v1/users/ada/roles", json={"roles": ["administrator", "investigator"]})
    assert over_api.status_code == 403, over_api.text
    assert "nobody changes their own roles" in over_api.json()["detail"]
    page = ada.get("/users/ada").text
    over_web = ada.post(
        "/users/ada/roles",
        data={"csrf_token": form_token(page, "/logout"), "roles": ["administrator", "investigator"]},
    )
    assert over_web.status_code == 403
    env = {**clean_env(node.data_dir), "HANOINET_ACTOR": "ada"}
    at_cli = subprocess.run(
        [HANOINET, "user", "roles", "ada", "--role", "administrator", "--role", "investigator"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert at_cli.returncode == 5, at_cli.stdout + at_cli.stderr
    assert "nobody changes their own roles" in at_cli.stderr
    # a grant asked for by someone else for ada waits, and ada cannot approve it
    assert ada.get("/api/v1/cases").status_code == 403
    assert ada.get("/api/v1/users/ada").json()["roles"] == ["administrator"]
    refused = [e for e in node.audit("--action", "user:roles", "--outcome", "refused") if e["object_id"] == "ada"]
    assert sorted(e["channel"] for e in refused) == ["api", "cli", "web"]
    assert all(e["actor"] == "ada" for e in refused)


def test_an_account_made_by_one_administrator_reads_nothing_until_a_second_approves(
    node: Node, ada: httpx.Client, ben: httpx.Client
) -> None:
    made = ada.post(
        "/api/v1/users",
        json={"username": "sock", "display_name": "Sock", "roles": ["investigator"], "password": PASSWORD},
    )
    assert made.status_code == 201, made.text
    assert made.json()["roles"] == []
    grant = made.json()["pending_grant"]
    assert (grant["roles"], grant["requested_by"], grant["status"]) == (["investigator"], "ada", "pending")
    # the account exists, but using it reads nothing
    with closing(node.sign_in("sock")) as sock:
        assert sock.get("/api/v1/cases").status_code == 403
        assert sock.get("/api/v1/evidence").status_code == 403
        assert sock.post(f"/api/v1/grants/{grant['id']}/approve").status_code == 403  # not an administrator
    # the administrator who asked cannot approve it, nor a second administrator account it made itself
    own = ada.post(f"/api/v1/grants/{grant['id']}/approve")
    assert own.status_code == 403, own.text
    assert "a different administrator approves it" in own.json()["detail"]
    puppet = ada.post(
        "/api/v1/users",
        json={"username": "puppet", "roles": ["administrator"], "password": PASSWORD},
    )
    assert puppet.json()["roles"] == []  # an administrator account is itself a grant: no sock-puppet approver
    with closing(node.sign_in("puppet")) as sock_puppet:
        assert sock_puppet.post(f"/api/v1/grants/{grant['id']}/approve").status_code == 403
    waiting = ben.get("/api/v1/grants").json()
    assert {g["username"] for g in waiting} == {"sock", "puppet"}
    # a different administrator approves: only now does the role take effect
    approved = ben.post(f"/api/v1/grants/{grant['id']}/approve")
    assert approved.status_code == 200, approved.text
    assert (approved.json()["status"], approved.json()["decided_by"]) == ("approved", "ben")
    with closing(node.sign_in("sock")) as sock:
        assert sock.get("/api/v1/cases").status_code == 200
    assert ben.post(f"/api/v1/grants/{grant['id']}/approve").status_code == 409  # decided once
    rejected = ben.post(f"/api/v1/grants/{puppet.json()['pending_grant']['id']}/reject")
    assert rejected.json()["status"] == "rejected"
    # the audit log has the request and the approval, with both actors
    steps = {e["action"]: e for e in node.audit("--object", "sock", "--subject", "user", "--outcome", "ok")}
    assert steps["user:grant-request"]["actor"] == "ada"
    assert steps["user:grant-request"]["details"]["needs_approval"] == ["investigator"]
    assert steps["user:grant-approve"]["actor"] == "ben"
    assert steps["user:grant-approve"]["details"]["requested_by"] == "ada"
    assert steps["user:grant-approve"]["details"]["roles"] == ["investigator"]
    (own_refusal,) = node.audit("--object", "sock", "--action", "user:grant-approve", "--outcome", "refused")
    assert own_refusal["actor"] == "ada"
    for who in ("sock", "puppet"):  # neither may manage accounts at all: refused at the route, and recorded
        refused = node.audit("--actor", who, "--outcome", "refused")
        assert any(e["details"].get("missing") == "users:manage" for e in refused), refused


def test_a_role_change_giving_casework_waits_and_shows_on_the_pages(
    node: Node, ada: httpx.Client, ben: httpx.Client
) -> None:
    made = run_cli(node.data_dir, "user", "add", "tran", "--role", "auditor", "--password-stdin", stdin=PASSWORD + "\n")
    assert made.code == 0, made
    asked = ada.put("/api/v1/users/tran/roles", json={"roles": ["auditor", "prosecutor"]})
    assert asked.status_code == 202, asked.text
    assert asked.json()["roles"] == ["auditor"]
    mine = ada.get("/users").text
    assert "Waiting for approval" in mine
    assert "Another administrator approves this." in mine
    theirs = ben.get("/users/tran").text
    action = re.search(r'action="(/grants/[^"]+/approve)"', theirs)
    assert action is not None
    done = ben.post(action.group(1), data={"csrf_token": form_token(theirs, action.group(1))})
    assert done.status_code == 303
    assert ben.get("/api/v1/users/tran").json()["roles"] == ["auditor", "prosecutor"]


def test_the_host_command_line_grants_at_once_and_says_so(node: Node) -> None:
    made = run_cli(node.data_dir, "user", "add", "lan", "--role", "investigator", "--password-stdin",
                   stdin=PASSWORD + "\n")  # fmt: skip
    assert made.code == 0, made
    (entry,) = node.audit("--action", "user:add", "--object", "lan")
    assert entry["channel"] == "cli"
    assert entry["details"] == {"roles": ["investigator"], "granted_on_host": True}


def test_an_administrator_reset_of_a_casework_password_waits_for_a_second(
    node: Node, ada: httpx.Client, ben: httpx.Client
) -> None:
    """Else an administrator resets an investigator's password, signs in as them and reads their cases."""
    made = run_cli(node.data_dir, "user", "add", "hoa", "--role", "investigator", "--password-stdin",
                   stdin=PASSWORD + "\n")  # fmt: skip
    assert made.code == 0, made
    chosen = "a password only ada knows"
    page = ada.get("/users/hoa").text
    asked = ada.post(
        "/users/hoa/password",
        data={"csrf_token": form_token(page, "/users/hoa/password"), "password": chosen, "repeat": chosen},
    )
    assert asked.status_code == 303, asked.text
    assert "done=reset" in asked.headers["location"]
    with httpx.Client(base_url=node.server.base_url, timeout=30.0) as intruder:
        assert post_login(intruder, "hoa", chosen, next="/").status_code == 401  # not in effect
    with closing(node.sign_in("hoa")) as holder:  # the holder's own password still works
        assert holder.get("/api/v1/cases").status_code == 200
    (grant,) = [g for g in ben.get("/api/v1/grants").json() if g["username"] == "hoa"]
    assert (grant["change"], grant["needs_approval"]) == ("password", ["investigator"])
    assert "hash" not in str(grant)
    assert "A new password" in ben.get("/users").text
    assert ada.post(f"/api/v1/grants/{grant['id']}/approve").status_code == 403
    approved = ben.post(f"/api/v1/grants/{grant['id']}/approve")
    assert approved.status_code == 200, approved.text
    with httpx.Client(base_url=node.server.base_url, timeout=30.0) as now:
        assert post_login(now, "hoa", chosen, next="/").status_code == 303
    steps = [(e["actor"], e["action"]) for e in node.audit("--object", "hoa", "--outcome", "ok")]
    assert ("ada", "user:grant-request") in steps
    assert ("ben", "user:grant-approve") in steps
