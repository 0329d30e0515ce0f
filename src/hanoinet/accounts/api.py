"""The audit log and accounts over the API, for an auditor's tools and an administrator's scripts.

The same services, filters and rules as the web UI's pages and ``hanoinet audit …`` / ``hanoinet user …``: reading,
exporting and verifying the log are recorded in it; account changes are recorded by ``services.accounts`` itself,
so their routes add no entry of their own. An account is never returned with its password hash.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from hanoinet.accounts import service as account_services
from hanoinet.accounts.domain import MAX_PASSWORD, User
from hanoinet.app.node import Node
from hanoinet.audit import service as audit_services
from hanoinet.audit.domain import AuditEntry
from hanoinet.platform.errors import NotFound
from hanoinet.platform.paging import OffsetQuery
from hanoinet.platform.permissions import Permission, Role
from hanoinet.platform.ports import MAX_PAGE
from hanoinet.platform.security import CallerDep, SecureRoute, secured


class Strict(BaseModel):
    """Bodies refuse unknown fields, so a typo is an error rather than silently ignored."""

    model_config = ConfigDict(extra="forbid")


class UserCreate(Strict):
    """A new account with its initial password (which its holder then changes)."""

    username: str = Field(max_length=64, description="Sign-in name: lower-case letters, digits, . _ @ -")
    display_name: str = Field(default="", max_length=200)
    roles: list[Role] = Field(max_length=len(Role))
    password: str = Field(max_length=MAX_PASSWORD, description="At least 12 characters, not the user name")


class RolesIn(Strict):
    """An account's new roles (its sessions end)."""

    roles: list[Role] = Field(max_length=len(Role))


def entry_json(e: AuditEntry) -> dict[str, Any]:
    """An audit entry with its hashes, so that a copy can be checked against the node's log later."""
    return {
        "seq": e.seq,
        "at": e.at.isoformat(),
        "actor": e.actor,
        "roles": list(e.roles),
        "channel": e.channel.value,
        "action": e.action,
        "subject": e.subject,
        "object_id": e.object_id,
        "outcome": e.outcome.value,
        "details": e.details,
        "remote": e.remote,
        "prev_hash": e.prev_hash,
        "hash": e.hash,
    }


def user_json(u: User, now: datetime) -> dict[str, Any]:
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
    }


def admin_router(node: Node) -> APIRouter:
    """Audit and account routes."""
    router = APIRouter(prefix="/api/v1", route_class=SecureRoute)

    @router.get("/audit", tags=["audit"], **secured(Permission.AUDIT_READ, audit="audit:view"))
    def audit_entries(
        actor: Annotated[str | None, Query(max_length=256, description="Only this actor")] = None,
        action: Annotated[str | None, Query(max_length=64, description="e.g. evidence:download")] = None,
        subject: Annotated[str | None, Query(max_length=32, description="request, evidence, user …")] = None,
        object_id: Annotated[str | None, Query(max_length=128)] = None,
        outcome: Annotated[str | None, Query(max_length=16, description="ok, refused or failed")] = None,
        channel: Annotated[str | None, Query(max_length=16, description="web, api, cli or node")] = None,
        since: Annotated[str | None, Query(max_length=40, description="From this date or time (ISO 8601)")] = None,
        until: Annotated[
            str | None, Query(max_length=40, description="Before this time; a date includes its whole day")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
        offset: OffsetQuery = 0,
    ) -> list[dict[str, Any]]:
        """Entries of the audit log, newest first, filtered."""
        query = audit_services.filter_query(
            actor=actor,
            action=action,
            subject=subject,
            object_id=object_id,
            outcome=outcome,
            channel=channel,
            since=since,
            until=until,
            limit=limit,
            offset=offset,
        )
        return [entry_json(e) for e in audit_services.entries(node, query)]

    @router.get(
        "/audit.csv",
        tags=["audit"],
        response_class=StreamingResponse,
        **secured(Permission.AUDIT_READ, audit="audit:export"),
    )
    def audit_export(
        actor: Annotated[str | None, Query(max_length=256)] = None,
        action: Annotated[str | None, Query(max_length=64)] = None,
        subject: Annotated[str | None, Query(max_length=32)] = None,
        object_id: Annotated[str | None, Query(max_length=128)] = None,
        outcome: Annotated[str | None, Query(max_length=16)] = None,
        channel: Annotated[str | None, Query(max_length=16)] = None,
        since: Annotated[str | None, Query(max_length=40)] = None,
        until: Annotated[str | None, Query(max_length=40)] = None,
    ) -> StreamingResponse:
        """The matching entries as CSV, oldest first, each with its hash."""
        query = audit_services.filter_query(
            actor=actor,
            action=action,
            subject=subject,
            object_id=object_id,
            outcome=outcome,
            channel=channel,
            since=since,
            until=until,
            limit=audit_services.MAX_EXPORT,
        )
        stamp = node.now_wall().strftime("%Y%m%dT%H%M%SZ")
        return StreamingResponse(
            audit_services.export_csv(node, query),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="hanoinet-audit-{stamp}.csv"'},
        )

    @router.post("/audit/verify", tags=["audit"], **secured(Permission.AUDIT_READ, audit="audit:verify"))
    def audit_verify() -> dict[str, Any]:
        """Recompute the whole chain: every entry's hash, its link to the one before, the node's signature."""
        report = audit_services.verify(node)
        return {"ok": report.ok, "entries": report.entries, "problems": list(report.problems)}

    @router.get("/users", tags=["accounts"], **secured(Permission.USERS_MANAGE, audit="user:list"))
    def users() -> list[dict[str, Any]]:
        """Every account, with its roles and whether it is locked or disabled."""
        now = node.now_wall()
        return [user_json(u, now) for u in account_services.list_users(node)]

    @router.post("/users", status_code=201, tags=["accounts"], **secured(Permission.USERS_MANAGE))
    def add_user(who: CallerDep, body: UserCreate) -> dict[str, Any]:
        """Create an account with an initial password."""
        user = account_services.add_user(
            node,
            username=body.username,
            password=body.password,
            roles=frozenset(body.roles),
            display_name=body.display_name,
            actor=who.actor,
        )
        return user_json(user, node.now_wall())

    @router.get("/users/{username}", tags=["accounts"], **secured(Permission.USERS_MANAGE, audit="user:view"))
    def user(username: str) -> dict[str, Any]:
        """One account."""
        name = username.strip().lower()
        found = next((u for u in account_services.list_users(node) if u.username == name), None)
        if found is None:
            raise NotFound(f"no account {username!r}")
        return user_json(found, node.now_wall())

    @router.put("/users/{username}/roles", tags=["accounts"], **secured(Permission.USERS_MANAGE))
    def set_roles(who: CallerDep, username: str, body: RolesIn) -> dict[str, Any]:
        """Replace an account's roles; its sessions end, since they carried the old ones."""
        changed = account_services.set_roles(node, username, frozenset(body.roles), actor=who.actor)
        return user_json(changed, node.now_wall())

    @router.post("/users/{username}/disable", tags=["accounts"], **secured(Permission.USERS_MANAGE))
    def disable(who: CallerDep, username: str) -> dict[str, Any]:
        """Disable an account: it cannot sign in, and its sessions end now."""
        return user_json(account_services.set_disabled(node, username, True, actor=who.actor), node.now_wall())

    @router.post("/users/{username}/enable", tags=["accounts"], **secured(Permission.USERS_MANAGE))
    def enable(who: CallerDep, username: str) -> dict[str, Any]:
        """Enable a disabled account again."""
        return user_json(account_services.set_disabled(node, username, False, actor=who.actor), node.now_wall())

    @router.post("/users/{username}/unlock", tags=["accounts"], **secured(Permission.USERS_MANAGE))
    def unlock(who: CallerDep, username: str) -> dict[str, Any]:
        """Lift a lockout after repeated failed sign-ins."""
        return user_json(account_services.unlock(node, username, actor=who.actor), node.now_wall())

    return router
