"""The OpenAPI shapes of the rule-pack routes: what ``rules.present`` writes, field by field."""

from __future__ import annotations

from pydantic import Field

from hanoinet.platform.api import Shape


class PackSummaryOut(Shape):
    """A pack's identity and the keys of its request types."""

    key: str = Field(description="The instrument's key, e.g. uncc-2024")
    title: str
    short_title: str
    version: str
    request_types: list[str]


class ItemOut(Shape):
    """An item a request of this type carries, with the article that requires it."""

    key: str
    label: str
    article: str
    required: bool
    verified: bool = Field(description="Checked against the treaty text by a reviewer")
    help: str


class GroundOut(Shape):
    """A ground on which a request of this type may be refused."""

    key: str
    label: str
    article: str
    verified: bool


class ClockOut(Shape):
    """A time limit that runs on a request of this type."""

    kind: str
    starts: str
    period: str
    source: str
    article: str | None
    verified: bool
    emergency_only: bool
    extension: str | None
    held_while_follow_up_pending: bool


class RequestTypeOut(Shape):
    """A request type with everything a composer needs: items, grounds, clocks, each with its article."""

    key: str
    label: str
    article: str
    workflow: str
    verified: bool
    emergency_allowed: bool
    emergency_always: bool
    convention_offences_only: bool = Field(
        description="Only for the offences the instrument establishes (Budapest extradition, Art 24(1)(a))"
    )
    dual_criminality: str
    dual_criminality_article: str | None
    minimum_penalty_years: int | None
    follow_up_of: list[str]
    items: list[ItemOut]
    refusal_grounds: list[GroundOut]
    clocks: list[ClockOut]
    notes: str
    dual_criminality_note: str


class EntryIntoForceOut(Shape):
    """When the instrument enters into force, for all and for a later Party, and when a denunciation takes
    effect."""

    instruments_required: int
    general: str
    later_party: str
    denunciation: str
    verified: bool


class OffenceOut(Shape):
    """An offence category of the instrument."""

    key: str
    label: str
    article: str


class PackOut(Shape):
    """A whole rule pack, for reviewers and composers."""

    key: str
    title: str
    short_title: str
    version: str
    entry_into_force: EntryIntoForceOut
    offences: list[OffenceOut]
    serious_crime_min_years: int | None
    never_grounds: list[str]
    request_types: list[RequestTypeOut]
