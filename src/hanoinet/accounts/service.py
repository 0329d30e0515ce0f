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
from zoneinfo import available_timezones

from hanoinet.accounts.domain import (
    APPROVAL_ROLES,
    SESSION_IDLE,
    SESSION_MAX,
    GrantKind,
    GrantStatus,
    HashingBusy,
    LoginFailed,
    RoleGrant,
    User,
    check_password,
    check_roles,
    needs_approval,
    new_account_issues,
)
from hanoinet.accounts.ports import PasswordHasher, SessionRecord
from hanoinet.audit import service as audit
from hanoinet.platform.errors import Conflict, Issue, NotFound, ValidationFailed
from hanoinet.platform.events import Actor, Channel, Outcome
from hanoinet.platform.ids import new_id
from hanoinet.platform.logsafe import safe
from hanoinet.platform.permissions import Forbidden, Permission, Principal, Role, may

if TYPE_CHECKING:
    from hanoinet.app.node import Node, UnitOfWork

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
    administrator. An administrator's account with a role needing approval (``domain.APPROVAL_ROLES``) is created
    without it, and the role waits as a pending grant for a second administrator: an account made by one person
    cannot read a case. The command line on the node itself grants at once (recorded as such)."""
    username = username.strip().lower()
    _require_manager(node, actor, "user:add", username)
    new_account_issues(username, password, roles, display_name.strip())
    held = roles if _grants_directly(actor) else roles - APPROVAL_ROLES
    now = node.now_wall()
    password_hash = _hasher(node).hash(password)  # slow on purpose: before the transaction, not inside it
    with node.uow() as uow:
        if uow.accounts.by_username(username) is not None:
            raise Conflict(f"an account named {safe(username, 64)!r} already exists")
        user = User(
            id=new_id(),
            username=username,
            display_name=display_name.strip() or username,
            roles=frozenset(held),
            password_hash=password_hash,
            created_at=now,
        )
        uow.accounts.add(user)
        details: dict[str, object] = {"roles": _names(held)}
        if held != roles:
            details["pending"] = _names(roles - held)
        elif needs_approval(frozenset(), roles):
            details["granted_on_host"] = True
        audit.record(uow, node, actor.event("user:add", "user", user.username, **details))
        if held != roles:
            _request_grant(uow, node, user, roles, actor)
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


@dataclass(frozen=True, slots=True)
class AccountChanged:
    """What a change of roles or of password did: the account as it now is, and the grant waiting for a second
    administrator if the change needs one (the account is then unchanged)."""

    user: User
    pending: RoleGrant | None = None


def set_roles(node: Node, username: str, roles: frozenset[Role], *, actor: Actor) -> AccountChanged:
    """Change an account's roles (its sessions end: they carried the old ones). Nobody changes their own roles,
    through any channel; an administrator's change giving a role needing approval becomes a pending grant, which a
    different administrator approves (``approve_grant``) before it takes effect."""
    _require_manager(node, actor, "user:roles", username)
    if issues := check_roles(roles):
        raise ValidationFailed(issues)
    name = username.strip().lower()
    _refuse_own(node, actor, "user:roles", name, "nobody changes their own roles: another administrator does")
    with node.uow() as uow:
        user = uow.accounts.by_username(name)
        if user is None:
            raise NotFound(f"no account {safe(username, 64)!r}")
        wanted = frozenset(roles)
        added = needs_approval(user.roles, wanted)
        if added and not _grants_directly(actor):
            grant = _request_grant(uow, node, user, wanted, actor)
            uow.commit()
            return AccountChanged(user, grant)
        uow.accounts.update(user.id, {"roles": wanted})
        uow.accounts.end_sessions_of(user.id, node.now_wall())
        details: dict[str, object] = {"roles": _names(wanted)}
        if added:
            details["granted_on_host"] = True
        audit.record(uow, node, actor.event("user:roles", "user", user.username, **details))
        uow.commit()
    return AccountChanged(replace(user, roles=wanted))


def _names(roles: frozenset[Role] | set[Role]) -> list[str]:
    return sorted(r.value for r in roles)


def _grants_directly(actor: Actor) -> bool:
    """The node's own command line grants any role at once: it runs on the host, by someone who can read the data
    directory (and the database) anyway; every other channel needs a second administrator for ``APPROVAL_ROLES``."""
    return actor.channel is Channel.CLI


def _refuse_own(node: Node, actor: Actor, action: str, username: str, why: str) -> None:
    """Refuse, after recording the refusal, a change of the actor's own roles."""
    if actor.name == username:
        audit.log(node, actor.event(action, "user", username, outcome=Outcome.REFUSED, reason=why))
        raise Forbidden(why)


def _request_grant(
    uow: UnitOfWork, node: Node, user: User, roles: frozenset[Role], actor: Actor, *, password_hash: str | None = None
) -> RoleGrant:
    """Stage a pending grant of ``roles`` to ``user`` — or, with ``password_hash``, a reset of its password — one
    at a time per account, recorded in ``uow``."""
    waiting = uow.accounts.pending_grants(user.id)
    if waiting:
        what = "password reset" if waiting[0].resets_password else "grant of roles"
        raise Conflict(
            f"a {what} of {user.username} is already waiting for approval ({waiting[0].id}): approve or reject it first"
        )
    grant = RoleGrant(
        id=new_id(),
        user_id=user.id,
        username=user.username,
        roles=roles,
        previous=user.roles,
        requested_by=actor.name,
        requested_at=node.now_wall(),
        kind=GrantKind.ROLES if password_hash is None else GrantKind.PASSWORD,
        password_hash=password_hash,
    )
    uow.accounts.add_grant(grant)
    event = actor.event(
        "user:grant-request",
        "user",
        user.username,
        grant=grant.id,
        change=grant.kind.value,
        roles=_names(roles),
        previous=_names(user.roles),
        needs_approval=_names(grant.why),
    )
    audit.record(uow, node, event)
    return grant


def pending_grants(node: Node, username: str | None = None) -> Sequence[RoleGrant]:
    """The grants waiting for a second administrator, oldest first (only this account's, if given)."""
    with node.uow() as uow:
        if username is None:
            return uow.accounts.pending_grants()
        user = uow.accounts.by_username(username.strip().lower())
        return uow.accounts.pending_grants(user.id) if user else []


def _pending(node: Node, grant_id: str) -> RoleGrant:
    with node.uow() as uow:
        grant = uow.accounts.grant(grant_id.strip())
    if grant is None:
        raise NotFound(f"no grant {safe(grant_id, 64)!r}")
    if grant.status is not GrantStatus.PENDING:
        raise Conflict(f"grant {grant.id} was already {grant.status.value} by {grant.decided_by}")
    return grant


def approve_grant(node: Node, grant_id: str, *, actor: Actor) -> RoleGrant:
    """Approve a pending grant: its roles take effect now (the account's sessions end). The approver is an
    administrator other than the one who asked and other than the account's holder (the node's command line may
    approve any, but not its own actor's); the log records the approval with both names."""
    _require_manager(node, actor, "user:grant-approve", grant_id)
    grant = _pending(node, grant_id)
    if grant.requested_by == actor.name and not _grants_directly(actor):
        why = f"{actor.name} asked for this grant: a different administrator approves it"
        audit.log(
            node,
            actor.event(
                "user:grant-approve", "user", grant.username, outcome=Outcome.REFUSED, grant=grant.id, reason=why
            ),
        )
        raise Forbidden(why)
    _refuse_own(node, actor, "user:grant-approve", grant.username, "nobody approves a grant of their own roles")
    now = node.now_wall()
    with node.uow() as uow:
        user = uow.accounts.get(grant.user_id)
        if user is None:
            raise NotFound(f"no account {grant.username!r}")
        if user.roles != grant.previous:
            raise Conflict(
                f"the roles of {user.username} changed since this grant was asked for "
                f"(now {', '.join(_names(user.roles)) or 'none'}): reject it and ask again"
            )
        if not uow.accounts.decide_grant(grant.id, GrantStatus.APPROVED, actor.name, now):
            raise Conflict(f"grant {grant.id} was decided meanwhile by another administrator")
        if grant.resets_password:
            changes = {"password_hash": grant.password_hash, "failed_logins": 0, "locked_until": None}
            uow.accounts.update(user.id, changes)
        else:
            uow.accounts.update(user.id, {"roles": grant.roles})
        uow.accounts.end_sessions_of(user.id, now)
        event = actor.event(
            "user:grant-approve",
            "user",
            user.username,
            grant=grant.id,
            change=grant.kind.value,
            requested_by=grant.requested_by,
            requested_at=grant.requested_at.isoformat(),
            roles=_names(grant.roles),
            previous=_names(grant.previous),
        )
        audit.record(uow, node, event)
        uow.commit()
    if grant.resets_password:
        node.sign_in.forget_account(user.username)  # guesses at the old password say nothing about the new one
    return replace(grant, status=GrantStatus.APPROVED, decided_by=actor.name, decided_at=now, password_hash=None)


def reject_grant(node: Node, grant_id: str, *, actor: Actor) -> RoleGrant:
    """Reject a pending grant (the administrator who asked may withdraw it): the account's roles stay as they are."""
    _require_manager(node, actor, "user:grant-reject", grant_id)
    grant = _pending(node, grant_id)
    now = node.now_wall()
    with node.uow() as uow:
        if not uow.accounts.decide_grant(grant.id, GrantStatus.REJECTED, actor.name, now):
            raise Conflict(f"grant {grant.id} was decided meanwhile by another administrator")
        event = actor.event(
            "user:grant-reject",
            "user",
            grant.username,
            grant=grant.id,
            change=grant.kind.value,
            requested_by=grant.requested_by,
            roles=_names(grant.roles),
        )
        audit.record(uow, node, event)
        uow.commit()
    return replace(grant, status=GrantStatus.REJECTED, decided_by=actor.name, decided_at=now, password_hash=None)


def set_password(
    node: Node, username: str, password: str, *, actor: Actor, current: str | None = None
) -> AccountChanged:
    """Set an account's password: by its owner giving the current one, or by an administrator. Sessions end.

    An administrator's reset of an account holding a role of ``APPROVAL_ROLES`` (today, every account) waits for a
    second administrator, like a grant of those roles: whoever chose the new password could otherwise sign in as
    the account and read its cases. The node's own command line resets at once."""
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
    hashed = _hasher(node).hash(password)
    if not own and user.roles & APPROVAL_ROLES and not _grants_directly(actor):
        with node.uow() as uow:
            grant = _request_grant(uow, node, user, user.roles, actor, password_hash=hashed)
            uow.commit()
        return AccountChanged(user, grant)
    changes = {"password_hash": hashed, "failed_logins": 0, "locked_until": None}
    changed = _change(node, user.username, changes, actor, "user:password", end_sessions=True)
    node.sign_in.forget_account(changed.username)  # guesses at the old password say nothing about the new one
    return AccountChanged(changed)


def check_time_zone(name: str) -> str | None:
    """Why ``name`` is not an IANA time zone this machine knows (``Asia/Ho_Chi_Minh``, ``Europe/Paris``), or None."""
    if name == "UTC":
        return None
    if name not in available_timezones():
        return f"{name!r} is not a time zone (an IANA name such as Asia/Ho_Chi_Minh, Europe/Paris, UTC)"
    return None


def set_preferences(
    node: Node, username: str, *, language: str, time_zone: str, languages: Sequence[str], actor: Actor
) -> User:
    """Set one's own page language ("" for the browser's; one of ``languages``) and time zone."""
    if username.strip().lower() != actor.name:
        raise ValidationFailed([Issue("username", "an account's preferences are its own to set")])
    issues = []
    if language and language not in languages:
        issues.append(Issue("language", f"{language!r} is not a language of this node: {', '.join(languages)}"))
    why = check_time_zone(time_zone)
    if why:
        issues.append(Issue("time_zone", why))
    if issues:
        raise ValidationFailed(issues)
    changes = {"language": language, "time_zone": time_zone}
    return _change(node, username, changes, actor, "user:preferences", end_sessions=False, **changes)


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
