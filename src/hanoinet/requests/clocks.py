"""Clocks: derived from a request's events and its pack's clock rules, never stored as loose timestamps.

A clock runs from an event (the request sent or received, the data preserved) for a period the pack gives; it is
met or stopped by later events. The preservation clock (Art 42: at least 60 days) is held while a follow-up MLA
request is pending, and then runs at least until that request is decided. The requester's own stated deadline is
a clock too. Persistence keeps the earliest running due date as a projection for inbox queries, recomputed from
this module on every change, so that it can always be rebuilt and can never drift from the history.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from hanoinet.requests.domain import (
    DECIDED_STATES,
    OPEN_STATES,
    EventKind,
    Means,
    Request,
    RequestEvent,
)
from hanoinet.rules.domain import ClockKind, ClockRule, ClockStart, Period, RequestType

REQUESTER_DEADLINE = "requester_deadline"
WRITTEN_CONFIRMATION_CLOCK = ClockKind.WRITTEN_CONFIRMATION.value
"""The clock of an oral (telephone) request: its confirmation in writing, for the period its pack gives."""


class ClockStatus(StrEnum):
    """Whether a clock still runs."""

    RUNNING = "running"
    HELD = "held"  # suspended, e.g. a preservation kept while the follow-up MLA request is pending
    MET = "met"  # what it measured happened
    STOPPED = "stopped"  # the request ended without it (withdrawn, released, refused)


@dataclass(frozen=True, slots=True)
class Clock:
    """One running or finished clock of a request."""

    name: str
    started_at: datetime
    due_at: datetime | None
    status: ClockStatus
    basis: str
    description: str

    def remaining(self, now: datetime) -> timedelta | None:
        """Return the time left (negative when overdue), or None when the clock has no due date or has ended."""
        if self.status is not ClockStatus.RUNNING or self.due_at is None:
            return None
        return self.due_at - now


_MEETS: dict[ClockKind, frozenset[EventKind]] = {
    ClockKind.ACKNOWLEDGE: frozenset(
        {
            EventKind.ACKNOWLEDGED,
            EventKind.INFORMATION_REQUESTED,
            EventKind.POSTPONED,
            EventKind.EXECUTION_BEGUN,
            EventKind.PRESERVED,
            EventKind.EXECUTED,
            EventKind.REFUSED,
        }
    ),
    ClockKind.RESPOND: frozenset({EventKind.EXECUTED, EventKind.PRESERVED, EventKind.REFUSED}),
    ClockKind.PRESERVATION: frozenset(),
}
_STOPS = frozenset({EventKind.WITHDRAWN, EventKind.RELEASED, EventKind.REFUSED, EventKind.CLOSED})


def add_period(start: datetime, period: Period) -> datetime:
    """Add a legal period to an instant: fixed durations exactly, calendar periods on the calendar."""
    if period.months or period.years or period.first_day_of_following_month:
        return datetime.combine(period.after(start.date()), start.timetz())
    return start + period.as_timedelta()


def _start_event(request: Request, start: ClockStart) -> RequestEvent | None:
    kinds = (EventKind.SENT, EventKind.RECEIVED) if start is ClockStart.SENT else (EventKind.PRESERVED,)
    return next((e for e in request.events if e.kind in kinds), None)


def _status(events: Sequence[RequestEvent], after: RequestEvent, meets: frozenset[EventKind]) -> ClockStatus:
    for event in events:
        if event.seq <= after.seq:
            continue
        if event.kind in meets:
            return ClockStatus.MET
        if event.kind in _STOPS:
            return ClockStatus.STOPPED
    return ClockStatus.RUNNING


def _basis(rule: ClockRule) -> str:
    where = str(rule.citation) if rule.citation else "no article"
    return f"{where} ({rule.source.value}{'' if rule.verified else ', not yet verified'})"


def _preservation_clock(rule: ClockRule, request: Request, start: RequestEvent, follow_ups: Iterable[Request]) -> Clock:
    extensions = [e for e in request.events if e.kind is EventKind.EXTENDED]
    due = add_period(start.at, rule.period)
    for _ in extensions:
        due = add_period(due, rule.extension or Period())
    status = _status(request.events, start, frozenset())
    description = f"keep the data at least {rule.period} from preservation"
    if extensions:
        description += f", extended {len(extensions)} time(s) by {rule.extension}"
    if status is ClockStatus.RUNNING and rule.held_while_follow_up_pending:
        submitted = [f for f in follow_ups if f.state is not f.state.DRAFT]
        if any(f.state in OPEN_STATES for f in submitted):
            return Clock(
                rule.kind.value,
                start.at,
                None,
                ClockStatus.HELD,
                _basis(rule),
                description + "; held until the follow-up request is decided",
            )
        decisions = [e.at for f in submitted if f.state in DECIDED_STATES for e in f.events[-1:]]
        if decisions:
            due = max(due, *decisions)
            description += "; the follow-up request has been decided"
    return Clock(rule.kind.value, start.at, due, status, _basis(rule), description)


def _written_confirmation_clock(rule: ClockRule, request: Request) -> list[Clock]:
    """The clock of a request made orally: it runs from the telephone call until the request is confirmed in
    writing, and exists only for a request sent by telephone."""
    sent = request.last_event(EventKind.SENT)
    if sent is None or sent.data.get("means") != Means.TELEPHONE.value:
        return []
    status = _status(request.events, sent, frozenset({EventKind.CONFIRMED_IN_WRITING}))
    description = f"confirm the oral request in writing within {rule.period}"
    return [Clock(rule.kind.value, sent.at, add_period(sent.at, rule.period), status, _basis(rule), description)]


def derive_clocks(request: Request, rtype: RequestType, follow_ups: Iterable[Request] = ()) -> list[Clock]:
    """Return the request's clocks as its events and the pack define them, earliest due first."""
    clocks: list[Clock] = []
    follow_ups = list(follow_ups)
    for rule in rtype.clocks:
        if rule.emergency_only and not request.emergency:
            continue
        if rule.kind is ClockKind.WRITTEN_CONFIRMATION:
            clocks.extend(_written_confirmation_clock(rule, request))
            continue
        start = _start_event(request, rule.start)
        if start is None:
            continue
        if rule.kind is ClockKind.PRESERVATION:
            clocks.append(_preservation_clock(rule, request, start, follow_ups))
            continue
        status = _status(request.events, start, _MEETS[rule.kind])
        verb = "acknowledge" if rule.kind is ClockKind.ACKNOWLEDGE else "respond"
        description = f"{verb} within {rule.period}" + (" (emergency)" if rule.emergency_only else "")
        clocks.append(
            Clock(
                rule.kind.value,
                start.at,
                add_period(start.at, rule.period),
                status,
                _basis(rule),
                description,
            )
        )
    if request.deadline is not None:
        start = _start_event(request, ClockStart.SENT)
        if start is not None:
            status = _status(request.events, start, _MEETS[ClockKind.RESPOND])
            clocks.append(
                Clock(
                    REQUESTER_DEADLINE,
                    start.at,
                    request.deadline,
                    status,
                    "requester",
                    "the requesting State's stated deadline",
                )
            )
    return sorted(clocks, key=lambda c: (c.due_at is None, c.due_at or start_of_time(c)))


def start_of_time(clock: Clock) -> datetime:
    """Sort key for clocks without a due date: by when they started."""
    return clock.started_at


def next_due(clocks: Iterable[Clock]) -> Clock | None:
    """Return the running clock that falls due first, or None if no clock runs."""
    running = [c for c in clocks if c.status is ClockStatus.RUNNING and c.due_at is not None]
    return min(running, key=lambda c: c.due_at or c.started_at, default=None)
