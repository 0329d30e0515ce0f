"""Accounts and the audit log on real databases (SQLite and PostgreSQL) with the real Argon2id hasher: signing in
and out, failures that slow down but lock nobody out, and tampering with ``audit_log`` behind the node's back, found
by ``audit.verify``."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from hanoinet.accounts import service as accounts
from hanoinet.accounts.domain import SESSION_IDLE, LoginFailed, TooManyAttempts, User
from hanoinet.accounts.passwords import Argon2Hasher
from hanoinet.app.bootstrap import bootstrap
from hanoinet.app.node import Node
from hanoinet.audit import service as audit
from hanoinet.audit.ports import AuditQuery
from hanoinet.platform.errors import ValidationFailed
from hanoinet.platform.events import Actor, Channel, Outcome
from hanoinet.platform.permissions import Forbidden, Permission, Role
from hanoinet.platform.settings import Settings
from tests.fakes import FixedClock

PASSWORD = "correct horse battery staple"  # noqa: S105 - a test account's
WRONG = "purple elephant dancing slowly"
FREE = 5
"""Failures from one place to one account before the next waits (``ThrottlePolicy.free_per_pair``)."""
CLI = Actor("root", frozenset(), Channel.CLI, "local")


@pytest.fixture
def clock(now: datetime) -> FixedClock:
    return FixedClock(now)


@pytest.fixture
def node(tmp_path: Path, database_url: str, engine: Engine, clock: FixedClock) -> Node:
    """A node wired by bootstrap (real keys, real Argon2id) on the test database, with the test's clock."""
    wired = bootstrap(Settings(data_dir=tmp_path, database_url=database_url, node_state="VNM"), engine=engine)
    assert isinstance(wired.passwords, Argon2Hasher)
    return replace(wired, clock=clock, wall_clock=clock)


def stored(node: Node, name: str) -> User:
    with node.uow() as uow:
        found = uow.accounts.by_username(name)
    assert found is not None
    return found


def refused(node: Node, name: str, password: str, remote: str = "") -> None:
    with pytest.raises(LoginFailed):
        accounts.login(node, name, password, remote=remote)


def test_a_login_round_trip(node: Node, engine: Engine, clock: FixedClock) -> None:
    user = accounts.add_user(
        node, username="tran", password=PASSWORD, roles=frozenset({Role.PROSECUTOR}), display_name="Trần", actor=CLI
    )
    assert user.password_hash.startswith("$argon2id$")
    assert stored(node, "tran") == user

    signed, token = accounts.login(node, "Tran", PASSWORD, remote="192.0.2.7")
    assert signed.user.last_login_at == clock.now()
    assert stored(node, "tran").last_login_at == clock.now()

    clock.advance(minutes=2)
    seen = accounts.signed_in(node, token)
    assert seen is not None
    assert seen.user.display_name == "Trần"
    assert seen.session.expires_at == clock.now() + SESSION_IDLE
    again = accounts.signed_in(node, token)  # the moved expiry was written
    assert again is not None
    assert again.session == seen.session

    accounts.logout(node, token, actor=Actor("tran", signed.user.roles, Channel.WEB, "192.0.2.7"))
    assert accounts.signed_in(node, token) is None

    actions = [e.action for e in reversed(audit.entries(node, AuditQuery()))]
    assert actions == ["user:add", "session:login", "session:logout"]
    report = audit.verify(node)
    assert (report.ok, report.entries) == (True, 3)
    with engine.connect() as conn:
        everything = " ".join(
            str(row)
            for table in ("users", "sessions", "audit_log")
            for row in conn.execute(text(f"SELECT * FROM {table}"))  # noqa: S608 - fixed names
        )
    assert PASSWORD not in everything
    assert token not in everything


def test_failures_slow_down_their_place_and_the_holder_still_gets_in(node: Node, clock: FixedClock) -> None:
    accounts.add_user(node, username="tran", password=PASSWORD, roles=frozenset({Role.INVESTIGATOR}), actor=CLI)
    for _ in range(FREE):
        refused(node, "tran", WRONG, remote="203.0.113.9")
    with pytest.raises(TooManyAttempts):
        accounts.login(node, "tran", PASSWORD, remote="203.0.113.9")
    assert (stored(node, "tran").failed_logins, stored(node, "tran").locked_until) == (FREE, None)
    signed, _ = accounts.login(node, "tran", PASSWORD, remote="192.0.2.7")
    assert (signed.user.failed_logins, signed.user.locked_until) == (0, None)
    clock.advance(seconds=1)
    refused(node, "tran", WRONG, remote="203.0.113.9")
    reasons = [e.details.get("reason") for e in audit.entries(node, AuditQuery(action="session:login"))][::-1]
    assert reasons[: FREE - 1] == ["wrong password"] * (FREE - 1)
    assert reasons[FREE - 1 :] == [
        "wrong password; the next attempt from 203.0.113.9 waits 1 s",
        None,
        "wrong password; the next attempt from 203.0.113.9 waits 2 s",
    ]
    assert audit.verify(node).ok


class Rendezvous:
    """Argon2id, with every check waiting until all the concurrent attempts are checking: the slow hash makes this
    overlap likely anyway, the barrier makes it certain."""

    def __init__(self, inner: Argon2Hasher, parties: int) -> None:
        self.inner = inner
        self.barrier = threading.Barrier(parties, timeout=30)

    def hash(self, password: str) -> str:
        return self.inner.hash(password)

    def verify(self, encoded: str, password: str) -> bool:
        self.barrier.wait()
        return self.inner.verify(encoded, password)

    def needs_rehash(self, encoded: str) -> bool:
        return self.inner.needs_rehash(encoded)


def test_concurrent_failures_all_count_towards_the_delay(node: Node) -> None:
    """Guessing in parallel must not get more than five tries before the wait."""
    cheap = Argon2Hasher(time_cost=1, memory_cost=8192, parallelism=1)
    accounts.add_user(
        replace(node, passwords=cheap), username="tran", password=PASSWORD, roles=frozenset({Role.AUDITOR}), actor=CLI
    )
    racing = replace(node, passwords=Rendezvous(cheap, FREE))

    def attempt(_: int) -> bool:
        try:
            accounts.login(racing, "tran", WRONG)
        except LoginFailed:
            return True
        return False

    with ThreadPoolExecutor(FREE) as pool:
        assert all(pool.map(attempt, range(FREE)))
    after = stored(node, "tran")
    assert len(audit.entries(node, AuditQuery(action="session:login", outcome=Outcome.FAILED))) == FREE
    assert audit.verify(node).ok
    assert after.failed_logins == FREE
    with pytest.raises(TooManyAttempts):  # the sixth, however fast it comes, waits
        accounts.login(racing, "tran", WRONG)


# -- tampering behind the node's back --------------------------------------------------------------------------


@pytest.fixture
def logged(node: Node, clock: FixedClock) -> Node:
    """A node whose log holds five entries: an account made, a sign-in, a refusal, a failure, a sign-out."""
    accounts.add_user(node, username="tran", password=PASSWORD, roles=frozenset({Role.DUTY_OFFICER}), actor=CLI)
    clock.advance(minutes=1)
    signed, token = accounts.login(node, "tran", PASSWORD)
    me = Actor("tran", signed.user.roles, Channel.WEB)
    with pytest.raises(Forbidden):
        accounts.authorize(node, me, Permission.AUDIT_READ, action="audit:list", subject="audit")
    refused(node, "ghost", WRONG)
    accounts.logout(node, token, actor=me)
    report = audit.verify(node)
    assert (report.ok, report.entries) == (True, 5)
    return node


def tamper(engine: Engine, statement: str) -> None:
    with engine.begin() as conn:
        assert conn.execute(text(statement)).rowcount == 1


def test_an_updated_detail_is_found(logged: Node, engine: Engine) -> None:
    tamper(engine, """UPDATE audit_log SET details = '{"roles": ["administrator"]}' WHERE seq = 1""")
    report = audit.verify(logged)
    assert report.problems == ["audit entry 1 was altered: its contents do not match its hash"]
    assert audit.entries(logged, AuditQuery(limit=1, offset=4))[0].details == {"roles": ["administrator"]}


@pytest.mark.parametrize(
    "assignment",
    [
        "actor = 'someone else'",
        "outcome = 'ok'",
        "object_id = 'nothing'",
        "remote = '198.51.100.1'",
        "roles = '[\"administrator\"]'",
        "at = at",  # unchanged: the control
    ],
)
def test_an_updated_column_is_found(logged: Node, engine: Engine, assignment: str) -> None:
    tamper(engine, f"UPDATE audit_log SET {assignment} WHERE seq = 3")  # noqa: S608 - fixed test values
    report = audit.verify(logged)
    if assignment == "at = at":
        assert report.ok
    else:
        assert report.problems == ["audit entry 3 was altered: its contents do not match its hash"]


def test_a_deleted_row_in_the_middle_is_found(logged: Node, engine: Engine) -> None:
    tamper(engine, "DELETE FROM audit_log WHERE seq = 3")
    report = audit.verify(logged)
    assert not report.ok
    assert report.entries == 4
    assert "audit entry 3 is missing (found 4 in its place)" in report.problems


def test_a_deleted_last_row_is_found(logged: Node, engine: Engine) -> None:
    tamper(engine, "DELETE FROM audit_log WHERE seq = 5")
    assert audit.verify(logged).problems == [
        "the log's head records entry 5, but the last entry is 4 (entries removed?)"
    ]


def test_a_forged_signature_is_found(logged: Node, engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET signature = :s WHERE seq = 2"), {"s": bytes(64)})
    assert audit.verify(logged).problems == ["audit entry 2: the node's signature does not match"]


def test_the_log_goes_on_after_tampering_and_still_names_the_damage(logged: Node, engine: Engine) -> None:
    tamper(engine, "UPDATE audit_log SET actor = 'nobody' WHERE seq = 2")
    refused(logged, "ghost", WRONG)
    report = audit.verify(logged)
    assert report.entries == 6
    assert report.problems == ["audit entry 2 was altered: its contents do not match its hash"]


def test_a_long_user_name_at_sign_in_leaves_the_log_verifiable(node: Node) -> None:
    """Anyone can type a user name of any length into the sign-in form; the failed attempt is recorded, and the
    log must still verify afterwards (else one request makes every later check cry wolf)."""
    refused(node, "x" * 200, WRONG)
    (entry,) = audit.entries(node, AuditQuery())
    assert entry.details == {"reason": "unknown user"}
    report = audit.verify(node)
    assert report.problems == []


def test_an_overlong_display_name_is_refused_or_cut_never_a_database_error(node: Node) -> None:
    """``hanoinet user add NAME --name …`` takes any text; the column keeps 256 characters."""
    outcome: User | ValidationFailed
    try:
        outcome = accounts.add_user(
            node,
            username="tran",
            password=PASSWORD,
            roles=frozenset({Role.AUDITOR}),
            display_name="Trần " * 60,
            actor=CLI,
        )
    except ValidationFailed as invalid:
        outcome = invalid
    if isinstance(outcome, ValidationFailed):
        assert [i.field for i in outcome.issues] in (["display_name"], ["name"])
    else:
        assert len(outcome.display_name) <= 256
        assert stored(node, "tran") == outcome


def test_an_account_sets_its_own_language_and_time_zone_and_no_one_elses(node: Node) -> None:
    accounts.add_user(node, username="binh", password=PASSWORD, roles=frozenset({Role.INVESTIGATOR}), actor=CLI)
    assert stored(node, "binh").language == ""  # the browser's, until chosen
    assert stored(node, "binh").time_zone == "UTC"
    binh = Actor("binh", frozenset({Role.INVESTIGATOR}), Channel.WEB, "127.0.0.1")
    languages = ("en", "fr", "vi")
    accounts.set_preferences(node, "binh", language="vi", time_zone="Asia/Ho_Chi_Minh", languages=languages, actor=binh)
    assert (stored(node, "binh").language, stored(node, "binh").time_zone) == ("vi", "Asia/Ho_Chi_Minh")
    with pytest.raises(ValidationFailed) as raised:
        accounts.set_preferences(node, "binh", language="de", time_zone="Hanoi", languages=languages, actor=binh)
    assert {i.field for i in raised.value.issues} == {"language", "time_zone"}
    assert stored(node, "binh").language == "vi"  # nothing half-written
    with pytest.raises(ValidationFailed, match="its own"):
        accounts.set_preferences(node, "binh", language="", time_zone="UTC", languages=languages, actor=CLI)
    entries = audit.entries(node, AuditQuery(action="user:preferences"))
    assert [e.object_id for e in entries] == ["binh"]
