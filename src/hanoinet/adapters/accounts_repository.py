"""SQL storage of accounts, sessions and the audit log; and the Argon2id password hasher."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from argon2 import PasswordHasher as Argon2
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Row, and_, bindparam, case, func, insert, select, update
from sqlalchemy.orm import Session

from hanoinet.adapters.db import affected
from hanoinet.adapters.orm import AuditEntryRow, AuditHeadRow, Base, SessionRow, UserRow
from hanoinet.domain.accounts import LOCK_AFTER, LOCK_FOR, User
from hanoinet.domain.audit import AuditEntry, Channel, Outcome
from hanoinet.domain.errors import Conflict
from hanoinet.domain.evidence import Role
from hanoinet.services.ports import AuditQuery, SessionRecord

MAX_PAGE = 1000
_USERS = Base.metadata.tables[UserRow.__tablename__]
_SESSIONS = Base.metadata.tables[SessionRow.__tablename__]
_AUDIT = Base.metadata.tables[AuditEntryRow.__tablename__]
_HEAD = Base.metadata.tables[AuditHeadRow.__tablename__]
_LOCK_HEAD = update(_HEAD).where(_HEAD.c.id == 1).values(seq=_HEAD.c.seq).returning(_HEAD.c.seq, _HEAD.c.hash)
_MOVE_HEAD = (
    update(_HEAD)
    .where(_HEAD.c.id == 1, _HEAD.c.seq == bindparam("old_seq"))
    .values(seq=bindparam("new_seq"), hash=bindparam("new_hash"))
)
_INSERT_ENTRY = insert(_AUDIT)


class Argon2Hasher:
    """Argon2id with argon2-cffi's current defaults (RFC 9106's second recommended profile, 64 MiB)."""

    def __init__(self, *, time_cost: int = 3, memory_cost: int = 65536, parallelism: int = 4) -> None:
        self._hasher = Argon2(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism)

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, encoded: str, password: str) -> bool:
        try:
            return self._hasher.verify(encoded, password)
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, encoded: str) -> bool:
        try:
            return self._hasher.check_needs_rehash(encoded)
        except InvalidHashError:
            return True


def _user(row: UserRow | Row[Any]) -> User:
    return User(
        id=row.id,
        username=row.username,
        display_name=row.display_name,
        roles=frozenset(Role(r) for r in row.roles),
        password_hash=row.password_hash,
        created_at=row.created_at,
        failed_logins=row.failed_logins,
        locked_until=row.locked_until,
        disabled_at=row.disabled_at,
        last_login_at=row.last_login_at,
        language=row.language,
    )


def _session(row: SessionRow | Row[Any]) -> SessionRecord:
    return SessionRecord(
        id=row.id,
        user_id=row.user_id,
        token_hash=row.token_hash,
        csrf_token=row.csrf_token,
        created_at=row.created_at,
        last_seen_at=row.last_seen_at,
        expires_at=row.expires_at,
        remote=row.remote,
        ended_at=row.ended_at,
    )


class SqlAccounts:
    """Users and sessions in ``users`` and ``sessions``."""

    def __init__(self, session: Session) -> None:
        self._db = session

    def add(self, user: User) -> None:
        self._db.execute(insert(_USERS).values(**_values(user), id=user.id, created_at=user.created_at))

    def get(self, user_id: str) -> User | None:
        row = self._db.execute(select(_USERS).where(_USERS.c.id == user_id)).first()
        return _user(row) if row else None

    def by_username(self, username: str) -> User | None:
        row = self._db.execute(select(_USERS).where(_USERS.c.username == username)).first()
        return _user(row) if row else None

    def list(self) -> Sequence[User]:
        return [_user(r) for r in self._db.execute(select(_USERS).order_by(_USERS.c.username))]

    def count(self) -> int:
        return int(self._db.execute(select(func.count()).select_from(_USERS)).scalar() or 0)

    def update(self, user_id: str, changes: Mapping[str, Any]) -> None:
        values = {k: sorted(r.value for r in v) if k == "roles" else v for k, v in changes.items()}
        if values:
            self._db.execute(update(_USERS).where(_USERS.c.id == user_id).values(**values))

    def count_failure(self, user_id: str, at: datetime) -> tuple[int, datetime | None]:
        # One statement, so that parallel guesses all count; the same rule as domain.accounts.after_failure.
        c = _USERS.c
        expired = and_(c.locked_until.is_not(None), c.locked_until <= at)
        failures = case((expired, 1), else_=c.failed_logins + 1)
        lock = case((failures >= LOCK_AFTER, at + LOCK_FOR), (expired, None), else_=c.locked_until)
        row = self._db.execute(
            update(_USERS)
            .where(c.id == user_id)
            .values(failed_logins=failures, locked_until=lock)
            .returning(c.failed_logins, c.locked_until)
        ).first()
        return (int(row.failed_logins), row.locked_until) if row else (0, None)

    def add_session(self, session: SessionRecord) -> None:
        self._db.execute(
            insert(_SESSIONS).values(
                id=session.id,
                user_id=session.user_id,
                token_hash=session.token_hash,
                csrf_token=session.csrf_token,
                created_at=session.created_at,
                last_seen_at=session.last_seen_at,
                expires_at=session.expires_at,
                remote=session.remote[:64],
                ended_at=session.ended_at,
            )
        )

    def session(self, token_hash: str) -> SessionRecord | None:
        row = self._db.execute(select(_SESSIONS).where(_SESSIONS.c.token_hash == token_hash)).first()
        return _session(row) if row else None

    def touch_session(self, session_id: str, at: datetime, expires_at: datetime) -> None:
        self._db.execute(
            update(_SESSIONS).where(_SESSIONS.c.id == session_id).values(last_seen_at=at, expires_at=expires_at)
        )

    def end_session(self, session_id: str, at: datetime) -> None:
        self._db.execute(
            update(_SESSIONS).where(_SESSIONS.c.id == session_id, _SESSIONS.c.ended_at.is_(None)).values(ended_at=at)
        )

    def end_sessions_of(self, user_id: str, at: datetime) -> int:
        return affected(
            self._db.execute(
                update(_SESSIONS)
                .where(_SESSIONS.c.user_id == user_id, _SESSIONS.c.ended_at.is_(None))
                .values(ended_at=at)
            )
        )


def _values(user: User) -> dict[str, Any]:
    return {
        "username": user.username,
        "display_name": user.display_name,
        "roles": sorted(r.value for r in user.roles),
        "password_hash": user.password_hash,
        "failed_logins": user.failed_logins,
        "locked_until": user.locked_until,
        "disabled_at": user.disabled_at,
        "last_login_at": user.last_login_at,
        "language": user.language,
    }


def _entry(row: AuditEntryRow | Row[Any]) -> AuditEntry:
    return AuditEntry(
        seq=row.seq,
        at=row.at,
        actor=row.actor,
        roles=tuple(row.roles),
        channel=Channel(row.channel),
        action=row.action,
        subject=row.subject,
        object_id=row.object_id,
        outcome=Outcome(row.outcome),
        details=dict(row.details),
        remote=row.remote,
        prev_hash=row.prev_hash,
        hash=row.hash,
        signature=bytes(row.signature),
    )


class SqlAuditLog:
    """The audit log: one hash chain, appended under a lock on its head row (like the custody ledger)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def lock_head(self) -> tuple[int, str]:
        # One UPDATE ... RETURNING: on SQLite it takes the write lock before anything is read, on PostgreSQL it
        # locks the row, so two writers never chain onto the same head; and it reads the head in the same statement.
        row = self.session.execute(_LOCK_HEAD).first()
        if row is None:
            raise Conflict("the audit log has no head row: the database was not migrated by hanoinet")
        return int(row.seq), str(row.hash)

    def append(self, entry: AuditEntry) -> None:
        # Statements built once, values as parameters: an append is on the path of every audited call.
        moved = self.session.execute(
            _MOVE_HEAD, {"old_seq": entry.seq - 1, "new_seq": entry.seq, "new_hash": entry.hash}
        )
        if affected(moved) != 1:
            raise Conflict("the audit log moved on under this transaction; retry")
        self.session.execute(
            _INSERT_ENTRY,
            {
                "seq": entry.seq,
                "at": entry.at,
                "actor": entry.actor,
                "roles": list(entry.roles),
                "channel": entry.channel.value,
                "action": entry.action,
                "subject": entry.subject,
                "object_id": entry.object_id,
                "outcome": entry.outcome.value,
                "details": entry.details,
                "remote": entry.remote,
                "prev_hash": entry.prev_hash,
                "hash": entry.hash,
                "signature": entry.signature,
            },
        )

    def entries(self, query: AuditQuery) -> Sequence[AuditEntry]:
        stmt = select(_AUDIT)
        for column, value in (
            (_AUDIT.c.actor, query.actor),
            (_AUDIT.c.action, query.action),
            (_AUDIT.c.subject, query.subject),
            (_AUDIT.c.object_id, query.object_id),
            (_AUDIT.c.outcome, query.outcome.value if query.outcome else None),
            (_AUDIT.c.channel, query.channel.value if query.channel else None),
        ):
            if value is not None:
                stmt = stmt.where(column == value)
        if query.since is not None:
            stmt = stmt.where(_AUDIT.c.at >= query.since)
        if query.until is not None:
            stmt = stmt.where(_AUDIT.c.at < query.until)
        if query.after_seq is not None:
            stmt = stmt.where(_AUDIT.c.seq > query.after_seq)
        if query.before_seq is not None:
            stmt = stmt.where(_AUDIT.c.seq < query.before_seq)
        order = _AUDIT.c.seq.asc() if query.oldest_first else _AUDIT.c.seq.desc()
        stmt = stmt.order_by(order).limit(min(query.limit, MAX_PAGE)).offset(query.offset)
        return [_entry(r) for r in self.session.execute(stmt)]

    def all(self) -> Iterator[AuditEntry]:
        for row in self.session.execute(select(_AUDIT).order_by(_AUDIT.c.seq).execution_options(yield_per=1000)):
            yield _entry(row)

    def head_row(self) -> tuple[int, str]:
        row = self.session.execute(select(AuditHeadRow.seq, AuditHeadRow.hash).where(AuditHeadRow.id == 1)).first()
        return (int(row.seq), str(row.hash)) if row else (0, "")
