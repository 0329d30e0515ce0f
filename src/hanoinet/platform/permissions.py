"""Roles, permissions and the principal: the kernel of least privilege that every capability's routes declare."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar

from hanoinet.platform.errors import FORBIDDEN, DomainError, ErrorKind


class Role(StrEnum):
    """What a person does at an authority; handling conditions and (later) permissions are granted to roles."""

    ADMINISTRATOR = "administrator"
    CENTRAL_AUTHORITY = "central_authority"
    DUTY_OFFICER = "duty_officer"
    INVESTIGATOR = "investigator"
    PROSECUTOR = "prosecutor"
    AUDITOR = "auditor"


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

    error_kind: ClassVar[ErrorKind] = FORBIDDEN


@dataclass(frozen=True, slots=True)
class Principal:
    """Who acts: a named person or machine with roles."""

    name: str
    roles: frozenset[Role]
