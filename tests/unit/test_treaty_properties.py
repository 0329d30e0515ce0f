"""Properties of the treaty arithmetic that hold for any deposit history, not only the ones we thought of."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from random import Random

from hypothesis import given, settings
from hypothesis import strategies as st

from hanoinet.treaty.domain import (
    CONSENT_ACTIONS,
    DepositAction,
    DepositEvent,
    Organization,
    StateCatalog,
    TreatyRegistry,
)
from tests.factories import UN_RULE

UN = "uncc-2024"
RULES = {UN: UN_RULE}

CODES = tuple(f"S{i:02d}" for i in range(60))  # synthetic State codes: the arithmetic does not care about names
EU = Organization(code="EU", name="European Union", members=frozenset(CODES[:10]))
CATALOG = StateCatalog(states={c: f"State {c}" for c in CODES}, organizations={"EU": EU})

START = date(2025, 10, 25)
PROPERTY_SETTINGS = settings(max_examples=60, deadline=None)


@dataclass(frozen=True)
class History:
    events: tuple[DepositEvent, ...]
    days: tuple[date, ...]  # dates at which to observe the registry


def day(offset: int) -> date:
    return START + timedelta(days=offset)


@st.composite
def histories(draw: st.DrawFn, with_eu: bool = True) -> History:
    """Signatures, instruments and denunciations by up to 60 States (and the EU), often reaching 40."""
    # Three histories in four are large enough to reach 40 instruments often, and sit near the threshold.
    large = draw(st.integers(0, 3)) > 0
    count = draw(st.integers(44, len(CODES)) if large else st.integers(0, len(CODES)))
    parties = list(draw(st.permutations(CODES))[:count])
    if with_eu and draw(st.booleans()):
        parties.append("EU")
    events: list[DepositEvent] = []
    for party in parties:
        signed = draw(st.none() | st.integers(0, 430))
        if signed is not None:
            events.append(DepositEvent(UN, party, DepositAction.SIGNATURE, day(signed)))
        action = draw(st.sampled_from(sorted(CONSENT_ACTIONS)))
        if signed is None:
            action = DepositAction.ACCESSION
        if draw(st.integers(0, 9)) == 0:  # one in ten only signs
            continue
        consent = draw(st.integers(signed or 0, 1500))
        events.append(DepositEvent(UN, party, action, day(consent)))
        if draw(st.integers(0, 5)) == 0:  # a few denounce
            denounced = draw(st.integers(consent, 2500))
            events.append(DepositEvent(UN, party, DepositAction.DENUNCIATION, day(denounced)))
    days = draw(st.lists(st.integers(-10, 3000), min_size=1, max_size=8))
    return History(events=tuple(events), days=tuple(sorted(day(d) for d in days)))


def registry(events: tuple[DepositEvent, ...] | list[DepositEvent]) -> TreatyRegistry:
    return TreatyRegistry(RULES, CATALOG, events)


def observation_days(history: History, reg: TreatyRegistry) -> list[date]:
    """The drawn days plus the edges where status changes, where off-by-one errors would hide."""
    edges: set[date] = set(history.days)
    parties = sorted({e.party for e in history.events})
    for edge in [reg.entry_into_force(UN)] + [
        d for p in parties[:5] for d in (reg.entry_into_force_for(UN, p), reg.denunciation_effective(UN, p))
    ]:
        if edge is not None:
            edges |= {edge - timedelta(days=1), edge}
    return sorted(edges)


def counted_deposits(events: tuple[DepositEvent, ...]) -> list[date]:
    """An independent count: one instrument per State, an organization's never counted (Art 65(1))."""
    return sorted(e.on for e in events if e.action.is_instrument and not CATALOG.is_reio(e.party))


@PROPERTY_SETTINGS
@given(histories())
def test_entry_into_force_is_exactly_the_90th_day_after_the_40th_counted_instrument(history: History) -> None:
    reg = registry(history.events)
    deposits = counted_deposits(history.events)
    general = reg.entry_into_force(UN)
    if len(deposits) < 40:
        assert general is None
    else:
        assert general == deposits[39] + timedelta(days=90)
    for on in observation_days(history, reg):
        status = reg.status(UN, on)
        counted = sum(1 for d in deposits if d <= on)
        assert status.instruments_counted == counted
        assert status.instruments_missing == max(0, 40 - counted)
        if status.entry_into_force is not None:
            assert status.entry_into_force >= deposits[39] + timedelta(days=90)
        assert status.in_force == (status.entry_into_force is not None and status.entry_into_force <= on)


@PROPERTY_SETTINGS
@given(histories(with_eu=False), st.integers(0, 2000), st.sampled_from(sorted(CONSENT_ACTIONS)))
def test_an_organizations_instrument_never_changes_the_count_or_the_date(
    history: History, offset: int, action: DepositAction
) -> None:
    with_eu = (*history.events, DepositEvent(UN, "EU", action, day(offset)))
    before, after = registry(history.events), registry(with_eu)
    assert after.entry_into_force(UN) == before.entry_into_force(UN)
    for on in observation_days(history, before):
        assert after.status(UN, on).instruments_counted == before.status(UN, on).instruments_counted
        assert after.status(UN, on).entry_into_force == before.status(UN, on).entry_into_force


@PROPERTY_SETTINGS
@given(histories())
def test_party_status_only_grows_until_a_denunciation_takes_effect(history: History) -> None:
    reg = registry(history.events)
    days = observation_days(history, reg)
    for party in {e.party for e in history.events}:
        ends = reg.denunciation_effective(UN, party)
        observed = [reg.is_party(UN, party, on) for on in days if ends is None or on < ends]
        assert observed == sorted(observed)  # False ... False True ... True
        if ends is not None:
            assert not any(reg.is_party(UN, party, on) for on in days if on >= ends)


@PROPERTY_SETTINGS
@given(histories())
def test_no_one_is_bound_before_the_general_entry_into_force(history: History) -> None:
    reg = registry(history.events)
    general = reg.entry_into_force(UN)
    days = observation_days(history, reg)
    for party in {e.party for e in history.events}:
        bound_from = reg.entry_into_force_for(UN, party)
        if bound_from is not None:
            assert general is not None
            assert bound_from >= general
        for on in days:
            since = reg.party_since(UN, party, on)
            if since is not None:
                assert general is not None
                assert general <= since <= on
                assert since == bound_from


@PROPERTY_SETTINGS
@given(histories())
def test_status_parties_are_sorted_and_agree_with_is_party(history: History) -> None:
    reg = registry(history.events)
    everyone = {e.party for e in history.events}
    for on in observation_days(history, reg):
        status = reg.status(UN, on)
        assert list(status.parties) == sorted(status.parties)
        assert set(status.parties) == {p for p in everyone if reg.is_party(UN, p, on)}
        assert list(status.signatories) == sorted(status.signatories)
        assert status.parties == reg.parties(UN, on)


@PROPERTY_SETTINGS
@given(histories(), st.randoms(use_true_random=False))
def test_the_order_of_events_does_not_matter(history: History, random: Random) -> None:
    shuffled = list(history.events)
    random.shuffle(shuffled)
    a, b = registry(history.events), registry(shuffled)
    assert a.entry_into_force(UN) == b.entry_into_force(UN)
    for on in observation_days(history, a):
        assert a.status(UN, on) == b.status(UN, on)
        for party in {e.party for e in history.events}:
            assert a.party_status(UN, party, on) == b.party_status(UN, party, on)


@PROPERTY_SETTINGS
@given(histories())
def test_a_later_party_waits_at_least_30_days_after_its_own_deposit(history: History) -> None:
    reg = registry(history.events)
    deposits = counted_deposits(history.events)
    if len(deposits) < 40:
        return
    fortieth = deposits[39]
    for event in history.events:
        if event.action.is_instrument and event.on > fortieth:
            bound_from = reg.entry_into_force_for(UN, event.party)
            assert bound_from == max(event.on + timedelta(days=30), fortieth + timedelta(days=90))
