"""Use cases for treaty status: import the depositary's records, and ask who is bound on which date."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from hanoinet.audit import service as audit
from hanoinet.platform.errors import Issue, ValidationFailed
from hanoinet.rules.domain import EntryIntoForceRule
from hanoinet.treaty.declarations import Declaration, DeclarationRow, check_declarations, in_force
from hanoinet.treaty.domain import (
    BasisFinding,
    DepositEvent,
    DepositRow,
    InstrumentStatus,
    PartyStatus,
    TreatyRegistry,
    check_deposits,
)

if TYPE_CHECKING:
    from hanoinet.app.node import Node, UnitOfWork


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What an import recorded."""

    instrument: str
    recorded: int
    unchanged: int


def registry(node: Node, uow: UnitOfWork) -> TreatyRegistry:
    """Return the treaty registry computed from every recorded deposit event and the packs' rules."""
    rules = {key: pack.entry_into_force for key, pack in node.packs.items()}
    return TreatyRegistry(rules, node.catalog, uow.deposits.list())


def basis_finding(
    node: Node, uow: UnitOfWork, instrument: str, requesting: str, requested: str, *, on: date
) -> BasisFinding:
    """Whether ``instrument`` binds both States on ``on``, by this node's treaty records (inside the caller's
    transaction, so that a send and its check read the same records)."""
    title = node.pack(instrument).short_title
    return registry(node, uow).basis(instrument, title, requesting, requested, on)


def basis_of(node: Node, instrument: str, requesting: str, requested: str, on: date | None = None) -> BasisFinding:
    """``basis_finding`` in a transaction of its own (for a page or a command that only asks)."""
    with node.uow() as uow:
        return basis_finding(node, uow, instrument, requesting, requested, on=on or node.clock.now().date())


def import_deposits(node: Node, rows: Sequence[DepositRow], instrument: str) -> ImportResult:
    """Record deposit events from an imported file: all of them, or none if any row is bad."""
    pack = node.pack(instrument)
    with node.uow() as uow:
        check = check_deposits(
            rows,
            uow.deposits.list(instrument),
            instrument,
            pack.entry_into_force,
            node.catalog,
            today=node.clock.now().date(),
        )
        if not check.ok:
            raise ValidationFailed([Issue(f"line {e.line}", e.reason) for e in check.errors])
        uow.deposits.add_all(check.events, node.clock.now())
        audit.attach(uow, instrument)
        uow.commit()
    return ImportResult(instrument=instrument, recorded=len(check.events), unchanged=check.unchanged)


def import_declarations(node: Node, rows: Sequence[DeclarationRow], *, actor: str) -> ImportResult:
    """Record States' declarations from an imported file: all of them, or none if any is bad; one already recorded
    (same State, instrument, day, languages and reference) is counted as unchanged, a different one of the same
    day is refused (a State makes one declaration a day; a later one replaces it)."""
    declarations, issues = check_declarations(
        rows,
        instruments=node.packs,
        known_state=node.catalog.is_known,
        today=node.clock.now().date(),
        reservations_of=lambda key: {r.key for r in node.packs[key].reservations},
    )
    if issues:
        raise ValidationFailed(issues)
    with node.uow() as uow:
        recorded = {(d.instrument, d.state, d.made_on): d for d in uow.declarations.list()}
        new: list[Declaration] = []
        for d in declarations:
            before = recorded.get((d.instrument, d.state, d.made_on))
            if before is None:
                new.append(d)
            elif before != d:
                raise ValidationFailed(
                    [
                        Issue(
                            "declarations",
                            f"a different declaration of {d.state} under {d.instrument} made on {d.made_on} is "
                            "already recorded; a later declaration replaces it, with its own date",
                        )
                    ]
                )
        uow.declarations.add_all(new, node.clock.now(), actor)
        audit.attach(uow, ",".join(sorted({d.state for d in new})) or "declarations")
        uow.commit()
    return ImportResult(instrument="*", recorded=len(new), unchanged=len(declarations) - len(new))


def declarations(node: Node, state: str | None = None) -> list[Declaration]:
    """The declarations in force (the latest of each State under each instrument), by State then instrument."""
    with node.uow() as uow:
        every = uow.declarations.list(state)
    keys = sorted({(d.state, d.instrument) for d in every})
    return [d for s, i in keys if (d := in_force(every, i, s)) is not None]


def declared_languages(uow: UnitOfWork, state: str, instrument: str | None = None) -> tuple[str, ...]:
    """The languages ``state`` declared it accepts requests in (Art 40), under ``instrument`` or, without one, under
    any instrument (the latest declaration first); empty when it declared none here."""
    every = uow.declarations.list(state)
    instruments = [instrument] if instrument else sorted({d.instrument for d in every})
    standing = [d for i in instruments if (d := in_force(every, i, state)) is not None]
    standing.sort(key=lambda d: d.made_on, reverse=True)
    return tuple(dict.fromkeys(tag for d in standing for tag in d.languages))


def declared_reservations(uow: UnitOfWork, state: str, instrument: str) -> frozenset[str]:
    """The reservations ``state`` made under ``instrument``, as its declaration in force records them."""
    declaration = in_force(uow.declarations.list(state), instrument, state)
    return frozenset(declaration.reservations) if declaration else frozenset()


def instrument_status(node: Node, instrument: str, on: date | None = None) -> InstrumentStatus:
    """Return where an instrument stands on a date (today by default)."""
    node.pack(instrument)
    with node.uow() as uow:
        return registry(node, uow).status(instrument, on or node.clock.now().date())


def party_status(node: Node, instrument: str, state: str, on: date | None = None) -> PartyStatus:
    """Return one State's relation to an instrument on a date (today by default)."""
    node.pack(instrument)
    issue = node.check_state(state, "state")
    if issue:
        raise ValidationFailed([issue])
    with node.uow() as uow:
        return registry(node, uow).party_status(instrument, state, on or node.clock.now().date())


def legal_basis(node: Node, a: str, b: str, on: date | None = None) -> tuple[str, ...]:
    """Return the instruments that bind both States on a date."""
    issues = [i for i in (node.check_state(a, "a"), node.check_state(b, "b")) if i]
    if issues:
        raise ValidationFailed(issues)
    with node.uow() as uow:
        return registry(node, uow).legal_basis(a, b, on or node.clock.now().date())


def deposits(node: Node, instrument: str | None = None) -> Sequence[DepositEvent]:
    """Return the recorded deposit events, for charts and audits."""
    with node.uow() as uow:
        return uow.deposits.list(instrument)


@dataclass(frozen=True, slots=True)
class TimelinePoint:
    """The running totals at the end of a day on which something was deposited."""

    on: date
    signatures: int
    instruments_counted: int  # towards entry into force (a REIO's instrument not counted, Art 65(1))


@dataclass(frozen=True, slots=True)
class TreatyOverview:
    """Everything the treaty dashboard shows about one instrument as of one date, computed in one go."""

    status: InstrumentStatus
    rule: EntryIntoForceRule
    records: tuple[PartyStatus, ...]
    """Every State or organization that had signed or deposited by the date, by name."""
    timeline: tuple[TimelinePoint, ...]
    """Running totals per deposit date up to the date, oldest first: the chart of deposits over time."""
    earliest_entry_into_force: date | None
    """Before the threshold is reached: the day the instrument would enter into force if the last missing
    instrument were deposited on the date (Art 65(1): 90 days later); None once the threshold is reached."""


def overview(node: Node, instrument: str, on: date | None = None) -> TreatyOverview:
    """Return an instrument's status, each party's record and the running totals, as of a date (today by default).

    Every figure comes from the same registry as the status used to check a request's legal basis (the running
    totals are the registry's own count on each deposit date), so the dashboard and the checks cannot disagree.
    Only acts on or before the date are shown, as the depositary would have reported them then.
    """
    pack = node.pack(instrument)
    day = on or node.clock.now().date()
    with node.uow() as uow:
        found = registry(node, uow)
        events = uow.deposits.list(instrument)
    status = found.status(instrument, day)
    parties = sorted({e.party for e in events if e.on <= day})
    records = sorted((found.party_status(instrument, party, day) for party in parties), key=lambda r: (r.name, r.state))
    timeline = []
    for moment in sorted({e.on for e in events if e.on <= day}):
        then = found.status(instrument, moment)
        timeline.append(TimelinePoint(moment, len(then.signatories), then.instruments_counted))
    threshold_reached = status.instruments_missing == 0
    rule = pack.entry_into_force
    return TreatyOverview(
        status=status,
        rule=rule,
        records=tuple(records),
        timeline=tuple(timeline),
        earliest_entry_into_force=None if threshold_reached else rule.general_period.after(day),
    )
