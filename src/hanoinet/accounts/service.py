"""Accounts: creating users, signing in and out, sessions, sign-in throttling, roles — each step in the audit log.

There are no default accounts and no default passwords: ``hanoinet user add NAME --role administrator`` creates the
first administrator on the node itself. Sign-in failures all say the same thing, whatever went wrong (unknown user,
wrong password, disabled account), so that nobody can probe which accounts exist; the log says what it was. Failures
lock no account: they slow down further attempts from where they came (``accounts.throttle``).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from hanoinet.accounts.domain import (
    SESSION_IDLE,
    SESSION_MAX,
    HashingBusy,
    LoginFailed,
    User,
    check_password,
    check_roles,
    new_account_issues,
)
from hanoinet.accounts.ports import PasswordHasher, SessionRecord
from hanoinet.audit import service as audit
from hanoinet.platform.errors import Conflict, Issue, NotFound, ValidationFailed
from hanoinet.platform.events import Actor, Channel, Outcome
from hanoinet.platform.ids import new_id
from hanoinet.platform.permissions import Forbidden, Permission, Principal, Role, may

if TYPE_CHECKING:
    from hanoinet.app.node import Node

TOUCH_EVERY_SECONDS = 60
"""A session's last activity is written at most once a minute: a page view need not be a write."""


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A valid session and who it belongs to."""

    user: User
    session: SessionRecord

    @property
    def principal(self) -> Principal:
        """The user as handling conditions see them."""
        return Principal(self.user.username, self.user.roles)


def _hasher(node: Node) -> PasswordHasher:
    if node.passwords is None:
        raise RuntimeError("this node was built without a password hasher")
    return node.passwords


def token_hash(token: str) -> str:
    """SHA-256 of a session token: tokens are 256-bit random, a fast hash is enough."""
    return hashlib.sha256(token.encode()).hexdigest()


def add_user(
    node: Node, *, username: str, password: str, roles: frozenset[Role], display_name: str = "", actor: Actor
) -> User:
    """Create an account. The first one may be created from the node's command line; later ones by an
    administrator."""
    username = username.strip().lower()
    _require_manager(node, actor, "user:add", username)
    new_account_issues(username, password, roles, display_name.strip())
    now = node.now_wall()
    password_hash = _hasher(node).hash(password)  # slow on purpose: before the transaction, not inside it
    with node.uow() as uow:
        if uow.accounts.by_username(username) is not None:
            raise Conflict(f"an account named {username!r} already exists")
        user = User(
            id=new_id(),
            username=username,
            display_name=display_name.strip() or username,
            roles=frozenset(roles),
            password_hash=password_hash,
            created_at=now,
        )
        uow.accounts.add(user)
        audit.record(uow, node, actor.event("user:add", "user", user.username, roles=sorted(r.value for r in roles)))
        uow.commit()
    return user


def login(
    node: Node, username: str, password: str, *, remote: str = "", channel: Channel = Channel.WEB
) -> tuple[SignedIn, str]:
    """Check a password and open a session; return it and its token (shown once, to set the cookie).

    The throttle (``accounts.throttle``) admits the attempt first: one that must wait raises TooManyAttempts before
    anything is read, hashed or written. An admitted one that finds every hashing slot busy raises HashingBusy and
    does not count. Otherwise raise LoginFailed (one message for every reason) after recording the failure; the
    failure slows down further attempts from where it came, and locks no account.
    """
    now = node.now_wall()
    name = username.strip().lower()
    anonymous = Actor(name or "(empty)", frozenset(), channel, remote)
    hasher = _hasher(node)
    node.sign_in.admit(name, remote, now)
    try:
        with node.uow() as uow:
            user = uow.accounts.by_username(name)
        # Exactly one password check whatever the case (unknown, disabled): the time tells nothing. It runs outside
        # any transaction, so that a slow hash never holds the database.
        matches = hasher.verify(user.password_hash if user else _dummy(hasher), password)
    except HashingBusy:
        node.sign_in.unchecked(name, remote)
        raise
    reason = _refusal(user, matches)
    rehashed = hasher.hash(password) if user and reason is None and hasher.needs_rehash(user.password_hash) else None
    with node.uow() as uow:
        fresh = uow.accounts.get(user.id) if user else None
        if reason is None and (user is None or fresh is None or fresh.password_hash != user.password_hash):
            reason = "account changed while signing in"
        elif reason is None:
            reason = _refusal(fresh, matches)
        if reason is not None:
            if reason == "wrong password" and user is not None:
                uow.accounts.count_failure(user.id)
            found_at = node.now_wall()
            node.sign_in.failed(name, remote, found_at)
            if wait := node.sign_in.delay_after(name, remote, found_at):
                reason += f"; the next attempt from {remote or 'here'} waits {wait} s"
            audit.record(
                uow, node, anonymous.event("session:login", "session", name, outcome=Outcome.FAILED, reason=reason)
            )
            uow.commit()
            raise LoginFailed("wrong user name or password: ask an administrator if this persists")
        assert fresh is not None
        changes: dict[str, object] = {"failed_logins": 0, "locked_until": None, "last_login_at": now}
        if rehashed is not None:
            changes["password_hash"] = rehashed
        uow.accounts.update(fresh.id, changes)
        user = replace(fresh, **changes)  # type: ignore[arg-type]
        token = secrets.token_urlsafe(32)
        session = SessionRecord(
            id=new_id(),
            user_id=user.id,
            token_hash=token_hash(token),
            csrf_token=secrets.token_urlsafe(24),
            created_at=now,
            last_seen_at=now,
            expires_at=min(now + SESSION_IDLE, now + SESSION_MAX),
            remote=remote,
        )
        uow.accounts.add_session(session)
        actor = Actor(user.username, user.roles, channel, remote)
        audit.record(uow, node, actor.event("session:login", "session", session.id))
        uow.commit()
    node.sign_in.succeeded(name, remote, now)
    return SignedIn(user, session), token


def _refusal(user: User | None, matches: bool) -> str | None:
    """Why a sign-in fails (for the audit log only; the caller hears one message for every reason), or None."""
    if user is None:
        return "unknown user"
    if user.disabled_at is not None:
        return "account disabled"
    return None if matches else "wrong password"


_DUMMIES: dict[int, str] = {}


def _dummy(hasher: PasswordHasher) -> str:
    """A real hash of a random password: checking against it costs what checking a real account costs."""
    found = _DUMMIES.get(id(hasher))
    if found is None:
        found = _DUMMIES[id(hasher)] = hasher.hash(secrets.token_urlsafe(16))
    return found


def signed_in(node: Node, token: str) -> SignedIn | None:
    """The session a cookie's token opens, if it is still valid (not ended, not idle too long, not too old, its
    account not disabled); its idle expiry moves on with use."""
    if not token:
        return None
    now = node.now_wall()
    with node.uow() as uow:
        session = uow.accounts.session(token_hash(token))
        if session is None or session.ended_at is not None or session.expires_at <= now:
            return None
        user = uow.accounts.get(session.user_id)
        if user is None or user.disabled_at is not None:
            return None
        if (now - session.last_seen_at).total_seconds() >= TOUCH_EVERY_SECONDS:
            expires = min(now + SESSION_IDLE, session.created_at + SESSION_MAX)
            uow.accounts.touch_session(session.id, now, expires)
            uow.commit()
            session = replace(session, last_seen_at=now, expires_at=expires)
    return SignedIn(user, session)


def logout(node: Node, token: str, *, actor: Actor) -> None:
    """End a session."""
    with node.uow() as uow:
        session = uow.accounts.session(token_hash(token))
        if session is not None and session.ended_at is None:
            uow.accounts.end_session(session.id, node.now_wall())
            audit.record(uow, node, actor.event("session:logout", "session", session.id))
            uow.commit()


def list_users(node: Node) -> Sequence[User]:
    """Every account."""
    with node.uow() as uow:
        return uow.accounts.list()


def _user(node: Node, username: str) -> User:
    with node.uow() as uow:
        found = uow.accounts.by_username(username.strip().lower())
    if found is None:
        raise NotFound(f"no account {username!r}")
    return found


def _change(
    node: Node,
    username: str,
    changes: Mapping[str, object],
    actor: Actor,
    action: str,
    *,
    end_sessions: bool,
    **details: object,
) -> User:
    """Write only ``changes`` to the account (read again in this transaction), end its sessions if asked, and
    record the change with it: two changes made at once both stand."""
    with node.uow() as uow:
        user = uow.accounts.by_username(username.strip().lower())
        if user is None:
            raise NotFound(f"no account {username!r}")
        uow.accounts.update(user.id, changes)
        if end_sessions:
            uow.accounts.end_sessions_of(user.id, node.now_wall())
        audit.record(uow, node, actor.event(action, "user", user.username, **details))
        uow.commit()
    return replace(user, **changes)  # type: ignore[arg-type]


def _require_manager(node: Node, actor: Actor, action: str, username: str) -> None:
    """Account changes are the administrators' (or the node's own command line's); a refusal is recorded."""
    if actor.channel is not Channel.CLI:
        authorize(node, actor, Permission.USERS_MANAGE, action=action, subject="user", object_id=username)


def set_roles(node: Node, username: str, roles: frozenset[Role], *, actor: Actor) -> User:
    """Change an account's roles (its sessions end: they carried the old ones)."""
    _require_manager(node, actor, "user:roles", username)
    if issues := check_roles(roles):
        raise ValidationFailed(issues)
    return _change(
        node,
        username,
        {"roles": frozenset(roles)},
        actor,
        "user:roles",
        end_sessions=True,
        roles=sorted(r.value for r in roles),
    )


def set_password(node: Node, username: str, password: str, *, actor: Actor, current: str | None = None) -> User:
    """Set an account's password: by an administrator, or by its owner giving the current one. Sessions end."""
    user = _user(node, username)
    own = actor.name == user.username and actor.channel is not Channel.CLI
    if own:  # a password check like a sign-in's (a stolen session must not guess it freely): throttled alike
        now = node.now_wall()
        node.sign_in.admit(user.username, actor.remote, now)
        try:
            matches = current is not None and _hasher(node).verify(user.password_hash, current)
        except HashingBusy:
            node.sign_in.unchecked(user.username, actor.remote)
            raise
        if matches:
            node.sign_in.succeeded(user.username, actor.remote, now)
        else:
            node.sign_in.failed(user.username, actor.remote, node.now_wall())
            audit.log(
                node,
                actor.event(
                    "user:password", "user", user.username, outcome=Outcome.FAILED, reason="wrong current password"
                ),
            )
            raise ValidationFailed([Issue("current", "is not the account's current password")])
    else:
        _require_manager(node, actor, "user:password", user.username)
    if issues := check_password(password, user.username):
        raise ValidationFailed(issues)
    changes = {"password_hash": _hasher(node).hash(password), "failed_logins": 0, "locked_until": None}
    changed = _change(node, user.username, changes, actor, "user:password", end_sessions=True)
    node.sign_in.forget_account(changed.username)  # guesses at the old password say nothing about the new one
    return changed


def set_disabled(node: Node, username: str, disabled: bool, *, actor: Actor) -> User:
    """Disable an account (its sessions end at once) or enable it again."""
    action = "user:disable" if disabled else "user:enable"
    _require_manager(node, actor, action, username)
    if disabled and username.strip().lower() == actor.name:
        raise ValidationFailed([Issue("username", "an administrator cannot disable their own account")])
    changes = {"disabled_at": node.now_wall() if disabled else None}
    return _change(node, username, changes, actor, action, end_sessions=disabled)


def unlock(node: Node, username: str, *, actor: Actor) -> User:
    """Clear an account's failed sign-ins: its count, and the delays they imposed on it in this process (those of
    the addresses themselves stay: they hold back whoever tries many accounts from there)."""
    _require_manager(node, actor, "user:unlock", username)
    changed = _change(
        node, username, {"failed_logins": 0, "locked_until": None}, actor, "user:unlock", end_sessions=False
    )
    node.sign_in.forget_account(changed.username)
    return changed


def authorize(
    node: Node, actor: Actor, permission: Permission, *, action: str, subject: str, object_id: str = ""
) -> None:
    """Raise Forbidden, after recording the refusal, unless the actor's roles allow ``permission``."""
    if may(actor.roles, permission):
        return
    audit.log(node, actor.event(action, subject, object_id, outcome=Outcome.REFUSED, missing=permission.value))
    roles = ", ".join(sorted(r.value for r in actor.roles)) or "no role"
    raise Forbidden(f"{actor.name} ({roles}) may not do this: it needs the permission {permission.value}")
