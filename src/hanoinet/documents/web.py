"""Formal documents in the web UI: the request page's "signed PDF" button downloads the document."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from hanoinet.documents import service as document_services
from hanoinet.platform.errors import DomainError, ValidationFailed, kind_of
from hanoinet.platform.permissions import Permission
from hanoinet.platform.security import SecureRoute, secured
from hanoinet.platform.web import actor, error_page

if TYPE_CHECKING:
    from hanoinet.app.node import Node


def router(node: Node) -> APIRouter:
    """The document download of the web UI (casework: ``requests:write``, every download audited)."""
    web = APIRouter(route_class=SecureRoute, include_in_schema=False)

    @web.get("/requests/{request_id}/document", **secured(Permission.REQUESTS_WRITE, audit="document:produce"))
    async def download(request: Request, request_id: str) -> Response:
        """The request's signed bilingual PDF, in the languages chosen on the request page."""
        language = request.query_params.get("language") or None
        counterpart = request.query_params.get("to_language") or None
        try:
            document = await run_in_threadpool(
                document_services.produce, node, request_id, actor(request), language=language, counterpart=counterpart
            )
        except DomainError as exc:
            detail = [str(i) for i in exc.issues] if isinstance(exc, ValidationFailed) else str(exc)
            return error_page(request, kind_of(exc).status, kind_of(exc).title, detail)
        return Response(
            document.pdf,
            media_type="application/pdf",
            headers={"Content-Disposition": f'attachment; filename="{document.filename}"'},
        )

    return web
