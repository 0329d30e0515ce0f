"""Treaty status and deposit checks: Hanoi Convention Arts 64, 65, 67; Budapest Convention Arts 36, 47."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from hanoinet.platform.errors import NotFound
from hanoinet.rules.domain import Citation, EntryIntoForceRule, Period
from hanoinet.treaty.domain import (
    CONSENT_ACTIONS,
    DepositAction,
    DepositCheck,
    DepositEvent,
    DepositRow,
    Organization,
    StateCatalog,
    TreatyRegistry,
    UnknownInstrumentError,
    check_deposits,
)
from tests.factories import UN_RULE

UN = "uncc-2024"
BUDAPEST = "budapest-ets185"


BUDAPEST_MONTHS = Period(months=3, first_day_of_following_month=True)
BUDAPEST_RULE = EntryIntoForceRule(
    instruments_required=5,
    general_period=BUDAPEST_MONTHS,
    general_citation=Citation(36, 3),
    later_party_period=BUDAPEST_MONTHS,
    later_party_citation=Citation(36, 4),
    denunciation_period=BUDAPEST_MONTHS,
    denunciation_citation=Citation(47),
    reio_counted_in_addition=False,
    verified=True,
    signature_opens=date(2001, 11, 23),
    signature_closes=None,
    signature_citation=Citation(36, 1),
)

RULES = {UN: UN_RULE, BUDAPEST: BUDAPEST_RULE}

# Forty-odd real ISO codes; which State did what below is exercise data, not the real status of the treaties.
FORTY = [
    *("VNM", "AGO", "ARG", "BRA", "CHN", "COL", "CUB", "EGY", "ETH", "GHA", "IDN", "IND", "IRN", "JAM"),
    *("KEN", "KHM", "LAO", "LKA", "MAR", "MEX", "MNG", "MOZ", "MYS", "NAM", "NGA", "NIC", "PAK", "PER"),
    *("PHL", "QAT", "RUS", "SAU", "SEN", "SGP", "THA", "TUN", "UGA", "URY", "ZAF", "ZMB"),
]
OTHERS = [
    "ALB",
    "HRV",
    "EST",
    "HUN",
    "LTU",
    "ROU",
    "CHL",
    "NOR",
    "CHE",
    "GBR",
    "FRA",
    "DEU",
    "ITA",
    "ESP",
    "JPN",
]
STATES = {code: f"State {code}" for code in FORTY + OTHERS}
EU = Organization(code="EU", name="European Union", members=frozenset({"HRV", "EST", "HUN", "LTU", "ROU", "FRA"}))
CATALOG = StateCatalog(states=STATES, organizations={"EU": EU})

SIGNED_IN_HANOI = date(2025, 10, 25)
FORTIETH = date(2026, 6, 15)
UN_IN_FORCE = date(2026, 9, 13)  # the 90th day after 2026-06-15 (Art 65(1))


def ev(party: str, action: DepositAction | str, on: date, instrument: str = UN) -> DepositEvent:
    return DepositEvent(instrument=instrument, party=party, action=DepositAction(action), on=on)


def forty_ratifications() -> list[DepositEvent]:
    """Forty States sign in Hanoi and ratify through the first half of 2026, the last on 15 June."""
    events = [ev(code, "signature", SIGNED_IN_HANOI) for code in FORTY]
    events += [ev(code, "ratification", date(2026, 1, 5) + timedelta(days=4 * i)) for i, code in enumerate(FORTY[:-1])]
    events.append(ev(FORTY[-1], "ratification", FORTIETH))
    return events


def budapest_history() -> list[DepositEvent]:
    """The first Budapest ratifications, as on the Council of Europe's chart; in force on 1 July 2004."""
    deposits = {
        "ALB": date(2002, 6, 20),
        "HRV": date(2002, 10, 17),
        "EST": date(2003, 5, 12),
        "HUN": date(2003, 12, 4),
        "LTU": date(2004, 3, 18),
        "ROU": date(2004, 5, 12),
    }
    events = [ev(code, "signature", date(2001, 11, 23), BUDAPEST) for code in deposits]
    events += [ev(code, "ratification", on, BUDAPEST) for code, on in deposits.items()]
    return events


def registry(events: list[DepositEvent]) -> TreatyRegistry:
    return TreatyRegistry(RULES, CATALOG, events)


# --- actions and catalogue


def test_only_ratification_acceptance_approval_and_accession_are_instruments_of_consent() -> None:
    assert {a for a in DepositAction if a.is_instrument} == set(CONSENT_ACTIONS)
    assert not DepositAction.SIGNATURE.is_instrument
    assert not DepositAction.DENUNCIATION.is_instrument
    assert DepositAction.RATIFICATION.needs_signature
    assert not DepositAction.ACCESSION.needs_signature


def test_catalog_tells_states_from_organizations() -> None:
    assert CATALOG.is_known("VNM")
    assert CATALOG.is_known("EU")
    assert not CATALOG.is_known("XXX")
    assert CATALOG.is_reio("EU")
    assert not CATALOG.is_reio("VNM")
    assert CATALOG.is_state("VNM")
    assert CATALOG.name("EU") == "European Union"
    assert CATALOG.name("VNM") == "State VNM"
    with pytest.raises(KeyError, match="ISO 3166 alpha-3"):
        CATALOG.name("XXX")


def test_catalog_refuses_an_organization_with_a_state_code_or_unknown_members() -> None:
    with pytest.raises(ValueError, match="also an ISO 3166"):
        StateCatalog(states={"VNM": "Viet Nam"}, organizations={"VNM": Organization("VNM", "x", frozenset())})
    with pytest.raises(ValueError, match="unknown member State code"):
        StateCatalog(states={"VNM": "Viet Nam"}, organizations={"EU": Organization("EU", "x", frozenset({"FRA"}))})


# --- Art 65(1): general entry into force


def test_the_convention_enters_into_force_on_the_90th_day_after_the_40th_instrument() -> None:
    reg = registry(forty_ratifications())
    assert reg.entry_into_force(UN) == UN_IN_FORCE
    assert reg.entry_into_force_for(UN, "VNM") == UN_IN_FORCE
    assert reg.entry_into_force_for(UN, FORTY[-1]) == UN_IN_FORCE


def test_thirty_nine_instruments_are_not_enough() -> None:
    reg = registry(forty_ratifications()[:-1])
    assert reg.entry_into_force(UN) is None
    assert reg.entry_into_force_for(UN, "VNM") is None
    assert not reg.is_party(UN, "VNM", date(2030, 1, 1))
    status = reg.status(UN, date(2030, 1, 1))
    assert (status.instruments_counted, status.instruments_missing, status.in_force) == (39, 1, False)


def test_an_eu_instrument_is_not_counted_in_addition_to_its_members() -> None:
    events = forty_ratifications()[:-1]
    events += [ev("EU", "signature", SIGNED_IN_HANOI), ev("EU", "approval", date(2026, 5, 1))]
    reg = registry(events)
    assert reg.entry_into_force(UN) is None
    assert reg.status(UN, date(2026, 12, 31)).instruments_counted == 39

    reg = registry([*events, ev(FORTY[-1], "ratification", FORTIETH)])
    assert reg.entry_into_force(UN) == UN_IN_FORCE
    # The EU is bound from the general date like any early Party, though its instrument was not counted.
    assert reg.entry_into_force_for(UN, "EU") == UN_IN_FORCE
    assert reg.is_party(UN, "EU", UN_IN_FORCE)


def test_status_before_and_after_the_threshold() -> None:
    reg = registry(forty_ratifications())
    before = reg.status(UN, date(2026, 6, 14))
    assert before.entry_into_force is None  # the 40th instrument is deposited the next day
    assert (before.instruments_counted, before.instruments_missing) == (39, 1)
    assert before.parties == ()
    assert before.signatories == tuple(sorted(FORTY))

    waiting = reg.status(UN, FORTIETH)
    assert waiting.entry_into_force == UN_IN_FORCE
    assert not waiting.in_force
    assert waiting.instruments_missing == 0
    assert waiting.parties == ()

    in_force = reg.status(UN, UN_IN_FORCE)
    assert in_force.in_force
    assert in_force.instruments_counted == 40
    assert in_force.instruments_required == 40
    assert in_force.parties == tuple(sorted(FORTY))


def test_signatories_include_those_that_never_ratified_but_not_future_signatures() -> None:
    events = [*forty_ratifications(), ev("NOR", "signature", date(2026, 3, 1))]
    reg = registry(events)
    assert "NOR" not in reg.status(UN, date(2026, 2, 28)).signatories
    status = reg.status(UN, date(2026, 12, 1))
    assert "NOR" in status.signatories
    assert "NOR" not in status.parties


def test_duplicated_records_are_counted_once() -> None:
    events = forty_ratifications()[:-1]
    events.append(ev("VNM", "ratification", date(2026, 6, 1)))  # a second record for an already counted State
    reg = registry(events)
    assert reg.entry_into_force(UN) is None
    assert reg.status(UN, date(2026, 12, 1)).instruments_counted == 39


# --- Art 65(2): later Parties


def test_a_later_party_is_bound_on_the_30th_day_after_its_deposit() -> None:
    reg = registry([*forty_ratifications(), ev("CHL", "accession", date(2026, 10, 1))])
    assert reg.entry_into_force_for(UN, "CHL") == date(2026, 10, 31)
    assert not reg.is_party(UN, "CHL", date(2026, 10, 30))
    assert reg.is_party(UN, "CHL", date(2026, 10, 31))
    assert reg.party_since(UN, "CHL", date(2027, 1, 1)) == date(2026, 10, 31)


def test_a_deposit_after_the_40th_but_well_before_entry_into_force_takes_the_general_date() -> None:
    reg = registry([*forty_ratifications(), ev("CHL", "accession", date(2026, 7, 1))])
    assert reg.entry_into_force_for(UN, "CHL") == UN_IN_FORCE  # 2026-07-31 is earlier: the later date wins


def test_a_deposit_shortly_before_entry_into_force_takes_its_own_30_days() -> None:
    # Art 65(2) applies to every deposit "after the deposit of the fortieth instrument": whichever is later.
    reg = registry([*forty_ratifications(), ev("CHL", "accession", date(2026, 8, 20))])
    assert reg.entry_into_force_for(UN, "CHL") == date(2026, 9, 19)
    assert reg.is_party(UN, "VNM", UN_IN_FORCE)
    assert not reg.is_party(UN, "CHL", UN_IN_FORCE)


def test_budapest_entered_into_force_on_1_july_2004_and_for_romania_on_1_september() -> None:
    reg = registry(budapest_history())
    assert reg.entry_into_force(BUDAPEST) == date(2004, 7, 1)
    assert reg.entry_into_force_for(BUDAPEST, "LTU") == date(2004, 7, 1)
    # Romania deposited on 12 May 2004, after the fifth instrument: Art 36(4), three months then the 1st.
    assert reg.entry_into_force_for(BUDAPEST, "ROU") == date(2004, 9, 1)
    status = reg.status(BUDAPEST, date(2004, 7, 1))
    assert status.in_force
    assert status.parties == ("ALB", "EST", "HRV", "HUN", "LTU")
    assert status.instruments_counted == 6


def test_budapest_with_five_instruments_by_18_march_2004() -> None:
    events = [e for e in budapest_history() if e.party != "ROU"]
    reg = registry(events)
    before = reg.status(BUDAPEST, date(2004, 3, 17))
    assert (before.entry_into_force, before.instruments_missing) == (None, 1)
    assert reg.status(BUDAPEST, date(2004, 3, 18)).entry_into_force == date(2004, 7, 1)
    assert not reg.is_party(BUDAPEST, "ALB", date(2004, 6, 30))
    assert reg.is_party(BUDAPEST, "ALB", date(2004, 7, 1))


# --- Art 67: denunciation


def test_a_denunciation_takes_effect_one_year_after_receipt() -> None:
    reg = registry([*forty_ratifications(), ev("VNM", "denunciation", date(2027, 3, 1))])
    assert reg.denunciation_effective(UN, "VNM") == date(2028, 3, 1)
    assert reg.is_party(UN, "VNM", date(2028, 2, 29))
    assert not reg.is_party(UN, "VNM", date(2028, 3, 1))
    assert reg.party_since(UN, "VNM", date(2028, 3, 1)) is None
    assert "VNM" not in reg.status(UN, date(2028, 3, 1)).parties
    # A denunciation does not undo the entry into force for everyone else.
    assert reg.entry_into_force(UN) == UN_IN_FORCE
    assert reg.status(UN, date(2028, 3, 1)).in_force


def test_a_party_that_denounces_before_being_bound_stops_being_one_when_the_denunciation_takes_effect() -> None:
    events = [
        *forty_ratifications(),
        ev("CHL", "accession", date(2026, 10, 1)),
        ev("CHL", "denunciation", date(2026, 10, 2)),
    ]
    reg = registry(events)
    assert reg.is_party(UN, "CHL", date(2027, 10, 1))
    assert not reg.is_party(UN, "CHL", date(2027, 10, 2))


def test_no_denunciation_means_no_effective_date() -> None:
    reg = registry(forty_ratifications())
    assert reg.denunciation_effective(UN, "VNM") is None
    assert reg.denunciation_effective(UN, "NOR") is None


# --- legal basis


def test_legal_basis_lists_every_instrument_binding_both_states() -> None:
    events = [
        *forty_ratifications(),
        *budapest_history(),
        ev("HRV", "accession", date(2026, 11, 2)),
    ]
    reg = registry(events)
    assert reg.legal_basis("HRV", "EST", date(2026, 12, 31)) == (BUDAPEST,)
    assert reg.legal_basis("HRV", "VNM", date(2026, 12, 1)) == ()  # Croatia bound only from 2 December
    assert reg.legal_basis("HRV", "VNM", date(2026, 12, 2)) == (UN,)
    events += [ev("EST", "accession", date(2026, 11, 2))]
    assert registry(events).legal_basis("HRV", "EST", date(2027, 1, 1)) == (BUDAPEST, UN)


def test_orchid_a_budapest_only_state_and_viet_nam_gain_a_legal_basis_when_the_un_text_binds_both() -> None:
    """SCENARIOS.md "Orchid": J (CHL here, exercise data) is Party to Budapest only, Viet Nam to the UN."""
    events = [
        *forty_ratifications(),
        *budapest_history(),
        ev("CHL", "accession", date(2017, 4, 20), BUDAPEST),
    ]
    request_day = date(2027, 1, 15)
    reg = registry(events)
    assert reg.is_party(BUDAPEST, "CHL", request_day)
    assert not reg.is_party(UN, "CHL", request_day)
    assert reg.is_party(UN, "VNM", request_day)
    assert reg.legal_basis("CHL", "VNM", request_day) == ()  # offer a bilateral treaty or reciprocity
    assert reg.legal_basis("CHL", "HUN", request_day) == (BUDAPEST,)

    # Six months later J ratifies the UN Convention (it signed in Hanoi); in force for it 30 days later.
    events += [ev("CHL", "signature", SIGNED_IN_HANOI), ev("CHL", "ratification", date(2027, 7, 15))]
    reg = registry(events)
    assert reg.entry_into_force_for(UN, "CHL") == date(2027, 8, 14)
    assert reg.legal_basis("CHL", "VNM", date(2027, 8, 13)) == ()
    assert reg.legal_basis("CHL", "VNM", date(2027, 8, 14)) == (UN,)
    assert reg.legal_basis("CHL", "VNM", request_day) == ()  # the past does not change


# --- party status


def test_party_status_reports_what_the_state_did_by_that_date() -> None:
    events = [*forty_ratifications(), ev("VNM", "denunciation", date(2027, 3, 1))]
    reg = registry(events)
    status = reg.party_status(UN, "VNM", date(2027, 6, 1))
    assert status.party
    assert status.name == "State VNM"
    assert status.party_since == UN_IN_FORCE
    assert status.entry_into_force_for == UN_IN_FORCE
    assert status.signed_on == SIGNED_IN_HANOI
    assert status.consent_deposited_on == date(2026, 1, 5)
    assert status.consent_action is DepositAction.RATIFICATION
    assert status.denounced_on == date(2027, 3, 1)
    assert status.denunciation_effective == date(2028, 3, 1)


def test_party_status_as_of_a_past_date_does_not_reveal_later_acts() -> None:
    events = [*forty_ratifications(), ev("VNM", "denunciation", date(2027, 3, 1))]
    status = registry(events).party_status(UN, "VNM", date(2025, 12, 31))
    assert status.signed_on == SIGNED_IN_HANOI
    assert status.consent_deposited_on is None
    assert status.consent_action is None
    assert status.denounced_on is None
    assert status.denunciation_effective is None
    assert status.entry_into_force_for is None
    assert not status.party

    pending = registry(events).party_status(UN, "ZMB", FORTIETH)
    assert pending.entry_into_force_for == UN_IN_FORCE
    assert not pending.party


def test_party_status_of_a_state_that_did_nothing() -> None:
    status = registry(forty_ratifications()).party_status(UN, "NOR", date(2027, 1, 1))
    assert (status.state, status.name, status.party, status.signed_on) == ("NOR", "State NOR", False, None)


def test_unknown_instruments_are_refused() -> None:
    reg = registry([])
    with pytest.raises(UnknownInstrumentError):
        reg.status("cets-224", date(2026, 1, 1))
    with pytest.raises(NotFound):
        reg.is_party("cets-224", "VNM", date(2026, 1, 1))
    with pytest.raises(UnknownInstrumentError, match="cets-224"):
        registry([ev("VNM", "signature", SIGNED_IN_HANOI, "cets-224")])


# --- check_deposits

TODAY = date(2027, 6, 1)


def rows(*specs: tuple[str, str, str]) -> list[DepositRow]:
    """Rows as they come from a file whose header is line 1."""
    return [DepositRow(line=i, party=p, action=a, on=d) for i, (p, a, d) in enumerate(specs, start=2)]


def check(
    new: list[DepositRow],
    existing: list[DepositEvent] | None = None,
    rule: EntryIntoForceRule = UN_RULE,
    instrument: str = UN,
) -> DepositCheck:
    return check_deposits(new, existing or [], instrument, rule, CATALOG, today=TODAY)


def reasons(result: DepositCheck) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    for error in result.errors:
        found.setdefault(error.line, []).append(error.reason)
    return found


def test_a_signature_and_a_ratification_in_the_same_file_are_fine() -> None:
    result = check(rows(("VNM", "ratification", "2026-01-05"), ("VNM", "signature", "2025-10-25")))
    assert result.ok
    assert result.events == (
        ev("VNM", "signature", SIGNED_IN_HANOI),
        ev("VNM", "ratification", date(2026, 1, 5)),
    )
    assert result.unchanged == 0


def test_codes_and_actions_are_normalised() -> None:
    result = check(rows((" vnm ", " Signature ", " 2025-10-25 "), ("eu", "signature", "2025-10-25")))
    assert result.ok
    assert [e.party for e in result.events] == ["EU", "VNM"]


def test_unknown_state_action_and_bad_dates_are_each_reported() -> None:
    result = check(
        rows(
            ("VNX", "signature", "2025-10-25"),
            ("VNM", "ratify", "2026-01-05"),
            ("CHL", "signature", "2025-02-30"),
            ("NOR", "signature", "2025/11/01"),
            ("JPN", "signature", "20251101"),
            ("GBR", "signature", "2027-06-02"),
        )
    )
    found = reasons(result)
    assert not result.ok
    assert result.events == ()
    assert "ISO 3166-1 alpha-3" in found[2][0]
    assert "organization" in found[2][0]
    assert "unknown action 'ratify'" in found[3][0]
    assert "YYYY-MM-DD" in found[4][0]
    assert "YYYY-MM-DD" in found[5][0]
    assert "YYYY-MM-DD" in found[6][0]
    assert "in the future" in found[7][0]
    assert sorted(found) == [2, 3, 4, 5, 6, 7]


def test_a_row_with_several_problems_reports_them_all() -> None:
    found = reasons(check(rows(("XXX", "sign", "tomorrow"))))
    assert len(found[2]) == 3


def test_signature_outside_the_signature_period_cites_art_64() -> None:
    found = reasons(check(rows(("VNM", "signature", "2025-10-24"), ("CHL", "signature", "2027-01-01"))))
    assert "before the instrument opened for signature on 2025-10-25 (Art 64)" in found[2][0]
    assert "after the instrument closed for signature on 2026-12-31 (Art 64)" in found[3][0]
    assert "accede" in found[3][0]


def test_budapest_has_no_closing_date_for_signature() -> None:
    result = check(
        rows(("NOR", "signature", "2027-01-01"), ("VNM", "signature", "2001-11-22")),
        rule=BUDAPEST_RULE,
        instrument=BUDAPEST,
    )
    found = reasons(result)
    assert 2 not in found
    assert "Art 36(1)" in found[3][0]


def test_ratification_without_a_signature_points_to_accession() -> None:
    found = reasons(check(rows(("VNM", "ratification", "2026-01-05"), ("CHL", "accession", "2026-01-05"))))
    assert list(found) == [2]
    assert "without a prior signature" in found[2][0]
    assert "Art 64" in found[2][0]
    assert "accession" in found[2][0]
    assert "follows the text" in found[2][0]


def test_a_signature_must_precede_ratification_even_within_one_file() -> None:
    found = reasons(check(rows(("VNM", "ratification", "2026-01-05"), ("VNM", "signature", "2026-02-01"))))
    assert "without a prior signature" in found[2][0]


def test_a_second_instrument_of_consent_is_refused() -> None:
    existing = [ev("VNM", "signature", SIGNED_IN_HANOI), ev("VNM", "ratification", date(2026, 1, 5))]
    found = reasons(check(rows(("VNM", "acceptance", "2026-03-01")), existing))
    assert "another instrument of ratification dated 2026-01-05 (already recorded)" in found[2][0]
    assert "(Art 64)" in found[2][0]


def test_a_new_instrument_dated_before_a_recorded_one_is_refused_too() -> None:
    existing = [ev("VNM", "signature", SIGNED_IN_HANOI), ev("VNM", "ratification", date(2026, 3, 1))]
    found = reasons(check(rows(("VNM", "ratification", "2026-01-05")), existing))
    assert "another instrument of ratification dated 2026-03-01" in found[2][0]


def test_two_conflicting_rows_in_one_file_are_both_reported() -> None:
    found = reasons(
        check(
            rows(
                ("VNM", "signature", "2025-10-25"),
                ("VNM", "ratification", "2026-01-05"),
                ("VNM", "approval", "2026-02-05"),
            )
        )
    )
    assert sorted(found) == [3, 4]
    assert "on line 4" in found[3][0]
    assert "on line 3" in found[4][0]


def test_a_second_signature_is_refused() -> None:
    existing = [ev("VNM", "signature", SIGNED_IN_HANOI)]
    found = reasons(check(rows(("VNM", "signature", "2025-11-01")), existing))
    assert "another signature dated 2025-10-25" in found[2][0]
    assert "signs once (Art 64)" in found[2][0]


def test_a_signature_after_accession_is_refused() -> None:
    found = reasons(check(rows(("VNM", "accession", "2026-01-05"), ("VNM", "signature", "2026-02-01"))))
    assert "after consent to be bound" in found[2][0]
    assert "after consent to be bound" in found[3][0]


def test_denunciation_needs_an_instrument_and_cites_art_67() -> None:
    existing = [ev("VNM", "signature", SIGNED_IN_HANOI)]
    found = reasons(check(rows(("VNM", "denunciation", "2027-01-01"), ("CHL", "denunciation", "2027-01-01")), existing))
    assert sorted(found) == [2, 3]
    assert all("only a Party may denounce (Art 67)" in found[line][0] for line in (2, 3))


def test_a_denunciation_dated_before_the_instrument_is_refused() -> None:
    existing = [ev("VNM", "signature", SIGNED_IN_HANOI), ev("VNM", "ratification", date(2026, 3, 1))]
    found = reasons(check(rows(("VNM", "denunciation", "2026-02-01")), existing))
    assert "only a Party may denounce" in found[2][0]


def test_ratifying_an_instrument_already_denounced_is_refused() -> None:
    """The issue's example: a State that denounced files a new ratification."""
    existing = [
        ev("VNM", "signature", SIGNED_IN_HANOI),
        ev("VNM", "ratification", date(2026, 1, 5)),
        ev("VNM", "denunciation", date(2027, 1, 10)),
    ]
    found = reasons(check(rows(("VNM", "ratification", "2027-03-01"), ("VNM", "signature", "2027-03-01")), existing))
    assert sorted(found) == [2, 3]
    assert "comes after its denunciation received on 2027-01-10 (already recorded)" in found[2][0]
    assert "(Art 67)" in found[2][0]


def test_a_second_denunciation_is_refused() -> None:
    existing = [
        ev("VNM", "signature", SIGNED_IN_HANOI),
        ev("VNM", "ratification", date(2026, 1, 5)),
        ev("VNM", "denunciation", date(2027, 1, 10)),
    ]
    found = reasons(check(rows(("VNM", "denunciation", "2026-12-01")), existing))
    assert "another denunciation dated 2027-01-10" in found[2][0]


def test_re_importing_the_same_records_changes_nothing() -> None:
    file_rows = rows(
        ("VNM", "signature", "2025-10-25"),
        ("VNM", "ratification", "2026-01-05"),
        ("CHL", "signature", "2025-10-25"),
    )
    first = check(file_rows)
    assert first.ok
    second = check(file_rows, list(first.events))
    assert second.ok
    assert second.events == ()
    assert second.unchanged == 3


def test_a_file_extending_recorded_events_adds_only_the_new_rows() -> None:
    existing = [ev("VNM", "signature", SIGNED_IN_HANOI)]
    result = check(rows(("VNM", "signature", "2025-10-25"), ("VNM", "ratification", "2026-01-05")), existing)
    assert result.ok
    assert result.unchanged == 1
    assert result.events == (ev("VNM", "ratification", date(2026, 1, 5)),)


def test_events_of_other_instruments_do_not_interfere() -> None:
    existing = [ev("VNM", "signature", date(2002, 1, 1), BUDAPEST)]
    assert check(rows(("VNM", "signature", "2025-10-25")), existing).ok


def test_the_same_new_row_twice_in_a_file_is_reported() -> None:
    found = reasons(check(rows(("VNM", "signature", "2025-10-25"), ("VNM", "signature", "2025-10-25"))))
    assert "appears twice" in found[3][0]


def test_every_bad_row_is_reported_in_line_order() -> None:
    result = check(
        rows(
            ("VNM", "signature", "2025-10-25"),
            ("VNM", "ratification", "2026-01-05"),
            ("XXX", "signature", "2025-10-25"),
            ("CHL", "ratification", "2026-01-05"),
            ("NOR", "denunciation", "2026-01-05"),
            ("JPN", "signature", "2025-13-01"),
        )
    )
    assert [e.line for e in result.errors] == [4, 5, 6, 7]
    assert result.events == ()
    assert str(result.errors[0]).startswith("line 4: ")
