"""The OpenAPI shapes of the treaty routes: what ``treaty.present`` and ``treaty.api`` write."""

from __future__ import annotations

from pydantic import Field

from hanoinet.platform.api import Day, Shape


class InstrumentStatusOut(Shape):
    """Where an instrument stands on a date."""

    instrument: str
    on: Day
    in_force: bool
    entry_into_force: Day | None
    instruments_counted: int
    instruments_required: int
    instruments_missing: int
    parties: list[str] = Field(description="ISO 3166 alpha-3 codes of the Parties on that date")
    signatories: list[str]


class PartyStatusOut(Shape):
    """One State's relation to an instrument on a date."""

    instrument: str
    state: str
    name: str
    on: Day
    party: bool
    party_since: Day | None
    entry_into_force_for: Day | None
    signed_on: Day | None
    consent_deposited_on: Day | None
    consent_action: str | None = Field(description="ratification, acceptance, approval or accession")
    denounced_on: Day | None
    denunciation_effective: Day | None


class BasisOut(Shape):
    """The instruments that bind both States on a date."""

    a: str
    b: str
    on: Day
    instruments: list[str]


class DepositsOut(Shape):
    """What a deposit file changed."""

    instrument: str
    recorded: int
    unchanged: int


class DeclarationOut(Shape):
    """A State's declaration in force under an instrument: the languages it accepts requests in (Art 40)."""

    instrument: str
    state: str
    made_on: Day
    languages: list[str] = Field(description="BCP 47 tags, in the order the State gave them")
    reference: str = Field(description="The depositary notification or other source it was copied from")
    reservations: list[str] = Field(description="The reservations it made, by the keys of the instrument's pack")


class DeclarationsOut(Shape):
    """What a declarations file changed."""

    recorded: int
    unchanged: int
