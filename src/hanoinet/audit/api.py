"""The audit log over the API, for an auditor's tools: filter, export and verify, each itself recorded.

The filters are those of the web page and ``hanoinet audit list`` (one dependency serves both HTTP surfaces); the
entries carry their hashes, so that a copy taken today can be checked against the node's log later.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from hanoinet.audit import present as audit_present
from hanoinet.audit import service as audit_services
from hanoinet.audit.ports import AuditQuery
from hanoinet.audit.schemas import AuditEntryOut, AuditVerifyOut
from hanoinet.platform.paging import OffsetQuery
from hanoinet.platform.permissions import Permission
from hanoinet.platform.ports import MAX_PAGE
from hanoinet.platform.security import SecureRoute, secured

if TYPE_CHECKING:
    from hanoinet.app.node import Node


def audit_filters(
    actor: Annotated[str, Query(max_length=256, description="Only this actor")] = "",
    action: Annotated[str, Query(max_length=64, description="e.g. evidence:download")] = "",
    subject: Annotated[str, Query(max_length=32, description="request, evidence, user …")] = "",
    object_id: Annotated[str, Query(max_length=128)] = "",
    outcome: Annotated[str, Query(max_length=16, description="ok, refused or failed")] = "",
    channel: Annotated[str, Query(max_length=16, description="web, api, cli or node")] = "",
    since: Annotated[str, Query(max_length=40, description="From this date or time (ISO 8601)")] = "",
    until: Annotated[str, Query(max_length=40, description="Before this time; a date includes its whole day")] = "",
) -> dict[str, str]:
    """The log's filters as query fields, trimmed; empty means "any". The page shows them back in its form and
    carries them in the pager and the export link."""
    given = {
        "actor": actor,
        "action": action,
        "subject": subject,
        "object_id": object_id,
        "outcome": outcome,
        "channel": channel,
        "since": since,
        "until": until,
    }
    return {name: value.strip() for name, value in given.items()}


Filters = Annotated[dict[str, str], Depends(audit_filters)]


def audit_query(filters: dict[str, str], *, limit: int, offset: int = 0) -> AuditQuery:
    """The service query for the filters (ValidationFailed names each bad one)."""
    return audit_services.filter_query(**filters, limit=limit, offset=offset)


def export_response(node: Node, filters: dict[str, str]) -> StreamingResponse:
    """The entries the filters match, oldest first, as a CSV download named for when it was taken."""
    query = audit_query(filters, limit=audit_services.MAX_EXPORT)
    stamp = node.now_wall().strftime("%Y%m%dT%H%M%SZ")
    return StreamingResponse(
        audit_services.export_csv(node, query),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="hanoinet-audit-{stamp}.csv"'},
    )


def router(node: Node) -> APIRouter:
    """The audit routes: AUDIT_READ only; reading, exporting and verifying are recorded in the log itself."""
    api = APIRouter(prefix="/api/v1", route_class=SecureRoute, tags=["audit"])

    @api.get("/audit", response_model=list[AuditEntryOut], **secured(Permission.AUDIT_READ, audit="audit:view"))
    def audit_entries(
        filters: Filters, limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100, offset: OffsetQuery = 0
    ) -> list[dict[str, Any]]:
        """Entries of the audit log, newest first, filtered."""
        found = audit_services.entries(node, audit_query(filters, limit=limit, offset=offset))
        return [audit_present.entry(e) for e in found]

    @api.get(
        "/audit.csv",
        response_class=StreamingResponse,
        responses={200: {"content": {"text/csv": {}}, "description": "The entries as CSV"}},
        **secured(Permission.AUDIT_READ, audit="audit:export"),
    )
    def audit_export(filters: Filters) -> StreamingResponse:
        """The matching entries as CSV, oldest first, each with its hash."""
        return export_response(node, filters)

    @api.post("/audit/verify", response_model=AuditVerifyOut, **secured(Permission.AUDIT_READ, audit="audit:verify"))
    def audit_verify() -> dict[str, Any]:
        """Recompute the whole chain: every entry's hash, its link to the one before, the node's signature."""
        report = audit_services.verify(node)
        return {"ok": report.ok, "entries": report.entries, "problems": list(report.problems)}

    return api
