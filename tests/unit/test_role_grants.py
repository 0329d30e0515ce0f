"""Separation of duties over in-memory fakes: nobody changes their own roles, and a grant of a role that reads cases,
requests or evidence (or manages accounts) waits for a second administrator — with both steps in the audit log."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hanoinet.accounts import service as accounts
from hanoinet.accounts.domain import APPROVAL_ROLES, CASEWORK_ROLES, GrantStatus, LoginFailed, needs_approval
from hanoinet.app.node import Node
from hanoinet.audit.domain import AuditEntry
from hanoinet.platform.errors import Conflict, NotFound
from hanoinet.platform.events import Actor, Channel, Outcome
from hanoinet.platform.keys import NodeKeys, ensure_keys
from hanoinet.platform.permissions import ROLE_PERMISSIONS, Forbidden, Permission, Role
from hanoinet.treaty.countries import load_catalog
from tests.fakes import FakePasswordHasher, FakeUnitOfWork, FixedClock, Store

START = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
PASSWORD = "correct horse battery staple"  # noqa: S105 - a test account's
CLI = Actor("root", frozenset(), Channel.CLI, "local")
ADA = Actor("ada", frozenset({Role.ADMINISTRATOR}), Channel.WEB, "192.0.2.1")
BEN = Actor("ben", frozenset({Role.ADMINISTRATOR}), Channel.API, "192.0.2.3")
INVESTIGATOR = frozenset({Role.INVESTIGATOR})


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> NodeKeys:
    return ensure_keys(tmp_path_factory.mktemp("keys"))


@pytest.fixture
def store() -> Store:
    return Store()


@pytest.fixture
def node(store: Store, keys: NodeKeys) -> Node:
    clock = FixedClock(START)
    built = Node(
        uow=lambda: FakeUnitOfWork(store),
        packs={},
        catalog=load_catalog(),
        clock=clock,
        wall_clock=clock,
        node_state="VNM",
        signer=keys,
        passwords=FakePasswordHasher(),
    )
    for name in ("ada", "ben"):
        accounts.add_user(built, username=name, password=PASSWORD, roles=frozenset({Role.ADMINISTRATOR}), actor=CLI)
    return built


def roles_of(node: Node, name: str) -> frozenset[Role]:
    return next(u.roles for u in accounts.list_users(node) if u.username == name)


def entries(store: Store, prefix: str = "user:") -> list[AuditEntry]:
    return [e for e in store.audit.entries if e.action.startswith(prefix)]


def test_the_casework_roles_are_those_reading_cases_requests_or_evidence() -> None:
    reading = {Permission.REQUESTS_READ, Permission.EVIDENCE_READ, Permission.EVIDENCE_CONTENT}
    assert {r for r, allowed in ROLE_PERMISSIONS.items() if allowed & reading} == CASEWORK_ROLES
    assert Role.ADMINISTRATOR not in CASEWORK_ROLES
    assert Role.AUDITOR in CASEWORK_ROLES
    assert CASEWORK_ROLES | {Role.ADMINISTRATOR} == APPROVAL_ROLES  # it could make a sock-puppet approver
    assert needs_approval(frozenset({Role.INVESTIGATOR}), frozenset()) == frozenset()  # removing never waits
    assert needs_approval(frozenset(), frozenset({Role.PROSECUTOR})) == {Role.PROSECUTOR}


def test_nobody_changes_their_own_roles_through_any_channel(node: Node, store: Store) -> None:
    for actor in (ADA, Actor("ada", frozenset(), Channel.CLI, "local")):
        with pytest.raises(Forbidden, match="nobody changes their own roles"):
            accounts.set_roles(node, "ADA", frozenset({Role.ADMINISTRATOR, Role.INVESTIGATOR}), actor=actor)
    assert roles_of(node, "ada") == {Role.ADMINISTRATOR}
    refused = [e for e in entries(store) if e.outcome is Outcome.REFUSED]
    assert [(e.actor, e.channel, e.action, e.object_id) for e in refused] == [
        ("ada", Channel.WEB, "user:roles", "ada"),
        ("ada", Channel.CLI, "user:roles", "ada"),
    ]
    assert not accounts.pending_grants(node)


def test_a_casework_grant_waits_for_a_second_administrator(node: Node, store: Store) -> None:
    accounts.add_user(node, username="tran", password=PASSWORD, roles=frozenset({Role.AUDITOR}), actor=CLI)
    changed = accounts.set_roles(node, "tran", frozenset({Role.AUDITOR, Role.INVESTIGATOR}), actor=ADA)
    assert changed.pending is not None
    assert changed.user.roles == {Role.AUDITOR}
    assert roles_of(node, "tran") == {Role.AUDITOR}  # nothing in effect yet
    (grant,) = accounts.pending_grants(node)
    assert (grant.username, grant.requested_by, grant.added) == ("tran", "ada", frozenset({Role.INVESTIGATOR}))
    with pytest.raises(Conflict, match="already waiting"):  # one at a time
        accounts.set_roles(node, "tran", frozenset({Role.PROSECUTOR}), actor=BEN)
    with pytest.raises(Forbidden, match="a different administrator approves it"):
        accounts.approve_grant(node, grant.id, actor=ADA)
    assert roles_of(node, "tran") == {Role.AUDITOR}
    approved = accounts.approve_grant(node, grant.id, actor=BEN)
    assert (approved.status, approved.decided_by) == (GrantStatus.APPROVED, "ben")
    assert roles_of(node, "tran") == {Role.AUDITOR, Role.INVESTIGATOR}
    with pytest.raises(Conflict, match="already approved"):
        accounts.approve_grant(node, grant.id, actor=BEN)
    steps = [(e.actor, e.action, e.outcome, e.details.get("requested_by")) for e in entries(store, "user:grant")]
    assert steps == [
        ("ada", "user:grant-request", Outcome.OK, None),
        ("ada", "user:grant-approve", Outcome.REFUSED, None),
        ("ben", "user:grant-approve", Outcome.OK, "ada"),
    ]


def test_an_account_made_by_one_administrator_has_no_casework_role_until_another_approves(
    node: Node, store: Store
) -> None:
    made = accounts.add_user(node, username="puppet", password=PASSWORD, roles=INVESTIGATOR, actor=ADA)
    assert made.roles == frozenset()
    (grant,) = accounts.pending_grants(node, "puppet")
    assert grant.roles == INVESTIGATOR
    assert grant.previous == frozenset()
    add = next(e for e in entries(store) if e.action == "user:add" and e.object_id == "puppet")
    assert add.details == {"roles": [], "pending": ["investigator"]}
    # the account holder cannot approve their own grant, even as an administrator
    accounts.add_user(node, username="cli.admin", password=PASSWORD, roles=frozenset({Role.ADMINISTRATOR}), actor=CLI)
    with pytest.raises(Forbidden, match="own roles"):
        accounts.approve_grant(node, grant.id, actor=Actor("puppet", frozenset({Role.ADMINISTRATOR}), Channel.WEB))
    rejected = accounts.reject_grant(node, grant.id, actor=ADA)  # the one who asked withdraws it
    assert rejected.status is GrantStatus.REJECTED
    assert roles_of(node, "puppet") == frozenset()
    with pytest.raises(NotFound):
        accounts.approve_grant(node, "no-such-grant", actor=BEN)


def test_a_second_administrator_account_is_itself_a_grant(node: Node) -> None:
    """Else one administrator makes an administrator account whose password they know and approves from it."""
    made = accounts.add_user(node, username="sock", password=PASSWORD, roles=frozenset({Role.ADMINISTRATOR}), actor=ADA)
    assert made.roles == frozenset()
    assert [g.username for g in accounts.pending_grants(node)] == ["sock"]


def test_a_grant_is_refused_if_the_roles_changed_since_it_was_asked_for(node: Node) -> None:
    accounts.add_user(node, username="tran", password=PASSWORD, roles=frozenset({Role.DUTY_OFFICER}), actor=CLI)
    changed = accounts.set_roles(node, "tran", frozenset({Role.DUTY_OFFICER, Role.PROSECUTOR}), actor=ADA)
    assert changed.pending is not None
    accounts.set_roles(node, "tran", frozenset({Role.AUDITOR}), actor=CLI)  # meanwhile, on the host
    with pytest.raises(Conflict, match="changed since"):
        accounts.approve_grant(node, changed.pending.id, actor=BEN)
    assert roles_of(node, "tran") == {Role.AUDITOR}


def test_the_command_line_on_the_host_grants_directly_and_says_so(node: Node, store: Store) -> None:
    accounts.add_user(node, username="tran", password=PASSWORD, roles=frozenset({Role.AUDITOR}), actor=CLI)
    changed = accounts.set_roles(node, "tran", frozenset({Role.PROSECUTOR}), actor=CLI)
    assert changed.pending is None
    assert changed.user.roles == {Role.PROSECUTOR}
    last = entries(store)[-1]
    assert (last.channel, last.action, last.details) == (
        Channel.CLI,
        "user:roles",
        {"roles": ["prosecutor"], "granted_on_host": True},
    )


def test_only_account_managers_decide_grants(node: Node) -> None:
    accounts.add_user(node, username="tran", password=PASSWORD, roles=INVESTIGATOR, actor=ADA)
    (grant,) = accounts.pending_grants(node)
    officer = Actor("minh", frozenset({Role.INVESTIGATOR}), Channel.WEB)
    for decide in (accounts.approve_grant, accounts.reject_grant):
        with pytest.raises(Forbidden, match="users:manage"):
            decide(node, grant.id, actor=officer)
    assert accounts.pending_grants(node) == [grant]


def test_a_password_reset_by_an_administrator_waits_for_a_second_one(node: Node, store: Store) -> None:
    """Whoever chose a casework account's new password could sign in as it and read its cases."""
    accounts.add_user(node, username="tran", password=PASSWORD, roles=INVESTIGATOR, actor=CLI)
    _, token = accounts.login(node, "tran", PASSWORD)
    changed = accounts.set_password(node, "tran", "a password ada chose", actor=ADA)
    assert changed.pending is not None
    assert changed.pending.resets_password
    assert changed.pending.why == INVESTIGATOR
    accounts.login(node, "tran", PASSWORD)  # the old one still works; the session too
    assert accounts.signed_in(node, token) is not None
    with pytest.raises(LoginFailed):
        accounts.login(node, "tran", "a password ada chose")
    with pytest.raises(Conflict, match="password reset of tran is already waiting"):
        accounts.set_roles(node, "tran", frozenset({Role.PROSECUTOR}), actor=BEN)
    with pytest.raises(Forbidden, match="a different administrator approves it"):
        accounts.approve_grant(node, changed.pending.id, actor=ADA)
    approved = accounts.approve_grant(node, changed.pending.id, actor=BEN)
    assert approved.password_hash is None
    assert store.accounts.grants[approved.id].password_hash is None  # the pending hash is not kept once applied
    assert accounts.signed_in(node, token) is None
    accounts.login(node, "tran", "a password ada chose")
    assert roles_of(node, "tran") == INVESTIGATOR
    steps = [(e.actor, e.action, e.details.get("change")) for e in entries(store, "user:grant")]
    assert steps[0] == ("ada", "user:grant-request", "password")
    assert steps[-1] == ("ben", "user:grant-approve", "password")
    assert all("hash" not in str(e.details) for e in entries(store))


def test_a_rejected_password_reset_changes_nothing_and_forgets_the_hash(node: Node, store: Store) -> None:
    accounts.add_user(node, username="tran", password=PASSWORD, roles=INVESTIGATOR, actor=CLI)
    changed = accounts.set_password(node, "tran", "a password ada chose", actor=ADA)
    assert changed.pending is not None
    rejected = accounts.reject_grant(node, changed.pending.id, actor=BEN)
    assert rejected.status is GrantStatus.REJECTED
    assert store.accounts.grants[rejected.id].password_hash is None
    accounts.login(node, "tran", PASSWORD)
    with pytest.raises(LoginFailed):
        accounts.login(node, "tran", "a password ada chose")


def test_the_host_command_line_and_the_holder_reset_a_password_at_once(node: Node) -> None:
    accounts.add_user(node, username="tran", password=PASSWORD, roles=INVESTIGATOR, actor=CLI)
    assert accounts.set_password(node, "tran", "set on the host itself", actor=CLI).pending is None
    accounts.login(node, "tran", "set on the host itself")
    holder = Actor("tran", INVESTIGATOR, Channel.WEB, "192.0.2.9")
    done = accounts.set_password(node, "tran", "chosen by its holder", actor=holder, current="set on the host itself")
    assert done.pending is None
    accounts.login(node, "tran", "chosen by its holder")
