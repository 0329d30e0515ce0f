"""Requests of Chapter V over the API: draft or register, check against the rule pack, list the inbox, act.

Reading changes nothing (``GET``); marking read, amending and acting are writes, each audited.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Query
from pydantic import Field, StrictBool

from hanoinet.federation import messaging as messaging_services
from hanoinet.platform.api import IsoInstant, Strict, problems
from hanoinet.platform.errors import Issue, ValidationFailed
from hanoinet.platform.paging import OffsetQuery
from hanoinet.platform.permissions import Permission
from hanoinet.platform.ports import MAX_PAGE
from hanoinet.platform.security import PrincipalDep, SecureRoute, secured
from hanoinet.requests import present as requests_present
from hanoinet.requests import service as request_services
from hanoinet.requests.domain import MAX_NOTE_LENGTH, Action, Direction, RequestState, parse_due_within
from hanoinet.requests.ports import InboxQuery
from hanoinet.requests.schemas import MarkedOut, PreflightOut, RequestOut, SummaryOut

if TYPE_CHECKING:
    from hanoinet.app.node import Node


class RequestCreate(Strict):
    """A new outgoing draft, or an incoming request registered as received."""

    case: str = Field(description="Case id or reference")
    instrument: str = "uncc-2024"
    type: str
    requested_state: str = Field(min_length=2, max_length=8)
    requesting_state: str | None = Field(default=None, min_length=2, max_length=8)
    direction: Direction = Direction.OUTGOING
    items: dict[str, str] = Field(default_factory=dict)
    emergency: StrictBool = False
    deadline: IsoInstant | None = None
    follows_up: str | None = None
    language: str = Field(default="", max_length=35, description="The language the items are written in (BCP 47)")
    translations: dict[str, str] = Field(
        default_factory=dict,
        description="Item by item, its translation into the requested State's language (for the formal document)",
    )
    confidential: StrictBool = Field(
        default=False, description="Ask that the fact and substance of the request be kept confidential (Art 40)"
    )

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
            language=self.language.strip(),
            translations=self.translations,
            confidential=self.confidential,
        )


class RequestAmend(Strict):
    """Changes to a draft's items and their translations: each one given is set, null or "" removes it, those not
    given stay (as a JSON merge patch, RFC 7396)."""

    items: dict[str, str | None] = Field(default_factory=dict)
    translations: dict[str, str | None] = Field(default_factory=dict)


class RequestAction(Strict):
    """An action on a request."""

    action: Action
    grounds: list[str] = Field(default_factory=list, description="Refusal grounds (keys from the rule pack)")
    note: str = Field(default="", max_length=MAX_NOTE_LENGTH)


def _seconds(due_within: str | None) -> int | None:
    """``due_within`` in the grammar of ``parse_due_within``; a bad one is a 422 naming the parameter."""
    if due_within is None:
        return None
    try:
        return int(parse_due_within(due_within).total_seconds())
    except ValueError as exc:
        raise ValidationFailed([Issue("query.due_within", str(exc))]) from None


def router(node: Node) -> APIRouter:
    """The request routes: casework permissions, every call audited."""
    api = APIRouter(prefix="/api/v1/requests", route_class=SecureRoute, tags=["requests"])

    @api.post(
        "",
        status_code=201,
        response_model=RequestOut,
        responses=problems(404, 409),
        **secured(Permission.REQUESTS_WRITE, audit="request:create"),
    )
    def create_request(who: PrincipalDep, body: RequestCreate) -> dict[str, Any]:
        """Draft an outgoing request (items may be completed later) or register an incoming one."""
        return requests_present.request_view(
            request_services.create_request(node, body.draft(), actor=who.name), node.clock.now()
        )

    @api.post("/validate", response_model=PreflightOut, responses=problems(404), **secured(Permission.REQUESTS_WRITE))
    def validate_request(body: RequestCreate) -> dict[str, Any]:
        """Check a request as Send would — contents against its rule pack, the legal basis under its instrument
        today, a node of the requested State to carry it — without saving anything."""
        return requests_present.preflight(request_services.preflight(node, body.draft()))

    @api.get("", response_model=list[SummaryOut], **secured(Permission.REQUESTS_READ, audit="request:list"))
    def list_requests(
        direction: Direction | None = None,
        state: RequestState | None = None,
        counterpart_state: str | None = None,
        type: str | None = None,
        instrument: str | None = None,
        case_id: str | None = None,
        due_within: Annotated[
            str | None, Query(max_length=16, description="e.g. 90m, 24h, 3d, 2w (at most 366d)")
        ] = None,
        overdue: bool = False,
        open_only: bool = False,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
        offset: OffsetQuery = 0,
    ) -> list[dict[str, Any]]:
        """The inbox; with due_within or overdue, soonest due first."""
        now = node.clock.now()
        query = InboxQuery(
            now=now,
            direction=direction,
            state=state,
            counterpart_state=counterpart_state.upper() if counterpart_state else None,
            type=type,
            instrument=instrument,
            case_id=case_id,
            due_within_seconds=_seconds(due_within),
            overdue=overdue,
            open_only=open_only,
            limit=limit,
            offset=offset,
        )
        return [requests_present.summary(r, now) for r in request_services.inbox(node, query)]

    @api.get(
        "/{request_id}",
        response_model=RequestOut,
        responses=problems(404),
        **secured(Permission.REQUESTS_READ, audit="request:view"),
    )
    def get_request(request_id: str) -> dict[str, Any]:
        """A request with its history, clocks, allowed actions, missing items and messages. Reading changes
        nothing: telling the sending node its messages were read is ``POST …/read``."""
        return requests_present.request_view(request_services.get_request(node, request_id), node.clock.now())

    @api.post(
        "/{request_id}/read",
        response_model=MarkedOut,
        responses=problems(404),
        **secured(Permission.REQUESTS_WRITE, audit="request:read"),
    )
    def mark_request_read(who: PrincipalDep, request_id: str) -> dict[str, Any]:
        """Record that the caller read the request's incoming messages, and send each sender a signed read notice.
        Returns how many messages were newly marked (0 when all were read already)."""
        request_services.get_request(node, request_id)  # 404 for an unknown request
        return {"marked": messaging_services.mark_read(node, request_id, actor=who.name)}

    @api.patch(
        "/{request_id}",
        response_model=RequestOut,
        responses=problems(404, 409),
        **secured(Permission.REQUESTS_WRITE, audit="request:amend"),
    )
    def amend_request(who: PrincipalDep, request_id: str, body: RequestAmend) -> dict[str, Any]:
        """Change a draft's items: set the ones given, remove those given as null or "", keep the others."""
        view = request_services.amend_request(
            node, request_id, body.items, actor=who.name, translations=body.translations
        )
        return requests_present.request_view(view, node.clock.now())

    @api.post(
        "/{request_id}/actions",
        response_model=RequestOut,
        responses=problems(404, 409),
        **secured(Permission.REQUESTS_WRITE, audit="request:act"),
    )
    def act(who: PrincipalDep, request_id: str, body: RequestAction) -> dict[str, Any]:
        """Act on a request: send, acknowledge, preserve, refuse with grounds, execute, withdraw, close ..."""
        view = request_services.act_on_request(
            node, request_id, body.action, actor=who.name, grounds=tuple(body.grounds), note=body.note
        )
        return requests_present.request_view(view, node.clock.now())

    return api
