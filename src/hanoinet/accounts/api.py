"""Accounts over the API, for an administrator's scripts (the audit log's routes are ``audit.api``).

The same services and rules as the web UI's pages and ``hanoinet user …``: account changes are recorded by
``accounts.service`` itself, so these routes add no audit entry of their own. An account is never returned with
its password hash.

Separation of duties: a change giving a role that reads cases, requests or evidence (or manages accounts) answers
202 with the account unchanged and its ``pending_grant``; a different administrator approves it
(``POST /api/v1/grants/{id}/approve``) before it takes effect. Nobody changes their own roles (403).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Response
from pydantic import Field

from hanoinet.accounts import service as account_services
from hanoinet.accounts.domain import MAX_PASSWORD, RoleGrant, User
from hanoinet.accounts.present import grant_json, user_json
from hanoinet.accounts.schemas import GrantOut, UserOut
from hanoinet.platform.api import Strict, problems
from hanoinet.platform.errors import NotFound
from hanoinet.platform.logsafe import safe
from hanoinet.platform.permissions import Permission, Role
from hanoinet.platform.security import CallerDep, SecureRoute, secured

if TYPE_CHECKING:
    from hanoinet.app.node import Node


class UserCreate(Strict):
    """A new account with its initial password (which its holder then changes)."""

    username: str = Field(max_length=64, description="Sign-in name: lower-case letters, digits, . _ @ -")
    display_name: str = Field(default="", max_length=200)
    roles: list[Role] = Field(max_length=len(Role))
    password: str = Field(max_length=MAX_PASSWORD, description="At least 12 characters, not the user name")


class RolesIn(Strict):
    """An account's new roles (its sessions end)."""

    roles: list[Role] = Field(max_length=len(Role))


def admin_router(node: Node) -> APIRouter:
    """The account routes (USERS_MANAGE)."""
    router = APIRouter(prefix="/api/v1", route_class=SecureRoute, tags=["accounts"])
    # What every route changing one account declares alike: it answers with the account, 404 for no such account,
    # 409 for a change refused; no audit of its own, since the service records the change.
    change: dict[str, Any] = {
        "response_model": UserOut,
        "responses": problems(404, 409),
        **secured(Permission.USERS_MANAGE),
    }

    @router.get("/users", response_model=list[UserOut], **secured(Permission.USERS_MANAGE, audit="user:list"))
    def users() -> list[dict[str, Any]]:
        """Every account, with its roles and whether it is locked or disabled."""
        now = node.now_wall()
        waiting = {g.user_id: g for g in account_services.pending_grants(node)}
        return [user_json(u, now, waiting.get(u.id)) for u in account_services.list_users(node)]

    @router.post(
        "/users", status_code=201, response_model=UserOut, responses=problems(409), **secured(Permission.USERS_MANAGE)
    )
    def add_user(who: CallerDep, body: UserCreate) -> dict[str, Any]:
        """Create an account with an initial password. Roles needing a second administrator's approval are not
        given yet: they wait in the account's ``pending_grant``."""
        user = account_services.add_user(
            node,
            username=body.username,
            password=body.password,
            roles=frozenset(body.roles),
            display_name=body.display_name,
            actor=who.actor,
        )
        return user_json(user, node.now_wall(), _waiting(user.username))

    def _waiting(username: str) -> RoleGrant | None:
        return next(iter(account_services.pending_grants(node, username)), None)

    def _shown(user: User) -> dict[str, Any]:
        return user_json(user, node.now_wall(), _waiting(user.username))

    @router.get(
        "/users/{username}",
        response_model=UserOut,
        responses=problems(404),
        **secured(Permission.USERS_MANAGE, audit="user:view"),
    )
    def user(username: str) -> dict[str, Any]:
        """One account."""
        name = username.strip().lower()
        found = next((u for u in account_services.list_users(node) if u.username == name), None)
        if found is None:
            raise NotFound(f"no account '{safe(username, 64)}'")
        return user_json(found, node.now_wall(), _waiting(found.username))

    @router.put(
        "/users/{username}/roles",
        response_model=UserOut,
        responses={
            202: {"model": UserOut, "description": "Waiting for a second administrator: see pending_grant"},
            **problems(403, 404, 409),
        },
        **secured(Permission.USERS_MANAGE),
    )
    def set_roles(who: CallerDep, username: str, body: RolesIn, response: Response) -> dict[str, Any]:
        """Replace an account's roles; its sessions end, since they carried the old ones. A change giving a role
        that needs approval answers 202: the roles are unchanged until a different administrator approves the
        account's ``pending_grant``. Nobody changes their own roles (403)."""
        changed = account_services.set_roles(node, username, frozenset(body.roles), actor=who.actor)
        if changed.pending is not None:
            response.status_code = 202
        return user_json(changed.user, node.now_wall(), changed.pending or _waiting(changed.user.username))

    @router.post("/users/{username}/disable", **change)
    def disable(who: CallerDep, username: str) -> dict[str, Any]:
        """Disable an account: it cannot sign in, and its sessions end now."""
        return _shown(account_services.set_disabled(node, username, True, actor=who.actor))

    @router.post("/users/{username}/enable", **change)
    def enable(who: CallerDep, username: str) -> dict[str, Any]:
        """Enable a disabled account again."""
        return _shown(account_services.set_disabled(node, username, False, actor=who.actor))

    @router.post("/users/{username}/unlock", **change)
    def unlock(who: CallerDep, username: str) -> dict[str, Any]:
        """Lift a lockout after repeated failed sign-ins."""
        return _shown(account_services.unlock(node, username, actor=who.actor))

    @router.get("/grants", response_model=list[GrantOut], **secured(Permission.USERS_MANAGE, audit="user:grants"))
    def grants() -> list[dict[str, Any]]:
        """The grants of roles waiting for a second administrator, oldest first."""
        return [grant_json(g) for g in account_services.pending_grants(node)]

    decide: dict[str, Any] = {
        "response_model": GrantOut,
        "responses": problems(403, 404, 409),
        **secured(Permission.USERS_MANAGE),
    }

    @router.post("/grants/{grant_id}/approve", **decide)
    def approve(who: CallerDep, grant_id: str) -> dict[str, Any]:
        """Approve a grant: its roles take effect now. Refused (403) to the administrator who asked for it and to
        the account's holder; 409 if it was decided already or the account's roles changed since."""
        return grant_json(account_services.approve_grant(node, grant_id, actor=who.actor))

    @router.post("/grants/{grant_id}/reject", **decide)
    def reject(who: CallerDep, grant_id: str) -> dict[str, Any]:
        """Reject a grant (or withdraw one's own): the account's roles stay as they are."""
        return grant_json(account_services.reject_grant(node, grant_id, actor=who.actor))

    return router
