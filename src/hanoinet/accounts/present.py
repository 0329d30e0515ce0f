"""Accounts and grants as the API and the command line write them: never a password hash, pending or in force."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hanoinet.accounts.domain import RoleGrant, User


def grant_json(g: RoleGrant) -> dict[str, Any]:
    """A grant of roles or a password reset (never its hash): who asked, for what, and (once decided) who."""
    return {
        "id": g.id,
        "username": g.username,
        "change": g.kind.value,
        "roles": sorted(r.value for r in g.roles),
        "previous": sorted(r.value for r in g.previous),
        "needs_approval": sorted(r.value for r in g.why),
        "requested_by": g.requested_by,
        "requested_at": g.requested_at.isoformat(),
        "status": g.status.value,
        "decided_by": g.decided_by,
        "decided_at": g.decided_at.isoformat() if g.decided_at else None,
    }


def user_json(u: User, now: datetime, pending: RoleGrant | None = None) -> dict[str, Any]:
    """An account without its password hash; a lockout that has run out is shown as none."""
    return {
        "username": u.username,
        "display_name": u.display_name,
        "roles": sorted(r.value for r in u.roles),
        "created_at": u.created_at.isoformat(),
        "last_login_at": u.last_login_at.isoformat() if u.last_login_at else None,
        "failed_logins": u.failed_logins,
        "locked_until": u.locked_until.isoformat() if u.locked(now) and u.locked_until else None,
        "disabled": u.disabled_at is not None,
        "disabled_at": u.disabled_at.isoformat() if u.disabled_at else None,
        "pending_grant": grant_json(pending) if pending else None,
    }
