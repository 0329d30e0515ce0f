"""Accounts and what each role may do: least privilege, written down as data.

Every route of the API and of the web UI declares one ``Permission``; a role is a set of permissions. Permissions
decide what a person may do at all; an evidence item's handling conditions (``domain.evidence``) then decide, item
by item, who may see its content — so a duty officer may open the evidence page but not an image its sender
reserved for prosecutors, and the refusal is recorded.

Passwords: at least 12 characters (long passphrases beat composition rules), not the user name, stretched with
Argon2id by an adapter. Repeated failures lock the account for a while: five in a row, fifteen minutes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from hanoinet.domain.errors import DomainError, Issue, ValidationFailed
from hanoinet.domain.evidence import Role

USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,63}$")
MIN_PASSWORD = 12
MAX_PASSWORD = 1024
LOCK_AFTER = 5
LOCK_FOR = timedelta(minutes=15)
SESSION_IDLE = timedelta(hours=1)
SESSION_MAX = timedelta(hours=12)
"""A duty officer's night shift fits in a session; an unattended screen does not stay signed in."""


class Permission(StrEnum):
    """What a route lets its caller do. Every route declares exactly one."""

    PUBLIC = "public"  # health, the sign-in page, static files: nothing of any case
    PEER = "peer"  # node-to-node routes: authenticated by the messages' own signatures, not by accounts
    SIGNED_IN = "signed_in"  # any account: its own session, its own password
    REQUESTS_READ = "requests:read"
    REQUESTS_WRITE = "requests:write"  # draft, amend, act on, correspond about requests; open cases
    EVIDENCE_READ = "evidence:read"  # records and custody, never content
    EVIDENCE_CONTENT = "evidence:content"  # content (downloads); the item's handling conditions decide next
    EVIDENCE_WRITE = "evidence:write"  # ingest and upload
    EVIDENCE_EXPORT = "evidence:export"  # court packages and CASE/UCO graphs
    EVIDENCE_TRANSFER = "evidence:transfer"  # send to another node; ask and decide consent (Art 36)
    TREATY_READ = "treaty:read"
    TREATY_WRITE = "treaty:write"  # record deposits
    DIRECTORY_READ = "directory:read"
    DIRECTORY_WRITE = "directory:write"  # trust and revoke nodes, rotate this node's keys
    STATISTICS_READ = "statistics:read"  # Art 57 figures
    AUDIT_READ = "audit:read"  # the audit log, and exporting it
    USERS_MANAGE = "users:manage"


P = Permission
_CASEWORK = frozenset({P.SIGNED_IN, P.REQUESTS_READ, P.REQUESTS_WRITE, P.TREATY_READ, P.DIRECTORY_READ})
_EVIDENCE = frozenset({P.EVIDENCE_READ, P.EVIDENCE_CONTENT, P.EVIDENCE_WRITE, P.EVIDENCE_EXPORT})

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    # Runs the node: accounts, the directory, treaty records. Sees no case and no evidence.
    Role.ADMINISTRATOR: frozenset(
        {
            P.SIGNED_IN,
            P.USERS_MANAGE,
            P.DIRECTORY_READ,
            P.DIRECTORY_WRITE,
            P.TREATY_READ,
            P.TREATY_WRITE,
            P.STATISTICS_READ,
        }
    ),
    # Handles mutual legal assistance files from request to evidence (Art 40).
    Role.CENTRAL_AUTHORITY: _CASEWORK | _EVIDENCE | {P.EVIDENCE_TRANSFER, P.STATISTICS_READ},
    # The 24/7 point of contact (Art 41): requests at any hour; evidence only where its conditions allow.
    Role.DUTY_OFFICER: _CASEWORK | {P.EVIDENCE_READ, P.EVIDENCE_CONTENT},
    # Prosecutors and investigators: their cases, their evidence.
    Role.INVESTIGATOR: _CASEWORK | _EVIDENCE,
    Role.PROSECUTOR: _CASEWORK | _EVIDENCE,
    # Reads everything but content, changes nothing, and is the one who reads the audit log.
    Role.AUDITOR: frozenset(
        {
            P.SIGNED_IN,
            P.REQUESTS_READ,
            P.EVIDENCE_READ,
            P.TREATY_READ,
            P.DIRECTORY_READ,
            P.STATISTICS_READ,
            P.AUDIT_READ,
        }
    ),
}


def permissions_of(roles: frozenset[Role] | set[Role]) -> frozenset[Permission]:
    """Everything these roles together allow (plus what anyone may do without an account)."""
    granted: set[Permission] = {P.PUBLIC}
    for role in roles:
        granted |= ROLE_PERMISSIONS[role]
    return frozenset(granted)


def may(roles: frozenset[Role] | set[Role], permission: Permission) -> bool:
    """True if the roles allow ``permission``."""
    return permission in permissions_of(roles)


class Forbidden(DomainError):  # noqa: N818 - mirrors HTTP 403
    """The caller's roles do not allow this; the refusal is recorded in the audit log."""


class LoginFailed(DomainError):  # noqa: N818 - names the outcome
    """Wrong user name or password, or a locked or disabled account: one message for all, so that it reveals
    nothing about which accounts exist."""


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
    language: str = "en"

    def locked(self, now: datetime) -> bool:
        """True while a lockout runs."""
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


def after_failure(failed_logins: int, locked_until: datetime | None, now: datetime) -> tuple[int, datetime | None]:
    """The failed-login count and lockout after one more failure. A lockout that has run out starts the count
    afresh: one more mistake after it must not lock the account again at once."""
    if locked_until is not None and locked_until <= now:
        failed_logins, locked_until = 0, None
    failures = failed_logins + 1
    return failures, (now + LOCK_FOR if failures >= LOCK_AFTER else locked_until)


MAX_DISPLAY_NAME = 256


def check_display_name(display_name: str) -> list[Issue]:
    """A display name fits where it is kept and shown."""
    if len(display_name) > MAX_DISPLAY_NAME:
        return [Issue("display_name", f"must be at most {MAX_DISPLAY_NAME} characters")]
    return []
