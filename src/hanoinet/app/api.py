"""The node's JSON API: FastAPI over the same services as the CLI. OpenAPI at /openapi.json, docs at /docs.

Errors: 422 for invalid input (each problem with its field and, for legal rules, its article), 409 for an action the
request's state or the treaty's status does not allow, 404 for unknown ids — never a stack trace.
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from http import HTTPStatus
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Route

from hanoinet import __version__
from hanoinet.accounts.api import admin_router
from hanoinet.app import bootstrap as boot
from hanoinet.app.gate import NodeGate
from hanoinet.app.node import Node
from hanoinet.app.web import install as install_web
from hanoinet.assets import api as assets_api
from hanoinet.audit import api as audit_api
from hanoinet.cases import api as cases_api
from hanoinet.documents import api as documents_api
from hanoinet.evidence.api import evidence_router
from hanoinet.evidence.downloads import StreamCutError
from hanoinet.evidence.ports import ContentMismatch
from hanoinet.evidence.uploads import UploadStore
from hanoinet.evidence.vault import BlobCorrupt, VaultError
from hanoinet.federation import directory as directory_services
from hanoinet.federation.api import node_router, operator_router
from hanoinet.federation.domain import EnvelopeRejected
from hanoinet.federation.ports import TransportError
from hanoinet.federation.settings import NotOnNetwork
from hanoinet.federation.worker import WorkerProcess
from hanoinet.platform import present as platform_present
from hanoinet.platform.api import Shape
from hanoinet.platform.errors import (
    BAD_REQUEST,
    DAMAGED,
    INTERNAL,
    INVALID,
    UNAUTHENTICATED,
    DomainError,
    ValidationFailed,
    kind_of,
)
from hanoinet.platform.limits import BodyLimit, BodyLimits
from hanoinet.platform.logsafe import bounded
from hanoinet.platform.permissions import Permission
from hanoinet.platform.security import (
    BodyTooDeep,
    CsrfRejected,
    SecureRoute,
    Unauthenticated,
    check_routes,
    secured,
)
from hanoinet.platform.settings import Settings
from hanoinet.platform.web import error_page
from hanoinet.requests import api as requests_api
from hanoinet.rules import api as rules_api
from hanoinet.statistics.api import statistics_router
from hanoinet.treaty import api as treaty_api
from hanoinet.treaty.csv_import import CsvFormatError

log = logging.getLogger("hanoinet.api")


class HealthOut(Shape):
    """The node answers: its version, the packs it knows and its State."""

    status: str
    version: str
    packs: list[str]
    node_state: str | None


def _is_page(request: Request) -> bool:
    """True for the web UI's pages (an error is then a page, not JSON)."""
    return not request.url.path.startswith(("/api/", "/federation/", "/health", "/openapi", "/docs", "/redoc"))


def _problem(request: Request, status: int, title: str, detail: Any) -> Response:
    detail = bounded(detail)  # a message quoting the caller's input echoes a bounded part of it (platform.logsafe)
    if _is_page(request):
        try:
            return error_page(request, status, title, detail)
        except Exception:  # the page itself could not be drawn (the database is down): say so in plain text
            log.exception("could not render the error page for %s", request.url.path)
            return PlainTextResponse(f"{title}: {detail}", status_code=status)
    return JSONResponse(status_code=status, content={"title": title, "detail": detail})


def _body_issue(message: str) -> dict[str, Any]:
    """An error about the body as a whole, in the shape of every other field error."""
    return {"field": "body", "message": message, "article": None, "text": f"body: {message}"}


DECLARING: tuple[type[Exception], ...] = (
    DomainError,
    VaultError,
    ContentMismatch,
    EnvelopeRejected,
    TransportError,
    NotOnNetwork,
    CsvFormatError,
    Unauthenticated,
    CsrfRejected,
    BodyTooDeep,
)
"""The base classes of the errors raised on purpose: each declares its ``ErrorKind`` (``platform.errors``), and one
handler answers them all from the table. Errors of the node's own configuration (a broken pack, a key file) are
not among them: met while serving, they are a fault of the node, answered as an internal error and logged."""


def _file_issue(message: str) -> dict[str, Any]:
    return {"field": "file", "message": message, "article": None, "text": message}


def _detail(exc: Exception) -> Any:
    """What the body's ``detail`` says: the field issues of invalid input, else the error's message."""
    if isinstance(exc, ValidationFailed):
        return [platform_present.issue(i) for i in exc.issues]
    if isinstance(exc, BodyTooDeep):
        return [_body_issue(str(exc))]
    if isinstance(exc, CsvFormatError):
        return [_file_issue(str(exc))]
    if isinstance(exc, EnvelopeRejected):
        return exc.detail
    if isinstance(exc, BlobCorrupt):
        return f"the item's stored content is damaged: {exc}; run a verify"
    return str(exc)


def _unauthorized(request: Request, exc: Exception) -> Response:
    """401: an API caller is told to present a token; a person on a page is sent to sign in and back."""
    if isinstance(exc, Unauthenticated) and _is_page(request):
        # back to the page after signing in (a form's target is not a page: start over)
        page = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        target = quote(page if request.method == "GET" else "/", safe="")
        return RedirectResponse(f"/login?next={target}", status_code=303)
    return JSONResponse(
        status_code=401,
        content={"title": UNAUTHENTICATED.title, "detail": str(exc)},
        headers={"WWW-Authenticate": "Bearer"},
    )


def _allowed_methods(app: FastAPI, scope: dict[str, Any]) -> list[str]:
    """Every method some route serves at this path (Starlette names only the first route's)."""
    methods: set[str] = set()
    for route in app.router.routes:
        match, _ = route.matches({**scope, "method": "GET"})
        if match is not Match.NONE and isinstance(route, Route) and route.methods:  # PARTIAL: another method
            methods |= route.methods
    return sorted(methods)


def _install_error_handlers(app: FastAPI) -> None:
    async def declared(request: Request, exc: Exception) -> Response:
        kind = kind_of(exc)
        if kind is UNAUTHENTICATED:
            return _unauthorized(request, exc)
        title = exc.reason if isinstance(exc, EnvelopeRejected) else kind.title
        return _problem(request, kind.status, title, _detail(exc))

    for error in DECLARING:
        app.add_exception_handler(error, declared)

    @app.exception_handler(RequestValidationError)
    async def malformed(request: Request, exc: RequestValidationError) -> Response:
        detail = []
        for e in exc.errors():
            where = [str(p) for p in e["loc"] if p != "body"]
            field = "body" if e["type"] == "json_invalid" or not where else ".".join(where)
            detail.append({"field": field, "message": e["msg"], "article": None, "text": f"{field}: {e['msg']}"})
        return _problem(request, INVALID.status, INVALID.title, detail)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        """The framework's own refusals (a body that is not JSON, an unknown path, a method the path does not
        serve) in the node's error body, with every method the path serves in ``Allow``."""
        detail: Any = str(exc.detail)
        title = HTTPStatus(exc.status_code).phrase.lower()
        if exc.status_code == BAD_REQUEST.status:
            title, detail = BAD_REQUEST.title, [_body_issue(detail)]
        response = _problem(request, exc.status_code, title, detail)
        if exc.headers:
            response.headers.update(exc.headers)
        if exc.status_code == 405:
            response.headers["Allow"] = ", ".join(_allowed_methods(app, dict(request.scope)))
        return response

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> Response:
        if isinstance(exc, StreamCutError):  # not a fault of the node's code: the server logs the cut itself
            log.error("%s", exc)
            return _problem(request, DAMAGED.status, DAMAGED.title, str(exc))
        incident = uuid.uuid4().hex[:12]
        log.error("internal error %s", incident, exc_info=exc)
        return _problem(
            request, INTERNAL.status, INTERNAL.title, f"the node could not complete this; incident {incident} is logged"
        )


def create_app(
    node: Node, uploads: UploadStore | None = None, *, worker: str | None = None, limits: BodyLimits | None = None
) -> FastAPI:
    """Return the API application bound to a node; with ``worker`` (this node's endpoint), a worker process
    delivers the outbox and transfers alongside it. ``limits``: the caps on request bodies (by default the
    settings' ``limit_*``), applied before anything is parsed."""
    body_limits = limits or BodyLimits.from_settings(Settings())

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        background = None
        if worker and node.identity is not None and node.node_state:
            directory_services.publish_own_entry(node)  # a changed endpoint or new keys reach the peers
            background = WorkerProcess(functools.partial(boot.bootstrap, endpoint=worker))
            background.start()
            node.listeners.append(background.wake)
        try:
            yield
        finally:
            if background is not None:
                node.listeners.remove(background.wake)
                background.stop()

    # Docs served from the package, not a CDN: nodes run on closed networks, and a page must not call out.
    app = FastAPIOffline(
        title="hanoinet node API",
        version=__version__,
        description="Requests of Chapter V of the UN Convention against Cybercrime, treaty status and rule packs.",
        lifespan=lifespan,
        form_limits=body_limits.form_options(),  # the forms FastAPI parses itself (``Form()`` parameters)
    )
    app.router.route_class = SecureRoute
    app.state.node = node
    app.state.gate = NodeGate()
    _install_error_handlers(app)
    if uploads is not None and node.vault is not None:
        app.include_router(evidence_router(node, uploads))
    if node.identity is not None:
        app.include_router(node_router(node))
        app.include_router(operator_router(node))
    for capability in (rules_api, treaty_api, cases_api, requests_api, assets_api, audit_api):
        app.include_router(capability.router(node))
    if node.identity is not None:
        app.include_router(documents_api.router(node))
    app.include_router(admin_router(node))
    app.include_router(statistics_router(node))

    @app.get("/health", tags=["node"], response_model=HealthOut, **secured(Permission.PUBLIC))
    def health() -> dict[str, Any]:
        """Liveness: the node answers and knows its packs."""
        return {
            "status": "ok",
            "version": __version__,
            "packs": sorted(node.packs),
            "node_state": node.node_state,
        }

    install_web(app, node)
    check_routes(app)
    # Outermost, added last: bodies are capped and timed before any route, guard or parser sees them.
    app.state.body_limits = body_limits
    app.add_middleware(BodyLimit, limits=body_limits)
    return app
