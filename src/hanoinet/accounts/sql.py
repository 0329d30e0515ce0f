"""SQL storage of accounts, sessions and the audit log; and the Argon2id password hasher."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, func, insert, select, update
from sqlalchemy.orm import Session

from hanoinet.accounts.domain import GrantStatus, RoleGrant, User
from hanoinet.accounts.orm import ApiTokenRow, RoleGrantRow, SessionRow, UserRow
from hanoinet.accounts.ports import SessionRecord
from hanoinet.platform.db import affected
from hanoinet.platform.orm import Base
from hanoinet.platform.permissions import Principal, Role
from hanoinet.platform.sqlrows import from_row, to_row

_USERS = Base.metadata.tables[UserRow.__tablename__]
_SESSIONS = Base.metadata.tables[SessionRow.__tablename__]
_GRANTS = Base.metadata.tables[RoleGrantRow.__tablename__]


def _user(row: UserRow | Row[Any]) -> User:
    return from_row(User, row, roles=frozenset(Role(r) for r in row.roles))


def _grant(row: Row[Any]) -> RoleGrant:
    return from_row(
        RoleGrant, row, roles=frozenset(Role(r) for r in row.roles), previous=frozenset(Role(r) for r in row.previous)
    )


def _stored_roles(roles: Iterable[Role]) -> list[str]:
    """A user's roles as the ``roles`` column keeps them: their values, sorted."""
    return sorted(r.value for r in roles)


class SqlAccounts:
    """Users and sessions in ``users`` and ``sessions``."""

    def __init__(self, session: Session) -> None:
        self._db = session

    def add(self, user: User) -> None:
        self._db.execute(insert(_USERS).values(**to_row(user, roles=_stored_roles(user.roles))))

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
        values = {k: _stored_roles(v) if k == "roles" else v for k, v in changes.items()}
        if values:
            self._db.execute(update(_USERS).where(_USERS.c.id == user_id).values(**values))

    def count_failure(self, user_id: str) -> int:
        # One statement, so that parallel guesses all count.
        c = _USERS.c
        row = self._db.execute(
            update(_USERS).where(c.id == user_id).values(failed_logins=c.failed_logins + 1).returning(c.failed_logins)
        ).first()
        return int(row.failed_logins) if row else 0

    def add_session(self, session: SessionRecord) -> None:
        self._db.execute(insert(_SESSIONS).values(**to_row(session, remote=session.remote[:64])))

    def session(self, token_hash: str) -> SessionRecord | None:
        row = self._db.execute(select(_SESSIONS).where(_SESSIONS.c.token_hash == token_hash)).first()
        return from_row(SessionRecord, row) if row else None

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

    def add_grant(self, grant: RoleGrant) -> None:
        row = to_row(grant, roles=_stored_roles(grant.roles), previous=_stored_roles(grant.previous))
        self._db.execute(insert(_GRANTS).values(**row))

    def grant(self, grant_id: str) -> RoleGrant | None:
        row = self._db.execute(select(_GRANTS).where(_GRANTS.c.id == grant_id)).first()
        return _grant(row) if row else None

    def pending_grants(self, user_id: str | None = None) -> Sequence[RoleGrant]:
        query = select(_GRANTS).where(_GRANTS.c.status == GrantStatus.PENDING.value)
        if user_id is not None:
            query = query.where(_GRANTS.c.user_id == user_id)
        return [_grant(r) for r in self._db.execute(query.order_by(_GRANTS.c.requested_at, _GRANTS.c.id))]

    def decide_grant(self, grant_id: str, status: GrantStatus, by: str, at: datetime) -> bool:
        pending = and_(_GRANTS.c.id == grant_id, _GRANTS.c.status == GrantStatus.PENDING.value)
        # A reset's password hash is kept only while it waits: once applied (or rejected) it is nobody's business.
        decided = (
            update(_GRANTS).where(pending).values(status=status.value, decided_by=by, decided_at=at, password_hash=None)
        )
        return affected(self._db.execute(decided)) > 0


class SqlTokens:
    """API tokens, stored as SHA-256 digests."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, token_id: str, name: str, roles: Sequence[Role], token_hash: str, at: datetime) -> None:
        self.session.execute(
            insert(ApiTokenRow).values(
                id=token_id, name=name, roles=[r.value for r in roles], token_hash=token_hash, created_at=at
            )
        )

    def principal(self, token_hash: str) -> Principal | None:
        stmt = select(ApiTokenRow).where(ApiTokenRow.token_hash == token_hash, ApiTokenRow.revoked_at.is_(None))
        row = self.session.scalars(stmt).first()
        return Principal(row.name, frozenset(Role(r) for r in row.roles)) if row else None

    def by_name(self, name: str) -> bool:
        return self.session.scalars(select(ApiTokenRow.id).where(ApiTokenRow.name == name)).first() is not None

    def revoke(self, name: str, at: datetime) -> bool:
        result = self.session.execute(
            update(ApiTokenRow).where(ApiTokenRow.name == name, ApiTokenRow.revoked_at.is_(None)).values(revoked_at=at)
        )
        return affected(result) > 0
