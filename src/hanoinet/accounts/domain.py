"""Accounts and what each role may do: least privilege, written down as data.

Every route of the API and of the web UI declares one ``Permission``; a role is a set of permissions. Permissions
decide what a person may do at all; an evidence item's handling conditions (``domain.evidence``) then decide, item
by item, who may see its content — so a duty officer may open the evidence page but not an image its sender
reserved for prosecutors, and the refusal is recorded.

Separation of duties: nobody changes their own roles, and an administrator's grant of a role that reads cases,
requests or evidence (or manages accounts) waits as a ``RoleGrant`` until a second administrator approves it.

Passwords: at least 12 characters (long passphrases beat composition rules), not the user name, stretched with
Argon2id by an adapter. Repeated failures do not lock the account — an outsider who knows a user name could then keep
its holder out at will (the administrator's included); they slow down whoever fails instead, from where they fail
(``accounts.throttle``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import ClassVar

from hanoinet.platform.errors import FORBIDDEN, DomainError, ErrorKind, Issue, ValidationFailed
from hanoinet.platform.permissions import ROLE_PERMISSIONS, Permission, Role

USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,63}$")
MIN_PASSWORD = 12
MAX_PASSWORD = 1024
SESSION_IDLE = timedelta(hours=1)
SESSION_MAX = timedelta(hours=12)
"""A duty officer's night shift fits in a session; an unattended screen does not stay signed in."""


class LoginFailed(DomainError):  # noqa: N818 - names the outcome
    """Wrong user name or password, or a disabled account: one message for all, so that it reveals nothing about
    which accounts exist."""


class TooManyAttempts(DomainError):  # noqa: N818 - names the outcome
    """Too many failed sign-ins from this place (for this account, from this address, or for this account from
    addresses that have failed on it): the next attempt is not even checked until ``retry_after`` seconds have
    passed. The web answers 429 with ``Retry-After``; nothing is hashed, nothing is written."""

    error_kind: ClassVar[ErrorKind] = FORBIDDEN

    def __init__(self, retry_after: int) -> None:
        self.retry_after = max(1, retry_after)
        super().__init__(f"too many failed sign-ins from here: try again in {self.retry_after} seconds")


class HashingBusy(DomainError):  # noqa: N818 - names the outcome
    """Every password-checking slot is taken and the queue for them is full: the attempt is refused at once rather
    than waiting (each Argon2id check holds 64 MiB, so a crowd of them would exhaust the node's memory). The web
    answers 503 with ``Retry-After``; the attempt does not count as a failure."""

    error_kind: ClassVar[ErrorKind] = FORBIDDEN

    def __init__(self, retry_after: int = 2) -> None:
        self.retry_after = retry_after
        super().__init__(f"the node is busy checking other sign-ins: try again in {retry_after} seconds")


@dataclass(frozen=True, slots=True)
class User:
    """An account on this node."""

    id: str
    username: str
    display_name: str
    roles: frozenset[Role]
    password_hash: str
    created_at: datetime
    failed_logins: int = 0
    locked_until: datetime | None = None
    disabled_at: datetime | None = None
    last_login_at: datetime | None = None
    language: str = ""
    """The language the account's pages are shown in ("" : the browser's, among the node's)."""
    time_zone: str = "UTC"
    """The IANA time zone its pages show times in, with UTC beside them (clocks and deadlines are UTC inside)."""

    def locked(self, now: datetime) -> bool:
        """True while a lockout runs. Nothing sets one any more (failures slow down where they come from instead,
        ``accounts.throttle``); a lock written by an older version is shown until it runs out, and ignored."""
        return self.locked_until is not None and self.locked_until > now


def check_username(username: str) -> list[Issue]:
    """Problems with a new user name."""
    if not USERNAME_PATTERN.fullmatch(username):
        return [
            Issue("username", "must be 2-64 lower-case letters, digits or . _ @ -, starting with a letter or digit")
        ]
    return []


def check_password(password: str, username: str) -> list[Issue]:
    """Problems with a new password: length (a passphrase is fine), and not the user name."""
    issues = []
    if len(password) < MIN_PASSWORD:
        issues.append(Issue("password", f"must be at least {MIN_PASSWORD} characters (a few words make a good one)"))
    if len(password) > MAX_PASSWORD:
        issues.append(Issue("password", f"must be at most {MAX_PASSWORD} characters"))
    if username and username.lower() in password.lower():
        issues.append(Issue("password", "must not contain the user name"))
    if password.strip() != password:
        issues.append(Issue("password", "must not begin or end with spaces"))
    return issues


def check_roles(roles: frozenset[Role] | set[Role]) -> list[Issue]:
    """An account has at least one role."""
    return [] if roles else [Issue("roles", f"give at least one of {', '.join(r.value for r in Role)}")]


CASEWORK_PERMISSIONS = frozenset({Permission.REQUESTS_READ, Permission.EVIDENCE_READ, Permission.EVIDENCE_CONTENT})
"""The permissions that read what a node holds in confidence: requests and cases (``requests:read``), evidence
records and custody (``evidence:read``) and evidence content (``evidence:content``). Every other permission reaching
a case or an item (writing, exporting, transferring) comes with one of them in the role matrix."""

CASEWORK_ROLES = frozenset(role for role, allowed in ROLE_PERMISSIONS.items() if allowed & CASEWORK_PERMISSIONS)
"""The roles that read cases, requests or evidence, derived from the role matrix (``platform.permissions``), so that
a role given such a permission later is covered at once: granting one needs a second administrator's approval (or
the node's own command line). Today every role but the administrator's — the auditor's too, who reads requests."""


APPROVAL_ROLES = CASEWORK_ROLES | frozenset(
    role for role, allowed in ROLE_PERMISSIONS.items() if Permission.USERS_MANAGE in allowed
)
"""The roles an administrator grants only with a second administrator's approval: the casework roles, and the
roles that manage accounts — else one administrator would make a second administrator account whose password they
know, and approve their own grants from it."""


def needs_approval(before: frozenset[Role], after: frozenset[Role]) -> frozenset[Role]:
    """The roles of ``APPROVAL_ROLES`` that ``after`` gives and ``before`` did not: a change that removes roles, or
    adds only others, takes effect at once."""
    return (after - before) & APPROVAL_ROLES


class GrantStatus(StrEnum):
    """Where a grant of roles needing approval stands."""

    PENDING = "pending"  # asked for by one administrator, waiting for another
    APPROVED = "approved"  # a second administrator approved it: the roles took effect then
    REJECTED = "rejected"  # rejected (or withdrawn by the administrator who asked): nothing changed


class GrantKind(StrEnum):
    """What a grant waiting for approval changes."""

    ROLES = "roles"  # the account's roles, giving it one of APPROVAL_ROLES
    PASSWORD = "password"  # noqa: S105 - a kind, not a secret: an administrator's reset of such an account's password


@dataclass(frozen=True, slots=True)
class RoleGrant:
    """An administrator's change of an account's roles that gives it a role of ``APPROVAL_ROLES``, or of the password
    of an account holding one (whoever chose the password has the account's access): it waits as a pending grant
    until a different administrator (not the one who asked, not the account's holder) approves it.
    ``roles`` is the account's whole new role set, ``previous`` the set when it was asked for: if the roles changed
    meanwhile, the grant no longer says what its approver would be approving, and it is refused."""

    id: str
    user_id: str
    username: str
    roles: frozenset[Role]
    previous: frozenset[Role]
    requested_by: str
    requested_at: datetime
    status: GrantStatus = GrantStatus.PENDING
    decided_by: str | None = None
    decided_at: datetime | None = None
    kind: GrantKind = GrantKind.ROLES
    password_hash: str | None = field(default=None, repr=False)
    """For a pending password reset, the new password's hash, applied on approval (and cleared once decided)."""

    @property
    def resets_password(self) -> bool:
        """Whether this is a password reset rather than a change of roles (roles and previous are then equal)."""
        return self.kind is GrantKind.PASSWORD

    @property
    def added(self) -> frozenset[Role]:
        """The roles needing approval that this grant would give."""
        return needs_approval(self.previous, self.roles)

    @property
    def why(self) -> frozenset[Role]:
        """The roles that make it need approval: those it gives, or (a reset) those of the account."""
        return self.roles & APPROVAL_ROLES if self.resets_password else self.added


def new_account_issues(username: str, password: str, roles: frozenset[Role], display_name: str = "") -> None:
    """Raise ValidationFailed naming every problem with a new account."""
    issues = (
        check_username(username)
        + check_password(password, username)
        + check_roles(roles)
        + check_display_name(display_name)
    )
    if issues:
        raise ValidationFailed(issues)


MAX_DISPLAY_NAME = 256


def check_display_name(display_name: str) -> list[Issue]:
    """A display name fits where it is kept and shown."""
    if len(display_name) > MAX_DISPLAY_NAME:
        return [Issue("display_name", f"must be at most {MAX_DISPLAY_NAME} characters")]
    return []
