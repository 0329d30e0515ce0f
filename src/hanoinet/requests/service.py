"""Use cases for requests: draft or register one, validate it, amend it, act on it, read it, list the inbox."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hanoinet.app.node import Node, UnitOfWork
from hanoinet.audit import service as audit
from hanoinet.cases.domain import Case
from hanoinet.federation.domain import (
    EntryStatus,
    Message,
    MessageKind,
    MessageRefused,
    NodeRole,
    check_local_action,
    check_remote_action,
    is_shared,
)
from hanoinet.federation.messaging import MessageView, compose, find_peer, list_messages
from hanoinet.federation.ports import MessageQuery, Peer
from hanoinet.platform.errors import IllegalTransition, Issue, NoLegalBasis, NotFound, ValidationFailed
from hanoinet.platform.ids import new_id
from hanoinet.requests.clocks import Clock, derive_clocks, next_due
from hanoinet.requests.domain import (
    MAX_ITEM_LENGTH,
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
from hanoinet.requests.ports import InboxQuery, RequestSummary
from hanoinet.rules.domain import Channel, RequestType, RulePack
from hanoinet.treaty.service import registry


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
    peer: str | None = None  # the node to send it to; by default chosen from the directory when it is sent


@dataclass(frozen=True, slots=True)
class RequestView:
    """A request with everything derived from it: its type's rules, clocks, what may be done now, what is missing."""

    request: Request
    rtype: RequestType
    clocks: tuple[Clock, ...]
    allowed_actions: tuple[Action, ...]
    issues: tuple[Issue, ...]
    messages: tuple[MessageView, ...] = ()
    """Messages exchanged about the request, either way, oldest first: sent, delivered, read."""


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
        if draft.peer is not None:
            if incoming:
                raise ValidationFailed([Issue("peer", "requests received from a node arrive by themselves")])
            request.peer = _check_peer(uow, draft.peer, request.requested_state).entry.node_id
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
        audit.attach(uow, request.id)
        uow.commit()
    return _view(request, rtype, clocks, issues)


def _view(
    request: Request,
    rtype: RequestType,
    clocks: Sequence[Clock],
    issues: Sequence[Issue],
    messages: Sequence[MessageView] = (),
) -> RequestView:
    """The view of a request: the actions offered are the ones this node may take itself (on a request exchanged
    with another node, the other State's actions arrive from it)."""
    allowed = tuple(
        a for a in request.allowed_actions(rtype) if check_local_action(request.direction, a, request.peer) is None
    )
    return RequestView(request, rtype, tuple(clocks), allowed, tuple(issues), tuple(messages))


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
    messages = list_messages(node, MessageQuery(request_id=request_id, limit=500)) if request.peer else []
    return _view(request, rtype, clocks, issues, sorted(messages, key=lambda m: m.created_at))


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
        audit.attach(uow, request.id)
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
        reason = check_local_action(request.direction, action, request.peer)
        if reason:
            raise IllegalTransition(reason)
        if action is Action.SEND and request.state is RequestState.DRAFT:
            issues = _completeness(node, uow, request)
            if issues:
                raise ValidationFailed(issues)
            _check_legal_basis(node, uow, request, now)
            if request.peer is None and node.identity is not None:
                chosen = _choose_peer(uow, request, rtype)
                request.peer = chosen.entry.node_id if chosen else None
        event = request.apply(action, pack, at=now, actor=actor, grounds=grounds, note=note)
        clocks = _save(node, uow, request, rtype)
        if request.peer is not None and is_shared(action):
            peer = find_peer(uow, request.peer, "peer")
            if action is Action.SEND:
                body = _document(uow, request, actor)
                compose(node, uow, peer, MessageKind.REQUEST, body, actor=actor, request_id=request.id)
            else:
                body = {
                    "action": action.value,
                    "actor": actor,
                    "note": note,
                    "grounds": list(event.data.get("grounds", [])),
                }
                compose(node, uow, peer, MessageKind.ACTION, body, actor=actor, request_id=request.id)
        audit.attach(uow, request.id)
        uow.commit()
    if request.peer is not None and is_shared(action):
        node.outbox_changed(request.peer)
    return _view(request, rtype, clocks, ())


def _check_peer(uow: UnitOfWork, node_id: str, requested_state: str) -> Peer:
    peer = find_peer(uow, node_id, "peer")
    if peer.entry.state != requested_state:
        raise ValidationFailed(
            [Issue("peer", f"node {node_id} serves {peer.entry.state}, not the requested State {requested_state}")]
        )
    return peer


def _choose_peer(uow: UnitOfWork, request: Request, rtype: RequestType) -> Peer | None:
    """The node a request goes to: the one holding the request it follows up; else, among the requested State's
    nodes, its 24/7 point of contact for 24/7 business (emergencies, preservation: the pack's channel) and its
    central authority otherwise; else any of its nodes. None if the State has no node here (sent by other means)."""
    if request.follows_up is not None:
        earlier = uow.requests.get(request.follows_up)
        if earlier is not None and earlier.peer is not None:
            peer = uow.federation.peer(earlier.peer)
            if peer is not None and peer.status is EntryStatus.ACTIVE:
                return peer
    candidates = [
        p for p in uow.federation.peers() if p.entry.state == request.requested_state and p.status is EntryStatus.ACTIVE
    ]
    wanted = (
        NodeRole.POINT_OF_CONTACT
        if rtype.channel is Channel.POINT_OF_CONTACT or request.emergency
        else NodeRole.CENTRAL_AUTHORITY
    )
    for role in (wanted, NodeRole.CENTRAL_AUTHORITY, NodeRole.POINT_OF_CONTACT):
        for peer in candidates:
            if role in peer.entry.roles:
                return peer
    return candidates[0] if candidates else None


def _document(uow: UnitOfWork, request: Request, actor: str) -> dict[str, Any]:
    """What a request message carries: the request as sent and the case it is made for (what scope turns on)."""
    case = _find_case(uow, request.case_id)
    return {
        "request": {
            "id": request.id,
            "instrument": request.instrument,
            "type": request.type,
            "requesting_state": request.requesting_state,
            "requested_state": request.requested_state,
            "items": dict(request.items),
            "emergency": request.emergency,
            "deadline": request.deadline.isoformat() if request.deadline else None,
            "follows_up": request.follows_up,
            "created_at": request.created_at.isoformat(),
        },
        "case": {
            "id": case.id,
            "reference": case.reference,
            "offence": case.offence,
            "max_penalty_years": case.max_penalty_years,
            "summary": case.summary,
            "legal_qualification": case.legal_qualification,
        },
        "sent_by": actor,
    }


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


# --------------------------------------------------------------------------------------------------------------
# Requests and actions arriving from other nodes (called by ``services.inbound`` inside its transaction; each
# checks everything before it writes anything, and raises MessageRefused with the reason the sender will read).


def _text(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str):
        raise MessageRefused(f"the request document has no {name}")
    return value


def _mirror_case(node: Node, uow: UnitOfWork, data: Mapping[str, Any], requesting: str, now: datetime) -> Case:
    """The case a received request belongs to: the same case id as the requesting node's (a case shared by both
    nodes keeps one identity), recorded here under the requesting State's reference."""
    case_id = _text(data, "id")
    existing = uow.cases.get(case_id)
    if existing is not None:
        return existing
    base = re.sub(r"[^A-Za-z0-9./_-]", "-", f"{requesting}-{_text(data, 'reference')}")[:60]
    reference, n = base, 1
    while uow.cases.by_reference(reference) is not None:
        n += 1
        reference = f"{base[:56]}-{n}"
    penalty = data.get("max_penalty_years")
    case = Case(
        id=case_id,
        reference=reference,
        offence=_text(data, "offence"),
        max_penalty_years=penalty if isinstance(penalty, int) and not isinstance(penalty, bool) else None,
        summary=_text(data, "summary")[:MAX_ITEM_LENGTH],
        legal_qualification=str(data.get("legal_qualification", ""))[:2000],
        created_at=now,
    )
    uow.cases.add(case)
    return case


def _parse_received(
    node: Node, uow: UnitOfWork, peer: Peer, message: Message, now: datetime
) -> tuple[Request, RulePack, RequestType, Mapping[str, Any]]:
    """Check a received request document against this node's packs and records; nothing is written."""
    body = message.body
    data, case_data = body.get("request"), body.get("case")
    if not isinstance(data, dict) or not isinstance(case_data, dict):
        raise MessageRefused("a request message carries a request and its case")
    request_id = _text(data, "id")
    if request_id != message.request_id:
        raise MessageRefused("the request's id differs from the message's")
    requesting, requested = _text(data, "requesting_state").upper(), _text(data, "requested_state").upper()
    if requesting != peer.entry.state:
        raise MessageRefused(
            f"node {peer.entry.node_id} serves {peer.entry.state}, not the requesting State {requesting}"
        )
    if node.node_state and requested != node.node_state:
        raise MessageRefused(f"this node serves {node.node_state}; the request is addressed to {requested}")
    instrument = _text(data, "instrument")
    pack = node.packs.get(instrument)
    if pack is None:
        raise MessageRefused(f"this node does not apply {instrument!r}; it knows {', '.join(sorted(node.packs))}")
    rtype = pack.request_type(_text(data, "type"))
    if rtype is None:
        raise MessageRefused(f"the {pack.short_title} has no {data.get('type')!r} request")
    if uow.requests.get(request_id) is not None:
        raise MessageRefused(f"a request {request_id} already exists here")
    items = data.get("items")
    if not isinstance(items, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in items.items()):
        raise MessageRefused("the request's items must be text")
    try:
        deadline = datetime.fromisoformat(data["deadline"]) if data.get("deadline") else None
    except (TypeError, ValueError):
        raise MessageRefused("the request's deadline is not an ISO 8601 time") from None
    if deadline is not None and deadline.tzinfo is None:
        raise MessageRefused("the request's deadline carries no time zone")
    follows_up = data.get("follows_up") if isinstance(data.get("follows_up"), str) else None
    request = Request(
        id=request_id,
        case_id=_text(case_data, "id"),
        instrument=instrument,
        type=rtype.key,
        direction=Direction.INCOMING,
        requesting_state=requesting,
        requested_state=requested,
        items=dict(items),
        emergency=bool(data.get("emergency")),
        deadline=deadline,
        follows_up=follows_up,
        state=RequestState.RECEIVED,
        created_at=now,
        peer=peer.entry.node_id,
    )
    return request, pack, rtype, case_data


def _basis_finding(node: Node, uow: UnitOfWork, request: Request, pack: RulePack, now: datetime) -> dict[str, Any]:
    """Whether the request's instrument binds both States today by this node's treaty records."""
    binding = registry(node, uow).legal_basis(request.requesting_state, request.requested_state, now.date())
    basis: dict[str, Any] = {
        "instrument": request.instrument,
        "binds_both": request.instrument in binding,
        "on": now.date().isoformat(),
    }
    if request.instrument not in binding:
        basis["finding"] = (
            f"by this node's treaty records the {pack.short_title} does not bind {request.requesting_state} and "
            f"{request.requested_state} on {now.date().isoformat()}; instruments binding both: "
            f"{', '.join(binding) or 'none'}"
        )
    return basis


def receive_request(node: Node, uow: UnitOfWork, peer: Peer, message: Message) -> None:
    """Register a request another node sent: its clocks start now. Both sides check the legal basis: a request no
    instrument binds (by this node's treaty records) is still registered, with that finding in its history, for the
    requested State to decide on (refusal for non-conformity, Art 40)."""
    now = node.clock.now()
    request, pack, rtype, case_data = _parse_received(node, uow, peer, message, now)
    case = _mirror_case(node, uow, case_data, request.requesting_state, now)
    earlier = uow.requests.get(request.follows_up) if request.follows_up else None
    data: dict[str, Any] = {
        "from_node": peer.entry.node_id,
        "message": message.id,
        "sent_at": message.created_at.isoformat(),
        "sent_by": str(message.body.get("sent_by", ""))[:256],
        "legal_basis": _basis_finding(node, uow, request, pack, now),
    }
    if request.follows_up and (earlier is None or earlier.peer != peer.entry.node_id):
        data["follows_up_unknown"] = request.follows_up
        request.follows_up, earlier = None, None
    issues = check_contents(
        pack,
        rtype,
        items=request.items,
        case=case,
        emergency=request.emergency,
        requesting_state=request.requesting_state,
        requested_state=request.requested_state,
        deadline=None,
        now=now,
    )
    if issues:
        data["issues"] = [str(i) for i in issues]
    actor = f"{peer.entry.authority} ({peer.entry.state})"[:128]
    request.events.append(RequestEvent(1, EventKind.RECEIVED, now, actor, None, RequestState.RECEIVED, data))
    clocks = derive_clocks(request, rtype)
    due = next_due(clocks)
    uow.requests.add(request, due.due_at if due else None, due.name if due else None)
    if earlier is not None:
        _save(node, uow, earlier, request_type(node.pack(earlier.instrument), earlier.type))


def receive_action(node: Node, uow: UnitOfWork, peer: Peer, message: Message) -> None:
    """Apply an action the other State took on a request exchanged with it (acknowledged, refused with grounds,
    executed ...), through the same state machine: an action that is not the other side's, or that the request's
    state here does not allow, is refused with the reason."""
    body = message.body
    try:
        action = Action(str(body.get("action")))
    except ValueError:
        raise MessageRefused(f"unknown action {body.get('action')!r}") from None
    request = uow.requests.get(message.request_id or "")
    if request is None or request.peer != peer.entry.node_id:
        raise MessageRefused(f"no request {message.request_id} is exchanged with {peer.entry.node_id} here")
    reason = check_remote_action(request.direction, action)
    if reason:
        raise MessageRefused(reason)
    pack = node.pack(request.instrument)
    rtype = request_type(pack, request.type)
    grounds = body.get("grounds", [])
    if not isinstance(grounds, list):
        raise MessageRefused("grounds must be a list")
    who = f"{str(body.get('actor', ''))[:60]} ({peer.entry.authority}, {peer.entry.state})"[:128]
    event = request.apply(
        action,
        pack,
        at=node.clock.now(),
        actor=who,
        grounds=tuple(str(g) for g in grounds),
        note=str(body.get("note", "")),
    )
    event.data.update(
        {"from_node": peer.entry.node_id, "message": message.id, "acted_at": message.created_at.isoformat()}
    )
    _save(node, uow, request, rtype)
