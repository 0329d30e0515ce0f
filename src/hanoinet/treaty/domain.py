"""Treaty status: who signed, who is bound, and from when — a pure function of the depositary's records.

"Is State X a Party on date D?" and "which instrument binds X and Y on D?" decide whether a request can be
made under the Hanoi or the Budapest Convention at all, so they are computed from the deposit events and the
entry-into-force rules of the rule packs (``EntryIntoForceRule``), never stored as flags that could drift.
This module imports only the standard library and the domain.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from hanoinet.platform.errors import NotFound
from hanoinet.rules.domain import EntryIntoForceRule


class DepositAction(StrEnum):
    """What a State or organization did with the depositary, as the UN Treaty Collection records it."""

    SIGNATURE = "signature"
    RATIFICATION = "ratification"
    ACCEPTANCE = "acceptance"
    APPROVAL = "approval"
    ACCESSION = "accession"
    DENUNCIATION = "denunciation"

    @property
    def is_instrument(self) -> bool:
        """True for the instruments of consent to be bound; only these can make a State a Party."""
        return self in CONSENT_ACTIONS

    @property
    def needs_signature(self) -> bool:
        """True for ratification, acceptance and approval, which confirm an earlier signature."""
        return self in CONSENT_ACTIONS and self is not DepositAction.ACCESSION


CONSENT_ACTIONS: frozenset[DepositAction] = frozenset(
    {DepositAction.RATIFICATION, DepositAction.ACCEPTANCE, DepositAction.APPROVAL, DepositAction.ACCESSION}
)
"""Instruments of consent to be bound (Art 64 of the Hanoi Convention, Art 36 of the Budapest Convention)."""

_ACTION_ORDER = {
    DepositAction.SIGNATURE: 0,
    DepositAction.RATIFICATION: 1,
    DepositAction.ACCEPTANCE: 1,
    DepositAction.APPROVAL: 1,
    DepositAction.ACCESSION: 1,
    DepositAction.DENUNCIATION: 2,
}
"""Order of actions recorded on the same day: one signs, then ratifies, then (at the earliest) denounces."""


@dataclass(frozen=True, slots=True)
class DepositEvent:
    """One act recorded by the depositary: a signature, an instrument of consent, or a denunciation."""

    instrument: str  # rule pack key, e.g. "uncc-2024"
    party: str  # ISO 3166-1 alpha-3 code of a State, or the code of a REIO (e.g. "EU")
    action: DepositAction
    on: date  # date of signature, of deposit of the instrument, or of receipt of the notification


def _event_order(event: DepositEvent) -> tuple[date, int, str, str]:
    return (event.on, _ACTION_ORDER[event.action], event.action.value, event.party)


# ----------------------------------------------------------------------------------------------------
# States and organizations


@dataclass(frozen=True, slots=True)
class Organization:
    """A regional economic integration organization (REIO), which may sign and join the Hanoi Convention."""

    code: str
    name: str
    members: frozenset[str]


@dataclass(frozen=True)
class StateCatalog:
    """The States (ISO 3166-1 alpha-3) and organizations that may appear in deposit records."""

    states: Mapping[str, str]  # alpha-3 -> name
    organizations: Mapping[str, Organization]  # code -> organization

    def __post_init__(self) -> None:
        """Refuse a catalogue where an organization could be confused with a State or has unknown members."""
        for code, organization in self.organizations.items():
            if code != organization.code:
                raise ValueError(f"organization listed under {code!r} has code {organization.code!r}")
            if code in self.states:
                raise ValueError(f"organization code {code!r} is also an ISO 3166 alpha-3 State code")
            unknown = sorted(organization.members - self.states.keys())
            if unknown:
                raise ValueError(f"organization {code}: unknown member State code(s) {', '.join(unknown)}")

    def is_known(self, code: str) -> bool:
        """True if ``code`` is a State's alpha-3 code or an organization's code."""
        return code in self.states or code in self.organizations

    def is_state(self, code: str) -> bool:
        """True if ``code`` is a State's ISO 3166-1 alpha-3 code."""
        return code in self.states

    def is_reio(self, code: str) -> bool:
        """True if ``code`` is a regional economic integration organization (REIO), not a State."""
        return code in self.organizations

    def name(self, code: str) -> str:
        """Return the display name of a State or organization; raise KeyError if the code is unknown."""
        if code in self.states:
            return self.states[code]
        if code in self.organizations:
            return self.organizations[code].name
        raise KeyError(f"{code!r} is neither an ISO 3166 alpha-3 State code nor a known organization code")


# ----------------------------------------------------------------------------------------------------
# Status


@dataclass(frozen=True, slots=True)
class InstrumentStatus:
    """Where an instrument stands on a date, as the Conference of the States Parties would report it."""

    instrument: str
    on: date
    in_force: bool
    entry_into_force: date | None  # known once the threshold is reached on or before ``on``; may be after it
    instruments_counted: int  # States' instruments deposited on or before ``on`` (REIOs' not counted, Art 65(1))
    instruments_required: int
    instruments_missing: int
    parties: tuple[str, ...]  # bound on ``on``, sorted
    signatories: tuple[str, ...]  # signed on or before ``on``, sorted, whether or not they ratified since


@dataclass(frozen=True, slots=True)
class PartyStatus:
    """A State's or organization's relation to one instrument on a date: what it did, whether it is bound.

    Only acts on or before ``on`` are shown, so a status as of a past date does not reveal later deposits.
    """

    instrument: str
    state: str
    name: str
    on: date
    party: bool
    party_since: date | None
    entry_into_force_for: date | None  # the date it is (or will be) bound, once that is determined
    signed_on: date | None
    consent_deposited_on: date | None
    consent_action: DepositAction | None
    denounced_on: date | None
    denunciation_effective: date | None


@dataclass(frozen=True, slots=True)
class BasisFinding:
    """Whether one chosen instrument is a legal basis between two States on a date, and why not.

    One finding serves every surface that asks (the composer's box and its Check, Send at the API and the CLI,
    a request arriving from a node), so that they cannot disagree: the instrument holds only if both States are
    its Parties on that date — another instrument binding both does not make this one hold.
    """

    instrument: str
    title: str  # the instrument's short title, as operators know it
    on: date
    states: tuple[str, str]  # requesting, requested
    names: tuple[str, str]
    parties: tuple[bool, bool]  # each State's standing under this instrument on ``on``
    binding: tuple[str, ...]  # every instrument known here that binds both on ``on``
    citation: str  # the article that says when a later Party is bound

    @property
    def holds(self) -> bool:
        """True if the chosen instrument binds both States on the date."""
        return all(self.parties)

    @property
    def others(self) -> tuple[str, ...]:
        """The other instruments binding both, which could serve instead."""
        return tuple(i for i in self.binding if i != self.instrument)

    def sentence(self) -> str:
        """The finding in one sentence naming the instrument, both States and the date."""
        (a, b), (name_a, name_b) = self.states, self.names
        on = self.on.isoformat()
        if self.holds:
            return f"the {self.title} binds both {a} ({name_a}) and {b} ({name_b}) on {on}"
        not_bound = [
            f"{code} ({name}) is not a Party on {on}"
            for code, name, party in zip(self.states, self.names, self.parties, strict=True)
            if not party
        ]
        alternatives = "no instrument known here binds both"
        if self.others:
            alternatives = f"instruments binding both: {', '.join(self.others)}"
        return (
            f"the {self.title} is not a legal basis between {a} and {b}: {'; '.join(not_bound)} ({self.citation}); "
            f"{alternatives}; other bases: a bilateral treaty or reciprocity"
        )


@dataclass(frozen=True, slots=True)
class _Record:
    """One party's history for one instrument, reduced to the acts that carry legal effect."""

    signed_on: date | None
    consent_on: date | None
    consent_action: DepositAction | None
    denounced_on: date | None


class UnknownInstrumentError(NotFound):
    """The instrument has no rule pack, so nothing can be said about its status."""


class TreatyRegistry:
    """Entry into force and party status of each instrument, derived from its rule and the deposit events.

    Everything is computed from the arguments given at construction; nothing is stored or looked up elsewhere,
    so the same events always give the same answer, whatever their order.
    """

    def __init__(
        self,
        rules: Mapping[str, EntryIntoForceRule],
        catalog: StateCatalog,
        events: Iterable[DepositEvent],
    ) -> None:
        self._rules = dict(rules)
        self._catalog = catalog
        by_party: dict[str, dict[str, list[DepositEvent]]] = {key: {} for key in self._rules}
        for event in events:
            if event.instrument not in self._rules:
                raise UnknownInstrumentError(f"deposit event for {event.instrument!r}, which has no rule pack")
            by_party[event.instrument].setdefault(event.party, []).append(event)
        self._records: dict[str, dict[str, _Record]] = {
            key: {party: _reduce(evts) for party, evts in parties.items()} for key, parties in by_party.items()
        }
        self._threshold: dict[str, date | None] = {key: self._threshold_date(key) for key in self._rules}

    @property
    def instruments(self) -> tuple[str, ...]:
        """The instruments this registry knows, sorted."""
        return tuple(sorted(self._rules))

    def rule(self, instrument: str) -> EntryIntoForceRule:
        """Return the entry-into-force rule of ``instrument``; raise UnknownInstrumentError if it has none."""
        try:
            return self._rules[instrument]
        except KeyError:
            raise UnknownInstrumentError(f"no rule pack for instrument {instrument!r}") from None

    def _counts(self, instrument: str, party: str) -> bool:
        """Whether this party's instrument counts towards the threshold (a REIO's does not, Art 65(1))."""
        return self.rule(instrument).reio_counted_in_addition or not self._catalog.is_reio(party)

    def _counted_dates(self, instrument: str) -> list[date]:
        records = self._records[instrument]
        return sorted(
            r.consent_on for p, r in records.items() if r.consent_on is not None and self._counts(instrument, p)
        )

    def _threshold_date(self, instrument: str) -> date | None:
        """The deposit date of the instrument that reached the threshold (the 40th), or None if none did."""
        dates = self._counted_dates(instrument)
        required = self.rule(instrument).instruments_required
        return dates[required - 1] if len(dates) >= required else None

    def _record(self, instrument: str, party: str) -> _Record | None:
        self.rule(instrument)
        return self._records[instrument].get(party)

    def entry_into_force(self, instrument: str) -> date | None:
        """Return the general entry-into-force date (Art 65(1)), or None if the threshold is not reached.

        Denunciations do not undo an entry into force: the count is of instruments deposited.
        """
        rule = self.rule(instrument)
        threshold = self._threshold[instrument]
        return None if threshold is None else rule.general_period.after(threshold)

    def entry_into_force_for(self, instrument: str, party: str) -> date | None:
        """Return the date from which ``party`` is bound (Art 65(2)), or None if not or not yet determined.

        An instrument deposited up to the deposit that reached the threshold takes effect on the general date;
        one deposited after it on the later-party date or the general date, whichever is later.
        """
        record = self._record(instrument, party)
        general = self.entry_into_force(instrument)
        threshold = self._threshold[instrument]
        if record is None or record.consent_on is None or general is None or threshold is None:
            return None
        if record.consent_on <= threshold:
            return general
        return max(self.rule(instrument).later_party_period.after(record.consent_on), general)

    def denunciation_effective(self, instrument: str, party: str) -> date | None:
        """Return the date a denunciation takes effect (Art 67: receipt + period), or None if none was."""
        record = self._record(instrument, party)
        if record is None or record.denounced_on is None:
            return None
        return self.rule(instrument).denunciation_period.after(record.denounced_on)

    def party_since(self, instrument: str, party: str, on: date) -> date | None:
        """Return the date from which ``party`` is bound, if it is a Party on ``on``; otherwise None."""
        since = self.entry_into_force_for(instrument, party)
        if since is None or since > on:
            return None
        ends = self.denunciation_effective(instrument, party)
        if ends is not None and ends <= on:
            return None
        return since

    def is_party(self, instrument: str, party: str, on: date) -> bool:
        """True if the instrument is in force for ``party`` on ``on`` and no denunciation has taken effect."""
        return self.party_since(instrument, party, on) is not None

    def status(self, instrument: str, on: date) -> InstrumentStatus:
        """Return the instrument's status as of ``on``, computed only from acts on or before that date."""
        rule = self.rule(instrument)
        records = self._records[instrument]
        counted = sum(1 for d in self._counted_dates(instrument) if d <= on)
        threshold = self._threshold[instrument]
        general = self.entry_into_force(instrument) if threshold is not None and threshold <= on else None
        return InstrumentStatus(
            instrument=instrument,
            on=on,
            in_force=general is not None and general <= on,
            entry_into_force=general,
            instruments_counted=counted,
            instruments_required=rule.instruments_required,
            instruments_missing=max(0, rule.instruments_required - counted),
            parties=self.parties(instrument, on),
            signatories=tuple(sorted(p for p, r in records.items() if r.signed_on is not None and r.signed_on <= on)),
        )

    def parties(self, instrument: str, on: date) -> tuple[str, ...]:
        """Return the Parties on ``on``, sorted."""
        self.rule(instrument)
        return tuple(sorted(p for p in self._records[instrument] if self.is_party(instrument, p, on)))

    def legal_basis(self, a: str, b: str, on: date) -> tuple[str, ...]:
        """Return the instruments (sorted keys) under which both ``a`` and ``b`` are Parties on ``on``.

        An empty result means no multilateral instrument known here binds both: the caller must offer other
        bases (a bilateral treaty, reciprocity).
        """
        return tuple(key for key in self.instruments if self.is_party(key, a, on) and self.is_party(key, b, on))

    def basis(self, instrument: str, title: str, requesting: str, requested: str, on: date) -> BasisFinding:
        """Whether ``instrument`` binds both States on ``on`` (see ``BasisFinding``)."""
        return BasisFinding(
            instrument=instrument,
            title=title,
            on=on,
            states=(requesting, requested),
            names=(self._catalog.name(requesting), self._catalog.name(requested)),
            parties=(self.is_party(instrument, requesting, on), self.is_party(instrument, requested, on)),
            binding=self.legal_basis(requesting, requested, on),
            citation=str(self.rule(instrument).later_party_citation),
        )

    def party_status(self, instrument: str, party: str, on: date) -> PartyStatus:
        """Return what ``party`` had done with ``instrument`` by ``on``, and whether it is bound then."""
        record = self._record(instrument, party) or _Record(None, None, None, None)

        def known(day: date | None) -> date | None:
            return day if day is not None and day <= on else None

        consent_on = known(record.consent_on)
        denounced_on = known(record.denounced_on)
        threshold = self._threshold[instrument]
        bound_from = (
            self.entry_into_force_for(instrument, party)
            if consent_on is not None and threshold is not None and threshold <= on
            else None
        )
        return PartyStatus(
            instrument=instrument,
            state=party,
            name=self._catalog.name(party) if self._catalog.is_known(party) else party,
            on=on,
            party=self.is_party(instrument, party, on),
            party_since=self.party_since(instrument, party, on),
            entry_into_force_for=bound_from,
            signed_on=known(record.signed_on),
            consent_deposited_on=consent_on,
            consent_action=record.consent_action if consent_on is not None else None,
            denounced_on=denounced_on,
            denunciation_effective=self.denunciation_effective(instrument, party) if denounced_on else None,
        )


def _reduce(events: Iterable[DepositEvent]) -> _Record:
    """Keep the acts with legal effect: first signature, first instrument, first denunciation after it.

    Validated records have at most one of each; taking the earliest keeps the answer independent of input
    order even for records imported before validation existed.
    """
    ordered = sorted(set(events), key=_event_order)
    signed = next((e.on for e in ordered if e.action is DepositAction.SIGNATURE), None)
    consent = next((e for e in ordered if e.action.is_instrument), None)
    denounced = (
        next((e.on for e in ordered if e.action is DepositAction.DENUNCIATION and e.on >= consent.on), None)
        if consent is not None
        else None
    )
    return _Record(
        signed_on=signed,
        consent_on=consent.on if consent else None,
        consent_action=consent.action if consent else None,
        denounced_on=denounced,
    )


# ----------------------------------------------------------------------------------------------------
# Validation of imported deposit records


@dataclass(frozen=True, slots=True)
class DepositRow:
    """One row of an imported file, as raw text, with the physical line number it came from."""

    line: int
    party: str
    action: str
    on: str


@dataclass(frozen=True, slots=True)
class RowError:
    """Why one row was rejected; the line number lets an operator fix the file."""

    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass(frozen=True, slots=True)
class DepositCheck:
    """The outcome of checking a file: the new events to record, or every reason to reject it.

    ``events`` is empty whenever ``errors`` is not, so nothing from a rejected file can be recorded by mistake.
    """

    events: tuple[DepositEvent, ...]
    errors: tuple[RowError, ...]
    unchanged: int = 0  # rows identical to an event already recorded (re-importing a file is idempotent)

    @property
    def ok(self) -> bool:
        """True if the file may be recorded; one bad row rejects the whole file."""
        return not self.errors


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


_Act = tuple[DepositEvent, int | None]  # an act of the same party, with its line (None: already recorded)


@dataclass(slots=True)
class _Candidate:
    line: int
    event: DepositEvent


@dataclass(slots=True)
class _Timeline:
    """All acts of one party for one instrument: those recorded and those in the file, for cross-checking."""

    existing: list[DepositEvent] = field(default_factory=list)
    new: list[_Candidate] = field(default_factory=list)

    def others(self, candidate: _Candidate) -> list[_Act]:
        """Every other act with its line (None for an act already recorded), in date order."""
        acts: list[_Act] = [(e, None) for e in self.existing]
        acts += [(c.event, c.line) for c in self.new if c is not candidate]
        return sorted(acts, key=lambda act: _event_order(act[0]))


def _where(line: int | None) -> str:
    return "already recorded" if line is None else f"on line {line}"


def check_deposits(
    rows: Sequence[DepositRow],
    existing: Iterable[DepositEvent],
    instrument: str,
    rule: EntryIntoForceRule,
    catalog: StateCatalog,
    *,
    today: date,
) -> DepositCheck:
    """Check imported rows against each other and against the events already recorded for ``instrument``.

    Every bad row is reported (not only the first) so an operator can fix a file in one pass; the caller must
    reject the whole file if there is any error. Rows identical to a recorded event are skipped and counted as
    unchanged, so importing the same UN Treaty Collection file twice records nothing the second time.
    """
    errors: list[RowError] = []
    recorded = {e for e in existing if e.instrument == instrument}
    candidates: list[_Candidate] = []
    unchanged = 0
    seen_in_file: set[DepositEvent] = set()
    for row in rows:
        event = _parse_row(row, instrument, catalog, today, errors)
        if event is None:
            continue
        if event in recorded:
            unchanged += 1
            continue
        if event in seen_in_file:
            errors.append(RowError(row.line, f"the same {event.action} by {event.party} appears twice in the file"))
            continue
        seen_in_file.add(event)
        candidates.append(_Candidate(row.line, event))

    timelines: dict[str, _Timeline] = {}
    for event in recorded:
        timelines.setdefault(event.party, _Timeline()).existing.append(event)
    for candidate in candidates:
        timelines.setdefault(candidate.event.party, _Timeline()).new.append(candidate)
    for candidate in sorted(candidates, key=lambda c: (_event_order(c.event), c.line)):
        timeline = timelines[candidate.event.party]
        errors.extend(RowError(candidate.line, r) for r in _legal_errors(candidate, timeline.others(candidate), rule))

    errors.sort(key=lambda e: e.line)
    if errors:
        return DepositCheck(events=(), errors=tuple(errors), unchanged=unchanged)
    new_events = tuple(sorted((c.event for c in candidates), key=_event_order))
    return DepositCheck(events=new_events, errors=(), unchanged=unchanged)


def _parse_row(
    row: DepositRow, instrument: str, catalog: StateCatalog, today: date, errors: list[RowError]
) -> DepositEvent | None:
    """Turn raw text into an event, or append every reason it cannot be one and return None."""
    before = len(errors)
    party = row.party.strip().upper()
    if not party:
        errors.append(RowError(row.line, "the State code is missing"))
    elif not catalog.is_known(party):
        errors.append(
            RowError(
                row.line,
                f"unknown State or organization {row.party.strip()!r}: "
                "use an ISO 3166-1 alpha-3 code (e.g. VNM) or a known organization code (e.g. EU)",
            )
        )
    action_text = row.action.strip().lower()
    try:
        action: DepositAction | None = DepositAction(action_text)
    except ValueError:
        action = None
        allowed = ", ".join(a.value for a in DepositAction)
        errors.append(RowError(row.line, f"unknown action {row.action.strip()!r}: expected one of {allowed}"))
    on = _parse_date(row.on.strip())
    if on is None:
        errors.append(
            RowError(row.line, f"invalid date {row.on.strip()!r}: expected an ISO 8601 date YYYY-MM-DD that exists")
        )
    elif on > today:
        errors.append(RowError(row.line, f"date {on.isoformat()} is in the future (today is {today.isoformat()})"))
    if len(errors) > before or action is None or on is None:
        return None
    return DepositEvent(instrument=instrument, party=party, action=action, on=on)


def _parse_date(text: str) -> date | None:
    """Parse strictly YYYY-MM-DD: ``date.fromisoformat`` alone would also accept 20250101 and week dates."""
    if not _ISO_DATE.fullmatch(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _legal_errors(candidate: _Candidate, others: list[_Act], rule: EntryIntoForceRule) -> list[str]:
    """The rules on signature, consent and denunciation that this act would break, each citing its article."""
    event = candidate.event
    denunciations = [(e, line) for e, line in others if e.action is DepositAction.DENUNCIATION]
    earlier = next(((e, line) for e, line in denunciations if e.on < event.on), None)
    if earlier is not None:
        d, line = earlier
        return [
            f"{event.action} by {event.party} on {event.on.isoformat()} comes after its denunciation "
            f"received on {d.on.isoformat()} ({_where(line)}); a State that has denounced can take no "
            f"further action ({rule.denunciation_citation})"
        ]
    signatures = [(e, line) for e, line in others if e.action is DepositAction.SIGNATURE]
    instruments = [(e, line) for e, line in others if e.action.is_instrument]
    if event.action is DepositAction.SIGNATURE:
        return _signature_errors(event, signatures, instruments, rule)
    if event.action.is_instrument:
        return _instrument_errors(event, signatures, instruments, rule)
    return _denunciation_errors(event, denunciations, instruments, rule)


def _signature_errors(
    event: DepositEvent, signatures: list[_Act], instruments: list[_Act], rule: EntryIntoForceRule
) -> list[str]:
    """Art 64 (Budapest Art 36(1)): sign once, within the signature period, before consenting to be bound."""
    art = rule.signature_citation
    on = event.on
    reasons: list[str] = []
    if on < rule.signature_opens:
        reasons.append(
            f"signature on {on.isoformat()} is before the instrument opened for signature on "
            f"{rule.signature_opens.isoformat()} ({art})"
        )
    elif rule.signature_closes is not None and on > rule.signature_closes:
        reasons.append(
            f"signature on {on.isoformat()} is after the instrument closed for signature on "
            f"{rule.signature_closes.isoformat()} ({art}); a State that has not signed may accede"
        )
    reasons += [
        f"{event.party} has another signature dated {s.on.isoformat()} ({_where(line)}); a State signs once ({art})"
        for s, line in signatures
    ]
    reasons += [
        f"signature on {on.isoformat()} comes after {event.party}'s {i.action} of {i.on.isoformat()} "
        f"({_where(line)}); a signature after consent to be bound has no effect ({art})"
        for i, line in instruments
        if i.on < on
    ]
    return reasons


def _instrument_errors(
    event: DepositEvent, signatures: list[_Act], instruments: list[_Act], rule: EntryIntoForceRule
) -> list[str]:
    """Art 64: one instrument of consent per State; ratification, acceptance, approval confirm a signature."""
    art = rule.signature_citation
    on = event.on
    reasons = [
        f"{event.party} has another instrument of {i.action} dated {i.on.isoformat()} ({_where(line)}); "
        f"a State deposits one instrument of consent to be bound ({art})"
        for i, line in instruments
    ]
    if event.action.needs_signature and not any(s.on <= on for s, _ in signatures):
        reasons.append(
            f"{event.action} on {on.isoformat()} without a prior signature by {event.party}: under {art} "
            "ratification, acceptance and approval follow a signature, and a State that has not signed "
            "accedes (action 'accession'); this follows the text of the Convention"
        )
    if not event.action.needs_signature:
        reasons += [
            f"accession on {on.isoformat()} comes before {event.party}'s signature of {s.on.isoformat()} "
            f"({_where(line)}); a signature after consent to be bound has no effect ({art})"
            for s, line in signatures
            if s.on > on
        ]
    return reasons


def _denunciation_errors(
    event: DepositEvent, denunciations: list[_Act], instruments: list[_Act], rule: EntryIntoForceRule
) -> list[str]:
    """Art 67 (Budapest Art 47): only a State that has consented to be bound may denounce, and only once."""
    art = rule.denunciation_citation
    reasons = [
        f"{event.party} has another denunciation dated {d.on.isoformat()} ({_where(line)}); "
        f"a State denounces once ({art})"
        for d, line in denunciations
    ]
    if not any(i.on <= event.on for i, _ in instruments):
        reasons.append(
            f"denunciation by {event.party} on {event.on.isoformat()}, which had deposited no instrument of "
            f"ratification, acceptance, approval or accession by then: only a Party may denounce ({art})"
        )
    return reasons
