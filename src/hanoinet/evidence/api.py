"""Evidence over HTTP: resumable chunked upload, streaming download, verify, custody history, CASE export.

Every route declares its permission (``entrypoints.security``); the caller — an API token's holder or a signed-in
person — is the principal whose roles the handling conditions are checked against, and whom custody records.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from hanoinet.evidence import exports as export_services
from hanoinet.evidence import present as evidence_present
from hanoinet.evidence import service as evidence_services
from hanoinet.evidence.domain import HandlingConditions, ItemDescription
from hanoinet.evidence.downloads import content_response
from hanoinet.evidence.schemas import CustodyEventOut, EvidenceItemOut, PieceOut, UploadOut, VerifyOut
from hanoinet.evidence.uploads import UploadStore
from hanoinet.platform.api import NOT_BLANK, WHOLE, IsoDate, IsoInstant, problems
from hanoinet.platform.errors import Issue, ValidationFailed
from hanoinet.platform.paging import OffsetQuery
from hanoinet.platform.permissions import Permission, Role
from hanoinet.platform.security import PrincipalDep, SecureRoute, note_for_audit, secured

if TYPE_CHECKING:
    from hanoinet.app.node import Node

UPLOAD_BATCH = 4 * 1024 * 1024
log = logging.getLogger("hanoinet.api")


class EvidenceComplete(BaseModel):
    """The description and handling conditions of an uploaded item."""

    model_config = ConfigDict(extra="forbid")

    case: str = Field(description="Case id or reference")
    exhibit: str = Field(min_length=1, max_length=128)
    source: str = Field(min_length=1, max_length=2000)
    acquisition_method: str = Field(min_length=1, max_length=2000)
    acquisition_tool: str = Field(default="", max_length=2000)
    acquired_by: str = Field(min_length=1, max_length=256)
    acquired_at: IsoInstant
    description: str = Field(default="", max_length=20_000)
    file_name: str = Field(default="", max_length=512)
    allowed_roles: list[Role] = Field(default_factory=lambda: list(HandlingConditions().allowed_roles))
    allowed_users: list[str] = Field(default_factory=list)
    purpose: str = Field(default="", max_length=2000)
    retention_until: IsoDate | None = None
    onward_transfer_allowed: StrictBool = False
    extra_hashes: list[str] = Field(default_factory=list, description="sha1 and/or md5, for legacy court systems")


class UploadCreate(BaseModel):
    """Start an upload; the declared size lets the node refuse an upload that grows beyond it."""

    model_config = ConfigDict(extra="forbid")

    size: Annotated[int, Field(ge=0), WHOLE] | None = None


def _instant(unix: float) -> str:
    return datetime.fromtimestamp(unix, UTC).replace(microsecond=0).isoformat()


def evidence_router(node: Node, uploads: UploadStore) -> APIRouter:
    """Return the evidence routes bound to a node."""
    router = APIRouter(prefix="/api/v1", tags=["evidence"], route_class=SecureRoute)

    @router.post(
        "/uploads",
        status_code=201,
        response_model=UploadOut,
        **secured(Permission.EVIDENCE_WRITE, audit="upload:start"),
    )
    def start_upload(who: PrincipalDep, body: UploadCreate) -> dict[str, Any]:
        """Start a resumable upload (409 if it would take the account beyond its quota of bytes in progress).

        Abandoned uploads (untouched for longer than ``HANOINET_UPLOAD_EXPIRY_SECONDS``) are swept first.
        """
        upload_id = uploads.create(who.name, body.size)
        return {"id": upload_id, "offset": 0, "size": body.size}

    @router.get("/uploads", response_model=list[UploadOut], **secured(Permission.EVIDENCE_WRITE))
    def list_uploads(who: PrincipalDep) -> list[dict[str, Any]]:
        """The caller's uploads in progress, oldest first, each with when it expires if left untouched."""
        return [
            {"id": u.id, "offset": u.offset, "size": u.size, "expires_at": _instant(u.expires_at)}
            for u in uploads.listing(who.name)
        ]

    @router.get(
        "/uploads/{upload_id}", response_model=UploadOut, responses=problems(404), **secured(Permission.EVIDENCE_WRITE)
    )
    def upload_status(who: PrincipalDep, upload_id: str) -> dict[str, Any]:
        """How many bytes the node has durably received: resume from there."""
        offset, size = uploads.status(upload_id, who.name)
        return {"id": upload_id, "offset": offset, "size": size}

    @router.patch(
        "/uploads/{upload_id}",
        response_model=PieceOut,
        responses=problems(404, 409),
        **secured(Permission.EVIDENCE_WRITE),
    )
    async def upload_piece(
        who: PrincipalDep, upload_id: str, request: Request, upload_offset: Annotated[int, Header(ge=0)]
    ) -> dict[str, Any]:
        """Append the request body at ``Upload-Offset`` (409 with the right offset if it is not the current size).

        The body is written as it arrives, in batches of a few MiB handed to a worker thread, so memory stays flat
        whatever the piece size. A piece is all or nothing: if the client goes away, or the piece would exceed the
        declared size or the account's quota of bytes in progress (``HANOINET_UPLOAD_QUOTA_BYTES``), it is taken back
        and the client resumes at the offset ``GET /uploads/{id}`` reports. The bytes are sealed under the upload's
        own key as they are written: nothing of the evidence is on disk in the clear. One request at a time works on
        an upload (a piece or a complete); a second one gets 409.
        """
        appender = await run_in_threadpool(uploads.appender, upload_id, who.name, upload_offset)
        batch = bytearray()
        try:
            async for piece in request.stream():
                batch += piece
                if len(batch) >= UPLOAD_BATCH:
                    await run_in_threadpool(appender.write, bytes(batch))
                    batch.clear()
            if batch:  # inside the try: a last batch refused (declared size, quota) is taken back like the rest
                await run_in_threadpool(appender.write, bytes(batch))
        except ClientDisconnect:
            # What resumable uploads are for: the piece is taken back whole, the client asks for the offset and
            # sends it again. Not an error of the node's, so no stack trace.
            await run_in_threadpool(appender.abort)
            log.info("upload %s: piece at offset %d interrupted by the client; resume there", upload_id, upload_offset)
            return {"id": upload_id, "offset": upload_offset}
        except BaseException:
            await run_in_threadpool(appender.abort)
            raise
        offset = await run_in_threadpool(appender.finish)
        return {"id": upload_id, "offset": offset}

    @router.delete(
        "/uploads/{upload_id}",
        status_code=204,
        responses=problems(404),
        **secured(Permission.EVIDENCE_WRITE, audit="upload:cancel"),
    )
    def cancel_upload(who: PrincipalDep, upload_id: str) -> None:
        """Abandon an upload and delete its bytes."""
        uploads.delete(upload_id, who.name)

    @router.post(
        "/uploads/{upload_id}/complete",
        status_code=201,
        response_model=EvidenceItemOut,
        responses=problems(404, 409, 507),
        **secured(Permission.EVIDENCE_WRITE, audit="evidence:ingest"),
    )
    def complete_upload(who: PrincipalDep, upload_id: str, body: EvidenceComplete) -> dict[str, Any]:
        """Ingest the uploaded file into the vault as a new item, then delete the upload; 409 while a piece of it is
        still being received (complete once the ``PATCH`` has answered)."""
        from hanoinet.cases import service as case_services  # noqa: PLC0415 - only needed here

        uploads.status(upload_id, who.name)  # 404 before anything else for someone else's upload
        try:
            case_id = case_services.get_case(node, body.case).id
        except Exception:
            raise ValidationFailed([Issue("case", f"no case {body.case!r}")]) from None
        described = ItemDescription(
            case_id=case_id,
            exhibit=body.exhibit,
            source=body.source,
            acquisition_method=body.acquisition_method,
            acquisition_tool=body.acquisition_tool,
            acquired_by=body.acquired_by,
            acquired_at=body.acquired_at,
            description=body.description,
            file_name=body.file_name,
        )
        conditions = HandlingConditions(
            allowed_roles=tuple(body.allowed_roles),
            allowed_users=tuple(body.allowed_users),
            purpose=body.purpose,
            retention_until=body.retention_until,
            onward_transfer_allowed=body.onward_transfer_allowed,
        )
        # The upload stays locked from here until it is deleted: an append cannot run during the ingest (nor can
        # the ingest start during an append: 409), so the item is exactly the bytes the node reported durable.
        with uploads.reading(upload_id, who.name) as source:
            item = evidence_services.ingest(
                node, source, described, conditions, actor=who, extra_hashes=body.extra_hashes
            )
            uploads.delete(upload_id, who.name)
        return evidence_present.evidence_item(item)

    @router.get(
        "/evidence", response_model=list[EvidenceItemOut], **secured(Permission.EVIDENCE_READ, audit="evidence:list")
    )
    def list_evidence(
        who: PrincipalDep,
        case_id: str | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        offset: OffsetQuery = 0,
    ) -> list[dict[str, Any]]:
        """Items (records, never content), newest first."""
        return [
            evidence_present.evidence_item(i)
            for i in evidence_services.list_items(node, case_id=case_id, limit=limit, offset=offset)
        ]

    @router.get(
        "/evidence/{item_id}",
        response_model=EvidenceItemOut,
        responses=problems(404),
        **secured(Permission.EVIDENCE_READ, audit="evidence:view"),
    )
    def get_evidence(who: PrincipalDep, item_id: str) -> dict[str, Any]:
        """An item's record."""
        item, _ = evidence_services.get_item(node, item_id)
        return evidence_present.evidence_item(item)

    @router.get(
        "/evidence/{item_id}/custody",
        response_model=list[CustodyEventOut],
        responses=problems(404),
        **secured(Permission.EVIDENCE_READ, audit="evidence:custody"),
    )
    def custody(who: PrincipalDep, item_id: str) -> list[dict[str, Any]]:
        """An item's custody history, each event with its place in the hash chain."""
        _, history = evidence_services.get_item(node, item_id)
        return [evidence_present.custody_event(e) for e in history]

    @router.get(
        "/evidence/{item_id}/content",
        responses={
            200: {"content": {"application/octet-stream": {}}, "description": "The content, verified as it streams"},
            **problems(404, 409, 507),
        },
        **secured(Permission.EVIDENCE_CONTENT, audit="evidence:download"),
    )
    def content(
        who: PrincipalDep, item_id: str, reason: Annotated[str, Query(min_length=1, max_length=2000, pattern=NOT_BLANK)]
    ) -> StreamingResponse:
        """Stream the decrypted content, verified on the fly; the download is a custody event.

        ``Repr-Digest`` carries the SHA-256 so that the client can check what it received; if the vault finds
        corruption mid-stream the connection is aborted rather than completed.
        """
        item, stream = evidence_services.read_content(node, item_id, who, reason)
        return content_response(item, stream)

    @router.post(
        "/evidence/{item_id}/verify",
        response_model=VerifyOut,
        responses=problems(403, 404),
        **secured(Permission.EVIDENCE_READ, audit="evidence:verify"),
    )
    def verify(
        who: PrincipalDep,
        item_id: str,
        request: Request,
        full: Annotated[bool, Query(description="Check the whole ledger, not only what was appended since")] = False,
    ) -> dict[str, Any]:
        """Recompute the item's content hashes and the custody chain; say exactly what is wrong.

        The chain is checked from where the last verify found it whole; ``full=true`` checks all of it, for an
        auditor (403 for other roles). The check is a custody event only when the caller handles evidence; a
        read-only role's is recorded in the audit log, with its outcome.
        """
        report = evidence_services.verify(node, item_id, who, full=full)
        note_for_audit(request, ok=report.ok, problems=len(report.problems), full=report.full)
        return evidence_present.verify_report(report)

    @router.get(
        "/cases/{case}/evidence.jsonld",
        response_model=dict[str, Any],
        responses=problems(404),
        **secured(Permission.EVIDENCE_EXPORT, audit="evidence:export"),
    )
    def case_export(
        who: PrincipalDep,
        case: str,
        reason: Annotated[str, Query(min_length=1, max_length=2000, pattern=NOT_BLANK)],
        item: Annotated[list[str] | None, Query(description="Only these items")] = None,
    ) -> dict[str, Any]:
        """A case's items and custody as CASE/UCO JSON-LD (records, no content); recorded in each item's custody."""
        return export_services.export_case_graph(node, case, principal=who, reason=reason, item_ids=item or ())

    return router
