"""Who is calling, what each route allows, and the audit of every call — in one place for the API and the web UI.

Every route is a ``SecureRoute``: it cannot be created without a permission (``secured(permission)``), the
permission is checked before the endpoint runs, and a route that reads or changes something of a case names the
action to audit (``secured(permission, audit="request:view")``), recorded after the call with its outcome — ok,
refused (no account, a missing permission, handling conditions) or failed (invalid input, unknown id).

Callers: a machine presents an API token (``Authorization: Bearer``); a person signs in and carries a session
cookie (HttpOnly, SameSite=Strict), and every form or unsafe call of theirs carries the session's CSRF token (a form
field ``csrf_token`` or the ``X-CSRF-Token`` header), so that another site cannot act in their name. An unsafe
call of the web UI without a session (signing in) must come from this node's own origin (``check_origin``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Protocol
from urllib.parse import urlsplit

from fastapi import Depends, FastAPI, Request
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.routing import Mount, Route

from hanoinet.platform import events
from hanoinet.platform.api import problems
from hanoinet.platform.errors import BAD_REQUEST, FORBIDDEN, UNAUTHENTICATED, DomainError, ErrorKind, NotFound, kind_of
from hanoinet.platform.events import Actor, Channel, Event, Outcome
from hanoinet.platform.jsonbody import MAX_JSON_DEPTH, nesting_exceeds
from hanoinet.platform.limits import RouteClass, read_form, read_upload_form, route_class
from hanoinet.platform.permissions import Forbidden, Permission, Principal, may

if TYPE_CHECKING:
    from hanoinet.accounts.service import SignedIn
    from hanoinet.app.node import Node

log = logging.getLogger("hanoinet.security")

SESSION_COOKIE = "hanoinet_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
OPEN_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json", "/static-offline-docs"})
"""Routes registered by the framework (the API's own documentation): public, and not ours to declare."""


class RouteWithoutPermission(TypeError):  # noqa: N818 - names the mistake it refuses
    """A route was declared without saying what it allows: refused when the application is built."""


class Unauthenticated(Exception):  # noqa: N818 - mirrors HTTP 401
    """No valid API token or session: the API answers 401, the web UI sends the caller to sign in."""

    error_kind: ClassVar[ErrorKind] = UNAUTHENTICATED


class CsrfRejected(Exception):  # noqa: N818 - names the outcome
    """An unsafe call from a signed-in browser without the session's CSRF token."""

    error_kind: ClassVar[ErrorKind] = FORBIDDEN


def secured(permission: Permission, audit: str | None = None) -> dict[str, Any]:
    """The route arguments that declare what a route allows and, for calls about a case, what to audit."""
    extra: dict[str, Any] = {"x-permission": permission.value}
    if audit is not None:
        subject, _, verb = audit.partition(":")
        if not subject or not verb:
            raise ValueError(f"audit action {audit!r} must be 'subject:verb'")
        extra["x-audit"] = audit
    return {"openapi_extra": extra}


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling: a principal (or nobody), through which channel, from where, and the session if any."""

    principal: Principal | None
    channel: Channel
    remote: str
    session: SignedIn | None = None

    @property
    def actor(self) -> Actor:
        """The caller as the audit log records them."""
        if self.principal is None:
            return Actor("anonymous", frozenset(), self.channel, self.remote)
        return Actor(self.principal.name, self.principal.roles, self.channel, self.remote)


class Gate(Protocol):
    """What the guard asks of the capabilities that know callers and keep the log: who holds an API token, whose
    session a cookie opens, refusing (and recording) a missing permission, writing an entry. The composition root
    hands one in (``app.state.gate``), so that the kernel imports no capability."""

    def token_holder(self, node: Node, token: str) -> Principal | None:
        """The principal an API token belongs to, or None if it is unknown or revoked."""

    def signed_in(self, node: Node, cookie: str) -> SignedIn | None:
        """The session a cookie's token opens, if it is still valid."""

    def refuse(
        self, node: Node, actor: Actor, permission: Permission, *, action: str, subject: str, object_id: str
    ) -> None:
        """Raise Forbidden, after recording the refusal, unless the actor's roles allow ``permission``."""

    def log(self, node: Node, event: Event) -> object:
        """Append ``event`` to the audit log in a transaction of its own."""


def _node(request: Request) -> Node:
    node: Node = request.app.state.node
    return node


def _gate(request: Request) -> Gate:
    gate: Gate = request.app.state.gate
    return gate


def _remote(request: Request) -> str:
    return request.client.host if request.client else ""


TOKEN_TTL_SECONDS = 1.0
"""How long an API token's holder is remembered in this process. Machines call many times a second, and looking
the token up each time costs a database read on a worker thread — under load, more than the call itself; the
price is that a token revoked (at the command line, in another process) is refused at most this long after."""


class _TokenCache:
    """API tokens seen in the last second, by their SHA-256 (never the token itself), with who holds them."""

    def __init__(self) -> None:
        self._seen: dict[str, tuple[Principal | None, float]] = {}
        self._lock = threading.Lock()

    def get(self, token: str) -> tuple[bool, Principal | None]:
        """(known, principal): ``known`` is False when the token must be looked up in the database."""
        key = hashlib.sha256(token.encode()).hexdigest()
        with self._lock:
            found = self._seen.get(key)
        if found is None or found[1] < time.monotonic():
            return False, None
        return True, found[0]

    def put(self, token: str, principal: Principal | None) -> None:
        """Remember the token's holder (or that it has none) for a second."""
        key = hashlib.sha256(token.encode()).hexdigest()
        with self._lock:
            if len(self._seen) > 10_000:  # a flood of made-up tokens must not grow memory without bound
                self._seen.clear()
            self._seen[key] = (principal, time.monotonic() + TOKEN_TTL_SECONDS)


_TOKENS = _TokenCache()


def _known_token_caller(request: Request) -> Caller | None:
    """The caller, if an API token seen a moment ago says who it is (no database read, no thread hop)."""
    token = _bearer(request)
    if not token:
        return None
    known, principal = _TOKENS.get(token)
    if not known:
        return None
    caller = Caller(principal, Channel.API, _remote(request))
    request.state.caller = caller
    return caller


def _channel(request: Request) -> Channel:
    return Channel.API if request.url.path.startswith(("/api/", "/federation/")) else Channel.WEB


def _bearer(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def identify(request: Request) -> Caller:
    """Resolve the caller from an API token or a session cookie (cached on the request)."""
    found: Caller | None = getattr(request.state, "caller", None)
    if found is not None:
        return found
    node = _node(request)
    remote = _remote(request)
    caller = Caller(None, _channel(request), remote)
    if token := _bearer(request):
        principal = _gate(request).token_holder(node, token)
        _TOKENS.put(token, principal)
        if principal is not None:
            caller = Caller(principal, Channel.API, remote)
    elif cookie := request.cookies.get(SESSION_COOKIE):
        signed = _gate(request).signed_in(node, cookie)
        if signed is not None:
            caller = Caller(signed.principal, caller.channel, remote, signed)
    request.state.caller = caller
    return caller


def _origin_of(url: str) -> str:
    """``scheme://host[:port]`` of a URL, lower-case, with the scheme's default port left out ("" if none)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return ""
    default = {"http": 80, "https": 443}[parts.scheme]
    try:
        port = parts.port
    except ValueError:
        return ""
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}" + (f":{port}" if port not in (None, default) else "")


def check_origin(request: Request) -> None:
    """Refuse (CsrfRejected) an unsafe call of the web UI that a browser says comes from another site.

    Without a session there is no session CSRF token to check, yet a cross-site form must not act here either —
    above all ``POST /login``, which would otherwise sign the victim's browser into the attacker's account (login
    CSRF). Browsers send ``Origin`` with every POST; it (or, failing it, ``Referer``) must be this node's own origin:
    the one the request was made to, or the one of its configured endpoint (behind a TLS proxy). ``Origin: null``
    (a sandboxed or privacy-stripped page) is refused. A call with neither header is no browser's cross-site form
    and goes on — the login form's own pre-session token (``accounts.web_session``) is still required.
    """
    claimed = request.headers.get("origin")
    if claimed is None:
        referer = request.headers.get("referer")
        if referer is None:
            return
        claimed = _origin_of(referer)
    else:
        claimed = _origin_of(claimed)
    own = {_origin_of(str(request.base_url))}
    profile = getattr(_node(request), "profile", None)
    if profile is not None and profile.endpoint:
        own.add(_origin_of(profile.endpoint))
    if not claimed or claimed not in own:
        raise CsrfRejected("this form did not come from this node: open the page on this node and try again")


async def _check_csrf(request: Request, caller: Caller) -> None:
    if caller.session is None or request.method not in UNSAFE:
        return
    expected = caller.session.session.csrf_token
    given = request.headers.get(CSRF_HEADER, "")
    if not given and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        # the two forms that take a file (a document received) are parsed as such; every other form takes none
        takes_file = route_class(request.method, request.url.path) is RouteClass.DOCUMENT
        form = await (read_upload_form(request) if takes_file else read_form(request))
        given = str(form.get(CSRF_FIELD, ""))
    if not given or not hmac.compare_digest(given, expected):
        raise CsrfRejected("this form is out of date or did not come from this node: reload the page and try again")


def requirement(permission: Permission) -> Callable[[Request], Awaitable[Caller]]:
    """The dependency every route gets: who is calling, and are they allowed to."""

    async def require(request: Request) -> Caller:
        if permission in (Permission.PUBLIC, Permission.PEER):
            # No caller to check: it is resolved only if the page asks (``identify``), not on every call. An unsafe
            # call of the web UI (signing in) has no session CSRF token: its origin is checked instead.
            channel = _channel(request)
            if request.method in UNSAFE and channel is Channel.WEB:
                check_origin(request)
            return Caller(None, channel, _remote(request))
        caller = _known_token_caller(request)
        if caller is None:
            caller = await run_in_threadpool(identify, request)
        if caller.principal is None:
            raise Unauthenticated("sign in, or present an API token (Authorization: Bearer <token>)")
        await _check_csrf(request, caller)
        if not may(caller.principal.roles, permission):
            subject, verb = _audit_names(request)
            await run_in_threadpool(
                _gate(request).refuse,
                _node(request),
                caller.actor,
                permission,
                action=f"{subject}:{verb}",
                subject=subject,
                object_id=_object_id(request, subject),
            )
        return caller

    return require


def _audit_names(request: Request) -> tuple[str, str]:
    route = request.scope.get("route")
    spec = getattr(route, "hn_audit", None) or "route:call"
    subject, _, verb = spec.partition(":")
    return subject, verb


def _object_id(request: Request, subject: str, response: Response | None = None) -> str:
    params = request.path_params
    for name in (f"{subject}_id", "item_id", "request_id", "transfer_id", "consent_id", "node_id", "username"):
        if name in params:
            return str(params[name])
    if params:
        return str(next(iter(params.values())))
    if response is not None and response.headers.get("content-type", "").startswith("application/json"):
        try:
            body = json.loads(bytes(response.body))
        except (ValueError, AttributeError):
            return ""
        if isinstance(body, dict) and isinstance(body.get("id"), str):
            return str(body["id"])
    return ""


def note_for_audit(request: Request, **details: object) -> None:
    """Add details to the audit entry the route will record for this call (a download's reason, say)."""
    noted: dict[str, object] = getattr(request.state, "audit_details", {})
    noted.update(details)
    request.state.audit_details = noted


async def current_caller(request: Request) -> Caller:
    """The caller, as resolved by the route's permission check (async: no thread hop for what is already known)."""
    found: Caller | None = getattr(request.state, "caller", None)
    if found is not None:
        return found
    return await run_in_threadpool(identify, request)


async def current_principal(request: Request) -> Principal:
    """The signed-in principal (routes that need one have already refused anonymous callers)."""
    caller = await current_caller(request)
    if caller.principal is None:
        raise Unauthenticated("sign in, or present an API token (Authorization: Bearer <token>)")
    return caller.principal


CallerDep = Annotated[Caller, Depends(current_caller)]
PrincipalDep = Annotated[Principal, Depends(current_principal)]


def _guard_responses(permission: Permission, methods: Iterable[str] | None) -> dict[int | str, dict[str, Any]]:
    """The statuses every route can answer whatever it does, declared here once: 422 for a parameter or body
    that breaks its schema, 400 for a body that cannot be read, 408 and 413 for one that comes too slowly or is
    too large (``platform.limits``), and 401/403 where the guard checks a caller."""
    statuses = [422]
    if UNSAFE & set(methods or ()):
        statuses += [400, 408, 413]
    if permission not in (Permission.PUBLIC, Permission.PEER):
        statuses += [401, 403]
    return problems(*sorted(statuses))


class SecureRoute(APIRoute):
    """An API route that declares its permission (or cannot be created), checks it, and audits its call."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        extra = kwargs.get("openapi_extra") or {}
        if "x-permission" not in extra:
            raise RouteWithoutPermission(
                f"route {path} declares no permission: add **secured(Permission.…) to its decorator"
            )
        self.hn_permission = Permission(extra["x-permission"])
        self.hn_audit: str | None = extra.get("x-audit")
        kwargs["responses"] = {
            **_guard_responses(self.hn_permission, kwargs.get("methods")),
            **(kwargs.get("responses") or {}),
        }
        kwargs["dependencies"] = [*(kwargs.get("dependencies") or []), Depends(requirement(self.hn_permission))]
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = _depth_guarded(super().get_route_handler())
        spec = self.hn_audit
        if spec is None:
            return handler
        subject, _, verb = spec.partition(":")

        async def audited(request: Request) -> Response:
            entry = events.RouteEntry(
                lambda: _node(request), lambda object_id: _event(request, subject, verb, object_id)
            )
            with events.route_entry(entry):
                try:
                    response = await handler(request)
                except Exception as exc:
                    if kind_of(exc) in (FORBIDDEN, UNAUTHENTICATED):  # roles, handling conditions, no credential
                        if not isinstance(exc, Forbidden):  # a missing permission is recorded where it is found
                            await _record(request, subject, verb, Outcome.REFUSED, None, reason=str(exc)[:500])
                    elif isinstance(exc, (DomainError, ValueError)):
                        missing = isinstance(exc, NotFound)
                        await _record(
                            request, subject, verb, Outcome.FAILED, None, reason=str(exc)[:500], missing=missing
                        )
                    raise
            status = response.status_code
            if status < 400 and entry.written:
                return response  # written with the change, in its transaction
            outcome = Outcome.OK if status < 400 else Outcome.REFUSED if status in (401, 403) else Outcome.FAILED
            await _record(request, subject, verb, outcome, response)
            return response

        return audited


class BodyTooDeep(ValueError):  # noqa: N818 - names the outcome, like the domain's errors
    """A JSON body nests deeper than any body of the API may (``jsonbody.MAX_JSON_DEPTH``): a 400."""

    error_kind: ClassVar[ErrorKind] = BAD_REQUEST


def _depth_guarded(
    handler: Callable[[Request], Coroutine[Any, Any, Response]],
) -> Callable[[Request], Coroutine[Any, Any, Response]]:
    """Refuse a JSON body that nests too deeply before FastAPI parses it (the body is read once and kept)."""

    async def guarded(request: Request) -> Response:
        if request.method in UNSAFE and "json" in request.headers.get("content-type", ""):
            body = await request.body()
            if nesting_exceeds(body):
                raise BodyTooDeep(f"the JSON body nests deeper than {MAX_JSON_DEPTH} levels")
        return await handler(request)

    return guarded


def _event(
    request: Request,
    subject: str,
    verb: str,
    object_id: str = "",
    outcome: Outcome = Outcome.OK,
    response: Response | None = None,
    **details: object,
) -> Event:
    """The audit event of a call: who (as identified), what, about which object, with the details noted."""
    caller = getattr(request.state, "caller", None) or Caller(None, Channel.WEB, _remote(request))
    found = _object_id(request, subject, response) or object_id
    noted: dict[str, object] = getattr(request.state, "audit_details", {})
    return caller.actor.event(f"{subject}:{verb}", subject, found, outcome=outcome, **{**noted, **details})


async def _record(
    request: Request, subject: str, verb: str, outcome: Outcome, response: Response | None, **details: object
) -> None:
    event = _event(request, subject, verb, "", outcome, response, **details)
    try:
        await run_in_threadpool(_gate(request).log, _node(request), event)
    except Exception:
        log.exception("could not record %s:%s by %s in the audit log", subject, verb, event.actor)
        raise


def _all_routes(routes: Iterable[Any]) -> Iterable[Any]:
    """Routes, with those of included routers (which FastAPI may keep as a router rather than copy)."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _all_routes(inner.routes)
        else:
            yield route


def check_routes(app: FastAPI, allowed: Iterable[str] = OPEN_PATHS) -> None:
    """Refuse to serve an application with a route that declares no permission (routes added around
    ``SecureRoute``: plain Starlette routes other than the framework's documentation, or mounts other than static
    files)."""
    open_paths = set(allowed)
    for route in _all_routes(app.routes):
        if isinstance(route, SecureRoute):
            continue
        if isinstance(route, APIRoute) and route.path in open_paths:
            continue  # the framework's own documentation pages
        if isinstance(route, APIRoute):
            raise RouteWithoutPermission(f"route {route.path} is not a SecureRoute: it declares no permission")
        if isinstance(route, Route) and route.path in open_paths:
            continue
        if isinstance(route, Mount) and route.path in ("/static", "/static-offline-docs"):
            continue
        raise RouteWithoutPermission(f"route {getattr(route, 'path', route)!r} declares no permission")
