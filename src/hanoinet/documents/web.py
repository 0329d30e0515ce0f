"""Formal documents in the web UI: download a request's signed PDF, send a request off the network, record the
other State's answer received off the network, and register a request received as a hanoinet document."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from hanoinet.documents import service as document_services
from hanoinet.documents.pdf import MAX_PDF_BYTES
from hanoinet.platform.errors import DomainError, Issue, ValidationFailed, kind_of
from hanoinet.platform.limits import read_form, read_upload_form
from hanoinet.platform.permissions import Permission
from hanoinet.platform.security import SecureRoute, secured
from hanoinet.platform.web import actor, error_page, flash, redirect, render
from hanoinet.requests.domain import OFF_NETWORK, Action, Means

if TYPE_CHECKING:
    from hanoinet.app.node import Node


def _means(form: FormData) -> Means:
    try:
        means = Means(str(form.get("means", "")))
    except ValueError:
        raise ValidationFailed(
            [Issue("means", "choose how: e-mail, diplomatic channel, INTERPOL, courier, telephone")]
        ) from None
    if means not in OFF_NETWORK:
        raise ValidationFailed([Issue("means", "a request goes over the network with Send")])
    return means


async def _file(form: FormData) -> tuple[bytes, str]:
    upload = form.get("document")
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise ValidationFailed([Issue("document", "choose the file received")])
    data = await upload.read(MAX_PDF_BYTES + 1)
    if len(data) > MAX_PDF_BYTES:
        raise ValidationFailed([Issue("document", f"is larger than {MAX_PDF_BYTES // (1024 * 1024)} MiB")])
    return data, upload.filename


def _problem(request: Request, exc: DomainError) -> HTMLResponse:
    detail = [str(i) for i in exc.issues] if isinstance(exc, ValidationFailed) else str(exc)
    return error_page(request, kind_of(exc).status, kind_of(exc).title, detail)


def router(node: Node) -> APIRouter:
    """The document pages of the web UI (casework: ``requests:write``, every call audited)."""
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
            return _problem(request, exc)
        return Response(
            document.pdf,
            media_type="application/pdf",
            headers={"Content-Disposition": f'attachment; filename="{document.filename}"'},
        )

    @web.post("/requests/{request_id}/send-off-network", **secured(Permission.REQUESTS_WRITE, audit="request:send"))
    async def send(request: Request, request_id: str) -> Response:
        """Send a draft by e-mail, the diplomatic channel, INTERPOL, courier or telephone (recorded, never shown
        as delivered); the document sent is kept in the vault and is downloaded from the request page."""
        form = await read_form(request)
        try:
            await run_in_threadpool(
                functools.partial(
                    document_services.send,
                    node,
                    request_id,
                    _means(form),
                    str(form.get("to", "")),
                    actor(request),
                    language=str(form.get("language", "")) or None,
                    counterpart=str(form.get("to_language", "")) or None,
                )
            )
        except DomainError as exc:
            return _problem(request, exc)
        return redirect(f"/requests/{request_id}", "sent-off")

    @web.post("/requests/{request_id}/answers", **secured(Permission.REQUESTS_WRITE, audit="request:act"))
    async def answer(request: Request, request_id: str) -> Response:
        """Record the other State's answer received off the network, with the document received."""
        form = await read_upload_form(request)
        try:
            data, name = await _file(form)
            action = Action(str(form.get("action", "")))
            await run_in_threadpool(
                functools.partial(
                    document_services.record_received,
                    node,
                    request_id,
                    action,
                    data,
                    means=_means(form),
                    sender=str(form.get("from", ""))[:256],
                    actor=actor(request),
                    file_name=name,
                    grounds=tuple(str(g) for g in form.getlist("grounds")),
                    note=str(form.get("note", "")).strip(),
                )
            )
        except ValueError:
            return error_page(request, 422, "invalid input", f"unknown action {form.get('action')!r}")
        except DomainError as exc:
            return _problem(request, exc)
        return redirect(f"/requests/{request_id}", "answer")

    @web.get("/intake", **secured(Permission.REQUESTS_WRITE))
    def intake(request: Request) -> HTMLResponse:
        """Register a request received off the network: upload the document received."""
        return _intake(request, {}, [])

    @web.post("/intake", **secured(Permission.REQUESTS_WRITE, audit="request:create"))
    async def register(request: Request) -> Response:
        """A hanoinet document is verified and every item read from it; anything else is refused with why, and
        the request is entered by hand in the composer."""
        form = await read_upload_form(request)
        values = {"means": str(form.get("means", "")), "from": str(form.get("from", ""))[:256]}
        try:
            data, name = await _file(form)
            view = await run_in_threadpool(
                functools.partial(
                    document_services.register,
                    node,
                    data,
                    means=_means(form),
                    sender=values["from"],
                    actor=actor(request),
                    file_name=name,
                )
            )
        except ValidationFailed as exc:
            return _intake(request, values, [str(i) for i in exc.issues], status=422)
        except DomainError as exc:
            return _intake(request, values, [str(exc)], status=kind_of(exc).status)
        return redirect(f"/requests/{view.request.id}", "registered")

    def _intake(request: Request, values: dict[str, Any], problems: list[str], *, status: int = 200) -> HTMLResponse:
        context = {
            "values": values,
            "problems": problems,
            "means": sorted(OFF_NETWORK - {Means.TELEPHONE}),
            **flash(request),
        }
        return render(request, "intake.html", context, status=status)

    return web
