"""The evidence pages: what the vault holds, each item's facts, handling conditions and custody, and what a browser
may do with an item — verify it, download its content, export a case as CASE/UCO.

Records are open to everyone who may read evidence; content is not. A download needs the ``evidence:content``
permission, then the item's handling conditions (checked by the service, which records a refusal in the item's
custody before the page answers 403), and a stated reason, which custody keeps with the download. The pages call
the same services as the JSON API (``entrypoints.api_evidence``), so an item's custody reads the same whichever way
it was reached.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from hanoinet.cases import service as case_services
from hanoinet.evidence import exports as export_services
from hanoinet.evidence import service as evidence_services
from hanoinet.evidence.domain import HASH_NAMES, CustodyEvent, EvidenceItem
from hanoinet.evidence.downloads import attachment, content_response
from hanoinet.platform.errors import Issue, NotFound, ValidationFailed
from hanoinet.platform.permissions import Permission
from hanoinet.platform.security import SecureRoute, note_for_audit, secured
from hanoinet.platform.web import by_field, flash, principal, render

if TYPE_CHECKING:
    from hanoinet.app.node import Node

PAGE = 50
REASON_MAX = 2000
EXPORT_REASON = "CASE/UCO export from the web UI's evidence page"
"""The custody reason of an export asked for by following the list page's link (a link carries no form); a
``?reason=`` given with the link replaces it."""
CODE_DETAILS = frozenset(
    {
        *HASH_NAMES,
        *(f"their_{name}" for name in HASH_NAMES),
        "metadata_digest",
        "to_node",
        "from_node",
        "transfer_id",
        "request_id",
        "their_item_id",
        "their_custody_event",
    }
)
"""Custody details shown as machine text (hashes and ids: to be compared character by character, never wrapped
into words)."""


def router(node: Node) -> APIRouter:
    """The evidence list, an item's page with its verify and download forms, and a case's CASE/UCO export."""
    web = APIRouter(route_class=SecureRoute, include_in_schema=False)

    @web.get("/evidence", **secured(Permission.EVIDENCE_READ, audit="evidence:list"))
    def items(
        request: Request,
        case: Annotated[str, Query(max_length=128)] = "",
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> HTMLResponse:
        """Items (records, never content), newest first; one case's when ``case`` (id or reference) is given."""
        wanted = case.strip()
        context: dict[str, Any] = {"case": None, "case_query": wanted, "offset": offset, "page": PAGE, "size": size}
        try:
            found = case_services.get_case(node, wanted) if wanted else None
        except NotFound as exc:  # said on the page, next to the filter that was mistyped
            page = {**context, "items": [], "more": False, "references": {}, "error": str(exc)}
            return render(request, "evidence_list.html", page, status=404)
        rows = evidence_services.list_items(node, case_id=found.id if found else None, limit=PAGE + 1, offset=offset)
        context.update(
            case=found,
            items=rows[:PAGE],
            more=len(rows) > PAGE,
            references=_references(node, (i.described.case_id for i in rows[:PAGE])),
        )
        return render(request, "evidence_list.html", {**context, **flash(request)})

    @web.get("/evidence/{item_id}", **secured(Permission.EVIDENCE_READ, audit="evidence:view"))
    def item(request: Request, item_id: str) -> HTMLResponse:
        """An item's facts, every digest in full, its handling conditions in words, and its custody timeline."""
        return _item_page(request, item_id, context=flash(request))

    @web.post("/evidence/{item_id}/download", **secured(Permission.EVIDENCE_CONTENT, audit="evidence:download"))
    def download(request: Request, item_id: str, reason: Annotated[str, Form(max_length=REASON_MAX)] = "") -> Response:
        """Stream the content, verified on the fly, after the handling conditions allow it; the download and its
        reason are a custody event. Without a reason nothing is opened: the page asks for one."""
        note_for_audit(request, reason=reason.strip())  # before the call: the service writes the entry with its change
        try:
            found, stream = evidence_services.read_content(node, item_id, principal(request), reason.strip())
        except ValidationFailed as exc:
            return _item_page(request, item_id, errors=by_field(exc.issues), reason=reason, status=422)
        return content_response(found, stream)

    @web.post("/evidence/{item_id}/verify", **secured(Permission.EVIDENCE_READ, audit="evidence:verify"))
    def verify(request: Request, item_id: str) -> HTMLResponse:
        """Recompute the item's hashes and the custody chain since the last verify, and show what was found (a
        custody event for those who handle evidence; for a read-only role, an entry in the audit log)."""
        report = evidence_services.verify(node, item_id, principal(request))
        note_for_audit(request, ok=report.ok, problems=len(report.problems), full=report.full)
        found, _ = evidence_services.get_item(node, item_id)
        return render(request, "evidence_verify.html", {"item": found, "report": report})

    @web.get("/cases/{case_id}/evidence.jsonld", **secured(Permission.EVIDENCE_EXPORT, audit="evidence:export"))
    def export(
        request: Request, case_id: str, reason: Annotated[str, Query(max_length=REASON_MAX)] = ""
    ) -> JSONResponse:
        """A case's items and custody as CASE/UCO JSON-LD (records, no content), as a file; recorded in each
        item's custody."""
        graph = export_services.export_case_graph(
            node, case_id, principal=principal(request), reason=reason.strip() or EXPORT_REASON
        )
        reference = case_services.get_case(node, case_id).reference
        return JSONResponse(
            graph,
            media_type="application/ld+json",
            headers={"Content-Disposition": attachment(f"{reference}-evidence.jsonld")},
        )

    def _item_page(
        request: Request,
        item_id: str,
        *,
        errors: Mapping[str, list[Issue]] | None = None,
        reason: str = "",
        status: int = 200,
        context: Mapping[str, Any] | None = None,
    ) -> HTMLResponse:
        found, history = evidence_services.get_item(node, item_id)
        case_id = found.described.case_id
        page = {
            "item": found,
            "d": found.described,
            "c": found.conditions,
            "case_id": case_id,
            "case_reference": _references(node, [case_id])[case_id],
            "digests": digests(found),
            "history": history,
            "facts": custody_facts,
            "code_details": CODE_DETAILS,
            "permitted": found.conditions.permits(principal(request)),
            "errors": errors or {},
            "reason": reason,
            "reason_max": REASON_MAX,
            "size": size,
            **(context or {}),
        }
        return render(request, "evidence_item.html", page, status=status)

    return web


def _references(node: Node, case_ids: Iterable[str]) -> dict[str, str]:
    """Case references by id, for showing cases as their authorities know them (the id's start if one is gone)."""
    found: dict[str, str] = {}
    for case_id in set(case_ids):
        try:
            found[case_id] = case_services.get_case(node, case_id).reference
        except NotFound:
            found[case_id] = case_id[:8]
    return found


def digests(item: EvidenceItem) -> list[tuple[str, str]]:
    """The item's digests by name, SHA-256 first, then the legacy ones a court system asked for."""
    known = {**item.hashes, "sha256": item.sha256}
    return [(name, known[name]) for name in HASH_NAMES if name in known]


def custody_facts(event: CustodyEvent) -> list[tuple[str, Any]]:
    """A custody event's details as (name, value) pairs to show: digests one per line (``their_`` for those the
    sending node reported), empty values left out."""
    facts: list[tuple[str, Any]] = []
    for key, value in event.details.items():
        if key in ("hashes", "their_hashes") and isinstance(value, dict):
            prefix = "their_" if key == "their_hashes" else ""
            facts += [(prefix + name, value[name]) for name in HASH_NAMES if name in value]
        elif value not in (None, "", [], {}):
            facts.append((key, value))
    return facts


def size(n: int) -> str:
    """A size as people read it, in the binary units of the tools examiners use (the exact count is shown too)."""
    if n < 1024:
        return f"{n} B"
    value = n / 1024
    for unit in ("KiB", "MiB", "GiB"):
        if value < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"
