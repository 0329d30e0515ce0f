"""Property: the proceeds and instruments of crime that requests trace, freeze, confiscate and return (Arts 31, 49-52).

An asset is one piece of property recorded in a case — an account, real estate, a vehicle, a virtual asset with its
address and network — with where it is, who holds it and what it is thought to be worth. What States do to it is a
list of measures, each taken by one State on a date, under an order (the order itself kept in the vault), often at
another State's request: traced, frozen (or seized), released, confiscated, returned (to the requesting State, to
victims, to legitimate owners) or otherwise disposed of. Every amount is in the asset's own unit — the currency of
the account or of its valuation, or the token of a virtual asset — so that the amounts still frozen and still to be
returned are exact sums, and the Art 57 figures add like to like without an exchange rate nobody agreed.

The measures' amounts are bounded by what came before: a release by what is still frozen, a return or disposal by
what was confiscated and not yet returned or disposed of. Nothing else is inferred: a confiscation may follow a
freeze or stand alone (a value-based confiscation order), and tracing need not name an amount.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from hanoinet.platform.errors import N_, Issue, ValidationFailed

MAX_DESCRIPTION = 2_000
MAX_TEXT = 500
MAX_NOTE = 2_000
MAX_AMOUNT_DIGITS = 30
MAX_DECIMALS = 18  # a virtual asset's smallest unit: 18 decimals for ether's wei, 8 for bitcoin's satoshi
_PLAIN_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]+)?")
"""Digits with an optional point: no exponent, sign, separator or NaN, so that the text kept is the text typed."""
UNIT_PATTERN = re.compile(r"^[A-Z0-9]{2,10}$")
"""A virtual asset's unit: its ticker (BTC, ETH, USDT). Every other asset is valued in an ISO 4217 currency."""


class AssetKind(StrEnum):
    """What the property is: the kinds a freezing or confiscation order names."""

    ACCOUNT = "account"
    REAL_ESTATE = "real_estate"
    VEHICLE = "vehicle"
    VIRTUAL_ASSET = "virtual_asset"
    OTHER = "other"


ASSET_KIND_LABELS = {
    AssetKind.ACCOUNT: N_("Account"),
    AssetKind.REAL_ESTATE: N_("Real estate"),
    AssetKind.VEHICLE: N_("Vehicle"),
    AssetKind.VIRTUAL_ASSET: N_("Virtual asset"),
    AssetKind.OTHER: N_("Other property"),
}


class MeasureKind(StrEnum):
    """What a State did to the property."""

    TRACED = "traced"  # identified and located (Art 50: identify, trace; Art 47: movement of proceeds)
    FROZEN = "frozen"  # frozen or seized for eventual confiscation (Art 31; Art 50)
    RELEASED = "released"  # a freeze or seizure lifted
    CONFISCATED = "confiscated"  # forfeited by order (Art 31; Art 50)
    RETURNED = "returned"  # returned after confiscation (Art 52)
    DISPOSED = "disposed"  # otherwise disposed of under the confiscating State's law (Art 52)


MEASURE_LABELS = {
    MeasureKind.TRACED: N_("Traced"),
    MeasureKind.FROZEN: N_("Frozen or seized"),
    MeasureKind.RELEASED: N_("Released"),
    MeasureKind.CONFISCATED: N_("Confiscated"),
    MeasureKind.RETURNED: N_("Returned"),
    MeasureKind.DISPOSED: N_("Disposed of"),
}

MEASURE_ARTICLES = {
    MeasureKind.TRACED: "Art 50",
    MeasureKind.FROZEN: "Art 31, Art 50",
    MeasureKind.RELEASED: "Art 31",
    MeasureKind.CONFISCATED: "Art 31, Art 50",
    MeasureKind.RETURNED: "Art 52",
    MeasureKind.DISPOSED: "Art 52",
}
"""The articles each measure rests on (CONVENTION.md marks Arts 49-52 'to verify': no paragraph is cited)."""

NEEDS_AMOUNT = frozenset(MeasureKind) - {MeasureKind.TRACED}
"""Measures that say how much: every one but tracing, so that what is frozen, confiscated and returned adds up."""

NEEDS_ORDER = frozenset({MeasureKind.FROZEN, MeasureKind.CONFISCATED})
"""Measures taken by order: the order's reference is recorded (the order itself may be kept in the vault)."""


class Recipient(StrEnum):
    """To whom confiscated property went back (Art 52)."""

    REQUESTING_STATE = "requesting_state"  # so that it may compensate victims or return the property
    VICTIMS = "victims"
    LEGITIMATE_OWNERS = "legitimate_owners"
    OTHER = "other"  # shared with other States, or given to an intergovernmental body


RECIPIENT_LABELS = {
    Recipient.REQUESTING_STATE: N_("The requesting State"),
    Recipient.VICTIMS: N_("Victims"),
    Recipient.LEGITIMATE_OWNERS: N_("Legitimate owners"),
    Recipient.OTHER: N_("Other (shared or given to an intergovernmental body)"),
}


class AssetStatus(StrEnum):
    """Where the property stands, derived from its measures."""

    IDENTIFIED = "identified"
    FROZEN = "frozen"
    RELEASED = "released"
    CONFISCATED = "confiscated"
    RETURNED = "returned"  # everything confiscated has been returned or disposed of


@dataclass(frozen=True, slots=True)
class Measure:
    """One thing a State did to the property."""

    seq: int
    kind: MeasureKind
    taken_on: date
    state: str
    """The State that took the measure (ISO 3166 alpha-3)."""
    amount: Decimal | None
    order_reference: str
    order_authority: str
    order_document: str | None
    """The order in the vault (an evidence item of the same case), if it was kept."""
    request_id: str | None
    """The request it was taken on, if any (a freezing request executed, a confiscation given effect)."""
    recipient: Recipient | None
    recipient_name: str
    note: str
    recorded_at: datetime
    recorded_by: str


@dataclass(slots=True)
class Asset:
    """A piece of property in a case, and what States have done to it."""

    id: str
    case_id: str
    kind: AssetKind
    description: str
    location_state: str
    location: str
    holder: str
    estimated_value: Decimal | None
    currency: str
    """The unit of every amount: an ISO 4217 currency, or a virtual asset's ticker."""
    address: str
    network: str
    """For a virtual asset: its address (or account at a service provider) and the network or chain."""
    created_at: datetime
    created_by: str
    request_ids: list[str] = field(default_factory=list)
    """Requests that point at it (tracing, freezing, confiscation, return)."""
    measures: list[Measure] = field(default_factory=list)

    def total(self, kind: MeasureKind) -> Decimal:
        """The sum of the amounts of every measure of this kind."""
        return sum((m.amount for m in self.measures if m.kind is kind and m.amount is not None), Decimal(0))

    @property
    def still_frozen(self) -> Decimal:
        """What is frozen and neither released nor confiscated since (never below zero: a confiscation may be
        larger than the freeze, by a value-based order)."""
        held = self.total(MeasureKind.FROZEN) - self.total(MeasureKind.RELEASED) - self.total(MeasureKind.CONFISCATED)
        return max(held, Decimal(0))

    @property
    def still_confiscated(self) -> Decimal:
        """What is confiscated and neither returned nor disposed of yet."""
        given = self.total(MeasureKind.RETURNED) + self.total(MeasureKind.DISPOSED)
        return self.total(MeasureKind.CONFISCATED) - given

    @property
    def status(self) -> AssetStatus:
        """Where the property stands: confiscated and not all returned, then frozen, then wholly returned or
        disposed of, then released, else only identified."""
        if self.still_confiscated > 0:
            return AssetStatus.CONFISCATED
        if self.still_frozen > 0:
            return AssetStatus.FROZEN
        if self.total(MeasureKind.CONFISCATED) > 0:
            return AssetStatus.RETURNED
        if self.total(MeasureKind.FROZEN) > 0:
            return AssetStatus.RELEASED
        return AssetStatus.IDENTIFIED


def amount_text(amount: Decimal) -> str:
    """An amount as plain decimal text, never in exponent form (a zero left by subtracting 18-decimal amounts is
    "0.000000000000000000", not "0E-18")."""
    return format(amount, "f")


def parse_amount(text: str, field_name: str) -> tuple[Decimal | None, Issue | None]:
    """An amount given as decimal text ("1250000", "0.5", "12.345678901234567890"): positive, at most 30 digits
    with at most 18 after the point. Text, never a binary float, so that a court and a ledger see the same sum."""
    raw = text.strip()
    if not raw:
        return None, None
    if raw.startswith("-") and _PLAIN_DECIMAL.fullmatch(raw[1:]):
        return None, Issue.of(field_name, N_("must be more than zero"))
    if not _PLAIN_DECIMAL.fullmatch(raw):
        return None, Issue.of(
            field_name, N_("%(value)s is not an amount (decimal digits, e.g. 1250.50)"), value=repr(text)
        )
    whole, _, fraction = raw.partition(".")
    amount = Decimal(raw)
    if amount == 0:
        return None, Issue.of(field_name, N_("must be more than zero"))
    if len(whole.lstrip("0") + fraction) > MAX_AMOUNT_DIGITS or len(fraction) > MAX_DECIMALS:
        return None, Issue.of(
            field_name,
            N_("has more than %(digits)s digits or more than %(decimals)s after the point"),
            digits=MAX_AMOUNT_DIGITS,
            decimals=MAX_DECIMALS,
        )
    return amount, None


def check_unit(kind: AssetKind, currency: str, currencies: Collection[str]) -> Issue | None:
    """The asset's unit: an ISO 4217 code (``currencies``), or for a virtual asset its ticker."""
    if currency in currencies:
        return None
    if kind is AssetKind.VIRTUAL_ASSET and UNIT_PATTERN.fullmatch(currency):
        return None
    if kind is AssetKind.VIRTUAL_ASSET:
        return Issue.of(
            "currency",
            N_("%(unit)s is neither an ISO 4217 currency nor a ticker (2-10 capitals or digits, e.g. BTC)"),
            unit=repr(currency),
        )
    return Issue.of(
        "currency", N_("%(unit)s is not an ISO 4217 currency code (e.g. EUR, USD, VND)"), unit=repr(currency)
    )


def _text(issues: list[Issue], field_name: str, value: str, limit: int, *, required: bool = False) -> None:
    if required and not value.strip():
        issues.append(Issue.of(field_name, N_("is missing")))
    elif len(value) > limit:
        issues.append(Issue.of(field_name, N_("is longer than %(limit)s characters"), limit=f"{limit:,}"))


@dataclass(frozen=True, slots=True)
class AssetDraft:
    """A new asset as typed in, checked by ``check_asset`` before anything is written."""

    case: str
    kind: str
    description: str
    location_state: str
    currency: str
    location: str = ""
    holder: str = ""
    estimated_value: str = ""
    address: str = ""
    network: str = ""


def check_asset(draft: AssetDraft, currencies: Collection[str]) -> tuple[AssetKind, Decimal | None, list[Issue]]:
    """The kind and estimated value of a new asset, and every problem with it, each naming its field (the State
    codes and the case are checked by the service, which knows them)."""
    issues: list[Issue] = []
    try:
        kind = AssetKind(draft.kind)
    except ValueError:
        kind = AssetKind.OTHER
        known = ", ".join(k.value for k in AssetKind)
        issues.append(
            Issue.of(
                "kind", N_("%(kind)s is not a kind of property; kinds: %(known)s"), kind=repr(draft.kind), known=known
            )
        )
    _text(issues, "description", draft.description, MAX_DESCRIPTION, required=True)
    for name in ("location", "holder", "address", "network"):
        _text(issues, name, getattr(draft, name), MAX_TEXT)
    if kind is AssetKind.VIRTUAL_ASSET:
        _text(issues, "address", draft.address, MAX_TEXT, required=True)
        _text(issues, "network", draft.network, MAX_TEXT, required=True)
    elif draft.address.strip() or draft.network.strip():
        issues.append(Issue.of("address", N_("an address and a network are recorded only for a virtual asset")))
    value, problem = parse_amount(draft.estimated_value, "estimated_value")
    issues.extend([problem] if problem else [])
    unit_problem = check_unit(kind, draft.currency, currencies)
    issues.extend([unit_problem] if unit_problem else [])
    return kind, value, issues


@dataclass(frozen=True, slots=True)
class MeasureDraft:
    """A measure as typed in, checked by ``check_measure`` against the asset's measures so far."""

    kind: str
    taken_on: date
    state: str
    amount: str = ""
    order_reference: str = ""
    order_authority: str = ""
    order_document: str = ""
    request: str = ""
    recipient: str = ""
    recipient_name: str = ""
    note: str = ""


def check_measure(
    asset: Asset, draft: MeasureDraft, today: date
) -> tuple[MeasureKind, Decimal | None, Recipient | None, list[Issue]]:
    """The kind, amount and recipient of a new measure, and every problem with it against what came before."""
    issues: list[Issue] = []
    try:
        kind: MeasureKind | None = MeasureKind(draft.kind)
    except ValueError:
        kind = None
        known = ", ".join(k.value for k in MeasureKind)
        issues.append(
            Issue.of("kind", N_("%(kind)s is not a measure; measures: %(known)s"), kind=repr(draft.kind), known=known)
        )
    if draft.taken_on > today:
        issues.append(Issue.of("taken_on", N_("is in the future: a measure is recorded once it was taken")))
    amount, problem = parse_amount(draft.amount, "amount")
    issues.extend([problem] if problem else [])
    for name, limit in (
        ("order_reference", MAX_TEXT),
        ("order_authority", MAX_TEXT),
        ("recipient_name", MAX_TEXT),
        ("note", MAX_NOTE),
    ):
        _text(issues, name, getattr(draft, name), limit)
    recipient: Recipient | None = None
    if draft.recipient:
        try:
            recipient = Recipient(draft.recipient)
        except ValueError:
            known = ", ".join(r.value for r in Recipient)
            issues.append(
                Issue.of(
                    "recipient",
                    N_("%(recipient)s is not a recipient; recipients: %(known)s"),
                    recipient=repr(draft.recipient),
                    known=known,
                )
            )
    if kind is None:
        return MeasureKind.TRACED, amount, recipient, issues
    if kind in NEEDS_AMOUNT and amount is None and problem is None:
        issues.append(
            Issue.of(
                "amount",
                N_("is needed: say how much was %(measure)s, in %(unit)s"),
                MEASURE_ARTICLES[kind],
                measure=kind.value,
                unit=asset.currency,
            )
        )
    if kind in NEEDS_ORDER and not draft.order_reference.strip():
        issues.append(
            Issue.of(
                "order_reference",
                N_("is needed: a %(measure)s measure is taken by order"),
                MEASURE_ARTICLES[kind],
                measure=kind.value,
            )
        )
    if kind is MeasureKind.RETURNED and recipient is None and not draft.recipient:
        issues.append(Issue.of("recipient", N_("is needed: to whom was it returned?"), MEASURE_ARTICLES[kind]))
    elif kind is not MeasureKind.RETURNED and draft.recipient:
        issues.append(
            Issue.of(
                "recipient", N_("is recorded only when property is returned"), MEASURE_ARTICLES[MeasureKind.RETURNED]
            )
        )
    if amount is not None:
        issues.extend(_bounds(asset, kind, amount))
    return kind, amount, recipient, issues


def _bounds(asset: Asset, kind: MeasureKind, amount: Decimal) -> list[Issue]:
    """A release no larger than what is still frozen; a return or disposal no larger than what is still
    confiscated."""
    if kind is MeasureKind.RELEASED and amount > asset.still_frozen:
        return [
            Issue.of(
                "amount",
                N_("is more than is still frozen (%(held)s %(unit)s)"),
                held=amount_text(asset.still_frozen),
                unit=asset.currency,
            )
        ]
    if kind in (MeasureKind.RETURNED, MeasureKind.DISPOSED) and amount > asset.still_confiscated:
        return [
            Issue.of(
                "amount",
                N_("is more than is confiscated and not yet returned or disposed of (%(held)s %(unit)s)"),
                MEASURE_ARTICLES[kind],
                held=amount_text(asset.still_confiscated),
                unit=asset.currency,
            )
        ]
    return []


def raise_if(issues: list[Issue]) -> None:
    """Raise ValidationFailed with every issue, if there is any."""
    if issues:
        raise ValidationFailed(issues)
