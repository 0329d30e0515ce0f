"""The administrator's pages: accounts and the directory (the audit log's pages are ``audit.web``).

Account changes go through ``accounts.service``, which records each one itself — the routes add no entry of their
own, or every change would be logged twice. The directory page only shows: trusting or revoking a node is a
decision taken at the command line or through the API, where it is recorded with its reason.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from hanoinet.accounts import service as account_services
from hanoinet.accounts.domain import RoleGrant, User
from hanoinet.federation import directory as directory_services
from hanoinet.federation import messaging as messaging_services
from hanoinet.federation.settings import NotOnNetwork
from hanoinet.platform.catalogues import catalogue_status
from hanoinet.platform.errors import Conflict, Issue, NotFound, ValidationFailed
from hanoinet.platform.events import Actor
from hanoinet.platform.logsafe import safe
from hanoinet.platform.permissions import Forbidden, Permission, Role
from hanoinet.platform.security import SecureRoute, secured
from hanoinet.platform.web import LANGUAGES, by_field, flash, redirect, render
from hanoinet.platform.web import actor as current_actor

if TYPE_CHECKING:
    from hanoinet.app.node import Node

PAGE = 50


@dataclass(frozen=True, slots=True)
class AccountRow:
    """An account as the administrator's pages show it: the lockout as of now, never the password hash."""

    username: str
    display_name: str
    roles: tuple[str, ...]
    last_login_at: datetime | None
    locked_until: datetime | None
    failed_logins: int
    disabled_at: datetime | None

    @classmethod
    def of(cls, user: User, now: datetime) -> AccountRow:
        """The row for an account; a lockout that has run out is no lockout."""
        return cls(
            username=user.username,
            display_name=user.display_name,
            roles=tuple(sorted(r.value for r in user.roles)),
            last_login_at=user.last_login_at,
            locked_until=user.locked_until if user.locked(now) else None,
            failed_logins=user.failed_logins,
            disabled_at=user.disabled_at,
        )


@dataclass(frozen=True, slots=True)
class GrantRow:
    """A grant waiting for approval as the pages show it: whether the viewer may approve it (not the one who asked,
    not the account's holder)."""

    id: str
    username: str
    roles: tuple[str, ...]
    previous: tuple[str, ...]
    added: tuple[str, ...]
    requested_by: str
    requested_at: datetime
    resets_password: bool
    approvable: bool

    @classmethod
    def of(cls, grant: RoleGrant, viewer: str) -> GrantRow:
        """The row for a grant, seen by ``viewer``."""
        return cls(
            id=grant.id,
            username=grant.username,
            roles=tuple(sorted(r.value for r in grant.roles)),
            previous=tuple(sorted(r.value for r in grant.previous)),
            added=tuple(sorted(r.value for r in grant.added)),
            requested_by=grant.requested_by,
            requested_at=grant.requested_at,
            resets_password=grant.resets_password,
            approvable=viewer not in (grant.requested_by, grant.username),
        )


def _roles(values: Sequence[str]) -> tuple[frozenset[Role], list[Issue]]:
    """Roles ticked on a form; an unknown one (a forged form) is an issue, not a crash."""
    known = {r.value: r for r in Role}
    unknown = [v for v in values if v not in known]
    if unknown:
        return frozenset(), [Issue("roles", f"unknown role '{safe(unknown[0], 32)}': roles are {', '.join(known)}")]
    return frozenset(known[v] for v in values), []


def router(node: Node) -> APIRouter:
    """The account administration and directory pages."""
    web = APIRouter(route_class=SecureRoute, include_in_schema=False)

    # --- languages
    @web.get("/languages", **secured(Permission.USERS_MANAGE))
    def languages(request: Request) -> HTMLResponse:
        """Each language's catalogues: how much is translated, and whether a sworn translator reviewed them."""
        return render(request, "languages.html", {"statuses": catalogue_status(LANGUAGES)})

    # --- accounts
    @web.get("/users", **secured(Permission.USERS_MANAGE, audit="user:list"))
    def users(request: Request) -> HTMLResponse:
        """Every account, and the form to add one."""
        return _users_page(request, {"username": "", "display_name": "", "roles": []}, {})

    @web.post("/users", **secured(Permission.USERS_MANAGE))
    def add_user(
        request: Request,
        username: Annotated[str, Form(max_length=64)] = "",
        display_name: Annotated[str, Form(max_length=200)] = "",
        roles: Annotated[list[str] | None, Form(max_length=len(Role))] = None,
        password: Annotated[str, Form(max_length=1024)] = "",
        repeat: Annotated[str, Form(max_length=1024)] = "",
    ) -> Response:
        """Create an account with an initial password, which its holder then changes on their account page."""
        values = {"username": username.strip().lower(), "display_name": display_name.strip(), "roles": roles or []}
        wanted, issues = _roles(roles or [])
        if password != repeat:
            issues.append(Issue("repeat", "does not match the password"))
        if issues:
            return _users_page(request, values, by_field(issues), status=422)
        try:
            account_services.add_user(
                node,
                username=username,
                password=password,
                roles=wanted,
                display_name=display_name,
                actor=current_actor(request),
            )
        except ValidationFailed as exc:
            return _users_page(request, values, by_field(exc.issues), status=422)
        except Conflict as exc:
            return _users_page(request, values, {"username": [Issue("username", str(exc))]}, status=409)
        pending = account_services.pending_grants(node, username)
        return redirect("/users", "grant" if pending else "user")

    def _users_page(
        request: Request, values: Mapping[str, Any], errors: dict[str, list[Issue]], *, status: int = 200
    ) -> HTMLResponse:
        now = node.now_wall()
        viewer = current_actor(request).name
        context = {
            "accounts": [AccountRow.of(u, now) for u in account_services.list_users(node)],
            "grants": [GrantRow.of(g, viewer) for g in account_services.pending_grants(node)],
            "values": values,
            "errors": errors,
            "issues": [i for found in errors.values() for i in found],
            "all_roles": [r.value for r in Role],
            **flash(request),
        }
        return render(request, "users.html", context, status=status)

    @web.get("/users/{username}", **secured(Permission.USERS_MANAGE, audit="user:view"))
    def user(request: Request, username: str) -> HTMLResponse:
        """One account: its roles, a new password, disabling it, lifting a lockout."""
        return _user_page(request, username, {}, context=flash(request))

    def _user_page(
        request: Request,
        username: str,
        errors: dict[str, list[Issue]],
        *,
        status: int = 200,
        context: Mapping[str, Any] | None = None,
    ) -> HTMLResponse:
        name = username.strip().lower()
        found = next((u for u in account_services.list_users(node) if u.username == name), None)
        if found is None:
            raise NotFound(f"no account '{safe(username, 64)}'")
        viewer = current_actor(request).name
        page = {
            "account": AccountRow.of(found, node.now_wall()),
            "grants": [GrantRow.of(g, viewer) for g in account_services.pending_grants(node, found.username)],
            "errors": errors,
            "issues": [i for issues in errors.values() for i in issues],
            "all_roles": [r.value for r in Role],
            "own": current_actor(request).name == found.username,
            **(context or {}),
        }
        return render(request, "user.html", page, status=status)

    def _change(request: Request, username: str, change: Callable[[Actor], object]) -> Response:
        """Run one account change; its problems re-render the account's page (422), success goes back to it."""
        try:
            change(current_actor(request))
        except ValidationFailed as exc:
            return _user_page(request, username, by_field(exc.issues), status=422)
        return redirect(f"/users/{username.strip().lower()}", "user")

    @web.post("/users/{username}/roles", **secured(Permission.USERS_MANAGE))
    def set_roles(
        request: Request, username: str, roles: Annotated[list[str] | None, Form(max_length=len(Role))] = None
    ) -> Response:
        """Replace the account's roles; its sessions end, since they carried the old ones."""
        wanted, issues = _roles(roles or [])
        if issues:
            return _user_page(request, username, by_field(issues), status=422)
        try:
            changed = account_services.set_roles(node, username, wanted, actor=current_actor(request))
        except ValidationFailed as exc:
            return _user_page(request, username, by_field(exc.issues), status=422)
        except (Forbidden, Conflict) as exc:  # their own roles; a grant already waiting
            status = 403 if isinstance(exc, Forbidden) else 409
            return _user_page(request, username, {"roles": [Issue("roles", str(exc))]}, status=status)
        done = "grant" if changed.pending is not None else "user"
        return redirect(f"/users/{changed.user.username}", done)

    @web.post("/grants/{grant_id}/approve", **secured(Permission.USERS_MANAGE))
    def approve(request: Request, grant_id: str) -> Response:
        """Approve a grant asked for by another administrator: its roles take effect now."""
        grant = account_services.approve_grant(node, grant_id, actor=current_actor(request))
        return redirect(f"/users/{grant.username}", "granted")

    @web.post("/grants/{grant_id}/reject", **secured(Permission.USERS_MANAGE))
    def reject(request: Request, grant_id: str) -> Response:
        """Reject a grant (or withdraw one's own): the account's roles stay as they are."""
        grant = account_services.reject_grant(node, grant_id, actor=current_actor(request))
        return redirect(f"/users/{grant.username}", "rejected")

    @web.post("/users/{username}/password", **secured(Permission.USERS_MANAGE))
    def reset_password(
        request: Request,
        username: str,
        password: Annotated[str, Form(max_length=1024)] = "",
        repeat: Annotated[str, Form(max_length=1024)] = "",
    ) -> Response:
        """Give the account a new password (a forgotten one); its sessions end and a lockout is lifted — once a
        second administrator approves it (``account_services.set_password``)."""
        if password != repeat:
            return _user_page(
                request, username, {"repeat": [Issue("repeat", "does not match the password")]}, status=422
            )
        try:
            changed = account_services.set_password(node, username, password, actor=current_actor(request))
        except ValidationFailed as exc:
            return _user_page(request, username, by_field(exc.issues), status=422)
        except Conflict as exc:  # a grant or another reset already waiting for this account
            return _user_page(request, username, {"password": [Issue("password", str(exc))]}, status=409)
        done = "reset" if changed.pending is not None else "user"
        return redirect(f"/users/{changed.user.username}", done)

    @web.post("/users/{username}/disable", **secured(Permission.USERS_MANAGE))
    def disable(request: Request, username: str) -> Response:
        """Disable the account: it cannot sign in, and its sessions end now."""
        return _change(request, username, lambda who: account_services.set_disabled(node, username, True, actor=who))

    @web.post("/users/{username}/enable", **secured(Permission.USERS_MANAGE))
    def enable(request: Request, username: str) -> Response:
        """Enable a disabled account again."""
        return _change(request, username, lambda who: account_services.set_disabled(node, username, False, actor=who))

    @web.post("/users/{username}/unlock", **secured(Permission.USERS_MANAGE))
    def unlock(request: Request, username: str) -> Response:
        """Lift a lockout after repeated failed sign-ins, before it runs out."""
        return _change(request, username, lambda who: account_services.unlock(node, username, actor=who))

    # --- the directory
    @web.get("/directory", **secured(Permission.DIRECTORY_READ))
    def directory(request: Request) -> HTMLResponse:
        """This node's identity and the nodes it trusts, with how deliveries to each are going."""
        try:
            identity, profile, state = node.network()
        except NotOnNetwork as exc:
            return render(request, "directory.html", {"offline": str(exc)})
        status = messaging_services.federation_status(node)
        deliveries = {p["node_id"]: p for p in status["peers"]}
        peers = [
            {"peer": p, "delivery": deliveries.get(p.entry.node_id, {})} for p in directory_services.list_peers(node)
        ]
        own = {
            "node_id": identity.node_id,
            "state": state,
            "authority": profile.authority,
            "roles": [r.value for r in profile.roles],
            "endpoint": profile.endpoint.rstrip("/"),
            "signing_key": identity.signing_key.kid,
            "encryption_key": identity.encryption_key.kid,
            "custody_key": node.signer.public_key_hex() if node.signer else "",
        }
        context = {"offline": "", "own": own, "peers": peers, "rejections": status["rejections"], **flash(request)}
        return render(request, "directory.html", context)

    @web.post("/directory/{node_id}/confirm", **secured(Permission.DIRECTORY_WRITE))
    def confirm_change(request: Request, node_id: str) -> Response:
        """Put a node's held change of identity in force (after checking it with the other authority)."""
        directory_services.confirm_change(node, node_id, actor=current_actor(request).name)
        return redirect("/directory", "identity-confirmed")

    @web.post("/directory/{node_id}/reject", **secured(Permission.DIRECTORY_WRITE))
    def reject_change(request: Request, node_id: str) -> Response:
        """Refuse a node's held change of identity: the confirmed values stay in force."""
        directory_services.reject_change(node, node_id, actor=current_actor(request).name)
        return redirect("/directory", "identity-rejected")

    return web
