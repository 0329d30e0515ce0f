"""The node's JSON API: FastAPI over the same services as the CLI. OpenAPI at /openapi.json, docs at /docs.

Errors: 422 for invalid input (each problem with its field and, for legal rules, its article), 409 for an action the
request's state or the treaty's status does not allow, 404 for unknown ids — never a stack trace.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Body, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from fastapi_offline import FastAPIOffline
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from hanoinet import __version__
from hanoinet.accounts.api import admin_router
from hanoinet.app.node import Node
from hanoinet.app.web import install as install_web
from hanoinet.cases import present as cases_present
from hanoinet.cases import service as case_services
from hanoinet.evidence.api import evidence_router
from hanoinet.evidence.domain import AccessDenied
from hanoinet.evidence.downloads import StreamCutError
from hanoinet.evidence.ports import ContentMismatch
from hanoinet.evidence.uploads import UploadStore
from hanoinet.evidence.vault import BlobCorrupt, VaultError
from hanoinet.federation import directory as directory_services
from hanoinet.federation import messaging as messaging_services
from hanoinet.federation.api import node_router, operator_router
from hanoinet.federation.domain import EnvelopeRejected
from hanoinet.federation.ports import TransportError
from hanoinet.federation.settings import NotOnNetwork
from hanoinet.federation.transfers import TransferUnauthorized
from hanoinet.federation.worker import WorkerProcess
from hanoinet.platform import present as platform_present
from hanoinet.platform.errors import Conflict, DomainError, IllegalTransition, NoLegalBasis, NotFound, ValidationFailed
from hanoinet.platform.paging import OffsetQuery
from hanoinet.platform.permissions import Forbidden, Permission
from hanoinet.platform.ports import MAX_PAGE
from hanoinet.platform.security import (
    BodyTooDeep,
    CsrfRejected,
    PrincipalDep,
    SecureRoute,
    Unauthenticated,
    check_routes,
    secured,
)
from hanoinet.platform.web import error_page
from hanoinet.requests import present as requests_present
from hanoinet.requests import service as request_services
from hanoinet.requests.domain import Action, Direction, RequestState
from hanoinet.requests.ports import InboxQuery
from hanoinet.rules import present as rules_present
from hanoinet.statistics.api import statistics_router
from hanoinet.treaty import present as treaty_present
from hanoinet.treaty import service as treaty_services
from hanoinet.treaty.csv_import import CsvFormatError, parse_deposit_rows

log = logging.getLogger("hanoinet.api")


class Strict(BaseModel):
    """Request bodies refuse unknown fields, so a typo is an error rather than silently ignored."""

    model_config = ConfigDict(extra="forbid")


class CaseCreate(Strict):
    """A new case."""

    reference: str = Field(max_length=64)
    offence: str = Field(max_length=64, description="Offence category key, e.g. illegal_access")
    max_penalty_years: int | None = Field(default=None, ge=0, le=100)
    summary: str = Field(max_length=20_000)
    legal_qualification: str = Field(default="", max_length=2_000)


class RequestCreate(Strict):
    """A new outgoing draft, or an incoming request registered as received."""

    case: str = Field(description="Case id or reference")
    instrument: str = "uncc-2024"
    type: str
    requested_state: str = Field(min_length=2, max_length=8)
    requesting_state: str | None = Field(default=None, min_length=2, max_length=8)
    direction: Direction = Direction.OUTGOING
    items: dict[str, str] = Field(default_factory=dict)
    emergency: bool = False
    deadline: AwareDatetime | None = None
    follows_up: str | None = None

    def draft(self) -> request_services.RequestDraft:
        """The service-layer draft."""
        return request_services.RequestDraft(
            case=self.case,
            instrument=self.instrument,
            type=self.type,
            requested_state=self.requested_state.upper(),
            requesting_state=self.requesting_state.upper() if self.requesting_state else None,
            direction=self.direction,
            items=self.items,
            emergency=self.emergency,
            deadline=self.deadline,
            follows_up=self.follows_up,
        )


class RequestAmend(Strict):
    """New items for a draft (replacing the old ones)."""

    items: dict[str, str]


class RequestAction(Strict):
    """An action on a request."""

    action: Action
    grounds: list[str] = Field(default_factory=list, description="Refusal grounds (keys from the rule pack)")
    note: str = Field(default="", max_length=20_000)


def _is_page(request: Request) -> bool:
    """True for the web UI's pages (an error is then a page, not JSON)."""
    return not request.url.path.startswith(("/api/", "/federation/", "/health", "/openapi", "/docs", "/redoc"))


def _problem(request: Request, status: int, title: str, detail: Any) -> Response:
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


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ValidationFailed)
    async def invalid(request: Request, exc: ValidationFailed) -> Response:
        return _problem(request, 422, "invalid input", [platform_present.issue(i) for i in exc.issues])

    @app.exception_handler(RequestValidationError)
    async def malformed(request: Request, exc: RequestValidationError) -> Response:
        detail = []
        for e in exc.errors():
            where = [str(p) for p in e["loc"] if p != "body"]
            field = "body" if e["type"] == "json_invalid" or not where else ".".join(where)
            detail.append({"field": field, "message": e["msg"], "article": None, "text": f"{field}: {e['msg']}"})
        return _problem(request, 422, "invalid input", detail)

    @app.exception_handler(BodyTooDeep)
    async def too_deep(request: Request, exc: BodyTooDeep) -> Response:
        return _problem(request, 400, "bad request", [_body_issue(str(exc))])

    @app.exception_handler(Unauthenticated)
    async def unauthorized(request: Request, exc: Unauthenticated) -> Response:
        if _is_page(request):  # back to the page after signing in (a form's target is not a page: start over)
            page = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            target = quote(page if request.method == "GET" else "/", safe="")
            return RedirectResponse(f"/login?next={target}", status_code=303)
        return JSONResponse(
            status_code=401,
            content={"title": "unauthorized", "detail": str(exc)},
            headers={"WWW-Authenticate": "Bearer"},
        )

    @app.exception_handler(Forbidden)
    async def not_allowed(request: Request, exc: Forbidden) -> Response:
        return _problem(request, 403, "forbidden", str(exc))

    @app.exception_handler(CsrfRejected)
    async def csrf(request: Request, exc: CsrfRejected) -> Response:
        return _problem(request, 403, "forbidden", str(exc))

    @app.exception_handler(AccessDenied)
    async def forbidden(request: Request, exc: AccessDenied) -> Response:
        return _problem(request, 403, "forbidden", str(exc))

    @app.exception_handler(BlobCorrupt)
    async def damaged(request: Request, exc: BlobCorrupt) -> Response:
        return _problem(request, 409, "evidence damaged", f"the item's stored content is damaged: {exc}; run a verify")

    @app.exception_handler(VaultError)
    async def vault_failed(request: Request, exc: VaultError) -> Response:
        return _problem(request, 507, "vault unavailable", str(exc))

    @app.exception_handler(TransferUnauthorized)
    async def transfer_unauthorized(request: Request, exc: TransferUnauthorized) -> Response:
        return JSONResponse(
            status_code=401,
            content={"title": "unauthorized", "detail": str(exc)},
            headers={"WWW-Authenticate": "Bearer"},
        )

    @app.exception_handler(ContentMismatch)
    async def mismatch(request: Request, exc: ContentMismatch) -> Response:
        return _problem(request, 422, "content does not match its manifest", str(exc))

    @app.exception_handler(EnvelopeRejected)
    async def rejected(request: Request, exc: EnvelopeRejected) -> Response:
        return _problem(request, 422, exc.reason, exc.detail)

    @app.exception_handler(NotOnNetwork)
    async def offline(request: Request, exc: NotOnNetwork) -> Response:
        return _problem(request, 503, "not on the network", str(exc))

    @app.exception_handler(TransportError)
    async def unreachable(request: Request, exc: TransportError) -> Response:
        return _problem(request, 502, "peer unreachable", str(exc))

    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound) -> Response:
        return _problem(request, 404, "not found", str(exc))

    @app.exception_handler(DomainError)
    async def conflict(request: Request, exc: DomainError) -> Response:
        title = {
            IllegalTransition: "illegal transition",
            NoLegalBasis: "no legal basis",
            Conflict: "conflict",
        }
        return _problem(request, 409, title.get(type(exc), "conflict"), str(exc))

    @app.exception_handler(CsvFormatError)
    async def bad_csv(request: Request, exc: CsvFormatError) -> Response:
        return _problem(
            request, 422, "invalid file", [{"field": "file", "message": str(exc), "article": None, "text": str(exc)}]
        )

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> Response:
        if isinstance(exc, StreamCutError):  # not a fault of the node's code: the server logs the cut itself
            log.error("%s", exc)
            return _problem(request, 409, "evidence damaged", str(exc))
        incident = uuid.uuid4().hex[:12]
        log.error("internal error %s", incident, exc_info=exc)
        return _problem(
            request, 500, "internal error", f"the node could not complete this; incident {incident} is logged"
        )


def create_app(node: Node, uploads: UploadStore | None = None, *, worker: str | None = None) -> FastAPI:
    """Return the API application bound to a node; with ``worker`` (this node's endpoint), a worker process
    delivers the outbox and transfers alongside it."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        background = None
        if worker and node.identity is not None and node.node_state:
            directory_services.publish_own_entry(node)  # a changed endpoint or new keys reach the peers
            background = WorkerProcess(worker)
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
    )
    app.router.route_class = SecureRoute
    app.state.node = node
    _install_error_handlers(app)
    if uploads is not None and node.vault is not None:
        app.include_router(evidence_router(node, uploads))
    if node.identity is not None:
        app.include_router(node_router(node))
        app.include_router(operator_router(node))
    app.include_router(admin_router(node))
    app.include_router(statistics_router(node))

    @app.get("/health", tags=["node"], **secured(Permission.PUBLIC))
    def health() -> dict[str, Any]:
        """Liveness: the node answers and knows its packs."""
        return {
            "status": "ok",
            "version": __version__,
            "packs": sorted(node.packs),
            "node_state": node.node_state,
        }

    # --- rule packs
    @app.get("/api/v1/packs", tags=["rule packs"], **secured(Permission.TREATY_READ))
    def list_packs() -> list[dict[str, Any]]:
        """The instruments this node knows."""
        return [rules_present.pack_summary(p) for p in node.packs.values()]

    @app.get("/api/v1/packs/{key}", tags=["rule packs"], **secured(Permission.TREATY_READ))
    def get_pack(key: str) -> dict[str, Any]:
        """A whole rule pack: request types, required items, refusal grounds, clocks, each with its article."""
        if key not in node.packs:
            raise NotFound(f"no rule pack {key!r}")
        return rules_present.pack(node.packs[key])

    # --- treaty
    @app.get("/api/v1/treaty/{instrument}/status", tags=["treaty"], **secured(Permission.TREATY_READ))
    def treaty_status(instrument: str, on: date | None = None) -> dict[str, Any]:
        """Whether the instrument is in force on a date; its Parties and signatories."""
        if instrument not in node.packs:
            raise NotFound(f"no rule pack {instrument!r}")
        return treaty_present.instrument_status(treaty_services.instrument_status(node, instrument, on))

    @app.get("/api/v1/treaty/{instrument}/parties/{state}", tags=["treaty"], **secured(Permission.TREATY_READ))
    def treaty_party(instrument: str, state: str, on: date | None = None) -> dict[str, Any]:
        """Whether a State is a Party on a date, and since when."""
        if instrument not in node.packs:
            raise NotFound(f"no rule pack {instrument!r}")
        return treaty_present.party_status(treaty_services.party_status(node, instrument, state.upper(), on))

    @app.get("/api/v1/treaty/basis", tags=["treaty"], **secured(Permission.TREATY_READ))
    def treaty_basis(a: str, b: str, on: date | None = None) -> dict[str, Any]:
        """The instruments that bind both States on a date."""
        basis = treaty_services.legal_basis(node, a.upper(), b.upper(), on)
        return {
            "a": a.upper(),
            "b": b.upper(),
            "on": (on or node.clock.now().date()).isoformat(),
            "instruments": list(basis),
        }

    @app.post(
        "/api/v1/treaty/{instrument}/deposits",
        tags=["treaty"],
        **secured(Permission.TREATY_WRITE, audit="treaty:import"),
    )
    def treaty_import(
        instrument: str, body: Annotated[str, Body(media_type="text/csv", description="state,action,date")]
    ) -> dict[str, Any]:
        """Record deposits from CSV text: all rows, or none if any row is bad (each reported with its line)."""
        rows = parse_deposit_rows(body, "upload")
        result = treaty_services.import_deposits(node, rows, instrument)
        return {"instrument": result.instrument, "recorded": result.recorded, "unchanged": result.unchanged}

    # --- cases
    @app.post(
        "/api/v1/cases", status_code=201, tags=["cases"], **secured(Permission.REQUESTS_WRITE, audit="case:create")
    )
    def create_case(body: CaseCreate) -> dict[str, Any]:
        """Open a case."""
        return cases_present.case(case_services.open_case(node, **body.model_dump()))

    @app.get("/api/v1/cases", tags=["cases"], **secured(Permission.REQUESTS_READ, audit="case:list"))
    def list_cases(
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50, offset: OffsetQuery = 0
    ) -> list[dict[str, Any]]:
        """Cases, newest first."""
        return [cases_present.case(c) for c in case_services.list_cases(node, limit=limit, offset=offset)]

    @app.get("/api/v1/cases/{case_id}", tags=["cases"], **secured(Permission.REQUESTS_READ, audit="case:view"))
    def get_case(case_id: str) -> dict[str, Any]:
        """A case by id or reference."""
        return cases_present.case(case_services.get_case(node, case_id))

    # --- requests
    @app.post(
        "/api/v1/requests",
        status_code=201,
        tags=["requests"],
        **secured(Permission.REQUESTS_WRITE, audit="request:create"),
    )
    def create_request(who: PrincipalDep, body: RequestCreate) -> dict[str, Any]:
        """Draft an outgoing request (items may be completed later) or register an incoming one."""
        return requests_present.request_view(
            request_services.create_request(node, body.draft(), actor=who.name), node.clock.now()
        )

    @app.post("/api/v1/requests/validate", tags=["requests"], **secured(Permission.REQUESTS_WRITE))
    def validate_request(body: RequestCreate) -> dict[str, Any]:
        """Check a request's contents against its rule pack without saving anything."""
        issues = request_services.validate_request(node, body.draft())
        return {"complete": not issues, "issues": [platform_present.issue(i) for i in issues]}

    @app.get("/api/v1/requests", tags=["requests"], **secured(Permission.REQUESTS_READ, audit="request:list"))
    def list_requests(
        direction: Direction | None = None,
        state: RequestState | None = None,
        counterpart_state: str | None = None,
        type: str | None = None,
        instrument: str | None = None,
        case_id: str | None = None,
        due_within_hours: Annotated[float | None, Query(gt=0, le=24 * 366)] = None,
        overdue: bool = False,
        open_only: bool = False,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
        offset: OffsetQuery = 0,
    ) -> list[dict[str, Any]]:
        """The inbox; with due_within_hours or overdue, soonest due first."""
        now = node.clock.now()
        query = InboxQuery(
            now=now,
            direction=direction,
            state=state,
            counterpart_state=counterpart_state.upper() if counterpart_state else None,
            type=type,
            instrument=instrument,
            case_id=case_id,
            due_within_seconds=int(due_within_hours * 3600) if due_within_hours else None,
            overdue=overdue,
            open_only=open_only,
            limit=limit,
            offset=offset,
        )
        return [requests_present.summary(r, now) for r in request_services.inbox(node, query)]

    @app.get(
        "/api/v1/requests/{request_id}", tags=["requests"], **secured(Permission.REQUESTS_READ, audit="request:view")
    )
    def get_request(request_id: str) -> dict[str, Any]:
        """A request with its history, clocks, allowed actions, missing items and messages. Reading changes
        nothing: telling the sending node its messages were read is ``POST …/read``."""
        return requests_present.request_view(request_services.get_request(node, request_id), node.clock.now())

    @app.post(
        "/api/v1/requests/{request_id}/read",
        tags=["requests"],
        **secured(Permission.REQUESTS_WRITE, audit="request:read"),
    )
    def mark_request_read(who: PrincipalDep, request_id: str) -> dict[str, Any]:
        """Record that the caller read the request's incoming messages, and send each sender a signed read notice.
        Returns how many messages were newly marked (0 when all were read already)."""
        request_services.get_request(node, request_id)  # 404 for an unknown request
        return {"marked": messaging_services.mark_read(node, request_id, actor=who.name)}

    @app.patch(
        "/api/v1/requests/{request_id}", tags=["requests"], **secured(Permission.REQUESTS_WRITE, audit="request:amend")
    )
    def amend_request(who: PrincipalDep, request_id: str, body: RequestAmend) -> dict[str, Any]:
        """Replace a draft's items."""
        view = request_services.amend_request(node, request_id, body.items, actor=who.name)
        return requests_present.request_view(view, node.clock.now())

    @app.post(
        "/api/v1/requests/{request_id}/actions",
        tags=["requests"],
        **secured(Permission.REQUESTS_WRITE, audit="request:act"),
    )
    def act(who: PrincipalDep, request_id: str, body: RequestAction) -> dict[str, Any]:
        """Act on a request: send, acknowledge, preserve, refuse with grounds, execute, withdraw, close ..."""
        view = request_services.act_on_request(
            node, request_id, body.action, actor=who.name, grounds=tuple(body.grounds), note=body.note
        )
        return requests_present.request_view(view, node.clock.now())

    install_web(app, node)
    check_routes(app)
    return app
