"""Formal documents over HTTP: a request's signed PDF, the check of a received one, the signing certificate."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from hanoinet.documents import present as documents_present
from hanoinet.documents import service as document_services
from hanoinet.documents.pdf import MAX_PDF_BYTES, NotADocument
from hanoinet.platform.api import Shape, Strict, problems
from hanoinet.platform.limits import read_body
from hanoinet.platform.permissions import Permission
from hanoinet.platform.security import CallerDep, SecureRoute, secured
from hanoinet.requests import present as requests_present
from hanoinet.requests.domain import Action, Means
from hanoinet.requests.schemas import RequestOut

if TYPE_CHECKING:
    from hanoinet.app.node import Node


class SignatureOut(Shape):
    """What the validator found of the document's signature."""

    present: bool
    intact: bool = Field(description="The signed bytes are unchanged and the signature verifies")
    covers_whole_file: bool = Field(description="Nothing was added after signing")
    trusted: bool = Field(description="The signer's chain leads to a node this node knows (or to itself)")
    signer: str | None
    signer_sha256: str | None
    signed_at: str | None
    timestamped_at: str | None = Field(description="The RFC 3161 timestamp's time, if the signature carries one")


class VerificationOut(Shape):
    """A formal document checked: ``ok`` only if signature, signer and embedded request data all hold."""

    ok: bool
    problems: list[str]
    signature: SignatureOut
    signer_node: str | None
    signer_state: str | None
    request: dict[str, Any] | None = Field(description="The request as the embedded, verified data gives it")
    case: dict[str, Any] | None
    document: dict[str, Any] | None = Field(description="The document's own facts: languages, issuer, certificate")


class CertificateOut(Shape):
    """The certificate documents are signed with (public parts only)."""

    subject: str
    issuer: str
    sha256: str
    not_before: str
    not_after: str
    self_issued: bool = Field(description="Issued by this node's own key (bound to its directory entry)")
    key: str
    chain: list[str] = Field(description="SHA-256 of each issuer certificate, up to the root")


PDF_BODY: dict[str, Any] = {"type": "string", "format": "binary"}

LanguageQuery = Annotated[
    str | None, Query(max_length=35, description="The requesting language (default: the request's, else the node's)")
]
CounterpartQuery = Annotated[
    str | None, Query(max_length=35, description="The requested State's language (default: the first it accepts)")
]


def router(node: Node) -> APIRouter:
    """The document routes: producing one is casework (``requests:write``), checking one is reading."""
    api = APIRouter(route_class=SecureRoute, tags=["documents"])

    @api.get(
        "/api/v1/requests/{request_id}/document",
        response_class=Response,
        responses={**problems(404, 409, 422), 200: {"content": {"application/pdf": {"schema": PDF_BODY}}}},
        **secured(Permission.REQUESTS_WRITE, audit="document:produce"),
    )
    def request_document(
        caller: CallerDep, request_id: str, language: LanguageQuery = None, to_language: CounterpartQuery = None
    ) -> Response:
        """The request's formal document: a PDF/A-3 in the requesting and the requested language, signed (PAdES)
        with the node's document certificate, the request's signed data attached (``hanoinet-request.jws``)."""
        document = document_services.produce(node, request_id, caller.actor, language=language, counterpart=to_language)
        return Response(
            document.pdf,
            media_type="application/pdf",
            headers={
                "Content-Disposition": f'attachment; filename="{document.filename}"',
                "X-Content-SHA256": document.sha256,
            },
        )

    @api.post(
        "/api/v1/documents/verify",
        response_model=VerificationOut,
        responses=problems(413, 422),
        openapi_extra={
            **secured(Permission.REQUESTS_READ, audit="document:verify")["openapi_extra"],
            # documented as bytes: any client (and schema-driven tools) can send the file as it is
            "requestBody": {"required": True, "content": {"application/octet-stream": {"schema": PDF_BODY}}},
        },
    )
    async def verify_document(request: Request) -> dict[str, Any]:
        """Check a formal document (the PDF as the body): its signature, its signer against this node's
        directory, and the request data it carries. ``ok`` is true only if all three hold."""
        found = await run_in_threadpool(document_services.verify, node, await _document_body(request))
        return documents_present.verification(found)

    @api.get(
        "/api/v1/documents/certificate",
        response_model=CertificateOut,
        **secured(Permission.DIRECTORY_READ, audit="document:certificate"),
    )
    def certificate() -> dict[str, Any]:
        """The certificate documents are signed with: what a counterpart checks a signature against."""
        return documents_present.credentials(document_services.credentials(node))

    @api.post(
        "/api/v1/requests/{request_id}/send-off-network",
        response_model=RequestOut,
        responses=problems(404, 409, 422),
        **secured(Permission.REQUESTS_WRITE, audit="request:send"),
    )
    def send_off_network(caller: CallerDep, request_id: str, body: OffNetworkSend) -> dict[str, Any]:
        """Send an outgoing draft by e-mail, the diplomatic channel, INTERPOL, courier or telephone: its signed
        document is made (not for a call) and kept in the vault, and the request is recorded as sent — the same
        checks as Send, the same clocks after. ``means`` stays off the network: it is never reported delivered."""
        _, view = document_services.send(
            node, request_id, body.means, body.to, caller.actor, language=body.language, counterpart=body.to_language
        )
        return requests_present.request_view(view, node.clock.now())

    @api.post(
        "/api/v1/requests/{request_id}/answers",
        response_model=RequestOut,
        responses=problems(404, 409, 413, 422),
        openapi_extra={
            **secured(Permission.REQUESTS_WRITE, audit="request:act")["openapi_extra"],
            "requestBody": {"required": True, "content": {"application/octet-stream": {"schema": PDF_BODY}}},
        },
    )
    async def record_answer(
        request: Request,
        caller: CallerDep,
        request_id: str,
        action: Annotated[Action, Query(description="What the other State did")],
        by: Annotated[Means, Query(description="How its answer came")],
        sender: Annotated[str, Query(alias="from", max_length=256, description="Who sent it")] = "",
        note: Annotated[str, Query(max_length=2000)] = "",
        ground: Annotated[list[str] | None, Query(description="Grounds of a refusal")] = None,
        file_name: Annotated[str, Query(max_length=256)] = "",
    ) -> dict[str, Any]:
        """Record the other State's answer received off the network (the document received is the body, kept in
        the vault with its custody): the request's state machine decides whether it may be recorded now."""
        data = await _document_body(request)
        view = await run_in_threadpool(
            functools.partial(
                document_services.record_received,
                node,
                request_id,
                action,
                data,
                means=by,
                sender=sender,
                actor=caller.actor,
                file_name=file_name,
                grounds=tuple(ground or ()),
                note=note,
            )
        )
        return requests_present.request_view(view, node.clock.now())

    @api.post(
        "/api/v1/documents/register",
        status_code=201,
        response_model=RequestOut,
        responses=problems(409, 413, 422),
        openapi_extra={
            **secured(Permission.REQUESTS_WRITE, audit="request:create")["openapi_extra"],
            "requestBody": {"required": True, "content": {"application/octet-stream": {"schema": PDF_BODY}}},
        },
    )
    async def register_document(
        request: Request,
        caller: CallerDep,
        by: Annotated[Means, Query(description="How the document came")],
        sender: Annotated[str, Query(alias="from", max_length=256, description="Who sent it")] = "",
        file_name: Annotated[str, Query(max_length=256)] = "",
    ) -> dict[str, Any]:
        """Register a request received off the network from its hanoinet document (the body): only if it verifies,
        and then with every item exactly as its embedded, signed data gives it."""
        data = await _document_body(request)
        view = await run_in_threadpool(
            functools.partial(
                document_services.register,
                node,
                data,
                means=by,
                sender=sender,
                actor=caller.actor,
                file_name=file_name,
            )
        )
        return requests_present.request_view(view, node.clock.now())

    return api


async def _document_body(request: Request) -> bytes:
    body = await read_body(request, MAX_PDF_BYTES)
    if len(body) > MAX_PDF_BYTES:
        raise NotADocument(f"the file is larger than {MAX_PDF_BYTES // (1024 * 1024)} MiB")
    return body


class OffNetworkSend(Strict):
    """How a request went off the network, and to whom."""

    means: Means = Field(description="email, diplomatic, interpol, courier or telephone")
    to: str = Field(min_length=1, max_length=256, description="An address, an embassy, a bureau, a number")
    language: str | None = Field(default=None, max_length=35)
    to_language: str | None = Field(default=None, max_length=35)
