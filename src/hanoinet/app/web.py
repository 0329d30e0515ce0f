"""The operator web UI: server-rendered pages (Jinja), one small script, every string through gettext.

Pages are thin like the API: parse the form, call one service, render. Every route is a ``SecureRoute`` declaring
its permission and what it audits (``entrypoints.security``); forms carry the session's CSRF token. Responses carry
a strict Content-Security-Policy: only this node's own script and style, no inline script, no framing.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hanoinet.accounts import web as admin
from hanoinet.accounts import web_session as session
from hanoinet.app.node import Node
from hanoinet.assets import web as assets
from hanoinet.assets.domain import amount_text
from hanoinet.audit import web as audit
from hanoinet.documents import web as documents_web
from hanoinet.evidence import web as evidence
from hanoinet.platform import web as pages
from hanoinet.requests import present as requests_present
from hanoinet.requests import web as requests
from hanoinet.statistics import web as dashboards

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
DOCS_PREFIXES = ("/docs", "/redoc", "/static-offline-docs")
"""The framework's API documentation pages run inline scripts of their own: they get the other headers only."""


class SecurityHeaders:
    """Pure ASGI middleware (streams pass through untouched) adding the headers every response should carry."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        docs = path.startswith(DOCS_PREFIXES)
        api = path.startswith(("/api/", "/federation/"))

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [
                    (b"x-content-type-options", b"nosniff"),
                    # same-origin, not no-referrer: no other site learns a page's address either way, and the
                    # node's own forms then carry their true Origin (no-referrer makes it "null"), which signing in
                    # is checked by (``platform.security.check_origin``).
                    (b"referrer-policy", b"same-origin"),
                    (b"x-frame-options", b"DENY"),
                ]
                if not docs:
                    headers.append((b"content-security-policy", CSP.encode()))
                if not api and not path.startswith("/static/"):
                    headers.append((b"cache-control", b"no-store"))  # case pages stay out of shared caches
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


def install(app: FastAPI, node: Node) -> None:
    """Add the web UI's pages, its static files and the security headers to the node's application."""
    pages.add_filters(
        {"time_left": requests_present.time_left, "urgency": requests_present.urgency, "amount": amount_text}
    )
    app.mount("/static", StaticFiles(packages=[("hanoinet.platform", "static")]), name="static")
    for module in (session, requests, assets, dashboards, audit, admin):
        app.include_router(module.router(node))
    if node.vault is not None:
        app.include_router(evidence.router(node))
    if node.identity is not None:
        app.include_router(documents_web.router(node))
    app.add_middleware(SecurityHeaders)
