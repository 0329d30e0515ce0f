"""Rule packs: the Convention as data, interpreted by the domain.

A rule pack is one instrument (the Hanoi Convention, the Budapest Convention, ...) described as data so that a
legal reviewer can audit and correct it without reading Python. This module holds the immutable, already
validated form of a pack; loading and schema validation of the files live in ``hanoinet.rules.loader``.
Every rule carries its citation and a ``verified`` flag copied from CONVENTION.md.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum


class Workflow(StrEnum):
    """The shape of a request type's life; the state machine for each lives in ``domain.requests``."""

    STANDARD = "standard"  # acknowledged, executed (MLA, extradition, confiscation ...)
    PRESERVATION = "preservation"  # preserved, extended, released (Art 42 / Budapest Art 29)
    NOTIFICATION = "notification"  # information sent without a request to execute (spontaneous information)


class Channel(StrEnum):
    """Which authority a request type goes to first: the 24/7 network (Art 41(3): emergencies, preservation and
    traffic data under Arts 42-43) or the central authority (Art 40(13))."""

    POINT_OF_CONTACT = "point_of_contact_24_7"
    CENTRAL_AUTHORITY = "central_authority"


class DualCriminality(StrEnum):
    """Whether the conduct must be criminal in both States for the request to be executed."""

    NOT_REQUIRED = "not_required"
    REQUIRED = "required"
    MAY_BE_REQUIRED = "may_be_required"  # a Party may require it (e.g. by reservation, or at its discretion)


class ClockSource(StrEnum):
    """Where a clock's duration comes from: the treaty itself, or the network's service policy."""

    CONVENTION = "convention"
    POLICY = "policy"


class ClockStart(StrEnum):
    """The event from which a clock runs."""

    SENT = "sent"  # the request left the requesting State (or was received, for an incoming request)
    PRESERVED = "preserved"  # the data were preserved


class ClockKind(StrEnum):
    """What a clock measures; each kind is stopped by different events (see ``domain.clocks``)."""

    ACKNOWLEDGE = "acknowledge"  # the requested State should acknowledge
    RESPOND = "respond"  # the requested State should respond (execute, refuse ...)
    PRESERVATION = "preservation"  # data must be kept at least this long
    WRITTEN_CONFIRMATION = "written_confirmation"  # an urgent oral request must be confirmed in writing


@dataclass(frozen=True, slots=True)
class Citation:
    """A provision of an instrument: ``Art 42(2)(e)``."""

    article: int
    paragraph: int | None = None
    letter: str | None = None

    def __str__(self) -> str:
        text = f"Art {self.article}"
        if self.paragraph is not None:
            text += f"({self.paragraph})"
        if self.letter is not None:
            text += f"({self.letter})"
        return text


@dataclass(frozen=True, slots=True)
class Period:
    """A legal period: days, months or years, optionally ending on the first day of the following month.

    Treaties count periods differently (the Hanoi Convention in days, the Budapest Convention in months followed by
    "the first day of the month following"), so a period is data, not arithmetic written into the code.
    """

    days: int = 0
    hours: int = 0
    months: int = 0
    years: int = 0
    first_day_of_following_month: bool = False

    def after(self, start: date) -> date:
        """Return the date on which this period, counted from ``start``, is complete."""
        month_index = start.month - 1 + self.months + 12 * self.years
        year = start.year + month_index // 12
        month = month_index % 12 + 1
        day = min(start.day, calendar.monthrange(year, month)[1])
        end = date(year, month, day) + timedelta(days=self.days + self.hours // 24)
        if self.first_day_of_following_month:
            end = date(end.year + end.month // 12, end.month % 12 + 1, 1)
        return end

    def as_timedelta(self) -> timedelta:
        """Return the period as a fixed duration; only valid for periods made of days and hours."""
        if self.months or self.years or self.first_day_of_following_month:
            raise ValueError("a period counted in months or years has no fixed duration")
        return timedelta(days=self.days, hours=self.hours)

    def __str__(self) -> str:
        parts = [
            f"{n} {unit}{'s' if n != 1 else ''}"
            for n, unit in (
                (self.years, "year"),
                (self.months, "month"),
                (self.days, "day"),
                (self.hours, "hour"),
            )
            if n
        ]
        text = " ".join(parts) or "0 days"
        return text + (", then the first day of the following month" if self.first_day_of_following_month else "")


@dataclass(frozen=True, slots=True)
class RequiredItem:
    """One item a request must contain, e.g. Art 42(2)(e) "the necessity of the preservation"."""

    key: str
    label: str
    citation: Citation
    verified: bool
    required: bool = True  # False for items the text asks for only "where possible"
    help: str = ""


@dataclass(frozen=True, slots=True)
class RefusalGround:
    """A ground on which the requested State may refuse this type of request under this instrument."""

    key: str
    label: str
    citation: Citation
    verified: bool
    note: str = ""  # e.g. nationality: refusing obliges submission to domestic prosecution (aut dedere aut judicare)


@dataclass(frozen=True, slots=True)
class ClockRule:
    """A clock that runs for a request type: what it measures, from when, for how long, and on what basis."""

    kind: ClockKind
    start: ClockStart
    period: Period
    source: ClockSource
    citation: Citation | None
    verified: bool
    emergency_only: bool = False  # runs only for requests flagged as emergencies
    extension: Period | None = None  # the length of one extension, for clocks that may be extended
    held_while_follow_up_pending: bool = False  # Art 42: kept until the follow-up MLA request is decided
    description: str = ""


@dataclass(frozen=True, slots=True)
class RequestType:
    """A kind of request of Chapter V, as one instrument defines it."""

    key: str
    label: str
    citation: Citation
    workflow: Workflow
    verified: bool
    required_items: tuple[RequiredItem, ...]
    refusal_grounds: tuple[RefusalGround, ...]
    dual_criminality: DualCriminality
    dual_criminality_citation: Citation | None
    clocks: tuple[ClockRule, ...] = ()
    minimum_penalty_years: int | None = None  # e.g. extradition: at least one year in both States (Art 37)
    emergency_allowed: bool = False
    emergency_always: bool = False
    """The type is itself an emergency (the pack says so, e.g. Art 41 emergency requests): every request of it
    carries the emergency mark and clocks, whether or not the sender ticked the box."""
    convention_offences_only: bool = False
    """The type applies only to the offences the instrument establishes, not to other (serious) crimes: Budapest
    extradition covers the offences of its Arts 2-11 only (Art 24(1)(a)), though its mutual assistance covers the
    electronic evidence of any criminal offence (Art 23)."""
    follow_up_of: tuple[str, ...] = ()  # request types this one may follow up (MLA after preservation)
    notes: str = ""
    dual_criminality_note: str = ""
    """What the pack says of dual criminality for this type (apart from ``notes``, so each is translated whole)."""
    dual_criminality_verified: bool = False  # the dual-criminality rule and its citation were checked in the text
    channel: Channel = Channel.CENTRAL_AUTHORITY

    def item(self, key: str) -> RequiredItem | None:
        """Return the required item with this key, or None if the type has none."""
        return next((i for i in self.required_items if i.key == key), None)

    def ground(self, key: str) -> RefusalGround | None:
        """Return the refusal ground with this key, or None if the instrument does not allow it for this type."""
        return next((g for g in self.refusal_grounds if g.key == key), None)


@dataclass(frozen=True, slots=True)
class Offence:
    """An offence the instrument establishes (Hanoi Arts 7-17, Budapest Arts 2-11)."""

    key: str
    label: str
    citation: Citation
    verified: bool


@dataclass(frozen=True, slots=True)
class EntryIntoForceRule:
    """How the instrument enters into force, for everyone and for a State that joins later, and how it ends.

    Hanoi Convention: Art 65(1) the 90th day after the 40th instrument, a regional economic integration
    organization's instrument not counted in addition to its members'; Art 65(2) the 30th day after a later deposit
    or the general date if later; Art 67 denunciation effective one year after receipt.
    """

    instruments_required: int
    general_period: Period
    general_citation: Citation
    later_party_period: Period
    later_party_citation: Citation
    denunciation_period: Period
    denunciation_citation: Citation
    reio_counted_in_addition: bool
    verified: bool
    signature_opens: date
    signature_closes: date | None
    signature_citation: Citation


@dataclass(frozen=True, slots=True)
class Reservation:
    """A reservation the instrument allows a Party to make, and what it changes: a ground of refusal that only a
    State which made it may give, for the request types it concerns (e.g. Budapest Art 29(4): refusing preservation
    where dual criminality could not be met at disclosure)."""

    key: str
    label: str
    citation: Citation
    verified: bool
    ground_for: tuple[str, ...]
    """Request types a State that made the reservation may refuse on it (the reservation's key is the ground)."""
    note: str = ""

    def as_ground(self) -> RefusalGround:
        """The reservation as the ground of refusal it allows."""
        return RefusalGround(self.key, self.label, self.citation, self.verified, self.note)


@dataclass(frozen=True, slots=True)
class RulePack:
    """One instrument, as data: its request types, offences, scope and entry-into-force rules."""

    key: str  # e.g. "uncc-2024"
    title: str
    short_title: str
    version: str
    entry_into_force: EntryIntoForceRule
    request_types: tuple[RequestType, ...]
    offences: tuple[Offence, ...]
    serious_crime_min_years: int | None  # "serious crime": maximum penalty of at least N years (Art 2)
    serious_crime_citation: Citation | None
    never_grounds: tuple[str, ...] = field(default=())  # e.g. bank secrecy, fiscal matters (Art 40)
    reservations: tuple[Reservation, ...] = field(default=())

    def reservation(self, key: str) -> Reservation | None:
        """Return the reservation with this key, or None if the instrument allows no such reservation."""
        return next((r for r in self.reservations if r.key == key), None)

    def request_type(self, key: str) -> RequestType | None:
        """Return the request type with this key, or None if the instrument does not provide for it."""
        return next((t for t in self.request_types if t.key == key), None)

    def offence(self, key: str) -> Offence | None:
        """Return the offence with this key, or None if the instrument does not establish it."""
        return next((o for o in self.offences if o.key == key), None)


OTHER_SERIOUS_CRIME = "other_serious_crime"
"""Offence category of a case that is none of an instrument's own offences but a serious crime (Art 2)."""
