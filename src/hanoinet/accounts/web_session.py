"""Signing in and out, the start page, and a user's own account (their password).

The sign-in form is protected against login CSRF (another site signing a victim's browser into an account of its
choosing) twice: the kernel refuses a cross-origin POST (``platform.security.check_origin``), and ``GET /login``
issues a pre-session token — a random value, in an HttpOnly, SameSite=Strict cookie scoped to ``/login`` and in a
hidden field of the form — that ``POST /login`` must present in both, equal. Another site can neither read the
field nor make the browser send the cookie along with its form. Once signed in, the session's own CSRF token
protects every form.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from hanoinet.accounts import service as accounts
from hanoinet.accounts.domain import HashingBusy, LoginFailed, TooManyAttempts
from hanoinet.platform.errors import Issue, ValidationFailed
from hanoinet.platform.permissions import Permission, permissions_of
from hanoinet.platform.security import SESSION_COOKIE, SecureRoute, identify, secured
from hanoinet.platform.web import (
    LANGUAGES,
    actor,
    by_field,
    flash,
    language_names,
    page_language,
    redirect,
    render,
    safe_next,
)

if TYPE_CHECKING:
    from hanoinet.app.node import Node

START_PAGES = (
    (Permission.REQUESTS_READ, "/inbox"),
    (Permission.AUDIT_READ, "/audit"),
    (Permission.USERS_MANAGE, "/users"),
    (Permission.TREATY_READ, "/treaty"),
)
"""Where each role starts: casework at the inbox, the auditor at the log, the administrator at the accounts."""

COMMON_TIME_ZONES = (
    "UTC", "Asia/Ho_Chi_Minh", "Asia/Singapore", "Asia/Bangkok", "Asia/Jakarta", "Asia/Manila", "Asia/Shanghai",
    "Asia/Tokyo", "Asia/Seoul", "Asia/Kolkata", "Asia/Dubai", "Asia/Riyadh", "Africa/Cairo", "Africa/Lagos",
    "Africa/Nairobi", "Africa/Johannesburg", "Europe/London", "Europe/Paris", "Europe/Moscow", "America/New_York",
    "America/Mexico_City", "America/Bogota", "America/Santiago", "America/Sao_Paulo", "Australia/Sydney",
    "Pacific/Auckland",
)  # fmt: skip
"""Time zones offered first on the account page (any IANA name is taken)."""

LOGIN_COOKIE = "hanoinet_login"
LOGIN_FIELD = "login_token"
LOGIN_TOKEN_SECONDS = 3600
"""How long a sign-in form stays usable: the pre-session cookie's lifetime."""
STALE_FORM = "this sign-in form is out of date or did not come from this node: reload the page and try again"


def _login_token(request: Request) -> str:
    """The pre-session token this browser already holds (a second tab keeps working), or a new one."""
    held = request.cookies.get(LOGIN_COOKIE, "")
    return (
        held
        if 32 <= len(held) <= 64 and held.replace("-", "").replace("_", "").isalnum()
        else secrets.token_urlsafe(32)
    )


def _with_login_token(request: Request, response: Response, token: str) -> Response:
    response.set_cookie(
        LOGIN_COOKIE,
        token,
        max_age=LOGIN_TOKEN_SECONDS,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/login",
    )
    return response


def _login_form(
    request: Request, next: str, username: str = "", *, error: str = "", status: int = 200, retry_after: int = 0
) -> Response:
    """The sign-in page, with a pre-session token in its cookie and its hidden field."""
    token = _login_token(request)
    context = {"next": safe_next(next), "username": username, "login_field": LOGIN_FIELD, "login_token": token}
    if error:
        context["error"] = error
    else:
        context.update(flash(request))
    page = render(request, "login.html", context, status=status)
    if retry_after:
        page.headers["Retry-After"] = str(retry_after)
    return _with_login_token(request, page, token)


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
    def login_page(request: Request, next: str = "/") -> Response:
        """The sign-in form, with its pre-session token."""
        return _login_form(request, next)

    @web.post("/login", **secured(Permission.PUBLIC))
    def login(
        request: Request,
        username: Annotated[str, Form(max_length=64)] = "",
        password: Annotated[str, Form(max_length=1024)] = "",
        next: Annotated[str, Form(max_length=2000)] = "/",
        login_token: Annotated[str, Form(max_length=64)] = "",
    ) -> Response:
        """Check the pre-session token, then the password (as the throttle allows), open a session (cookie:
        HttpOnly, SameSite=Strict, Secure over HTTPS), go on. Too many failures from here: 429 with Retry-After;
        every hashing slot busy: 503 with Retry-After; neither counts as a failure."""
        held = request.cookies.get(LOGIN_COOKIE, "")
        if not held or not login_token or not hmac.compare_digest(held.encode(), login_token.encode()):
            return _login_form(request, next, username, error=STALE_FORM, status=403)
        remote = request.client.host if request.client else ""
        try:
            _, token = accounts.login(node, username, password, remote=remote)
        except LoginFailed as exc:
            return _login_form(request, next, username, error=str(exc), status=401)
        except (TooManyAttempts, HashingBusy) as exc:
            status = 429 if isinstance(exc, TooManyAttempts) else 503
            return _login_form(request, next, username, error=str(exc), status=status, retry_after=exc.retry_after)
        response = RedirectResponse(safe_next(next), status_code=303)
        response.delete_cookie(LOGIN_COOKIE, path="/login")
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

    def _account(request: Request, errors: Mapping[str, Any], *, status: int = 200) -> HTMLResponse:
        """The account page (its forms' errors, if any)."""
        language = page_language(request)
        context = {
            "errors": errors,
            "languages": language_names(language),
            "time_zones": COMMON_TIME_ZONES,
            **flash(request),
        }
        return render(request, "account.html", context, status=status)

    @web.get("/account", **secured(Permission.SIGNED_IN))
    def account(request: Request) -> HTMLResponse:
        """The signed-in user: roles, what they allow, the language and time zone of their pages, the form to
        change the password."""
        return _account(request, {})

    @web.post("/account/preferences", **secured(Permission.SIGNED_IN, audit="user:preferences"))
    def preferences(
        request: Request,
        language: Annotated[str, Form(max_length=16)] = "",
        time_zone: Annotated[str, Form(max_length=64)] = "UTC",
    ) -> Response:
        """Choose the language of one's pages ("" for the browser's) and the time zone times are shown in."""
        who = actor(request)
        try:
            accounts.set_preferences(
                node, who.name, language=language, time_zone=time_zone.strip(), languages=LANGUAGES, actor=who
            )
        except ValidationFailed as exc:
            return _account(request, by_field(exc.issues), status=422)
        return redirect("/account", "preferences")

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
            return _account(request, errors, status=422)
        try:
            accounts.set_password(node, who.name, new, actor=who, current=current)
        except ValidationFailed as exc:
            return _account(request, by_field(exc.issues), status=422)
        except (TooManyAttempts, HashingBusy) as exc:
            errors = {"current": [Issue("current", str(exc))]}
            page = _account(request, errors, status=429 if isinstance(exc, TooManyAttempts) else 503)
            page.headers["Retry-After"] = str(exc.retry_after)
            return page
        response = redirect("/login", "password")
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    return web
