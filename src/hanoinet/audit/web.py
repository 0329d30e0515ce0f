"""The auditor's pages: the audit log filtered, its export and the chain's verification.

The pages only read: filtering, exporting and verifying are themselves recorded (``audit:view``, ``audit:export``,
``audit:verify``), so that reading the log leaves a trace in it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, StreamingResponse

from hanoinet.audit import service as audit_services
from hanoinet.audit.api import Filters, audit_query, export_response
from hanoinet.platform.errors import ValidationFailed
from hanoinet.platform.events import Outcome
from hanoinet.platform.paging import OffsetQuery
from hanoinet.platform.permissions import Permission
from hanoinet.platform.security import SecureRoute, secured
from hanoinet.platform.web import by_field, render

if TYPE_CHECKING:
    from hanoinet.app.node import Node

PAGE = 50


def details_text(details: Mapping[str, Any]) -> str:
    """An entry's details on one line, ``key=value; …``: what an auditor scans down a column."""
    parts = []
    for key in sorted(details):
        value = details[key]
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
        parts.append(f"{key}={shown}")
    return "; ".join(parts)


def router(node: Node) -> APIRouter:
    """The audit log's pages."""
    web = APIRouter(route_class=SecureRoute, include_in_schema=False)

    @web.get("/audit", **secured(Permission.AUDIT_READ, audit="audit:view"))
    def audit_log(request: Request, filters: Filters, offset: OffsetQuery = 0) -> HTMLResponse:
        """The log, newest first, filtered; with the export of what is shown and the chain's verification."""
        query_string = urlencode({k: v for k, v in filters.items() if v})
        context: dict[str, Any] = {
            "filters": filters,
            "query_string": query_string,
            "outcomes": [o.value for o in Outcome],
            "entries": [],
            "more": False,
            "offset": offset,
            "page": PAGE,
            "errors": {},
            "issues": [],
            "details_text": details_text,
        }
        try:
            found = audit_services.entries(node, audit_query(filters, limit=PAGE + 1, offset=offset))
        except ValidationFailed as exc:
            context.update(errors=by_field(exc.issues), issues=list(exc.issues))
            return render(request, "audit.html", context, status=422)
        context.update(entries=list(found[:PAGE]), more=len(found) > PAGE)
        return render(request, "audit.html", context)

    @web.get("/audit/export.csv", **secured(Permission.AUDIT_READ, audit="audit:export"))
    def audit_export(filters: Filters) -> StreamingResponse:
        """The entries the filters match, oldest first, as CSV with each entry's hash (to check it later)."""
        return export_response(node, filters)

    @web.post("/audit/verify", **secured(Permission.AUDIT_READ, audit="audit:verify"))
    def audit_verify(request: Request) -> HTMLResponse:
        """Recompute every entry's hash, link and signature, and say whether the log is intact."""
        report = audit_services.verify(node)
        return render(request, "audit_verify.html", {"report": report})

    return web
