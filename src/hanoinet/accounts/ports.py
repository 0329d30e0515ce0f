"""What the accounts services need from storage: users, sessions, API tokens, and a password hasher."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from hanoinet.accounts.domain import GrantStatus, RoleGrant, User
from hanoinet.platform.permissions import Principal, Role


class Tokens(Protocol):
    """API tokens for machines."""

    def add(self, token_id: str, name: str, roles: Sequence[Role], token_hash: str, at: datetime) -> None:
        """Stage a token (only its hash)."""

    def principal(self, token_hash: str) -> Principal | None:
        """Return who holds the token with this hash, or None if unknown or revoked."""

    def by_name(self, name: str) -> bool:
        """True if a token with this name exists."""

    def revoke(self, name: str, at: datetime) -> bool:
        """Revoke the named token; False if there was none to revoke."""


# --------------------------------------------------------------------------------------------------------------
# Accounts and audit


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """A signed-in session: only the hash of its token is kept; its CSRF token goes into every form."""

    id: str
    user_id: str
    token_hash: str
    csrf_token: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    remote: str = ""
    ended_at: datetime | None = None


class Accounts(Protocol):
    """Users and their sessions."""

    def add(self, user: User) -> None:
        """Stage a new user."""

    def get(self, user_id: str) -> User | None:
        """Return the user with this id, or None."""

    def by_username(self, username: str) -> User | None:
        """Return the user with this name, or None."""

    def list(self) -> Sequence[User]:
        """Every user, by name."""

    def count(self) -> int:
        """How many users there are."""

    def update(self, user_id: str, changes: Mapping[str, Any]) -> None:
        """Write only these fields of a user (``User`` field names: roles, password_hash, disabled_at …), so that
        two changes made at once (a password change while an administrator disables the account) both stand."""

    def count_failure(self, user_id: str) -> int:
        """Add one failed sign-in in a single statement (parallel guesses all count); return the count. It is shown
        to administrators and locks nothing: delays are the throttle's (``accounts.throttle``)."""

    def add_session(self, session: SessionRecord) -> None:
        """Stage a new session."""

    def session(self, token_hash: str) -> SessionRecord | None:
        """Return the session with this token hash, or None."""

    def touch_session(self, session_id: str, at: datetime, expires_at: datetime) -> None:
        """Record activity on a session and move its idle expiry."""

    def end_session(self, session_id: str, at: datetime) -> None:
        """End a session (sign-out)."""

    def end_sessions_of(self, user_id: str, at: datetime) -> int:
        """End every open session of a user (password changed, account disabled); return how many."""

    def add_grant(self, grant: RoleGrant) -> None:
        """Stage a pending grant of casework roles."""

    def grant(self, grant_id: str) -> RoleGrant | None:
        """Return the grant with this id (whatever its status), or None."""

    def pending_grants(self, user_id: str | None = None) -> Sequence[RoleGrant]:
        """The grants still waiting for a second administrator, oldest first (only this account's, if given)."""

    def decide_grant(self, grant_id: str, status: GrantStatus, by: str, at: datetime) -> bool:
        """Approve or reject a grant in one statement, only while it is pending; False if it no longer was (two
        administrators deciding at once: one wins, the other is told). A reset's password hash is cleared with it."""


class PasswordHasher(Protocol):
    """Stretches passwords (Argon2id) so that a stolen database does not give them away."""

    def hash(self, password: str) -> str:
        """The encoded hash of a password."""

    def verify(self, encoded: str, password: str) -> bool:
        """True if the password matches; raise HashingBusy, at once, when too many checks are running already."""

    def needs_rehash(self, encoded: str) -> bool:
        """True if the hash was made with weaker parameters than today's."""
