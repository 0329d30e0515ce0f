"""``hanoinet user …`` and ``hanoinet audit …`` end to end: real processes on a data directory, the real Argon2id
hasher; every command is itself in the audit log; tampering with the SQLite file is found; no password leaks."""

from __future__ import annotations

import csv
import io
import shutil
import sqlite3
import subprocess
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from hanoinet.audit.service import CSV_FIELDS
from tests.e2e.conftest import HANOINET, Run, clean_env

PASSWORD = "correct horse battery staple"  # noqa: S105 - a test account's
OTHER_PASSWORD = "purple elephant dancing slowly"  # noqa: S105 - a test account's
SHORT = "tiny pw"


def hanoinet(data_dir: Path, *args: str, stdin: str | None = None, data_dir_option: bool = False) -> Run:
    """Run the console script as the operator ``root``; the data directory comes from the environment (or, if
    asked, from ``--data-dir``)."""
    env = clean_env(data_dir, HANOINET_ACTOR="root", COLUMNS="200")
    argv = [HANOINET, "--data-dir", str(data_dir), *args] if data_dir_option else [HANOINET, *args]
    done = subprocess.run(argv, env=env, input=stdin, capture_output=True, text=True, timeout=60, check=False)
    assert "Traceback" not in done.stderr, done.stderr
    assert "Traceback" not in done.stdout, done.stdout
    return Run(done.returncode, done.stdout, done.stderr)


@dataclass
class Session:
    """A data directory and everything the commands run on it printed."""

    data_dir: Path
    runs: dict[str, Run] = field(default_factory=dict)

    def run(self, key: str, *args: str, stdin: str | None = None) -> Run:
        done = hanoinet(self.data_dir, *args, stdin=stdin)
        self.runs[key] = done
        return done

    def audit(self) -> list[dict[str, Any]]:
        """The fixture's ``audit list --json``: the entries, newest first."""
        entries: list[dict[str, Any]] = self.runs["audit"].json()
        return entries


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Session:
    """A node on which the first administrator, an investigator, a refused and a duplicate account were made, roles
    changed, an account disabled, the accounts listed; then its audit log listed and exported (reading the log is
    not itself recorded, so both show the same entries)."""
    s = Session(tmp_path_factory.mktemp("accounts-cli") / "node")
    s.run("add ada", "user", "add", "ada", "--role", "administrator", "--name", "Ada Nguyễn", "--password-stdin",
          stdin=PASSWORD + "\n")  # fmt: skip
    s.run("add tran", "user", "add", "tran", "--role", "investigator", "--role", "prosecutor", "--password-stdin",
          stdin=OTHER_PASSWORD + "\n")  # fmt: skip
    s.run("add short", "user", "add", "lan", "--role", "auditor", "--password-stdin", stdin=SHORT + "\n")
    s.run("add again", "user", "add", "ADA", "--role", "auditor", "--password-stdin", stdin=OTHER_PASSWORD + "\n")
    s.run("roles", "user", "roles", "tran", "--role", "auditor")
    s.run("disable", "user", "disable", "tran")
    s.run("list", "user", "list", "--json")
    assert s.run("audit", "audit", "list", "--json", "--limit", "500").code == 0
    s.run("export", "audit", "export")
    return s


def test_the_first_administrator_is_made_with_a_password_from_standard_input(session: Session) -> None:
    run = session.runs["add ada"]
    assert run.code == 0, run
    assert "account ada created with roles administrator" in run.out
    assert session.runs["add tran"].code == 0
    assert "account tran created with roles investigator, prosecutor" in session.runs["add tran"].out


def test_a_short_password_is_refused_naming_the_password(session: Session) -> None:
    run = session.runs["add short"]
    assert run.code == 2, run
    assert "password" in run.err
    assert "at least 12 characters" in run.err
    assert "lan" not in [u["username"] for u in session.runs["list"].json()]


def test_a_second_account_of_the_same_name_is_a_conflict(session: Session) -> None:
    run = session.runs["add again"]
    assert run.code == 3, run
    assert "'ada' already exists" in run.err


def test_roles_and_disabling(session: Session) -> None:
    assert session.runs["roles"].code == 0
    assert "tran: auditor" in session.runs["roles"].out
    assert session.runs["disable"].code == 0
    assert "tran disabled" in session.runs["disable"].out
    users = {u["username"]: u for u in session.runs["list"].json()}
    assert list(users) == ["ada", "tran"]
    assert users["ada"] == {
        "username": "ada",
        "name": "Ada Nguyễn",
        "roles": ["administrator"],
        "disabled": False,
        "locked_until": None,
        "last_login_at": None,
    }
    assert (users["tran"]["roles"], users["tran"]["disabled"]) == (["auditor"], True)


def test_the_audit_log_shows_every_command_and_what_it_changed(session: Session) -> None:
    entries = session.audit()
    assert len(entries) == 11
    assert [e["seq"] for e in entries] == sorted((e["seq"] for e in entries), reverse=True)  # newest first
    oldest_first = [(e["action"], e["object_id"], e["outcome"]) for e in reversed(entries)]
    assert oldest_first == [
        ("user:add", "ada", "ok"),
        ("command:user-add", "user add", "ok"),
        ("user:add", "tran", "ok"),
        ("command:user-add", "user add", "ok"),
        ("command:user-add", "user add", "failed"),  # the short password
        ("command:user-add", "user add", "failed"),  # the duplicate
        ("user:roles", "tran", "ok"),
        ("command:user-roles", "user roles", "ok"),
        ("user:disable", "tran", "ok"),
        ("command:user-disable", "user disable", "ok"),
        ("command:user-list", "user list", "ok"),
    ]
    first = entries[-1]
    assert (first["actor"], first["channel"], first["remote"]) == ("root", "cli", "local")
    assert first["details"] == {"roles": ["administrator"], "granted_on_host": True}  # the host grants at once
    refused = [e for e in entries if e["action"] == "command:user-add" and e["outcome"] == "failed"]
    assert sorted(e["details"]["exit"] for e in refused) == [2, 3]
    assert refused[-1]["details"]["argv"] == ["user", "add", "lan", "--role", "auditor", "--password-stdin"]


def test_verify_then_tamper_with_the_file_and_verify_again(session: Session, tmp_path: Path) -> None:
    intact = session.run("verify", "audit", "verify")
    assert intact.code == 0, intact
    assert "audit log intact" in intact.out

    copy = tmp_path / "node"
    shutil.copytree(session.data_dir, copy)
    with closing(sqlite3.connect(copy / "hanoinet.db")) as db, db:
        changed = db.execute("""UPDATE audit_log SET details = '{"argv": ["user", "list"], "exit": 0}' WHERE seq = 2""")
        assert changed.rowcount == 1

    broken = hanoinet(copy, "audit", "verify")
    session.runs["verify tampered"] = broken
    assert broken.code == 1, broken
    assert "audit entry 2 was altered" in broken.err
    assert "audit entry 1 " not in broken.err
    assert "1 problem(s)" in broken.err


def test_export_writes_csv_with_a_header_oldest_first(session: Session) -> None:
    entries = {e["seq"]: e for e in session.audit()}
    run = session.runs["export"]
    assert run.code == 0, run
    header, *rows = list(csv.reader(io.StringIO(run.out)))
    assert header == list(CSV_FIELDS)
    assert [int(r[0]) for r in rows] == sorted(entries)
    for row in rows:
        line = dict(zip(header, row, strict=True))
        assert line["hash"] == entries[int(line["seq"])]["hash"]
        assert line["action"] == entries[int(line["seq"])]["action"]
    assert {r[header.index("action")] for r in rows} >= {"user:add", "command:user-add", "command:user-list"}


@pytest.fixture(scope="module")
def deep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A node whose only command was ``hanoinet --data-dir DIR user list``, with DIR longer than 128 characters."""
    data_dir = tmp_path_factory.mktemp("deep") / ("deep" * 25) / "node"
    assert len(str(data_dir)) > 128
    run = hanoinet(data_dir, "user", "list", data_dir_option=True)
    assert run.code == 0, run
    return data_dir


def test_the_data_dir_option_is_not_taken_for_the_command(deep: Path) -> None:
    """``hanoinet --data-dir DIR user list`` is recorded as the command ``user-list``, not as ``DIR-user``."""
    with closing(sqlite3.connect(deep / "hanoinet.db")) as db:
        recorded = db.execute("SELECT action, object_id FROM audit_log WHERE seq = 1").fetchone()
    assert recorded == ("command:user-list", "user list")


def test_a_command_run_from_a_deep_data_directory_leaves_the_log_verifiable(deep: Path) -> None:
    """Whatever the command line looks like, recording it must not break the chain."""
    verified = hanoinet(deep, "audit", "verify")
    assert verified.code == 0, verified.err


def test_no_password_is_ever_printed_logged_or_stored(session: Session) -> None:
    assert {"add ada", "add tran", "add short", "add again", "audit", "export"} <= set(session.runs)
    printed = "\n".join(f"{r.out}\n{r.err}" for r in session.runs.values())
    stored = b"".join(p.read_bytes() for p in session.data_dir.rglob("*") if p.is_file())
    for secret in (PASSWORD, OTHER_PASSWORD, SHORT):
        assert secret not in printed
        assert secret.encode() not in stored
