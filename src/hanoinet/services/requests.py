"""Use cases for requests: draft or register one, validate it, amend it, act on it, read it, list the inbox."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from hanoinet.domain.cases import Case
from hanoinet.domain.clocks import Clock, derive_clocks, next_due
from hanoinet.domain.errors import Issue, NoLegalBasis, NotFound, ValidationFailed
from hanoinet.domain.requests import (
    Action,
    Direction,
    EventKind,
    Request,
    RequestEvent,
    RequestState,
    check_contents,
    check_follow_up,
    request_type,
)
from hanoinet.domain.rules import RequestType
from hanoinet.services.node import Node, new_id
from hanoinet.services.ports import InboxQuery, RequestSummary, UnitOfWork
from hanoinet.services.treaty import registry


@dataclass(frozen=True, slots=True)
class RequestDraft:
    """What a user gives to draft an outgoing request, or to register one received by other means."""

    case: str  # id or reference
    instrument: str
    type: str
    requested_state: str
    requesting_state: str | None = None  # defaults to the node's State for outgoing requests
    direction: Direction = Direction.OUTGOING
    items: dict[str, str] = field(default_factory=dict)
    emergency: bool = False
    deadline: datetime | None = None
    follows_up: str | None = None


@dataclass(frozen=True, slots=True)
class RequestView:
    """A request with everything derived from it: its type's rules, clocks, what may be done now, what is missing."""

    request: Request
    rtype: RequestType
    clocks: tuple[Clock, ...]
    allowed_actions: tuple[Action, ...]
    issues: tuple[Issue, ...]


_STRUCTURAL = (
    "type",
    "instrument",
    "requesting_state",
    "requested_state",
    "deadline",
    "emergency",
    "follows_up",
)


def _is_structural(issue: Issue) -> bool:
    """True for problems that make a draft unusable; a missing item only stops the request being sent."""
    if issue.field.startswith("items."):
        return "is missing" not in issue.message
    return issue.field in _STRUCTURAL or issue.field.startswith("case")


def _find_case(uow: UnitOfWork, case: str) -> Case:
    found = uow.cases.get(case) or uow.cases.by_reference(case)
    if found is None:
        raise ValidationFailed([Issue("case", f"no case {case!r}: open it first (hanoinet case new)")])
    return found


def _check_draft(node: Node, uow: UnitOfWork, draft: RequestDraft) -> tuple[list[Issue], Case, RequestType, str]:
    pack = node.pack(draft.instrument)
    rtype = request_type(pack, draft.type)
    requesting = (draft.requesting_state or node.node_state or "").upper()
    issues: list[Issue] = []
    if not requesting:
        issues.append(Issue("requesting_state", "is missing (or set HANOINET_NODE_STATE for this node)"))
    for code, name in ((requesting, "requesting_state"), (draft.requested_state, "requested_state")):
        if code and (issue := node.check_state(code, name)):
            issues.append(issue)
    case = _find_case(uow, draft.case)
    issues += check_contents(
        pack,
        rtype,
        items=draft.items,
        case=case,
        emergency=draft.emergency,
        requesting_state=requesting,
        requested_state=draft.requested_state.upper(),
        deadline=draft.deadline,
        now=node.clock.now(),
    )
    return issues, case, rtype, requesting


def validate_request(node: Node, draft: RequestDraft) -> list[Issue]:
    """Return every problem that would stop this request being sent; change nothing."""
    with node.uow() as uow:
        issues, *_ = _check_draft(node, uow, draft)
    return issues


def create_request(node: Node, draft: RequestDraft, *, actor: str) -> RequestView:
    """Save a draft outgoing request (items may still be missing) or register an incoming one as received."""
    now = node.clock.now()
    with node.uow() as uow:
        issues, case, rtype, requesting = _check_draft(node, uow, draft)
        hard = [i for i in issues if _is_structural(i)]
        if hard:
            raise ValidationFailed(hard)
        incoming = draft.direction is Direction.INCOMING
        request = Request(
            id=new_id(),
            case_id=case.id,
            instrument=draft.instrument,
            type=draft.type,
            direction=draft.direction,
            requesting_state=requesting,
            requested_state=draft.requested_state.upper(),
            items=dict(draft.items),
            emergency=draft.emergency,
            deadline=draft.deadline,
            follows_up=draft.follows_up,
            state=RequestState.RECEIVED if incoming else RequestState.DRAFT,
            created_at=now,
        )
        if draft.follows_up is not None:
            earlier = uow.requests.get(draft.follows_up)
            if earlier is None:
                raise ValidationFailed([Issue("follows_up", f"no request {draft.follows_up!r}")])
            follow_issues = check_follow_up(rtype, request, earlier)
            if follow_issues:
                raise ValidationFailed(follow_issues)
        kind = EventKind.RECEIVED if incoming else EventKind.CREATED
        request.events.append(RequestEvent(1, kind, now, actor, None, request.state, {}))
        clocks = derive_clocks(request, rtype)
        due = next_due(clocks)
        uow.requests.add(request, due.due_at if due else None, due.name if due else None)
        uow.commit()
    return _view(request, rtype, clocks, issues)


def _view(request: Request, rtype: RequestType, clocks: Sequence[Clock], issues: Sequence[Issue]) -> RequestView:
    return RequestView(request, rtype, tuple(clocks), tuple(request.allowed_actions(rtype)), tuple(issues))


def _save(node: Node, uow: UnitOfWork, request: Request, rtype: RequestType) -> list[Clock]:
    """Save the request with its clock projection, and refresh the request it follows up (its clock may hold)."""
    clocks = derive_clocks(request, rtype, uow.requests.follow_ups(request.id))
    due = next_due(clocks)
    uow.requests.save(request, due.due_at if due else None, due.name if due else None)
    if request.follows_up is not None:
        earlier = uow.requests.get(request.follows_up)
        if earlier is not None:
            earlier_type = request_type(node.pack(earlier.instrument), earlier.type)
            earlier_due = next_due(derive_clocks(earlier, earlier_type, uow.requests.follow_ups(earlier.id)))
            uow.requests.save(
                earlier,
                earlier_due.due_at if earlier_due else None,
                earlier_due.name if earlier_due else None,
            )
    return clocks


def _load(uow: UnitOfWork, request_id: str) -> Request:
    request = uow.requests.get(request_id)
    if request is None:
        raise NotFound(f"no request {request_id!r}")
    return request


def _completeness(node: Node, uow: UnitOfWork, request: Request) -> list[Issue]:
    pack = node.pack(request.instrument)
    rtype = request_type(pack, request.type)
    case = _find_case(uow, request.case_id)
    return check_contents(
        pack,
        rtype,
        items=request.items,
        case=case,
        emergency=request.emergency,
        requesting_state=request.requesting_state,
        requested_state=request.requested_state,
        deadline=request.deadline,
        now=node.clock.now() if request.state is RequestState.DRAFT else request.created_at,
    )


def get_request(node: Node, request_id: str) -> RequestView:
    """Return a request with its clocks, allowed actions and any missing items; raise NotFound if unknown."""
    with node.uow() as uow:
        request = _load(uow, request_id)
        rtype = request_type(node.pack(request.instrument), request.type)
        clocks = derive_clocks(request, rtype, uow.requests.follow_ups(request.id))
        issues = _completeness(node, uow, request)
    return _view(request, rtype, clocks, issues)


def amend_request(node: Node, request_id: str, items: dict[str, str], *, actor: str) -> RequestView:
    """Replace a draft's items; unknown items are refused, missing ones are reported."""
    with node.uow() as uow:
        request = _load(uow, request_id)
        request.amend(items, at=node.clock.now(), actor=actor)
        issues = _completeness(node, uow, request)
        hard = [i for i in issues if _is_structural(i)]
        if hard:
            raise ValidationFailed(hard)
        rtype = request_type(node.pack(request.instrument), request.type)
        clocks = _save(node, uow, request, rtype)
        uow.commit()
    return _view(request, rtype, clocks, issues)


def act_on_request(
    node: Node,
    request_id: str,
    action: Action,
    *,
    actor: str,
    grounds: tuple[str, ...] = (),
    note: str = "",
) -> RequestView:
    """Carry out one action of the state machine; sending also checks completeness and the legal basis."""
    now = node.clock.now()
    with node.uow() as uow:
        request = _load(uow, request_id)
        pack = node.pack(request.instrument)
        rtype = request_type(pack, request.type)
        if action is Action.SEND and request.state is RequestState.DRAFT:
            issues = _completeness(node, uow, request)
            if issues:
                raise ValidationFailed(issues)
            _check_legal_basis(node, uow, request, now)
        request.apply(action, pack, at=now, actor=actor, grounds=grounds, note=note)
        clocks = _save(node, uow, request, rtype)
        uow.commit()
    return _view(request, rtype, clocks, ())


def _check_legal_basis(node: Node, uow: UnitOfWork, request: Request, now: datetime) -> None:
    """Refuse to send under an instrument that does not bind both States today, saying who is not bound."""
    reg = registry(node, uow)
    today = now.date()
    if request.instrument in reg.legal_basis(request.requesting_state, request.requested_state, today):
        return
    pack = node.pack(request.instrument)
    not_bound = [
        f"{s} ({node.catalog.name(s)}) is not a Party on {today.isoformat()}"
        for s in (request.requesting_state, request.requested_state)
        if not reg.is_party(request.instrument, s, today)
    ]
    others = reg.legal_basis(request.requesting_state, request.requested_state, today)
    alternatives = f"instruments binding both: {', '.join(others)}" if others else "no instrument known here binds both"
    raise NoLegalBasis(
        f"the {pack.short_title} is not a legal basis between {request.requesting_state} and "
        f"{request.requested_state}: {'; '.join(not_bound)} ({pack.entry_into_force.later_party_citation}); "
        f"{alternatives}; other bases: a bilateral treaty or reciprocity"
    )


def inbox(node: Node, query: InboxQuery) -> Sequence[RequestSummary]:
    """Return the requests matching the query."""
    with node.uow() as uow:
        return uow.requests.inbox(query)
