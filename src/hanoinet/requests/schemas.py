"""The OpenAPI shapes of the request routes: what ``requests.present`` writes, field by field."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from hanoinet.federation.schemas import MessageOut
from hanoinet.platform.api import DateTime, Day, FieldIssue, Shape
from hanoinet.requests.domain import Direction, RequestState


class ClockOut(Shape):
    """A time limit running (or stopped) on a request, with the time left."""

    name: str
    status: str
    started_at: DateTime
    due_at: DateTime | None
    time_left: str = Field(description='e.g. "3d 4h", "45m", "overdue 2h"; empty unless running')
    urgency: str | None = Field(description="overdue, due_soon (within a day), or null")
    basis: str
    description: str


class EventOut(Shape):
    """One event of a request's history."""

    seq: int
    kind: str
    at: DateTime
    actor: str
    from_: RequestState | None = Field(alias="from")
    to: RequestState
    data: dict[str, Any]


class RequestOut(Shape):
    """A request with its history, clocks, allowed actions, missing items and messages."""

    id: str
    case_id: str
    instrument: str
    type: str
    type_label: str
    article: str
    direction: Direction
    requesting_state: str
    requested_state: str
    state: RequestState
    emergency: bool
    deadline: DateTime | None
    follows_up: str | None
    items: dict[str, str]
    language: str = Field(description="The language the items are written in (BCP 47); empty if not recorded")
    translations: dict[str, str] = Field(description="Item by item, its translation for the requested State")
    confidential: bool
    created_at: DateTime
    version: int
    peer: str | None = Field(description="The node of the other State that the request is exchanged with")
    means: str | None = Field(
        description="How it went: network (receipted by the other node), or email, diplomatic, interpol, courier, "
        "telephone — off the network, never reported as delivered; null until sent"
    )
    clocks: list[ClockOut]
    allowed_actions: list[str]
    issues: list[FieldIssue]
    events: list[EventOut]
    messages: list[MessageOut]


class SummaryOut(Shape):
    """One line of the inbox."""

    id: str
    case_id: str
    instrument: str
    type: str
    direction: Direction
    counterpart_state: str
    state: RequestState
    emergency: bool
    created_at: DateTime
    next_due_at: DateTime | None
    next_clock: str | None
    case_reference: str
    time_left: str
    urgency: str | None


class BasisFindingOut(Shape):
    """The legal basis under one instrument: each State's standing, what binds both, the finding as a sentence."""

    instrument: str
    on: Day
    holds: bool
    parties: dict[str, bool] = Field(description="Each State, and whether it is a Party on that date")
    instruments_binding_both: list[str]
    finding: str
    article: str


class PreflightOut(Shape):
    """What Send would find now: ``complete`` for the contents alone, ``ready`` for everything, and every problem
    with its field and article."""

    complete: bool
    ready: bool
    issues: list[FieldIssue]
    legal_basis: BasisFindingOut | None
    node: str | None = Field(description="The node that would carry the request")


class MarkedOut(Shape):
    """How many messages were newly marked read."""

    marked: int
