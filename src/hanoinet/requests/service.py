"""Use cases for requests: draft or register one, validate it, amend it, act on it, read it, list the inbox."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from hanoinet.audit import service as audit
from hanoinet.cases.domain import MAX_QUALIFICATION, MAX_SUMMARY, Case
from hanoinet.federation.domain import (
    EntryStatus,
    Message,
    MessageKind,
    MessageRefused,
)
from hanoinet.federation.messaging import MessageView, compose, find_peer, list_messages
from hanoinet.federation.ports import MessageQuery, Peer
from hanoinet.platform.errors import Conflict, IllegalTransition, Issue, NoLegalBasis, NotFound, ValidationFailed
from hanoinet.platform.ids import new_id
from hanoinet.platform.permissions import NodeRole
from hanoinet.platform.ports import MAX_ROWS
from hanoinet.requests.clocks import Clock, derive_clocks, next_due
from hanoinet.requests.domain import (
    Action,
    Direction,
    EventKind,
    Means,
    Request,
    RequestEvent,
    RequestState,
    check_contents,
    check_follow_up,
    check_local_action,
    check_record,
    check_remote_action,
    is_emergency,
    is_shared,
    request_type,
)
from hanoinet.requests.ports import InboxQuery, RequestSummary
from hanoinet.rules.domain import Channel, RequestType, RulePack
from hanoinet.treaty.domain import BasisFinding
from hanoinet.treaty.service import basis_finding, declared_languages, declared_reservations

if TYPE_CHECKING:
    from hanoinet.app.node import Node, UnitOfWork


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
    language: str = ""  # the language the items are written in (BCP 47)
    translations: dict[str, str] = field(default_factory=dict)  # item -> its translation for the requested State
    confidential: bool = False  # the requesting State asks for the request to be kept confidential (Art 40)
    means: Means | None = None  # how a request registered as received came (e-mail, courier...)


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


@dataclass(frozen=True, slots=True)
class Route:
    """Where sending would take a request: a node of the requested State, or why there is none."""

    peer: str | None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Preflight:
    """Everything that decides whether a request can be sent now: its contents against the rule pack, the legal
    basis under the chosen instrument, and the node that would carry it.

    The composer's Check and Send, the API's validate and send, and the CLI all ask this one question, so that a
    request found ready is the request that goes, and one refused is refused for the same reasons everywhere.
    """

    issues: tuple[Issue, ...]
    """Problems of contents, each with the article that requires the item."""
    basis: BasisFinding | None
    """None when a State is unknown (its issue is in ``issues``)."""
    route: Route | None

    @property
    def problems(self) -> tuple[Issue, ...]:
        """Every reason the request cannot be sent now: contents, then legal basis, then the way to send it."""
        more = []
        if self.basis is not None and not self.basis.holds:
            more.append(Issue("instrument", self.basis.sentence(), self.basis.citation))
        if self.route is not None and self.route.peer is None:
            more.append(Issue("requested_state", self.route.reason))
        return (*self.issues, *more)

    @property
    def ready(self) -> bool:
        """True if nothing stops the request being sent."""
        return not self.problems


_STRUCTURAL = (
    "type",
    "instrument",
    "requesting_state",
    "requested_state",
    "deadline",
    "emergency",
    "follows_up",
    "language",
)


def _is_structural(issue: Issue) -> bool:
    """True for problems that make a draft unusable; a missing item only stops the request being sent."""
    if issue.field.startswith("items."):
        return "is missing" not in issue.message
    if issue.field.startswith("translations."):
        return True
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
        emergency=is_emergency(rtype, draft.emergency),
        requesting_state=requesting,
        requested_state=draft.requested_state.upper(),
        deadline=draft.deadline,
        now=node.clock.now(),
        language=draft.language,
        translations=draft.translations,
    )
    return issues, case, rtype, requesting


def validate_request(node: Node, draft: RequestDraft) -> list[Issue]:
    """Return every problem that would stop this request being sent now (contents, legal basis, a node to carry
    it); change nothing."""
    return list(preflight(node, draft).problems)


def preflight(node: Node, draft: RequestDraft) -> Preflight:
    """Check a draft as Send would, without saving anything (see ``Preflight``)."""
    with node.uow() as uow:
        issues, _, rtype, requesting = _check_draft(node, uow, draft)
        requested = draft.requested_state.upper()
        if any(i.field in ("requesting_state", "requested_state") for i in issues):
            return Preflight(tuple(issues), None, None)
        now = node.clock.now()
        basis = basis_finding(node, uow, draft.instrument, requesting, requested, on=now.date())
        if draft.direction is Direction.INCOMING:
            return Preflight(tuple(issues), basis, None)
        emergency = is_emergency(rtype, draft.emergency)
        route = _route(
            node, uow, rtype, requested=requested, follows_up=draft.follows_up, emergency=emergency, chosen=draft.peer
        )
    return Preflight(tuple(issues), basis, route)


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
            emergency=is_emergency(rtype, draft.emergency),
            deadline=draft.deadline,
            follows_up=draft.follows_up,
            state=RequestState.RECEIVED if incoming else RequestState.DRAFT,
            created_at=now,
            language=draft.language,
            translations={k: v.strip() for k, v in draft.translations.items() if v.strip()},
            confidential=draft.confidential,
            means=draft.means if incoming else None,
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
        _refresh_followed(node, uow, request)
        _commit(uow, request)
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


def _commit(uow: UnitOfWork, request: Request) -> None:
    """Commit a change to ``request`` together with the call's audit entry about it (``audit.attach``): one
    transaction, so that the entry stands exactly when the change does."""
    audit.attach(uow, request.id)
    uow.commit()


def _save(node: Node, uow: UnitOfWork, request: Request, rtype: RequestType) -> list[Clock]:
    """Save the request with its clock projection, and refresh the request it follows up (its clock may hold)."""
    clocks = derive_clocks(request, rtype, uow.requests.follow_ups(request.id))
    due = next_due(clocks)
    uow.requests.save(request, due.due_at if due else None, due.name if due else None)
    _refresh_followed(node, uow, request)
    return clocks


def _refresh_followed(node: Node, uow: UnitOfWork, request: Request) -> None:
    """Re-derive the stored next-due of the request this one follows up: a preservation is held while its MLA
    follow-up is pending (Art 42, Budapest Art 29(7)), so the inbox must stop showing it as falling due. Every path
    that adds or changes a follow-up (drafted here, registered, received from a node, acted on) comes through here.
    """
    if request.follows_up is None:
        return
    earlier = uow.requests.get(request.follows_up)
    if earlier is None:
        return
    earlier_type = request_type(node.pack(earlier.instrument), earlier.type)
    due = next_due(derive_clocks(earlier, earlier_type, uow.requests.follow_ups(earlier.id)))
    uow.requests.save(earlier, due.due_at if due else None, due.name if due else None)


def _load(uow: UnitOfWork, request_id: str) -> Request:
    request = uow.requests.get(request_id)
    if request is None:
        raise NotFound(f"no request {request_id!r}")
    return request


def _completeness(node: Node, uow: UnitOfWork, request: Request) -> list[Issue]:
    pack = node.pack(request.instrument)
    rtype = request_type(pack, request.type)
    case = _find_case(uow, request.case_id)
    now = node.clock.now() if request.state is RequestState.DRAFT else request.created_at
    return _contents(pack, rtype, request, case, deadline=request.deadline, now=now)


def _contents(
    pack: RulePack, rtype: RequestType, request: Request, case: Case, *, deadline: datetime | None, now: datetime
) -> list[Issue]:
    """``check_contents`` for a request already built — saved here, or received from a node: its items, its
    emergency flag and its States are its own; the deadline and the moment it is judged at are the caller's."""
    return check_contents(
        pack,
        rtype,
        items=request.items,
        case=case,
        emergency=request.emergency,
        requesting_state=request.requesting_state,
        requested_state=request.requested_state,
        deadline=deadline,
        now=now,
        language=request.language,
        translations=request.translations,
    )


def get_request(node: Node, request_id: str) -> RequestView:
    """Return a request with its clocks, allowed actions and what stops it going (for an outgoing draft, every
    problem Send would find: contents, legal basis, a node to carry it); raise NotFound if unknown."""
    with node.uow() as uow:
        request = _load(uow, request_id)
        rtype = request_type(node.pack(request.instrument), request.type)
        clocks = derive_clocks(request, rtype, uow.requests.follow_ups(request.id))
        if request.state is RequestState.DRAFT and request.direction is Direction.OUTGOING:
            issues = list(_preflight_saved(node, uow, request, rtype, node.clock.now()).problems)
        else:
            issues = _completeness(node, uow, request)
    messages = list_messages(node, MessageQuery(request_id=request_id, limit=500)) if request.peer else []
    return _view(request, rtype, clocks, issues, sorted(messages, key=lambda m: m.created_at))


def preflight_saved(node: Node, request_id: str) -> Preflight:
    """Check a saved draft as Send would, changing nothing (``hanoinet request validate ID``)."""
    with node.uow() as uow:
        request = _load(uow, request_id)
        rtype = request_type(node.pack(request.instrument), request.type)
        return _preflight_saved(node, uow, request, rtype, node.clock.now())


def amend_request(
    node: Node,
    request_id: str,
    changes: Mapping[str, str | None],
    *,
    actor: str,
    translations: Mapping[str, str | None] | None = None,
) -> RequestView:
    """Change a draft's items (and their translations) in one transaction: each value given sets its item, an
    empty one or None removes it, the others stay (``Request.amend``). Unknown items are refused, missing ones
    reported; a concurrent change of the same draft is a Conflict, never a lost update."""
    with node.uow() as uow:
        request = _load(uow, request_id)
        request.amend(changes, at=node.clock.now(), actor=actor, translations=translations)
        issues = _completeness(node, uow, request)
        hard = [i for i in issues if _is_structural(i)]
        if hard:
            raise ValidationFailed(hard)
        rtype = request_type(node.pack(request.instrument), request.type)
        clocks = _save(node, uow, request, rtype)
        _commit(uow, request)
    return _view(request, rtype, clocks, issues)


def _reserved(uow: UnitOfWork, request: Request) -> frozenset[str] | None:
    """The reservations a refusal of ``request`` recorded here may rest on: this node's State's, as its declarations
    record them, when it is the requested State; None (the other State's word, recorded as given) when the other
    State refused an outgoing request off the network."""
    if request.direction is Direction.OUTGOING:
        return None
    return declared_reservations(uow, request.requested_state, request.instrument)


def check_action(
    node: Node,
    request_id: str,
    action: Action,
    *,
    grounds: tuple[str, ...] = (),
    note: str = "",
    record: Mapping[str, str] | None = None,
) -> None:
    """Raise what ``act_on_request`` would for this action now (not this side's, not allowed in this state, bad
    grounds or note), changing nothing: the check before a document received is kept for it."""
    with node.uow() as uow:
        request = _load(uow, request_id)
        reason = check_local_action(request.direction, action, request.peer)
        if reason:
            raise IllegalTransition(reason)
        if record and request.peer is not None:
            raise IllegalTransition(f"this request is exchanged with node {request.peer}: its answers arrive from it")
        request.check(
            action,
            node.pack(request.instrument),
            grounds=grounds,
            note=note,
            record=record,
            reserved=_reserved(uow, request),
        )


def act_on_request(
    node: Node,
    request_id: str,
    action: Action,
    *,
    actor: str,
    grounds: tuple[str, ...] = (),
    note: str = "",
    record: Mapping[str, str] | None = None,
) -> RequestView:
    """Carry out one action of the state machine; sending also checks completeness and the legal basis.

    ``record`` says how an action of a request handled off the network happened (the other State's answer
    received by e-mail, say, and the document kept in the vault: ``domain.RECORD_FIELDS``)."""
    now = node.clock.now()
    with node.uow() as uow:
        request = _load(uow, request_id)
        pack = node.pack(request.instrument)
        rtype = request_type(pack, request.type)
        reason = check_local_action(request.direction, action, request.peer)
        if reason:
            raise IllegalTransition(reason)
        if record and request.peer is not None:
            raise ValidationFailed(
                [Issue("record", f"this request is exchanged with node {request.peer}: its answers arrive from it")]
            )
        if action is Action.SEND and request.state is RequestState.DRAFT:
            request.peer = _ready_to_send(node, uow, request, rtype, now)
            request.means = Means.NETWORK
        event = request.apply(
            action,
            pack,
            at=now,
            actor=actor,
            grounds=grounds,
            note=note,
            record=record,
            reserved=_reserved(uow, request),
        )
        clocks = _save(node, uow, request, rtype)
        if request.peer is not None and is_shared(action):
            peer = find_peer(uow, request.peer, "peer")
            if action is Action.SEND:
                body = document_body(uow, request, actor)
                compose(node, uow, peer, MessageKind.REQUEST, body, actor=actor, request_id=request.id)
            else:
                body = {
                    "action": action.value,
                    "actor": actor,
                    "note": note,
                    "grounds": list(event.data.get("grounds", [])),
                }
                compose(node, uow, peer, MessageKind.ACTION, body, actor=actor, request_id=request.id)
        _commit(uow, request)
    if request.peer is not None and is_shared(action):
        node.outbox_changed(request.peer)
    return _view(request, rtype, clocks, ())


MAX_RECIPIENT = 256


def send_off_network(
    node: Node,
    request_id: str,
    means: Means,
    recipient: str,
    *,
    actor: str,
    document: Mapping[str, str] | None = None,
) -> RequestView:
    """Record that an outgoing draft was sent by ``means`` (e-mail, the diplomatic channel, INTERPOL, courier,
    telephone) to ``recipient``: the same checks as Send — every required item, the legal basis on the day — and
    from then on the same state machine and clocks. ``document`` names the sent file kept in the vault (its item
    and SHA-256). Nothing comes back to say it arrived, so the request is "sent", never "delivered"."""
    now = node.clock.now()
    with node.uow() as uow:
        request, pack, rtype, recipient = _off_network_checked(
            node, uow, request_id, means=means, recipient=recipient, now=now
        )
        request.peer, request.means = None, means
        record = {"means": means.value, "to": recipient, **(document or {})}
        request.apply(Action.SEND, pack, at=now, actor=actor, record=record)
        clocks = _save(node, uow, request, rtype)
        _commit(uow, request)
    return _view(request, rtype, clocks, ())


def _off_network_checked(
    node: Node, uow: UnitOfWork, request_id: str, *, means: Means, recipient: str, now: datetime
) -> tuple[Request, RulePack, RequestType, str]:
    """The checks of a send off the network (those of Send but the route), in the caller's transaction."""
    if means is Means.NETWORK:
        raise ValidationFailed([Issue("means", "a request goes over the network with Send (a node carries it)")])
    recipient = recipient.strip()
    if not recipient or len(recipient) > MAX_RECIPIENT:
        why = f"say to whom it was sent (an address, an embassy, a bureau), at most {MAX_RECIPIENT} characters"
        raise ValidationFailed([Issue("to", why)])
    request = _load(uow, request_id)
    if request.direction is not Direction.OUTGOING:
        raise IllegalTransition(f"request {request_id} was received: the requesting State sent it")
    if request.state is not RequestState.DRAFT:
        raise IllegalTransition(f"cannot send a request that is {request.state.value}")
    pack = node.pack(request.instrument)
    rtype = request_type(pack, request.type)
    checked = _preflight_saved(node, uow, request, rtype, now)
    if checked.issues:
        raise ValidationFailed(checked.issues)
    if checked.basis is not None and not checked.basis.holds:
        raise NoLegalBasis(checked.basis.sentence())
    return request, pack, rtype, recipient


def check_off_network(node: Node, request_id: str, means: Means, recipient: str) -> None:
    """Raise what ``send_off_network`` would now, changing nothing: the check before its document is made and kept."""
    with node.uow() as uow:
        _off_network_checked(node, uow, request_id, means=means, recipient=recipient, now=node.clock.now())


def _check_peer(uow: UnitOfWork, node_id: str, requested_state: str) -> Peer:
    peer = find_peer(uow, node_id, "peer")
    if peer.entry.state != requested_state:
        raise ValidationFailed(
            [Issue("peer", f"node {node_id} serves {peer.entry.state}, not the requested State {requested_state}")]
        )
    return peer


def _preflight_saved(node: Node, uow: UnitOfWork, request: Request, rtype: RequestType, now: datetime) -> Preflight:
    """The preflight of a saved outgoing draft (see ``Preflight``), inside the caller's transaction."""
    basis = basis_finding(
        node, uow, request.instrument, request.requesting_state, request.requested_state, on=now.date()
    )
    route = _route(
        node,
        uow,
        rtype,
        requested=request.requested_state,
        follows_up=request.follows_up,
        emergency=request.emergency,
        chosen=request.peer,
    )
    return Preflight(tuple(_completeness(node, uow, request)), basis, route)


def _ready_to_send(node: Node, uow: UnitOfWork, request: Request, rtype: RequestType, now: datetime) -> str:
    """The preflight of a saved draft at the moment it is sent, in the transaction that sends it: contents (422),
    the legal basis under its instrument (409), the node that will carry it (409). Returns that node."""
    checked = _preflight_saved(node, uow, request, rtype, now)
    if checked.issues:
        raise ValidationFailed(checked.issues)
    if checked.basis is not None and not checked.basis.holds:
        raise NoLegalBasis(checked.basis.sentence())
    if checked.route is None or checked.route.peer is None:
        raise Conflict(f"not sent: {checked.route.reason if checked.route else 'no route'}")
    return checked.route.peer


def _route(
    node: Node,
    uow: UnitOfWork,
    rtype: RequestType,
    *,
    requested: str,
    follows_up: str | None,
    emergency: bool,
    chosen: str | None,
) -> Route:
    """The node a request goes to: the one chosen for it; else the one holding the request it follows up; else,
    among the requested State's active nodes, its 24/7 point of contact for 24/7 business (emergencies,
    preservation: the pack's channel) and its central authority otherwise; else any of its nodes. With none, the
    reason names what is missing (the request is never reported as sent when nothing can carry it)."""
    if node.identity is None:
        return Route(None, "this node has no network identity (keys), so no node can carry the request")
    if chosen is not None:
        if _active(uow, chosen):
            return Route(chosen)
        return Route(None, f"node {chosen}, chosen for this request, is not an active node in the directory")
    if follows_up is not None:
        earlier = uow.requests.get(follows_up)
        if earlier is not None and earlier.peer is not None and _active(uow, earlier.peer):
            return Route(earlier.peer)
    candidates = [p for p in uow.peers.list() if p.entry.state == requested and p.status is EntryStatus.ACTIVE]
    wanted = (
        NodeRole.POINT_OF_CONTACT
        if rtype.channel is Channel.POINT_OF_CONTACT or emergency
        else NodeRole.CENTRAL_AUTHORITY
    )
    ranked = [
        p
        for role in (wanted, NodeRole.CENTRAL_AUTHORITY, NodeRole.POINT_OF_CONTACT)
        for p in candidates
        if role in p.entry.roles
    ]
    if ranked or candidates:
        return Route((ranked or candidates)[0].entry.node_id)
    name = node.catalog.name(requested) if node.catalog.is_known(requested) else requested
    return Route(
        None,
        f"no active node of {requested} ({name}) is in this node's directory, so nothing can carry the request "
        f"to its {'24/7 point of contact' if wanted is NodeRole.POINT_OF_CONTACT else 'central authority'}: "
        "import that State's signed directory entry (hanoinet directory import FILE); requests by e-mail "
        "or through the diplomatic channel are not supported yet",
    )


def _active(uow: UnitOfWork, node_id: str) -> bool:
    peer = uow.peers.get(node_id)
    return peer is not None and peer.status is EntryStatus.ACTIVE


def document_body(uow: UnitOfWork, request: Request, actor: str) -> dict[str, Any]:
    """What a request message carries: the request as sent and the case it is made for (what scope turns on).
    The same data, signed, is attached to the request's formal document, so a node reading either gets the same."""
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
            "language": request.language,
            "translations": dict(request.translations),
            "confidential": request.confidential,
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


@dataclass(frozen=True, slots=True)
class FormalRequest:
    """What a formal request document is made of: the request, its type's rules and case, the data a node reads
    back (``document_body``), the legal basis on the day, and the languages the requested State accepts."""

    request: Request
    rtype: RequestType
    case: Case
    body: dict[str, Any]
    basis: BasisFinding
    issues: tuple[Issue, ...]
    """What is missing from the contents (each with its article); a document is refused while any remains."""
    counterpart_languages: tuple[str, ...]
    """The requested State's acceptable languages (Art 40): as it declared them under the request's instrument, then
    as its nodes' signed directory entries give them."""


def formal_request(node: Node, request_id: str, *, actor: str) -> FormalRequest:
    """Everything a formal document of an outgoing request needs, read in one transaction."""
    now = node.clock.now()
    with node.uow() as uow:
        request = _load(uow, request_id)
        if request.direction is not Direction.OUTGOING:
            raise Conflict(
                f"request {request_id} was made by {request.requesting_state}: a formal request document is the "
                "requesting State's to issue"
            )
        rtype = request_type(node.pack(request.instrument), request.type)
        case = _find_case(uow, request.case_id)
        basis = basis_finding(
            node, uow, request.instrument, request.requesting_state, request.requested_state, on=now.date()
        )
        languages = _accepted_languages(uow, request.requested_state, request.instrument)
        return FormalRequest(
            request=request,
            rtype=rtype,
            case=case,
            body=document_body(uow, request, actor),
            basis=basis,
            issues=tuple(_completeness(node, uow, request)),
            counterpart_languages=languages,
        )


def _accepted_languages(uow: UnitOfWork, state: str, instrument: str | None) -> tuple[str, ...]:
    declared = declared_languages(uow, state, instrument)
    entries = [
        lang
        for p in uow.peers.list()
        if p.entry.state == state and p.status is EntryStatus.ACTIVE
        for lang in p.entry.languages
    ]
    return tuple(dict.fromkeys([*declared, *entries]))


def accepted_languages(node: Node, state: str, instrument: str | None = None) -> tuple[str, ...]:
    """The languages a State accepts requests in (Art 40): those it declared (under ``instrument``, or any when
    None), an operator having imported its declarations, then those its nodes' signed directory entries give;
    empty when neither is known here."""
    with node.uow() as uow:
        return _accepted_languages(uow, state, instrument)


def inbox(node: Node, query: InboxQuery) -> Sequence[RequestSummary]:
    """Return the requests matching the query."""
    with node.uow() as uow:
        return uow.requests.inbox(query)


SHORT_ID = 8
"""The fewest characters of an id the command line shows; more where another id starts the same way."""

MIN_PREFIX = 4
"""The fewest characters of an id the command line accepts for one (fewer would match by accident)."""


def resolve_request_id(node: Node, given: str) -> str:
    """The id of the one request whose id is ``given`` or starts with it, so that an operator can type the short
    id ``request list`` shows; raise NotFound if none does, ValidationFailed naming the candidates if several do."""
    with node.uow() as uow:
        if uow.requests.get(given) is not None:
            return given
        if len(given) < MIN_PREFIX:
            raise NotFound(f"no request {given!r} (a shortened id needs at least {MIN_PREFIX} characters)")
        found = uow.requests.ids_starting_with([given], 6)
    if not found:
        raise NotFound(f"no request {given!r}")
    if len(found) > 1:
        shown = ", ".join(found[:5]) + (", ..." if len(found) > 5 else "")
        raise ValidationFailed([Issue("request_id", f"{given!r} is the start of several requests' ids: {shown}")])
    return found[0]


def short_ids(node: Node, ids: Sequence[str]) -> dict[str, str]:
    """Each id's shortest start, of ``SHORT_ID`` characters or more, that no other request's id shares — what
    ``resolve_request_id`` takes back — looked up in one query."""
    heads = {i[:SHORT_ID] for i in ids}
    with node.uow() as uow:
        near = uow.requests.ids_starting_with(heads, MAX_ROWS) if heads else []
    shortest: dict[str, str] = {}
    for one in ids:
        others = [o for o in near if o != one and o[:SHORT_ID] == one[:SHORT_ID]]
        length = SHORT_ID
        while length < len(one) and any(o.startswith(one[:length]) for o in others):
            length += 1
        shortest[one] = one[:length]
    return shortest


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
    summary, qualification = _text(data, "summary"), str(data.get("legal_qualification", ""))
    for name, text, limit in (
        ("summary", summary, MAX_SUMMARY),
        ("legal_qualification", qualification, MAX_QUALIFICATION),
    ):
        if len(text) > limit:  # the same limits as a case opened here: refused with the reason, never cut short
            raise MessageRefused(f"case.{name} is longer than {limit:,} characters")
    penalty = data.get("max_penalty_years")
    case = Case(
        id=case_id,
        reference=reference,
        offence=_text(data, "offence"),
        max_penalty_years=penalty if isinstance(penalty, int) and not isinstance(penalty, bool) else None,
        summary=summary,
        legal_qualification=qualification,
        created_at=now,
    )
    uow.cases.add(case)
    return case


def _parse_received(
    node: Node, uow: UnitOfWork, peer: Peer, message: Message, now: datetime
) -> tuple[Request, RulePack, RequestType, Mapping[str, Any]]:
    """Check a request message against this node's packs and records; nothing is written."""
    request, pack, rtype, case_data = _parse_document(
        node, uow, message.body, sender=peer.entry.node_id, sender_state=peer.entry.state, now=now
    )
    if request.id != message.request_id:
        raise MessageRefused("the request's id differs from the message's")
    request.peer, request.means = peer.entry.node_id, Means.NETWORK
    return request, pack, rtype, case_data


def _parse_document(
    node: Node, uow: UnitOfWork, body: Mapping[str, Any], *, sender: str, sender_state: str, now: datetime
) -> tuple[Request, RulePack, RequestType, Mapping[str, Any]]:
    """Check a request's signed data (a message's body, or a formal document's attachment: the same shape,
    ``document_body``) from the node ``sender`` of ``sender_state``; nothing is written."""
    data, case_data = body.get("request"), body.get("case")
    if not isinstance(data, dict) or not isinstance(case_data, dict):
        raise MessageRefused("a request message carries a request and its case")
    request_id = _text(data, "id")
    requesting, requested = _text(data, "requesting_state").upper(), _text(data, "requested_state").upper()
    if requesting != sender_state:
        raise MessageRefused(f"node {sender} serves {sender_state}, not the requesting State {requesting}")
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
    translations = data.get("translations") or {}
    if not isinstance(translations, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in translations.items()
    ):
        raise MessageRefused("the request's translations must be text")
    request = Request(
        id=request_id,
        case_id=_text(case_data, "id"),
        instrument=instrument,
        type=rtype.key,
        direction=Direction.INCOMING,
        requesting_state=requesting,
        requested_state=requested,
        items=dict(items),
        emergency=is_emergency(rtype, bool(data.get("emergency"))),
        deadline=deadline,
        follows_up=follows_up,
        state=RequestState.RECEIVED,
        created_at=now,
        language=str(data.get("language") or "")[:16],
        translations=dict(translations),
        confidential=data.get("confidential") is True,
    )
    return request, pack, rtype, case_data


def _basis_finding(node: Node, uow: UnitOfWork, request: Request, now: datetime) -> dict[str, Any]:
    """Whether the request's instrument binds both States today by this node's treaty records."""
    finding = basis_finding(
        node, uow, request.instrument, request.requesting_state, request.requested_state, on=now.date()
    )
    basis: dict[str, Any] = {
        "instrument": request.instrument,
        "binds_both": finding.holds,
        "on": finding.on.isoformat(),
    }
    if not finding.holds:
        basis["finding"] = f"by this node's treaty records {finding.sentence()}"
    return basis


def receive_request(node: Node, uow: UnitOfWork, peer: Peer, message: Message) -> None:
    """Register a request another node sent: its clocks start now. Both sides check the legal basis: a request no
    instrument binds (by this node's treaty records) is still registered, with that finding in its history, for the
    requested State to decide on (refusal for non-conformity, Art 40)."""
    now = node.clock.now()
    request, pack, rtype, case_data = _parse_received(node, uow, peer, message, now)
    data: dict[str, Any] = {
        "from_node": peer.entry.node_id,
        "message": message.id,
        "sent_at": message.created_at.isoformat(),
        "sent_by": str(message.body.get("sent_by", ""))[:256],
    }
    actor = f"{peer.entry.authority} ({peer.entry.state})"[:128]
    parsed = (request, pack, rtype, case_data)
    _register_received(node, uow, parsed, data, actor=actor, via=peer.entry.node_id, now=now)


Parsed = tuple[Request, RulePack, RequestType, Mapping[str, Any]]
"""A received request checked by ``_parse_document``: the request, its pack and type, the case it came with."""


def _register_received(
    node: Node,
    uow: UnitOfWork,
    parsed: Parsed,
    data: dict[str, Any],
    *,
    actor: str,
    via: str | None,
    now: datetime,
) -> list[Clock]:
    """Register a checked received request (``_parse_document``): its case mirrored, the legal basis and any
    missing item recorded in its RECEIVED event, its clocks started now. ``via`` is the node a follow-up must have
    come through (None: off the network, where it is matched by id)."""
    request, pack, rtype, case_data = parsed
    case = _mirror_case(node, uow, case_data, request.requesting_state, now)
    earlier = uow.requests.get(request.follows_up) if request.follows_up else None
    data["legal_basis"] = _basis_finding(node, uow, request, now)
    if request.follows_up and (earlier is None or earlier.peer != via):
        data["follows_up_unknown"] = request.follows_up
        request.follows_up, earlier = None, None
    issues = _contents(pack, rtype, request, case, deadline=None, now=now)
    if issues:
        data["issues"] = [str(i) for i in issues]
    request.events.append(RequestEvent(1, EventKind.RECEIVED, now, actor, None, RequestState.RECEIVED, data))
    clocks = derive_clocks(request, rtype)
    due = next_due(clocks)
    uow.requests.add(request, due.due_at if due else None, due.name if due else None)
    _refresh_followed(node, uow, request)
    return clocks


def register_document(
    node: Node,
    body: Mapping[str, Any],
    *,
    signer_node: str,
    signer_state: str,
    means: Means,
    sender: str,
    record: Mapping[str, str],
    actor: str,
) -> RequestView:
    """Register a request received off the network as a formal document whose embedded data was verified (by
    its signer's key): every item exactly as the requesting State wrote it, its case mirrored, the same state
    machine and clocks as a request received from a node — but answered off the network (no node to reply to)."""
    now = node.clock.now()
    with node.uow() as uow:
        try:
            request, pack, rtype, case_data = _parse_document(
                node, uow, body, sender=signer_node, sender_state=signer_state, now=now
            )
        except MessageRefused as refused:
            raise ValidationFailed([Issue("document", str(refused))]) from None
        request.means = means
        data: dict[str, Any] = {
            "via": means.value,
            "from": sender[:256],
            "signed_by_node": signer_node,
            "sent_by": str(body.get("sent_by", ""))[:256],
            **check_record(record),
        }
        parsed = (request, pack, rtype, case_data)
        clocks = _register_received(node, uow, parsed, data, actor=actor, via=None, now=now)
        _commit(uow, request)
    return _view(request, rtype, clocks, ())


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
        reserved=None,  # the requested State's own refusal: its reservations are its to invoke
    )
    event.data.update(
        {"from_node": peer.entry.node_id, "message": message.id, "acted_at": message.created_at.isoformat()}
    )
    _save(node, uow, request, rtype)
