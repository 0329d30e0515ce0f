"""The accounts store's and the audit log's contract, run on the in-memory fakes and on the SQL store (a SQLite
file): the fakes that the service tests use must behave as the real thing does."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError

from hanoinet.accounts.domain import User
from hanoinet.accounts.ports import SessionRecord
from hanoinet.app.bootstrap import session_factory
from hanoinet.app.node import UnitOfWork
from hanoinet.app.unit_of_work import SqlUnitOfWork
from hanoinet.audit.domain import AUDIT_GENESIS, AuditEntry, chain, check_log
from hanoinet.audit.ports import AuditQuery
from hanoinet.platform import migrations
from hanoinet.platform.db import make_engine
from hanoinet.platform.errors import Conflict
from hanoinet.platform.events import Channel, Event, Outcome
from hanoinet.platform.permissions import Role
from tests.fakes import FakeUnitOfWork, Store

T0 = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
HANOI = timezone(timedelta(hours=7))
REFUSED_TWICE = (Conflict, IntegrityError)
"""A duplicate is refused at once: the fake says Conflict, the SQL store lets the database's IntegrityError out."""

UowFactory = Callable[[], UnitOfWork]


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture(scope="module")
def migrated_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once; each test copies it (much faster than migrating again)."""
    path = tmp_path_factory.mktemp("accounts") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    migrations.upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(params=["fake", "sqlite"])
def uow(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[UowFactory]:
    """A factory of units of work on a fresh, empty store: the fake, or the SQL store on a SQLite file."""
    if request.param == "fake":
        store = Store()
        yield lambda: FakeUnitOfWork(store)
        return
    path = tmp_path / "hanoinet.db"
    shutil.copyfile(request.getfixturevalue("migrated_file"), path)
    engine = make_engine(f"sqlite:///{path}")
    factory = session_factory(engine)
    yield lambda: SqlUnitOfWork(factory)
    engine.dispose()


def user(name: str, uid: str | None = None, **changes: Any) -> User:
    values: dict[str, Any] = {
        "id": uid or f"id-{name}",
        "username": name,
        "display_name": name.title(),
        "roles": frozenset({Role.INVESTIGATOR}),
        "password_hash": f"hash-of-{name}",
        "created_at": T0,
    }
    values.update(changes)
    return User(**values)


def session(sid: str, user_id: str, **changes: Any) -> SessionRecord:
    values: dict[str, Any] = {
        "id": sid,
        "user_id": user_id,
        "token_hash": f"token-{sid}".ljust(64, "0"),
        "csrf_token": f"csrf-{sid}",
        "created_at": T0,
        "last_seen_at": T0,
        "expires_at": at(60),
        "remote": "192.0.2.7",
    }
    values.update(changes)
    return SessionRecord(**values)


def event(n: int, **changes: Any) -> Event:
    values: dict[str, Any] = {
        "actor": "tran",
        "roles": ("investigator",),
        "channel": Channel.WEB,
        "action": "request:view",
        "subject": "request",
        "object_id": f"req-{n}",
        "outcome": Outcome.OK,
        "details": {"n": n, "note": "Tấn công mã độc", "list": ["a", 1, None, True]},
        "remote": "192.0.2.7",
    }
    values.update(changes)
    return Event(**values)


def signed(entry: AuditEntry) -> AuditEntry:
    return replace(entry, signature=b"\x00signature-of-" + entry.hash.encode())


def append_events(u: UnitOfWork, *events: tuple[Event, datetime]) -> list[AuditEntry]:
    """Chain and append events as ``services.audit.record`` does (the signature here is made up)."""
    appended = []
    for ev, when in events:
        entry = signed(chain(u.audit.lock_head(), ev, when))
        u.audit.append(entry)
        appended.append(entry)
    return appended


# -- users -----------------------------------------------------------------------------------------------------


def test_users_are_found_by_id_and_exact_name_and_listed_by_name(uow: UowFactory) -> None:
    with uow() as u:
        assert u.accounts.count() == 0
        assert u.accounts.list() == []
        for name in ("tran", "ada", "minh.le@moj"):
            u.accounts.add(user(name))
        u.commit()
    with uow() as u:
        assert u.accounts.count() == 3
        assert [x.username for x in u.accounts.list()] == ["ada", "minh.le@moj", "tran"]
        assert u.accounts.get("id-ada") == user("ada")
        assert u.accounts.by_username("ada") == user("ada")
        assert u.accounts.get("ada") is None
        assert u.accounts.by_username("Ada") is None  # names are stored lower case; lookups are exact
        assert u.accounts.by_username("id-ada") is None


def test_every_field_of_a_user_comes_back_and_times_in_utc(uow: UowFactory) -> None:
    full = user(
        "tran",
        roles=frozenset({Role.PROSECUTOR, Role.DUTY_OFFICER}),
        created_at=datetime(2027, 3, 1, 16, 0, 0, 123456, tzinfo=HANOI),
        failed_logins=3,
        locked_until=at(15),
        disabled_at=at(20),
        last_login_at=at(-60),
        language="vi",
    )
    with uow() as u:
        u.accounts.add(full)
        u.commit()
    with uow() as u:
        got = u.accounts.get(full.id)
    assert got == full
    assert got is not None
    assert got.created_at.utcoffset() == timedelta(0)
    assert got.created_at == datetime(2027, 3, 1, 9, 0, 0, 123456, tzinfo=UTC)


def test_a_second_account_with_the_same_name_or_id_is_refused(uow: UowFactory) -> None:
    with uow() as u:
        u.accounts.add(user("tran"))
        u.commit()
    with uow() as u, pytest.raises(REFUSED_TWICE):
        u.accounts.add(user("tran", uid="another-id"))
    with uow() as u, pytest.raises(REFUSED_TWICE):
        u.accounts.add(user("other", uid="id-tran"))
    with uow() as u:
        assert [x.username for x in u.accounts.list()] == ["tran"]


def test_update_writes_every_changed_field_but_never_the_creation_time(uow: UowFactory) -> None:
    with uow() as u:
        u.accounts.add(user("tran"))
        u.accounts.add(user("ada"))
        u.commit()
    changed = user(
        "tran",
        display_name="Trần Văn A",
        roles=frozenset({Role.AUDITOR}),
        password_hash="new-hash",  # noqa: S106 - a stored hash, made up
        created_at=at(999),  # not an updatable field
        failed_logins=5,
        locked_until=at(15),
        disabled_at=at(16),
        last_login_at=at(17),
        language="vi",
    )
    with uow() as u:
        u.accounts.update(changed.id, _fields(changed))
        u.accounts.update("id-ghost", _fields(user("ghost")))  # no such account: nothing happens
        u.commit()
    with uow() as u:
        assert u.accounts.get("id-tran") == replace(changed, created_at=T0)
        assert u.accounts.get("id-ada") == user("ada")
        assert u.accounts.get("id-ghost") is None
        assert u.accounts.count() == 2
    with uow() as u:
        u.accounts.update(changed.id, {"locked_until": None, "disabled_at": None, "failed_logins": 0})
        u.commit()
    with uow() as u:
        again = u.accounts.get("id-tran")
        assert again is not None
        assert (again.locked_until, again.disabled_at, again.failed_logins) == (None, None, 0)


def _fields(u: User) -> dict[str, object]:
    """Every field an update may write (all but the id and the creation time)."""
    return {f.name: getattr(u, f.name) for f in dataclasses.fields(u) if f.name not in ("id", "created_at")}


# -- sessions --------------------------------------------------------------------------------------------------


def test_sessions_are_found_by_token_hash_only(uow: UowFactory) -> None:
    with uow() as u:
        u.accounts.add(user("tran"))
        u.accounts.add_session(session("s1", "id-tran", remote="2001:db8::1" + "0" * 80))
        u.commit()
    with uow() as u:
        found = u.accounts.session(session("s1", "id-tran").token_hash)
        assert u.accounts.session("s1") is None
        assert u.accounts.session("csrf-s1") is None
        assert u.accounts.session("0" * 64) is None
    assert found == session("s1", "id-tran", remote=("2001:db8::1" + "0" * 80)[:64])  # the column keeps 64


def test_a_session_needs_an_account_and_a_token_of_its_own(uow: UowFactory) -> None:
    with uow() as u:
        u.accounts.add(user("tran"))
        u.accounts.add_session(session("s1", "id-tran"))
        u.commit()
    with uow() as u, pytest.raises(REFUSED_TWICE):
        u.accounts.add_session(session("s2", "id-nobody"))
    with uow() as u, pytest.raises(REFUSED_TWICE):
        u.accounts.add_session(session("s2", "id-tran", token_hash=session("s1", "id-tran").token_hash))
    with uow() as u:
        assert u.accounts.session(session("s2", "id-tran").token_hash) is None


def test_touch_moves_activity_and_expiry_and_the_first_end_time_is_kept(uow: UowFactory) -> None:
    s1 = session("s1", "id-tran")
    with uow() as u:
        u.accounts.add(user("tran"))
        u.accounts.add_session(s1)
        u.accounts.touch_session("s1", at(5), at(65))
        u.accounts.touch_session("nope", at(5), at(65))
        u.commit()
    with uow() as u:
        assert u.accounts.session(s1.token_hash) == replace(s1, last_seen_at=at(5), expires_at=at(65))
        u.accounts.end_session("s1", at(10))
        u.accounts.end_session("s1", at(11))  # signing out twice: the first time stays
        u.accounts.end_session("nope", at(11))
        u.commit()
    with uow() as u:
        ended = u.accounts.session(s1.token_hash)
    assert ended is not None
    assert ended.ended_at == at(10)


def test_ending_a_users_sessions_ends_only_their_open_ones_and_counts_them(uow: UowFactory) -> None:
    with uow() as u:
        u.accounts.add(user("tran"))
        u.accounts.add(user("ada"))
        for sid in ("t1", "t2", "t3"):
            u.accounts.add_session(session(sid, "id-tran"))
        u.accounts.add_session(session("a1", "id-ada"))
        u.accounts.end_session("t3", at(1))
        u.commit()
    with uow() as u:
        assert u.accounts.end_sessions_of("id-tran", at(2)) == 2
        assert u.accounts.end_sessions_of("id-tran", at(3)) == 0  # nothing left open
        assert u.accounts.end_sessions_of("id-nobody", at(3)) == 0
        u.commit()
    with uow() as u:
        ends = {
            sid: s.ended_at
            for sid in ("t1", "t2", "t3", "a1")
            if (s := u.accounts.session(session(sid, "").token_hash))
        }
    assert ends == {"t1": at(2), "t2": at(2), "t3": at(1), "a1": None}


# -- the audit log ---------------------------------------------------------------------------------------------


def test_an_empty_log_has_the_genesis_head(uow: UowFactory) -> None:
    with uow() as u:
        assert u.audit.lock_head() == (0, AUDIT_GENESIS)
        assert u.audit.head_row() == (0, AUDIT_GENESIS)
        assert list(u.audit.all()) == []
        assert u.audit.entries(AuditQuery()) == []


def test_appended_entries_chain_move_the_head_and_come_back_whole(uow: UowFactory) -> None:
    with uow() as u:
        first = append_events(u, (event(1), at(0)), (event(2), at(1)))
        u.commit()
    with uow() as u:
        assert u.audit.lock_head() == (2, first[-1].hash)
        more = append_events(u, (event(3, details={"roles": ("b", "a")}), at(2)))
        u.commit()
    with uow() as u:
        stored = list(u.audit.all())
        head = u.audit.head_row()
    assert [e.seq for e in stored] == [1, 2, 3]
    assert stored[:2] == first
    assert stored[2] == replace(more[0], details={"roles": ["b", "a"]})  # JSON keeps lists
    assert head == (3, more[0].hash)
    assert [e.prev_hash for e in stored] == [AUDIT_GENESIS, stored[0].hash, stored[1].hash]
    assert check_log(stored, head, lambda sig, message: True) == []


def test_an_entry_that_does_not_follow_the_head_is_a_conflict(uow: UowFactory) -> None:
    with uow() as u:
        stale_head = u.audit.lock_head()
    with uow() as u:
        (e1,) = append_events(u, (event(1), at(0)))
        u.commit()
    with uow() as u:
        late = signed(chain(stale_head, event(2), at(1)))  # chained on a head that has moved on since
        with pytest.raises(Conflict):
            u.audit.append(late)
    with uow() as u:
        ahead = signed(chain((5, "f" * 64), event(2), at(1)))  # a gap
        with pytest.raises(Conflict):
            u.audit.append(ahead)
    with uow() as u:
        assert u.audit.head_row() == (1, e1.hash)
        assert list(u.audit.all()) == [e1]
        append_events(u, (event(2), at(1)))  # on the true head it goes in
        u.commit()
    with uow() as u:
        assert u.audit.head_row()[0] == 2


def test_long_fields_are_cut_to_their_columns_before_hashing_so_the_stored_entry_verifies(uow: UowFactory) -> None:
    with uow() as u:
        (entry,) = append_events(u, (event(1, actor="a" * 300, object_id="o" * 300, remote="r" * 100), at(0)))
        u.commit()
    with uow() as u:
        (stored,) = list(u.audit.all())
    assert (len(stored.actor), len(stored.object_id), len(stored.remote)) == (256, 128, 64)
    assert stored == entry  # what was hashed and signed is what is stored
    assert stored.computed_hash() == stored.hash


def seeded_log(u: UnitOfWork) -> list[AuditEntry]:
    return append_events(
        u,
        (event(1, actor="tran", action="session:login", subject="session", object_id="s-1"), at(0)),
        (event(2, actor="tran", action="request:view", object_id="req-9"), at(10)),
        (event(3, actor="ada", action="request:view", object_id="req-9", outcome=Outcome.REFUSED), at(20)),
        (event(4, actor="ada", action="user:add", subject="user", object_id="minh", channel=Channel.CLI), at(30)),
        (event(5, actor="vnm-ca", action="transmission:receive", subject="transmission", channel=Channel.NODE), at(40)),
        (event(6, actor="tran", action="evidence:download", subject="evidence", outcome=Outcome.FAILED), at(50)),
    )


def test_entries_come_newest_first_and_every_filter_narrows(uow: UowFactory) -> None:
    with uow() as u:
        seeded_log(u)
        u.commit()

    def seqs(**query: Any) -> list[int]:
        with uow() as u:
            return [e.seq for e in u.audit.entries(AuditQuery(**query))]

    assert seqs() == [6, 5, 4, 3, 2, 1]
    assert seqs(actor="tran") == [6, 2, 1]
    assert seqs(actor="Tran") == []
    assert seqs(action="request:view") == [3, 2]
    assert seqs(subject="request") == [3, 2]
    assert seqs(object_id="req-9") == [3, 2]
    assert seqs(outcome=Outcome.REFUSED) == [3]
    assert seqs(outcome=Outcome.FAILED) == [6]
    assert seqs(channel=Channel.CLI) == [4]
    assert seqs(channel=Channel.NODE) == [5]
    assert seqs(since=at(20)) == [6, 5, 4, 3]  # since: inclusive
    assert seqs(until=at(20)) == [2, 1]  # until: exclusive
    assert seqs(since=at(10), until=at(40)) == [4, 3, 2]
    assert seqs(since=datetime(2027, 3, 1, 16, 30, tzinfo=HANOI)) == [6, 5, 4]  # the same instant in any offset
    assert seqs(actor="tran", action="request:view") == [2]
    assert seqs(actor="ada", outcome=Outcome.OK, channel=Channel.CLI, subject="user", object_id="minh") == [4]
    assert seqs(limit=2) == [6, 5]
    assert seqs(limit=2, offset=2) == [4, 3]
    assert seqs(offset=5) == [1]
    assert seqs(offset=6) == []
    assert seqs(actor="tran", limit=1, offset=1) == [2]
    assert seqs(oldest_first=True) == [1, 2, 3, 4, 5, 6]
    assert seqs(oldest_first=True, limit=2, offset=1) == [2, 3]
    assert seqs(after_seq=4) == [6, 5]  # a cursor: strictly after
    assert seqs(before_seq=3) == [2, 1]  # strictly before
    assert seqs(after_seq=1, before_seq=6, oldest_first=True) == [2, 3, 4, 5]
    assert seqs(after_seq=2, actor="tran", oldest_first=True) == [6]
    assert seqs(after_seq=6) == []
    assert seqs(after_seq=0, limit=1) == [6]


def test_a_page_of_entries_holds_at_most_a_thousand(uow: UowFactory) -> None:
    with uow() as u:
        append_events(u, *((event(n, details={}), at(n)) for n in range(1005)))
        u.commit()
    with uow() as u:
        page = u.audit.entries(AuditQuery(limit=5000))
        assert len(list(u.audit.all())) == 1005
    assert len(page) == 1000
    assert (page[0].seq, page[-1].seq) == (1005, 6)


def test_entries_read_are_copies(uow: UowFactory) -> None:
    with uow() as u:
        seeded_log(u)
        u.commit()
    with uow() as u:
        (read,) = u.audit.entries(AuditQuery(limit=1))
        read.details["n"] = "changed by the reader"
        (again,) = u.audit.entries(AuditQuery(limit=1))
        assert again.details["n"] == 6


# -- transactions ----------------------------------------------------------------------------------------------


def write_everything(u: UnitOfWork) -> None:
    u.accounts.add(user("tran"))
    u.accounts.add_session(session("s1", "id-tran"))
    append_events(u, (event(1), at(0)), (event(2), at(1)))


def assert_empty(u: UnitOfWork) -> None:
    assert u.accounts.count() == 0
    assert u.accounts.by_username("tran") is None
    assert u.accounts.session(session("s1", "id-tran").token_hash) is None
    assert u.audit.head_row() == (0, AUDIT_GENESIS)
    assert u.audit.lock_head() == (0, AUDIT_GENESIS)
    assert list(u.audit.all()) == []


def test_an_uncommitted_unit_of_work_leaves_nothing(uow: UowFactory) -> None:
    with uow() as u:
        write_everything(u)
        assert u.accounts.count() == 1  # seen inside the transaction
        assert u.audit.head_row()[0] == 2
    with uow() as u:
        assert_empty(u)
        write_everything(u)
        u.rollback()
        u.commit()
    with uow() as u:
        assert_empty(u)
    with uow() as u:
        write_everything(u)  # the same ids and the same chain again: nothing of the above was kept
        u.commit()
    with uow() as u:
        assert u.accounts.count() == 1
        assert [e.seq for e in u.audit.all()] == [1, 2]


def test_a_change_to_a_user_is_not_seen_before_commit(uow: UowFactory) -> None:
    with uow() as u:
        u.accounts.add(user("tran"))
        u.commit()
    with uow() as u:
        u.accounts.update("id-tran", {"failed_logins": 4})
        u.accounts.add_session(session("s1", "id-tran"))
    with uow() as u:
        found = u.accounts.by_username("tran")
        assert found is not None
        assert found.failed_logins == 0
        assert u.accounts.end_sessions_of("id-tran", at(1)) == 0


def test_the_fake_refuses_to_fork_the_chain_when_another_unit_of_work_committed_meanwhile() -> None:
    """The SQL log's lock makes a second writer wait for the first; the fake cannot wait, so it refuses."""
    store = Store()
    with FakeUnitOfWork(store) as slow:
        head = slow.audit.lock_head()
        with FakeUnitOfWork(store) as quick:
            (winner,) = append_events(quick, (event(1), at(0)))
            quick.commit()
        with pytest.raises(Conflict):
            slow.audit.append(signed(chain(head, event(2), at(1))))
    with FakeUnitOfWork(store) as u:
        assert list(u.audit.all()) == [winner]
        assert u.audit.head_row() == (1, winner.hash)
        append_events(u, (event(2), at(1)))  # a unit of work begun after the commit chains on
        u.commit()
    assert store.audit.head[0] == 2
