"""Requests of Chapter V: an aggregate with a closed state machine, driven by the rule pack of its instrument.

The state machine is closed: every action names the states it may start from and the state it leads to; anything
else raises ``IllegalTransition``. Every change is an event, and the events are the request's history, from which
its clocks are derived (``domain.clocks``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from hanoinet.cases.domain import Case
from hanoinet.platform.direction import Direction as Direction  # noqa: PLC0414 - re-exported for requests
from hanoinet.platform.errors import N_, IllegalTransition, Issue, ValidationFailed
from hanoinet.platform.language_tags import is_language_tag
from hanoinet.rules.domain import OTHER_SERIOUS_CRIME, RequestType, RulePack, Workflow

MAX_ITEM_LENGTH = 20_000
MAX_NOTE_LENGTH = 20_000
"""Lengths checked here, so that the API, the web, the CLI and a peer's messages have the same limits."""


class RequestState(StrEnum):
    """Where a request stands."""

    DRAFT = "draft"
    SENT = "sent"
    RECEIVED = "received"
    ACKNOWLEDGED = "acknowledged"
    MORE_INFORMATION_REQUESTED = "more_information_requested"
    POSTPONED = "postponed"
    IN_EXECUTION = "in_execution"
    PRESERVED = "preserved"
    EXECUTED = "executed"
    RELEASED = "released"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"
    CLOSED = "closed"


S = RequestState
OPEN_STATES = frozenset(
    {
        S.SENT,
        S.RECEIVED,
        S.ACKNOWLEDGED,
        S.MORE_INFORMATION_REQUESTED,
        S.POSTPONED,
        S.IN_EXECUTION,
        S.PRESERVED,
    }
)
"""States in which the requested State still owes something: clocks run only here (and in drafts, never)."""

DECIDED_STATES = frozenset({S.EXECUTED, S.RELEASED, S.REFUSED, S.WITHDRAWN, S.CLOSED})
"""States in which the request has been decided; a follow-up in one of these no longer holds a preservation."""


class Means(StrEnum):
    """How a request went to the requested State (Art 40: any means producing a written record; diplomatic
    channels or INTERPOL in urgent cases; urgent oral requests confirmed in writing promptly)."""

    NETWORK = "network"  # a signed message to the other State's node, receipted
    EMAIL = "email"
    DIPLOMATIC = "diplomatic"
    INTERPOL = "interpol"
    COURIER = "courier"
    TELEPHONE = "telephone"  # an urgent oral request: its written confirmation has a clock


OFF_NETWORK = frozenset(Means) - {Means.NETWORK}
"""Means by which a request leaves the node only as a document: nothing tells the node it arrived, so nothing
sent by them is ever shown as delivered."""


class Action(StrEnum):
    """What a user (or, later, the other node) does to a request."""

    SEND = "send"
    ACKNOWLEDGE = "acknowledge"
    REQUEST_INFORMATION = "request_information"
    PROVIDE_INFORMATION = "provide_information"
    POSTPONE = "postpone"
    RESUME = "resume"
    BEGIN_EXECUTION = "begin_execution"
    PRESERVE = "preserve"
    EXTEND = "extend"
    RELEASE = "release"
    EXECUTE = "execute"
    REFUSE = "refuse"
    WITHDRAW = "withdraw"
    CLOSE = "close"
    CONFIRM_IN_WRITING = "confirm_in_writing"  # an oral request's written confirmation, sent off the network


class RequestSide(StrEnum):
    """Which State takes an action on a request."""

    REQUESTING = "requesting"
    REQUESTED = "requested"
    EITHER = "either"  # bookkeeping of one's own file: never sent to the other node


ACTION_SIDES: dict[Action, RequestSide] = {
    Action.SEND: RequestSide.REQUESTING,
    Action.PROVIDE_INFORMATION: RequestSide.REQUESTING,
    Action.WITHDRAW: RequestSide.REQUESTING,
    Action.ACKNOWLEDGE: RequestSide.REQUESTED,
    Action.REQUEST_INFORMATION: RequestSide.REQUESTED,
    Action.POSTPONE: RequestSide.REQUESTED,
    Action.RESUME: RequestSide.REQUESTED,
    Action.BEGIN_EXECUTION: RequestSide.REQUESTED,
    Action.PRESERVE: RequestSide.REQUESTED,
    Action.EXTEND: RequestSide.REQUESTED,
    Action.RELEASE: RequestSide.REQUESTED,
    Action.EXECUTE: RequestSide.REQUESTED,
    Action.REFUSE: RequestSide.REQUESTED,
    Action.CLOSE: RequestSide.EITHER,
    Action.CONFIRM_IN_WRITING: RequestSide.EITHER,  # an oral request's confirmation: recorded, never a message
}
"""Who acts: Art 40 puts execution, postponement and refusal (with reasons) on the requested State, and sending,
answering requests for information and withdrawing on the requesting one. Closing a file is each side's own."""


def own_side(direction: Direction) -> RequestSide:
    """The side this node is on for a request of this direction."""
    return RequestSide.REQUESTING if direction is Direction.OUTGOING else RequestSide.REQUESTED


def is_shared(action: Action) -> bool:
    """True if the other node must learn of this action (everything but one's own bookkeeping)."""
    return ACTION_SIDES[action] is not RequestSide.EITHER


def check_local_action(direction: Direction, action: Action, peer: str | None) -> str | None:
    """Return why this node may not take ``action`` itself on a request exchanged with ``peer``, or None if it may.

    Requests exchanged with another node mirror that node's decisions: the other side's actions arrive as signed
    messages and are never typed in here. Requests handled outside the network (``peer`` None) may record what the
    other State did by other means.
    """
    side = ACTION_SIDES[action]
    if peer is None or side in (RequestSide.EITHER, own_side(direction)):
        return None
    who = "requested" if side is RequestSide.REQUESTED else "requesting"
    return (
        f"{action.value} is for the {who} State to do; on this request it arrives from node {peer} as a signed message"
    )


def check_remote_action(direction: Direction, action: Action) -> str | None:
    """Return why a peer may not send us ``action`` on a request of this direction (ours), or None if it may."""
    side = ACTION_SIDES.get(action)
    if side is None or side is RequestSide.EITHER:
        return f"{action.value} is not sent between nodes"
    if side is own_side(direction):
        return f"{action.value} is this State's to take, not the other node's"
    return None


class EventKind(StrEnum):
    """What happened; past tense, one per action plus the request's creation."""

    CREATED = "created"
    RECEIVED = "received"
    AMENDED = "amended"
    SENT = "sent"
    ACKNOWLEDGED = "acknowledged"
    INFORMATION_REQUESTED = "information_requested"
    INFORMATION_PROVIDED = "information_provided"
    POSTPONED = "postponed"
    RESUMED = "resumed"
    EXECUTION_BEGUN = "execution_begun"
    PRESERVED = "preserved"
    EXTENDED = "extended"
    RELEASED = "released"
    EXECUTED = "executed"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"
    CLOSED = "closed"
    CONFIRMED_IN_WRITING = "confirmed_in_writing"


@dataclass(frozen=True, slots=True)
class Transition:
    """One edge of the state machine: the states an action may start from and the state it leads to."""

    sources: frozenset[RequestState]
    target: RequestState | None  # None: the state does not change (an extension)
    event: EventKind


_ANSWERABLE = frozenset({S.RECEIVED, S.SENT, S.ACKNOWLEDGED, S.IN_EXECUTION})
_WITHDRAWABLE = OPEN_STATES | {S.DRAFT}
_REFUSABLE = frozenset({S.SENT, S.RECEIVED, S.ACKNOWLEDGED, S.MORE_INFORMATION_REQUESTED, S.POSTPONED, S.IN_EXECUTION})

_COMMON: dict[Action, Transition] = {
    Action.SEND: Transition(frozenset({S.DRAFT}), S.SENT, EventKind.SENT),
    Action.ACKNOWLEDGE: Transition(frozenset({S.SENT, S.RECEIVED}), S.ACKNOWLEDGED, EventKind.ACKNOWLEDGED),
    Action.WITHDRAW: Transition(_WITHDRAWABLE, S.WITHDRAWN, EventKind.WITHDRAWN),
    Action.CONFIRM_IN_WRITING: Transition(OPEN_STATES, None, EventKind.CONFIRMED_IN_WRITING),
}
_REQUEST: dict[Action, Transition] = {
    Action.REQUEST_INFORMATION: Transition(
        _ANSWERABLE | {S.POSTPONED}, S.MORE_INFORMATION_REQUESTED, EventKind.INFORMATION_REQUESTED
    ),
    Action.PROVIDE_INFORMATION: Transition(
        frozenset({S.MORE_INFORMATION_REQUESTED}), S.ACKNOWLEDGED, EventKind.INFORMATION_PROVIDED
    ),
    Action.REFUSE: Transition(_REFUSABLE, S.REFUSED, EventKind.REFUSED),
}
TRANSITIONS: dict[Workflow, dict[Action, Transition]] = {
    Workflow.STANDARD: {
        **_COMMON,
        **_REQUEST,
        Action.POSTPONE: Transition(frozenset({S.ACKNOWLEDGED, S.IN_EXECUTION}), S.POSTPONED, EventKind.POSTPONED),
        Action.RESUME: Transition(frozenset({S.POSTPONED}), S.IN_EXECUTION, EventKind.RESUMED),
        Action.BEGIN_EXECUTION: Transition(frozenset({S.ACKNOWLEDGED}), S.IN_EXECUTION, EventKind.EXECUTION_BEGUN),
        Action.EXECUTE: Transition(frozenset({S.ACKNOWLEDGED, S.IN_EXECUTION}), S.EXECUTED, EventKind.EXECUTED),
        Action.CLOSE: Transition(frozenset({S.EXECUTED, S.REFUSED, S.WITHDRAWN}), S.CLOSED, EventKind.CLOSED),
    },
    Workflow.PRESERVATION: {
        **_COMMON,
        **_REQUEST,
        Action.PRESERVE: Transition(frozenset({S.RECEIVED, S.ACKNOWLEDGED}), S.PRESERVED, EventKind.PRESERVED),
        Action.EXTEND: Transition(frozenset({S.PRESERVED}), None, EventKind.EXTENDED),
        Action.RELEASE: Transition(frozenset({S.PRESERVED}), S.RELEASED, EventKind.RELEASED),
        Action.CLOSE: Transition(frozenset({S.RELEASED, S.REFUSED, S.WITHDRAWN}), S.CLOSED, EventKind.CLOSED),
    },
    Workflow.NOTIFICATION: {
        **_COMMON,
        Action.CLOSE: Transition(frozenset({S.ACKNOWLEDGED, S.WITHDRAWN}), S.CLOSED, EventKind.CLOSED),
    },
}


@dataclass(frozen=True, slots=True)
class RequestEvent:
    """One entry of a request's history."""

    seq: int
    kind: EventKind
    at: datetime
    actor: str
    state_from: RequestState | None
    state_to: RequestState
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Request:
    """A request of Chapter V between two States, under one instrument, for one case."""

    id: str
    case_id: str
    instrument: str
    type: str
    direction: Direction
    requesting_state: str
    requested_state: str
    items: dict[str, str]
    emergency: bool
    deadline: datetime | None
    follows_up: str | None
    state: RequestState
    created_at: datetime
    events: list[RequestEvent] = field(default_factory=list)
    version: int = 0
    peer: str | None = None
    """The node this request is exchanged with (None: handled outside the network, by other means)."""
    language: str = ""
    """The language its items are written in (a UI language code); "" where it was not recorded."""
    translations: dict[str, str] = field(default_factory=dict)
    """Item by item, a translation into the requested State's language, for its formal document (Art 40: a
    language acceptable to the requested State); an item without one is printed as written."""
    confidential: bool = False
    """The requesting State asks that the fact and substance of the request be kept confidential (Art 40)."""
    means: Means | None = None
    """How it went to the requested State (None until it went): the network, or a means off it."""

    @property
    def counterpart_state(self) -> str:
        """The other State: the one this node's inbox files the request under."""
        return self.requested_state if self.direction is Direction.OUTGOING else self.requesting_state

    def last_event(self, *kinds: EventKind) -> RequestEvent | None:
        """Return the most recent event of one of these kinds, or None."""
        return next((e for e in reversed(self.events) if e.kind in kinds), None)

    def allowed_actions(self, rtype: RequestType) -> list[Action]:
        """Return the actions the state machine allows now, in a stable order (for UIs and error messages)."""
        table = TRANSITIONS[rtype.workflow]
        return [
            a
            for a in Action
            if a in table
            and self.state in table[a].sources
            and (a is not Action.CONFIRM_IN_WRITING or self.means is Means.TELEPHONE)
        ]

    def _record(
        self, kind: EventKind, at: datetime, actor: str, to: RequestState, data: dict[str, Any]
    ) -> RequestEvent:
        event = RequestEvent(len(self.events) + 1, kind, at, actor, self.state if self.events else None, to, data)
        self.events.append(event)
        self.state = to
        return event

    def apply(
        self,
        action: Action,
        pack: RulePack,
        *,
        at: datetime,
        actor: str,
        grounds: tuple[str, ...] = (),
        note: str = "",
        record: Mapping[str, Any] | None = None,
        reserved: frozenset[str] | None = frozenset(),
    ) -> RequestEvent:
        """Carry out an action: check it is allowed now and its data is lawful, then record the event.

        ``record`` is what the event keeps of how it happened off the network (``RECORD_FIELDS``: by which means,
        to or from whom, the document kept in the vault)."""
        transition, data = self.check(action, pack, grounds=grounds, note=note, record=record, reserved=reserved)
        return self._record(transition.event, at, actor, transition.target or self.state, data)

    def check(
        self,
        action: Action,
        pack: RulePack,
        *,
        grounds: tuple[str, ...] = (),
        note: str = "",
        record: Mapping[str, Any] | None = None,
        reserved: frozenset[str] | None = frozenset(),
    ) -> tuple[Transition, dict[str, Any]]:
        """Whether ``action`` may be taken now with this data — the checks of ``apply``, recording nothing (so that
        a caller keeps a document for the event only once the event can happen). Returns the edge and the event's
        data; raises IllegalTransition or ValidationFailed."""
        rtype = request_type(pack, self.type)
        table = TRANSITIONS[rtype.workflow]
        transition = table.get(action)
        if transition is None:
            raise IllegalTransition(
                f"{action.value} does not apply to {rtype.label.lower()} requests ({rtype.citation})"
            )
        if self.state not in transition.sources:
            allowed = ", ".join(a.value for a in self.allowed_actions(rtype)) or "none"
            raise IllegalTransition(
                f"cannot {action.value} a request that is {self.state.value}; allowed now: {allowed}"
            )
        if len(note) > MAX_NOTE_LENGTH:
            raise ValidationFailed(
                [Issue.of("note", N_("is longer than %(limit)s characters"), limit=f"{MAX_NOTE_LENGTH:,}")]
            )
        if action is Action.CONFIRM_IN_WRITING and self.means is not Means.TELEPHONE:
            raise IllegalTransition("only a request made by telephone is confirmed in writing")
        data: dict[str, Any] = dict(check_record(record or {}))
        if note:
            data["note"] = note
        if action is Action.REFUSE:
            data["grounds"] = list(check_refusal_grounds(rtype, grounds, pack, reserved))
        elif grounds:
            raise ValidationFailed([Issue("grounds", f"grounds are given only when refusing, not to {action.value}")])
        if action in (Action.POSTPONE, Action.REQUEST_INFORMATION, Action.PROVIDE_INFORMATION) and not note.strip():
            raise ValidationFailed(
                [Issue("note", f"{action.value.replace('_', ' ')} needs a note saying what and why")]
            )
        if action is Action.EXTEND:
            extension = next((c.extension for c in rtype.clocks if c.extension is not None), None)
            if extension is None:
                raise IllegalTransition(f"{rtype.label} under this instrument cannot be extended")
            data["extension"] = str(extension)
        return transition, data

    def amend(
        self,
        changes: Mapping[str, str | None],
        *,
        at: datetime,
        actor: str,
        translations: Mapping[str, str | None] | None = None,
    ) -> RequestEvent:
        """Change the contents of a draft, item by item: a value sets the item, an empty value or None removes it,
        and items not named stay (the meaning of a JSON merge patch, RFC 7396, at every entry point); the items'
        translations change the same way. Once sent, contents change only through information provided."""
        if self.state is not RequestState.DRAFT:
            raise IllegalTransition(f"only a draft can be amended; this request is {self.state.value}")
        items, translated = _merged(self.items, changes), _merged(self.translations, translations or {})
        changed = sorted(k for k in set(items) | set(self.items) if items.get(k) != self.items.get(k))
        retranslated = sorted(
            k for k in set(translated) | set(self.translations) if translated.get(k) != self.translations.get(k)
        )
        self.items, self.translations = items, translated
        data: dict[str, Any] = {"changed": changed}
        if retranslated:
            data["translations_changed"] = retranslated
        return self._record(EventKind.AMENDED, at, actor, self.state, data)


def _merged(current: Mapping[str, str], changes: Mapping[str, str | None]) -> dict[str, str]:
    """``current`` with ``changes`` applied as a merge patch: a text sets its key, an empty one or None removes it."""
    merged = dict(current)
    for key, value in changes.items():
        text = (value or "").strip()
        if text:
            merged[key] = text
        else:
            merged.pop(key, None)
    return merged


def check_language_and_translations(rtype: RequestType, language: str, translations: Mapping[str, str]) -> list[Issue]:
    """Problems with a request's language and its items' translations: a tag that is not BCP 47, a translation of
    an item the type does not have, or one too long."""
    issues: list[Issue] = []
    if language and not is_language_tag(language):
        issues.append(
            Issue.of("language", N_("%(tag)s is not a language tag (BCP 47: fr, ar, zh-Hans, vi)"), tag=repr(language))
        )
    for key, value in translations.items():
        if rtype.item(key) is None:
            known = ", ".join(i.key for i in rtype.required_items)
            issues.append(
                Issue.of(
                    f"translations.{key}", N_("is not an item of this request type; items: %(items)s"), items=known
                )
            )
        elif len(value) > MAX_ITEM_LENGTH:
            issues.append(
                Issue.of(f"translations.{key}", N_("is longer than %(limit)s characters"), limit=f"{MAX_ITEM_LENGTH:,}")
            )
    return issues


RECORD_FIELDS = {
    "means": 32,
    "to": 256,
    "from": 256,
    "document": 36,
    "sha256": 64,
    "file_name": 256,
}
"""What an event may keep of an exchange off the network, each a text of at most this many characters."""


def check_record(record: Mapping[str, Any]) -> dict[str, str]:
    """The record of an off-network exchange, checked: known fields, text, within their lengths."""
    issues = []
    for key, value in record.items():
        limit = RECORD_FIELDS.get(key)
        if limit is None:
            issues.append(Issue(key, f"is not recorded with an action; recorded: {', '.join(RECORD_FIELDS)}"))
        elif not isinstance(value, str) or len(value) > limit:
            issues.append(Issue(key, f"must be text of at most {limit} characters"))
    if issues:
        raise ValidationFailed(issues)
    return {k: str(v) for k, v in record.items() if v}


def request_type(pack: RulePack, key: str) -> RequestType:
    """Return the pack's request type with this key; raise ValidationFailed naming the field if there is none."""
    rtype = pack.request_type(key)
    if rtype is None:
        known = ", ".join(t.key for t in pack.request_types)
        raise ValidationFailed([Issue("type", f"the {pack.short_title} provides no {key!r} request; types: {known}")])
    return rtype


def check_refusal_grounds(
    rtype: RequestType,
    grounds: tuple[str, ...],
    pack: RulePack | None = None,
    reserved: frozenset[str] | None = frozenset(),
) -> tuple[str, ...]:
    """Return the grounds if the instrument allows every one of them for this type; raise ValidationFailed if not.

    Refusal must give reasons (Art 40): at least one ground, each one the pack allows for this request type, or a
    reservation of the pack for this type that the requested State made (``reserved``, from its declarations; None
    when the requested State is another node, whose word is recorded as it gave it).
    """
    if not grounds:
        allowed = ", ".join(g.key for g in rtype.refusal_grounds) or "none: this type cannot be refused"
        raise ValidationFailed(
            [Issue("grounds", f"a refusal must state its grounds; allowed: {allowed}", str(rtype.citation))]
        )
    issues = []
    for index, key in enumerate(grounds):
        reservation = pack.reservation(key) if pack is not None else None
        if reservation is not None and rtype.key in reservation.ground_for and rtype.ground(key) is None:
            if reserved is None or key in reserved:
                continue
            issues.append(
                Issue(
                    f"grounds[{index}]",
                    f"{key!r} is a ground only for a State that made the reservation of {reservation.citation}; "
                    "no such reservation of the requested State is recorded here (hanoinet treaty declarations)",
                    str(reservation.citation),
                )
            )
        elif rtype.ground(key) is None:
            allowed = ", ".join(g.key for g in rtype.refusal_grounds) or "none"
            never = pack is not None and key in pack.never_grounds
            reason = "is never a ground for refusal" if never else "is not a ground for refusal of this type"
            issues.append(Issue(f"grounds[{index}]", f"{key!r} {reason}; allowed: {allowed}", str(rtype.citation)))
    if issues:
        raise ValidationFailed(issues)
    return tuple(dict.fromkeys(grounds))


def check_contents(
    pack: RulePack,
    rtype: RequestType,
    *,
    items: dict[str, str],
    case: Case,
    emergency: bool,
    requesting_state: str,
    requested_state: str,
    deadline: datetime | None,
    now: datetime,
    language: str = "",
    translations: Mapping[str, str] | None = None,
) -> list[Issue]:
    """Return every problem with a request's contents, each citing the article that requires the item."""
    issues: list[Issue] = []
    for item in rtype.required_items:
        if item.required and not items.get(item.key, "").strip():
            issues.append(
                Issue.of(f"items.{item.key}", N_("%(label)s is missing"), str(item.citation), label=item.label)
            )
    for key, value in items.items():
        if rtype.item(key) is None:
            known = ", ".join(i.key for i in rtype.required_items)
            issues.append(
                Issue.of(f"items.{key}", N_("is not an item of this request type; items: %(items)s"), items=known)
            )
        elif len(value) > MAX_ITEM_LENGTH:
            issues.append(
                Issue.of(f"items.{key}", N_("is longer than %(limit)s characters"), limit=f"{MAX_ITEM_LENGTH:,}")
            )
    if emergency and not rtype.emergency_allowed:
        issues.append(
            Issue.of(
                "emergency",
                N_("%(type)s requests cannot be flagged as emergencies"),
                str(rtype.citation),
                type=rtype.label,
            )
        )
    if requesting_state == requested_state:
        issues.append(Issue.of("requested_state", N_("must differ from the requesting State")))
    if deadline is not None and deadline.tzinfo is None:
        issues.append(
            Issue.of("deadline", N_("must carry a time zone (ISO 8601 with offset, e.g. 2026-12-01T12:00:00Z)"))
        )
    elif deadline is not None and deadline <= now:
        issues.append(Issue.of("deadline", N_("is in the past")))
    issues.extend(check_language_and_translations(rtype, language, translations or {}))
    issues.extend(check_scope(pack, rtype, case))
    return issues


def check_scope(pack: RulePack, rtype: RequestType, case: Case) -> list[Issue]:
    """Return problems with the case's offence for this instrument and type (Art 35 scope, Art 37 penalty)."""
    issues: list[Issue] = []
    in_catalogue = pack.offence(case.offence) is not None
    if not in_catalogue and rtype.convention_offences_only:
        issues.append(
            Issue.of(
                "case.offence",
                N_("%(type)s under the %(instrument)s is only for the offences it establishes, not %(offence)s"),
                str(rtype.dual_criminality_citation or rtype.citation),
                type=rtype.label,
                instrument=pack.short_title,
                offence=repr(case.offence),
            )
        )
        return issues
    if not in_catalogue:
        minimum = pack.serious_crime_min_years
        citation = str(pack.serious_crime_citation) if pack.serious_crime_citation else None
        if case.offence != OTHER_SERIOUS_CRIME and minimum is None:
            issues.append(
                Issue.of(
                    "case.offence",
                    N_("%(offence)s is not an offence established by the %(instrument)s"),
                    offence=repr(case.offence),
                    instrument=pack.short_title,
                )
            )
        elif minimum is not None and (case.max_penalty_years is None or case.max_penalty_years < minimum):
            issues.append(
                Issue.of(
                    "case.max_penalty_years",
                    N_(
                        "%(offence)s is not an offence of the %(instrument)s, so it must be a serious crime "
                        "punishable by at least %(minimum)s years; the case records %(recorded)s"
                    ),
                    citation,
                    offence=repr(case.offence),
                    instrument=pack.short_title,
                    minimum=minimum,
                    recorded=case.max_penalty_years,
                )
            )
    if rtype.minimum_penalty_years is not None and (
        case.max_penalty_years is None or case.max_penalty_years < rtype.minimum_penalty_years
    ):
        issues.append(
            Issue.of(
                "case.max_penalty_years",
                N_("%(type)s needs a maximum penalty of at least %(minimum)s year(s); the case records %(recorded)s"),
                str(rtype.dual_criminality_citation or rtype.citation),
                type=rtype.label,
                minimum=rtype.minimum_penalty_years,
                recorded=case.max_penalty_years,
            )
        )
    return issues


_DURATION = re.compile(r"(\d{1,6})([mhdw])")
_UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
MAX_DUE_WITHIN = timedelta(days=366)


def parse_due_within(text: str) -> timedelta:
    """The one grammar for "due within" at every entry point (CLI ``--due-within``, API ``due_within``, the inbox
    filter): a whole number and a unit, m, h, d or w — 90m, 24h, 3d, 2w — more than zero and at most 366 days.
    Raises ValueError saying what was expected."""
    found = _DURATION.fullmatch(text.strip())
    if found is None:
        raise ValueError("expected a number and a unit, e.g. 24h, 3d, 90m")
    span = int(found[1]) * _UNITS[found[2]]
    if not timedelta(0) < span <= MAX_DUE_WITHIN:
        raise ValueError("must be more than zero and at most 366 days")
    return span


def is_emergency(rtype: RequestType, flagged: bool) -> bool:
    """Whether a request is an emergency: always for a type the pack declares an emergency (``emergency_always``,
    e.g. an Art 41 emergency request), else as flagged — so that the requested 24/7 point of contact sees the mark
    and the emergency clocks whatever box the sender ticked."""
    return rtype.emergency_always or flagged


def check_follow_up(rtype: RequestType, request: Request, earlier: Request) -> list[Issue]:
    """Return problems with linking a request to the one it follows up (an MLA request after a preservation)."""
    issues: list[Issue] = []
    if earlier.type not in rtype.follow_up_of:
        allowed = ", ".join(rtype.follow_up_of) or "none"
        issues.append(
            Issue(
                "follows_up",
                f"a {rtype.label.lower()} request cannot follow up {earlier.type}; it may follow: {allowed}",
            )
        )
    if earlier.case_id != request.case_id:
        issues.append(Issue.of("follows_up", N_("the earlier request belongs to another case")))
    if {earlier.requesting_state, earlier.requested_state} != {
        request.requesting_state,
        request.requested_state,
    }:
        issues.append(Issue.of("follows_up", N_("the earlier request is between other States")))
    return issues
