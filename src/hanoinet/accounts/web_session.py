"""Signing in and out, the start page, and a user's own account (their password)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from hanoinet.accounts import service as accounts
from hanoinet.accounts.domain import LoginFailed
from hanoinet.platform.errors import Issue, ValidationFailed
from hanoinet.platform.permissions import Permission, permissions_of
from hanoinet.platform.security import SESSION_COOKIE, SecureRoute, identify, secured
from hanoinet.platform.web import actor, by_field, flash, redirect, render, safe_next

if TYPE_CHECKING:
    from hanoinet.app.node import Node

START_PAGES = (
    (Permission.REQUESTS_READ, "/inbox"),
    (Permission.AUDIT_READ, "/audit"),
    (Permission.USERS_MANAGE, "/users"),
    (Permission.TREATY_READ, "/treaty"),
)
"""Where each role starts: casework at the inbox, the auditor at the log, the administrator at the accounts."""


def router(node: Node) -> APIRouter:
    """The sign-in, sign-out, start and own-account pages."""
    web = APIRouter(route_class=SecureRoute, include_in_schema=False)

    @web.get("/", **secured(Permission.PUBLIC))
    def start(request: Request) -> RedirectResponse:
        """The first page a role needs, or the sign-in page."""
        caller = identify(request)
        if caller.principal is None:
            return RedirectResponse("/login", status_code=303)
        granted = permissions_of(caller.principal.roles)
        target = next((page for permission, page in START_PAGES if permission in granted), "/account")
        return RedirectResponse(target, status_code=303)

    @web.get("/login", **secured(Permission.PUBLIC))
    def login_page(request: Request, next: str = "/") -> HTMLResponse:
        """The sign-in form."""
        return render(request, "login.html", {"next": safe_next(next), "username": "", **flash(request)})

    @web.post("/login", **secured(Permission.PUBLIC))
    def login(
        request: Request,
        username: Annotated[str, Form(max_length=64)] = "",
        password: Annotated[str, Form(max_length=1024)] = "",
        next: Annotated[str, Form(max_length=2000)] = "/",
    ) -> Response:
        """Check the password, open a session (cookie: HttpOnly, SameSite=Strict, Secure over HTTPS), go on."""
        remote = request.client.host if request.client else ""
        try:
            _, token = accounts.login(node, username, password, remote=remote)
        except LoginFailed as exc:
            context = {"next": safe_next(next), "username": username, "error": str(exc)}
            return render(request, "login.html", context, status=401)
        response = RedirectResponse(safe_next(next), status_code=303)
        response.set_cookie(
            SESSION_COOKIE,
            token,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/",
        )
        return response

    @web.post("/logout", **secured(Permission.SIGNED_IN))
    def logout(request: Request) -> RedirectResponse:
        """End the session, here and on the server."""
        accounts.logout(node, request.cookies.get(SESSION_COOKIE, ""), actor=actor(request))
        response = redirect("/login", "signed_out")
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    @web.get("/account", **secured(Permission.SIGNED_IN))
    def account(request: Request) -> HTMLResponse:
        """The signed-in user: roles, what they allow, and the form to change the password."""
        return render(request, "account.html", {"errors": {}, **flash(request)})

    @web.post("/account/password", **secured(Permission.SIGNED_IN))
    def change_password(
        request: Request,
        current: Annotated[str, Form(max_length=1024)] = "",
        new: Annotated[str, Form(max_length=1024)] = "",
        repeat: Annotated[str, Form(max_length=1024)] = "",
    ) -> Response:
        """Change one's own password (the current one is asked for); every session of the account ends."""
        who = actor(request)
        if new != repeat:
            errors = {"repeat": [Issue("repeat", "does not match the new password")]}
            return render(request, "account.html", {"errors": errors}, status=422)
        try:
            accounts.set_password(node, who.name, new, actor=who, current=current)
        except ValidationFailed as exc:
            return render(request, "account.html", {"errors": by_field(exc.issues)}, status=422)
        response = redirect("/login", "password")
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    return web
