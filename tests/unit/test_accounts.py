"""Accounts over in-memory fakes: least-privilege roles, password and user-name rules, sign-in with one message for
every failure, failures that slow down where they come from but lock nobody out, sessions that expire, account
management, and refusals recorded in the audit log."""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from hanoinet.accounts import service as accounts
from hanoinet.accounts.domain import (
    MAX_PASSWORD,
    MIN_PASSWORD,
    SESSION_IDLE,
    SESSION_MAX,
    LoginFailed,
    TooManyAttempts,
    User,
    check_password,
    check_roles,
    check_username,
    new_account_issues,
)
from hanoinet.app.node import Node
from hanoinet.audit.domain import AuditEntry
from hanoinet.platform.canonical import canonical
from hanoinet.platform.errors import Conflict, NotFound, ValidationFailed
from hanoinet.platform.events import Actor, Channel, Outcome
from hanoinet.platform.keys import NodeKeys, ensure_keys
from hanoinet.platform.permissions import ROLE_PERMISSIONS, Forbidden, Permission, Role, may, permissions_of
from hanoinet.treaty.countries import load_catalog
from hanoinet.treaty.domain import StateCatalog
from tests.fakes import FakePasswordHasher, FakeUnitOfWork, FixedClock, Store

START = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
PASSWORD = "correct horse battery staple"  # noqa: S105 - a test account's
OTHER_PASSWORD = "purple elephant dancing slowly"  # noqa: S105 - a test account's
ONE_MESSAGE = "wrong user name or password: ask an administrator if this persists"
FREE = 5
"""Failures from one place to one account before the next waits (``ThrottlePolicy.free_per_pair``)."""

CLI = Actor("root", frozenset(), Channel.CLI, "local")
ADMIN = Actor("ada", frozenset({Role.ADMINISTRATOR}), Channel.WEB, "192.0.2.1")
OFFICER = Actor("minh", frozenset({Role.DUTY_OFFICER}), Channel.WEB, "192.0.2.2")

P = Permission
WRITES = frozenset(
    {p for p in Permission if p.value.endswith((":write", ":manage"))}
    | {P.EVIDENCE_CONTENT, P.EVIDENCE_EXPORT, P.EVIDENCE_TRANSFER}
)


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> NodeKeys:
    return ensure_keys(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="module")
def catalog() -> StateCatalog:
    return load_catalog()


@pytest.fixture
def store() -> Store:
    return Store()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
def hasher() -> FakePasswordHasher:
    return FakePasswordHasher()


@pytest.fixture
def node(store: Store, clock: FixedClock, hasher: FakePasswordHasher, keys: NodeKeys, catalog: StateCatalog) -> Node:
    return Node(
        uow=lambda: FakeUnitOfWork(store),
        packs={},
        catalog=catalog,
        clock=clock,
        wall_clock=clock,
        node_state="VNM",
        signer=keys,
        passwords=hasher,
    )


def add(
    node: Node,
    name: str = "tran",
    *roles: Role,
    password: str = PASSWORD,
    actor: Actor = CLI,
) -> User:
    return accounts.add_user(
        node, username=name, password=password, roles=frozenset(roles or {Role.INVESTIGATOR}), actor=actor
    )


def stored_user(store: Store, name: str) -> User:
    found = next((u for u in store.accounts.users.values() if u.username == name), None)
    assert found is not None, name
    return found


def log(store: Store) -> list[AuditEntry]:
    return list(store.audit.entries)


def login_failure(node: Node, name: str, password: str, remote: str = "") -> str:
    with pytest.raises(LoginFailed) as caught:
        accounts.login(node, name, password, remote=remote)
    return str(caught.value)


# -- roles and permissions -------------------------------------------------------------------------------------


def test_an_auditor_reads_everything_but_content_and_changes_nothing() -> None:
    auditor = ROLE_PERMISSIONS[Role.AUDITOR]
    assert not auditor & WRITES
    assert {p for p in Permission if p.value.endswith(":read")} <= auditor
    assert [r for r in Role if may({r}, P.AUDIT_READ)] == [Role.AUDITOR]  # and only the auditor reads the log


def test_an_administrator_runs_the_node_but_sees_no_case_and_no_evidence() -> None:
    admin = ROLE_PERMISSIONS[Role.ADMINISTRATOR]
    assert {p for p in admin if p.value.startswith(("requests:", "evidence:"))} == set()
    assert {P.USERS_MANAGE, P.DIRECTORY_WRITE, P.TREATY_WRITE} <= admin
    assert P.AUDIT_READ not in admin  # who manages accounts does not also read what they did
    assert [r for r in Role if may({r}, P.USERS_MANAGE)] == [Role.ADMINISTRATOR]


def test_a_duty_officer_may_open_content_but_not_write_export_or_transfer_evidence() -> None:
    officer = ROLE_PERMISSIONS[Role.DUTY_OFFICER]
    assert {P.EVIDENCE_READ, P.EVIDENCE_CONTENT, P.REQUESTS_READ, P.REQUESTS_WRITE} <= officer
    assert not officer & {P.EVIDENCE_WRITE, P.EVIDENCE_EXPORT, P.EVIDENCE_TRANSFER, P.USERS_MANAGE, P.AUDIT_READ}


def test_only_the_central_authority_transfers_evidence_to_other_nodes() -> None:
    assert [r for r in Role if may({r}, P.EVIDENCE_TRANSFER)] == [Role.CENTRAL_AUTHORITY]
    for role in (Role.INVESTIGATOR, Role.PROSECUTOR):
        assert {P.EVIDENCE_WRITE, P.EVIDENCE_EXPORT, P.EVIDENCE_CONTENT} <= ROLE_PERMISSIONS[role]
        assert not ROLE_PERMISSIONS[role] & {P.USERS_MANAGE, P.AUDIT_READ, P.DIRECTORY_WRITE, P.TREATY_WRITE}


def test_every_permission_but_public_and_peer_belongs_to_some_role_and_every_role_signs_in() -> None:
    assert set(ROLE_PERMISSIONS) == set(Role)
    granted = set().union(*ROLE_PERMISSIONS.values())
    assert set(Permission) - granted == {P.PUBLIC, P.PEER}
    assert all(P.SIGNED_IN in perms for perms in ROLE_PERMISSIONS.values())
    assert permissions_of(set()) == {P.PUBLIC}  # no account: public pages only
    assert permissions_of(set(Role)) == set(Permission) - {P.PEER}  # no account is ever a node
    assert not may(set(Role), P.PEER)


def test_roles_add_up() -> None:
    both = permissions_of({Role.AUDITOR, Role.DUTY_OFFICER})
    assert both == ROLE_PERMISSIONS[Role.AUDITOR] | ROLE_PERMISSIONS[Role.DUTY_OFFICER] | {P.PUBLIC}
    assert may({Role.AUDITOR, Role.DUTY_OFFICER}, P.AUDIT_READ)
    assert may({Role.AUDITOR, Role.DUTY_OFFICER}, P.EVIDENCE_CONTENT)
    assert not may({Role.AUDITOR, Role.DUTY_OFFICER}, P.EVIDENCE_WRITE)


# -- password, user name and role rules ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "problems"),
    [
        ("x" * (MIN_PASSWORD - 1), ["must be at least 12 characters"]),
        ("x" * MIN_PASSWORD, []),
        ("bốn từ là đủ rồi", []),  # a passphrase in any script
        ("x" * MAX_PASSWORD, []),
        ("x" * (MAX_PASSWORD + 1), ["must be at most 1024 characters"]),
        ("my name is tran, ok", ["must not contain the user name"]),
        ("my name is TRAN, ok", ["must not contain the user name"]),
        (" starts with a space", ["must not begin or end with spaces"]),
        ("ends with a space ", ["must not begin or end with spaces"]),
        ("ends with a newline\n", ["must not begin or end with spaces"]),
        ("\tstarts with a tab", ["must not begin or end with spaces"]),
        ("inner spaces are fine", []),
        ("tran ", ["must be at least 12", "must not contain the user name", "must not begin or end with spaces"]),
    ],
)
def test_password_rules(password: str, problems: list[str]) -> None:
    issues = check_password(password, "tran")
    assert {i.field for i in issues} <= {"password"}
    assert len(issues) == len(problems)
    for issue, expected in zip(issues, problems, strict=True):
        assert expected in issue.message


def test_without_a_user_name_only_the_other_password_rules_apply() -> None:
    assert check_password("x" * MIN_PASSWORD, "") == []


@pytest.mark.parametrize("name", ["ab", "tran", "tran.van-a", "minh_le", "duty@moj.gov.vn", "0perator", "a" * 64])
def test_good_user_names(name: str) -> None:
    assert check_username(name) == []


@pytest.mark.parametrize(
    "name", ["", "a", "a" * 65, "Tran", "tran van", ".tran", "-tran", "_tran", "trần", "tran\n", "tran/../x", "tr;an"]
)
def test_bad_user_names(name: str) -> None:
    (issue,) = check_username(name)
    assert issue.field == "username"
    assert "2-64 lower-case letters" in issue.message


def test_an_account_has_a_role_and_every_problem_is_named_at_once() -> None:
    assert check_roles(frozenset()) != []
    assert check_roles({Role.AUDITOR}) == []
    with pytest.raises(ValidationFailed) as caught:
        new_account_issues("Bad Name", "short", frozenset())
    assert [i.field for i in caught.value.issues] == ["username", "password", "roles"]
    new_account_issues("tran", PASSWORD, frozenset({Role.AUDITOR}))  # no exception


# -- creating accounts -----------------------------------------------------------------------------------------


def test_the_first_administrator_is_created_at_the_command_line(node: Node, store: Store) -> None:
    user = accounts.add_user(
        node, username="  Ada.Nguyen ", password=PASSWORD, roles=frozenset({Role.ADMINISTRATOR}), actor=CLI
    )
    assert user.username == "ada.nguyen"
    assert user.display_name == "ada.nguyen"
    assert user.roles == {Role.ADMINISTRATOR}
    assert user.created_at == START
    assert (user.failed_logins, user.locked_until, user.disabled_at, user.last_login_at) == (0, None, None, None)
    assert stored_user(store, "ada.nguyen") == user
    assert PASSWORD not in user.password_hash
    assert FakePasswordHasher().verify(user.password_hash, PASSWORD)
    (entry,) = log(store)
    assert (entry.actor, entry.channel, entry.action, entry.subject, entry.object_id, entry.outcome) == (
        "root",
        Channel.CLI,
        "user:add",
        "user",
        "ada.nguyen",
        Outcome.OK,
    )
    assert entry.details == {"roles": ["administrator"], "granted_on_host": True}
    assert PASSWORD.encode() not in canonical(entry.body())


def test_a_display_name_is_kept_trimmed(node: Node) -> None:
    user = accounts.add_user(
        node,
        username="tran",
        password=PASSWORD,
        roles=frozenset({Role.PROSECUTOR}),
        display_name=" Trần Văn A ",
        actor=CLI,
    )
    assert user.display_name == "Trần Văn A"


@pytest.mark.parametrize(
    ("name", "password", "roles", "field"),
    [
        ("Bad Name", PASSWORD, {Role.AUDITOR}, "username"),
        ("tran", "too short", {Role.AUDITOR}, "password"),
        ("tran", "tran is my name ok", {Role.AUDITOR}, "password"),
        ("tran", PASSWORD, set(), "roles"),
    ],
)
def test_an_invalid_account_is_refused_and_nothing_is_written(
    node: Node, store: Store, *, name: str, password: str, roles: set[Role], field: str
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        accounts.add_user(node, username=name, password=password, roles=frozenset(roles), actor=CLI)
    assert [i.field for i in caught.value.issues] == [field]
    assert store.accounts.users == {}
    assert log(store) == []


def test_a_user_name_is_taken_once_whatever_its_case(node: Node, store: Store) -> None:
    add(node, "tran")
    with pytest.raises(Conflict, match="'tran' already exists"):
        add(node, " TRAN ", password=OTHER_PASSWORD)
    assert len(store.accounts.users) == 1
    assert [e.action for e in log(store)] == ["user:add"]


def test_after_the_first_account_only_administrators_add_accounts_outside_the_command_line(
    node: Node, store: Store
) -> None:
    add(node, "ada", Role.ADMINISTRATOR)
    with pytest.raises(Forbidden, match=r"minh \(duty_officer\) may not do this: it needs the permission users:manage"):
        add(node, "lan", actor=OFFICER)
    assert stored_user(store, "ada")
    assert len(store.accounts.users) == 1
    add(node, "lan", actor=ADMIN)
    add(node, "hoa", actor=replace(CLI, roles=frozenset({Role.AUDITOR})))  # the node's own command line
    assert [u.username for u in accounts.list_users(node)] == ["ada", "hoa", "lan"]
    assert [(e.actor, e.object_id, e.outcome) for e in log(store)] == [
        ("root", "ada", Outcome.OK),
        ("minh", "lan", Outcome.REFUSED),  # the refusal is recorded too
        ("ada", "lan", Outcome.OK),
        ("ada", "lan", Outcome.OK),  # the investigator's role waits for a second administrator
        ("root", "hoa", Outcome.OK),
    ]


def test_nobody_creates_the_first_account_outside_the_command_line(node: Node, store: Store) -> None:
    """The module says so: the first administrator is created at the command line, on the node itself; there is
    no first-come-first-served administrator over the web or the API."""
    anonymous = Actor("(empty)", frozenset(), Channel.WEB, "203.0.113.9")
    with pytest.raises(Forbidden):
        add(node, "mallory", Role.ADMINISTRATOR, actor=anonymous)
    assert store.accounts.users == {}


# -- signing in ------------------------------------------------------------------------------------------------


def test_a_login_resets_failures_and_opens_a_session_with_a_csrf_token(
    node: Node, store: Store, clock: FixedClock
) -> None:
    created = add(node, "tran", Role.PROSECUTOR)
    for _ in range(3):
        login_failure(node, "tran", OTHER_PASSWORD)
    assert stored_user(store, "tran").failed_logins == 3
    clock.advance(minutes=1)
    now = clock.now()

    signed, token = accounts.login(node, "  TRAN ", PASSWORD, remote="192.0.2.7")

    assert signed.user == replace(created, failed_logins=0, last_login_at=now)
    assert stored_user(store, "tran") == signed.user
    s = signed.session
    assert s.user_id == created.id
    assert s.token_hash == hashlib.sha256(token.encode()).hexdigest() == accounts.token_hash(token)
    assert len(token) >= 43  # 256 bits, URL-safe
    assert len(s.csrf_token) >= 32
    assert s.csrf_token != token
    assert (s.created_at, s.last_seen_at, s.expires_at, s.ended_at) == (now, now, now + SESSION_IDLE, None)
    assert s.remote == "192.0.2.7"
    assert store.accounts.sessions == {s.id: s}
    assert token not in repr(store.accounts.sessions)  # only the token's hash is kept
    entry = log(store)[-1]
    assert (entry.actor, entry.roles, entry.action, entry.object_id, entry.outcome, entry.remote) == (
        "tran",
        ("prosecutor",),
        "session:login",
        s.id,
        Outcome.OK,
        "192.0.2.7",
    )
    again = accounts.signed_in(node, token)
    assert again is not None
    assert again.user.username == "tran"
    assert again.principal.roles == {Role.PROSECUTOR}

    other, other_token = accounts.login(node, "tran", PASSWORD)
    assert other_token != token
    assert other.session.csrf_token != s.csrf_token


def test_every_failure_says_the_same_thing_and_the_log_says_what_it_was(node: Node, store: Store) -> None:
    add(node, "tran")
    add(node, "dis")
    add(node, "lok")
    accounts.set_disabled(node, "dis", True, actor=CLI)
    before = len(log(store))

    messages = {
        login_failure(node, "nobody", PASSWORD),  # unknown user
        login_failure(node, "tran", OTHER_PASSWORD),  # wrong password
        login_failure(node, "dis", PASSWORD),  # disabled, right password
        login_failure(node, "", ""),
    }

    assert messages == {ONE_MESSAGE}
    failures = log(store)[before:]
    assert [(e.actor, e.object_id, e.outcome, e.details) for e in failures] == [
        ("nobody", "nobody", Outcome.FAILED, {"reason": "unknown user"}),
        ("tran", "tran", Outcome.FAILED, {"reason": "wrong password"}),
        ("dis", "dis", Outcome.FAILED, {"reason": "account disabled"}),
        ("(empty)", "", Outcome.FAILED, {"reason": "unknown user"}),
    ]
    assert all(e.action == "session:login" and e.roles == () for e in failures)
    assert stored_user(store, "dis").failed_logins == 0  # a disabled account's failures are not counted
    assert store.accounts.sessions == {}
    assert PASSWORD.encode() not in b"".join(canonical(e.body()) for e in log(store))
    assert OTHER_PASSWORD.encode() not in b"".join(canonical(e.body()) for e in log(store))


def test_every_failure_costs_one_password_check(node: Node, hasher: FakePasswordHasher) -> None:
    """An unknown user's password is checked against a dummy hash "so that the time is the same as for a real
    account": a disabled account must cost the same check, or its quick answer tells that it exists."""
    add(node, "tran")
    add(node, "dis")
    accounts.set_disabled(node, "dis", True, actor=CLI)
    costs = {}
    for kind, name, password in [
        ("unknown user", "nobody", PASSWORD),
        ("wrong password", "tran", OTHER_PASSWORD),
        ("disabled", "dis", PASSWORD),
    ]:
        checks = hasher.checks
        login_failure(node, name, password)
        costs[kind] = hasher.checks - checks
    assert costs == {"unknown user": 1, "wrong password": 1, "disabled": 1}


def test_failures_slow_down_the_place_they_come_from_and_lock_nobody_out(
    node: Node, store: Store, clock: FixedClock, hasher: FakePasswordHasher
) -> None:
    add(node, "tran")
    for n in range(1, FREE + 1):
        login_failure(node, "tran", OTHER_PASSWORD, remote="198.51.100.66")
        assert (stored_user(store, "tran").failed_logins, stored_user(store, "tran").locked_until) == (n, None)
    assert log(store)[-1].details == {"reason": "wrong password; the next attempt from 198.51.100.66 waits 1 s"}
    entries, checks = len(log(store)), hasher.checks
    with pytest.raises(TooManyAttempts) as caught:  # even the right password is not checked during the wait
        accounts.login(node, "tran", PASSWORD, remote="198.51.100.66")
    assert caught.value.retry_after == 1
    assert (len(log(store)), hasher.checks) == (entries, checks)  # nothing hashed, nothing written

    signed, _ = accounts.login(node, "tran", PASSWORD, remote="192.0.2.7")  # the holder, elsewhere, gets in
    assert (signed.user.failed_logins, signed.user.locked_until) == (0, None)

    clock.advance(seconds=1)
    login_failure(node, "tran", OTHER_PASSWORD, remote="198.51.100.66")  # checked again after the wait …
    with pytest.raises(TooManyAttempts) as caught:
        accounts.login(node, "tran", OTHER_PASSWORD, remote="198.51.100.66")
    assert caught.value.retry_after == 2  # … and the next wait is twice as long


def test_a_success_in_between_starts_the_count_again(node: Node, store: Store) -> None:
    add(node, "tran")
    for _ in range(FREE - 1):
        login_failure(node, "tran", OTHER_PASSWORD)
    accounts.login(node, "tran", PASSWORD)
    for _ in range(FREE - 1):
        login_failure(node, "tran", OTHER_PASSWORD)
    assert stored_user(store, "tran").locked_until is None
    accounts.login(node, "tran", PASSWORD)


def test_unlocking_lifts_the_delays_at_once(node: Node, store: Store) -> None:
    add(node, "tran")
    for _ in range(FREE):
        login_failure(node, "tran", OTHER_PASSWORD)
    with pytest.raises(TooManyAttempts):
        accounts.login(node, "tran", PASSWORD)
    unlocked = accounts.unlock(node, "tran", actor=CLI)
    assert (unlocked.failed_logins, unlocked.locked_until) == (0, None)
    assert log(store)[-1].action == "user:unlock"
    accounts.login(node, "tran", PASSWORD)


def test_a_hash_made_with_weaker_parameters_is_replaced_at_sign_in(node: Node, store: Store) -> None:
    add(node, "tran")
    assert stored_user(store, "tran").password_hash.startswith("fake$1$")
    stronger = replace(node, passwords=FakePasswordHasher(version=2))
    accounts.login(stronger, "tran", PASSWORD)
    assert stored_user(store, "tran").password_hash == FakePasswordHasher(version=2).hash(PASSWORD)
    accounts.login(stronger, "tran", PASSWORD)  # and it still verifies


# -- sessions --------------------------------------------------------------------------------------------------


def test_no_token_or_an_unknown_one_opens_nothing(node: Node) -> None:
    add(node, "tran")
    accounts.login(node, "tran", PASSWORD)
    assert accounts.signed_in(node, "") is None
    assert accounts.signed_in(node, "not-a-token") is None


def test_a_signed_out_session_is_over_and_signing_out_twice_is_recorded_once(node: Node, store: Store) -> None:
    add(node, "tran")
    signed, token = accounts.login(node, "tran", PASSWORD)
    me = Actor("tran", signed.user.roles, Channel.WEB)
    accounts.logout(node, token, actor=me)
    assert accounts.signed_in(node, token) is None
    assert store.accounts.sessions[signed.session.id].ended_at == START
    accounts.logout(node, token, actor=me)
    accounts.logout(node, "unknown", actor=me)
    assert [e.action for e in log(store)].count("session:logout") == 1
    assert log(store)[-1].object_id == signed.session.id


def test_a_session_left_idle_for_an_hour_is_over(node: Node, clock: FixedClock) -> None:
    add(node, "tran")
    _, token = accounts.login(node, "tran", PASSWORD)
    clock.advance(minutes=59)
    used = accounts.signed_in(node, token)
    assert used is not None
    assert used.session.expires_at == clock.now() + SESSION_IDLE  # use moves the idle expiry on
    clock.advance(minutes=59, seconds=59)
    assert accounts.signed_in(node, token) is not None
    clock.advance(hours=1)
    assert accounts.signed_in(node, token) is None


def test_an_hour_of_idleness_ends_a_session_exactly(node: Node, clock: FixedClock) -> None:
    add(node, "tran")
    _, token = accounts.login(node, "tran", PASSWORD)
    clock.advance(hours=1)
    assert accounts.signed_in(node, token) is None


def test_a_session_in_constant_use_still_ends_after_twelve_hours(node: Node, clock: FixedClock) -> None:
    add(node, "tran")
    _, token = accounts.login(node, "tran", PASSWORD)
    uses = 0
    expiries = []
    while clock.now() + timedelta(minutes=50) < START + SESSION_MAX:
        clock.advance(minutes=50)
        used = accounts.signed_in(node, token)
        assert used is not None, clock.now()
        expiries.append(used.session.expires_at)
        uses += 1
    assert uses == 14  # 11 h 40 min of work
    assert expiries[-1] == START + SESSION_MAX  # the idle expiry never passes the absolute one
    clock.current = START + SESSION_MAX
    assert accounts.signed_in(node, token) is None
    assert timedelta(hours=12) == SESSION_MAX


def test_activity_is_written_at_most_once_a_minute(node: Node, store: Store, clock: FixedClock) -> None:
    add(node, "tran")
    signed, token = accounts.login(node, "tran", PASSWORD)
    commits = store.commits
    clock.advance(seconds=59)
    seen = accounts.signed_in(node, token)
    assert seen is not None
    assert seen.session == signed.session
    assert store.commits == commits  # a page view need not be a write
    clock.advance(seconds=1)
    moved = accounts.signed_in(node, token)
    assert moved is not None
    assert (moved.session.last_seen_at, moved.session.expires_at) == (clock.now(), clock.now() + SESSION_IDLE)
    assert store.accounts.sessions[signed.session.id] == moved.session
    assert store.commits == commits + 1


def test_a_disabled_accounts_session_opens_nothing(node: Node, store: Store) -> None:
    user = add(node, "tran")
    _, token = accounts.login(node, "tran", PASSWORD)
    # Disabled behind the service's back (its sessions left open): the session check itself must refuse.
    store.accounts.users[user.id] = replace(user, disabled_at=START)
    assert accounts.signed_in(node, token) is None


# -- managing accounts -----------------------------------------------------------------------------------------


def open_sessions(store: Store, user: User) -> int:
    return sum(1 for s in store.accounts.sessions.values() if s.user_id == user.id and s.ended_at is None)


def test_new_roles_end_the_users_sessions(node: Node, store: Store, clock: FixedClock) -> None:
    user = add(node, "tran", Role.INVESTIGATOR, Role.AUDITOR, Role.DUTY_OFFICER)
    _, token = accounts.login(node, "tran", PASSWORD)
    clock.advance(minutes=5)
    # Taking a role away needs no second administrator (giving one does: tests/unit/test_role_grants.py).
    changed = accounts.set_roles(node, "TRAN", frozenset({Role.AUDITOR, Role.DUTY_OFFICER}), actor=ADMIN)
    assert changed.pending is None
    assert changed.user.roles == {Role.AUDITOR, Role.DUTY_OFFICER}
    assert stored_user(store, "tran").roles == changed.user.roles
    assert accounts.signed_in(node, token) is None  # it carried the old roles
    assert open_sessions(store, user) == 0
    entry = log(store)[-1]
    assert (entry.actor, entry.action, entry.object_id, entry.details) == (
        "ada",
        "user:roles",
        "tran",
        {"roles": ["auditor", "duty_officer"]},
    )
    with pytest.raises(ValidationFailed):
        accounts.set_roles(node, "tran", frozenset(), actor=ADMIN)
    with pytest.raises(NotFound):
        accounts.set_roles(node, "nobody", frozenset({Role.AUDITOR}), actor=ADMIN)


def test_an_administrator_sets_a_password_which_ends_sessions_and_lifts_the_delays(node: Node, store: Store) -> None:
    user = add(node, "tran")
    _, token = accounts.login(node, "tran", PASSWORD)
    for _ in range(FREE):
        login_failure(node, "tran", OTHER_PASSWORD)
    changed = accounts.set_password(node, "tran", OTHER_PASSWORD, actor=ADMIN)  # no current password asked of them
    assert changed.pending is not None  # a second administrator approves it (tests/unit/test_role_grants.py)
    assert accounts.signed_in(node, token) is not None
    add(node, "ben", Role.ADMINISTRATOR)
    accounts.approve_grant(node, changed.pending.id, actor=replace(ADMIN, name="ben"))
    assert accounts.signed_in(node, token) is None
    assert open_sessions(store, user) == 0
    assert (stored_user(store, "tran").failed_logins, stored_user(store, "tran").locked_until) == (0, None)
    login_failure(node, "tran", PASSWORD)
    accounts.login(node, "tran", OTHER_PASSWORD)
    steps = [(e.actor, e.action, e.object_id, e.details.get("change")) for e in log(store) if "grant" in e.action]
    assert steps == [
        ("ada", "user:grant-request", "tran", "password"),
        ("ben", "user:grant-approve", "tran", "password"),
    ]


def test_a_new_password_follows_the_rules(node: Node, store: Store) -> None:
    add(node, "tran")
    for bad in ("short", "tran tran tran", " padded password "):
        with pytest.raises(ValidationFailed) as caught:
            accounts.set_password(node, "tran", bad, actor=CLI)
        assert {i.field for i in caught.value.issues} == {"password"}
    accounts.login(node, "tran", PASSWORD)  # unchanged
    with pytest.raises(NotFound):
        accounts.set_password(node, "nobody", OTHER_PASSWORD, actor=CLI)


def test_an_owner_changing_their_own_password_gives_the_current_one(node: Node, store: Store) -> None:
    add(node, "minh", Role.DUTY_OFFICER)  # no permission to manage accounts: their own password is theirs
    new = "a brand new passphrase"
    for current in (None, OTHER_PASSWORD, ""):
        with pytest.raises(ValidationFailed) as caught:
            accounts.set_password(node, "minh", new, actor=OFFICER, current=current)
        assert [i.field.startswith("current") for i in caught.value.issues] == [True]
    login_failure(node, "minh", new)
    accounts.login(node, "minh", PASSWORD)  # unchanged
    attempts = [e for e in log(store) if e.action == "user:password"]
    assert [(e.actor, e.outcome) for e in attempts] == [("minh", Outcome.FAILED)] * 3
    accounts.set_password(node, "minh", new, actor=OFFICER, current=PASSWORD)
    accounts.login(node, "minh", new)
    changed = [e for e in log(store) if e.action == "user:password"][-1]
    assert (changed.actor, changed.object_id, changed.outcome) == ("minh", "minh", Outcome.OK)
    everything = b"".join(canonical(e.body()) for e in log(store))
    assert new.encode() not in everything
    assert PASSWORD.encode() not in everything


def test_guessing_ones_own_current_password_is_throttled_like_a_sign_in(node: Node, hasher: FakePasswordHasher) -> None:
    """A stolen session must not try current passwords freely: the sixth wrong one from the place waits."""
    add(node, "minh", Role.DUTY_OFFICER)
    for _ in range(FREE):
        with pytest.raises(ValidationFailed):
            accounts.set_password(node, "minh", "a brand new passphrase", actor=OFFICER, current=OTHER_PASSWORD)
    checks = hasher.checks
    with pytest.raises(TooManyAttempts):
        accounts.set_password(node, "minh", "a brand new passphrase", actor=OFFICER, current=PASSWORD)
    assert hasher.checks == checks
    accounts.login(node, "minh", PASSWORD, remote="192.0.2.99")  # signing in from elsewhere still works


def test_an_administrator_changing_their_own_password_on_the_web_gives_the_current_one_too(node: Node) -> None:
    add(node, "ada", Role.ADMINISTRATOR)
    with pytest.raises(ValidationFailed):
        accounts.set_password(node, "ada", OTHER_PASSWORD, actor=ADMIN)
    accounts.set_password(node, "ada", OTHER_PASSWORD, actor=ADMIN, current=PASSWORD)
    accounts.login(node, "ada", OTHER_PASSWORD)


def test_disabling_ends_sessions_at_once_and_enabling_lets_the_user_back_in(node: Node, store: Store) -> None:
    user = add(node, "tran")
    _, token = accounts.login(node, "tran", PASSWORD)
    disabled = accounts.set_disabled(node, "tran", True, actor=ADMIN)
    assert disabled.disabled_at == START
    assert open_sessions(store, user) == 0
    assert accounts.signed_in(node, token) is None
    login_failure(node, "tran", PASSWORD)
    enabled = accounts.set_disabled(node, "tran", False, actor=ADMIN)
    assert enabled.disabled_at is None
    assert accounts.signed_in(node, token) is None  # an ended session stays ended
    accounts.login(node, "tran", PASSWORD)
    assert [e.action for e in log(store) if e.action.startswith("user:")][-2:] == ["user:disable", "user:enable"]


def test_an_administrator_cannot_disable_their_own_account(node: Node, store: Store) -> None:
    add(node, "ada", Role.ADMINISTRATOR)
    with pytest.raises(ValidationFailed) as caught:
        accounts.set_disabled(node, "ada", True, actor=ADMIN)
    assert [i.field for i in caught.value.issues] == ["username"]
    assert stored_user(store, "ada").disabled_at is None


def test_unlocking_leaves_sessions_open(node: Node, store: Store) -> None:
    user = add(node, "tran")
    accounts.login(node, "tran", PASSWORD)
    accounts.unlock(node, "tran", actor=ADMIN)
    assert open_sessions(store, user) == 1


def test_only_administrators_manage_accounts_except_at_the_command_line(node: Node, store: Store) -> None:
    add(node, "tran")
    add(node, "minh", Role.DUTY_OFFICER)
    before = stored_user(store, "tran")
    api_investigator = Actor("bot", frozenset({Role.INVESTIGATOR, Role.AUDITOR}), Channel.API)
    for actor in (OFFICER, api_investigator):
        with pytest.raises(Forbidden, match="needs the permission users:manage"):
            accounts.set_roles(node, "tran", frozenset({Role.ADMINISTRATOR}), actor=actor)
        with pytest.raises(Forbidden):
            accounts.set_disabled(node, "tran", True, actor=actor)
        with pytest.raises(Forbidden):
            accounts.unlock(node, "tran", actor=actor)
        with pytest.raises(Forbidden):
            accounts.set_password(node, "tran", OTHER_PASSWORD, actor=actor)
    assert stored_user(store, "tran") == before
    # At the command line (on the node itself) the roles of whoever acts do not matter.
    accounts.set_roles(node, "tran", frozenset({Role.AUDITOR}), actor=CLI)
    accounts.set_disabled(node, "tran", True, actor=CLI)
    accounts.set_disabled(node, "tran", False, actor=CLI)
    accounts.unlock(node, "tran", actor=CLI)
    accounts.set_password(node, "tran", OTHER_PASSWORD, actor=CLI)
    accounts.login(node, "tran", OTHER_PASSWORD)


def test_a_refused_account_change_is_recorded(node: Node, store: Store) -> None:
    """``Forbidden``: "the caller's roles do not allow this; the refusal is recorded in the audit log"."""
    add(node, "tran")
    before = len(log(store))
    with pytest.raises(Forbidden):
        accounts.set_roles(node, "tran", frozenset({Role.ADMINISTRATOR}), actor=OFFICER)
    refusals = [e for e in log(store)[before:] if e.outcome is Outcome.REFUSED]
    assert [(e.actor, e.channel) for e in refusals] == [("minh", Channel.WEB)]


def test_disabling_an_account_is_not_undone_by_a_password_change_in_flight(node: Node, store: Store) -> None:
    """An administrator disables a compromised account while its holder changes its password (the slow hash runs
    between the service reading the account and writing it back): the account must stay disabled."""
    add(node, "ada", Role.ADMINISTRATOR)
    add(node, "tran")
    owner = Actor("tran", frozenset({Role.INVESTIGATOR}), Channel.WEB, "203.0.113.5")
    opened = 0

    def uow() -> FakeUnitOfWork:
        nonlocal opened
        opened += 1
        if opened == 2:  # set_password has read the account and checked the current password: the admin acts now
            accounts.set_disabled(node, "tran", True, actor=ADMIN)
        return FakeUnitOfWork(store)

    with contextlib.suppress(Conflict):  # refusing the password change would be fine too
        accounts.set_password(replace(node, uow=uow), "tran", OTHER_PASSWORD, actor=owner, current=PASSWORD)
    assert opened >= 2
    assert stored_user(store, "tran").disabled_at is not None
    login_failure(node, "tran", OTHER_PASSWORD)


# -- authorization ---------------------------------------------------------------------------------------------


def test_authorize_lets_an_allowed_actor_through_without_an_entry(node: Node, store: Store) -> None:
    accounts.authorize(node, OFFICER, P.EVIDENCE_CONTENT, action="evidence:download", subject="evidence")
    accounts.authorize(node, ADMIN, P.USERS_MANAGE, action="user:add", subject="user")
    assert log(store) == []


def test_authorize_records_a_refusal_before_raising(node: Node, store: Store, keys: NodeKeys) -> None:
    with pytest.raises(Forbidden) as caught:
        accounts.authorize(
            node, OFFICER, P.EVIDENCE_EXPORT, action="evidence:export", subject="evidence", object_id="item-7"
        )
    message = str(caught.value)
    assert "minh" in message
    assert "duty_officer" in message
    assert "evidence:export" in message
    (entry,) = log(store)  # committed, although the caller sees an exception
    assert (entry.actor, entry.roles, entry.channel, entry.remote) == (
        "minh",
        ("duty_officer",),
        Channel.WEB,
        "192.0.2.2",
    )
    assert (entry.action, entry.subject, entry.object_id, entry.outcome) == (
        "evidence:export",
        "evidence",
        "item-7",
        Outcome.REFUSED,
    )
    assert entry.details == {"missing": "evidence:export"}
    assert keys.verify(entry.signature, entry.message())

    nobody = Actor("someone", frozenset(), Channel.API)
    with pytest.raises(Forbidden, match=r"someone \(no role\) may not do this: it needs the permission audit:read"):
        accounts.authorize(node, nobody, P.AUDIT_READ, action="audit:list", subject="audit")
    assert len(log(store)) == 2


def test_an_actors_event_names_roles_in_order_and_takes_its_outcome_apart() -> None:
    actor = Actor("tran", frozenset({Role.PROSECUTOR, Role.AUDITOR}), Channel.API, "192.0.2.9")
    ev = actor.event("request:view", "request", "r-1", outcome=Outcome.REFUSED, why="conditions")
    assert ev.roles == ("auditor", "prosecutor")
    assert ev.outcome is Outcome.REFUSED
    assert ev.details == {"why": "conditions"}
    assert (ev.actor, ev.channel, ev.remote, ev.object_id) == ("tran", Channel.API, "192.0.2.9", "r-1")
    assert actor.event("x:y", "x").outcome is Outcome.OK
    assert actor.principal.roles == actor.roles


def test_a_node_without_a_password_hasher_cannot_create_accounts(node: Node) -> None:
    with pytest.raises(RuntimeError, match="password hasher"):
        add(replace(node, passwords=None), "tran")
