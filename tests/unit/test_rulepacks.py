"""Rule packs: the shipped packs say what CONVENTION.md says, and a broken pack is refused at the right line.

Broken packs are made the way a reviewer breaks them: by editing the shipped file's text. Each test finds the line
it alters, so the expected line number is the edited line, not a number copied into the test.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from hanoinet.rules.domain import ClockKind, ClockSource, DualCriminality, RulePack, Workflow
from hanoinet.rules.loader import PackError, builtin_pack_paths, load_builtin_packs, load_pack, load_packs

UN = "uncc-2024"
BUDAPEST = "budapest-ets185"

UN_REQUEST_TYPES = {
    "emergency",
    "preservation",
    "traffic_data_disclosure",
    "mla",
    "mla_service",
    "mla_stored_data",
    "mla_realtime_traffic_data",
    "mla_interception",
    "extradition",
    "provisional_arrest",
    "law_enforcement_information",
    "spontaneous_information",
    "joint_investigation",
    "confiscation",
    "return_of_assets",
}
MLA_FAMILY = ("mla", "mla_stored_data", "mla_realtime_traffic_data", "mla_interception")


@pytest.fixture(scope="module")
def packs() -> dict[str, RulePack]:
    return load_builtin_packs()


@pytest.fixture(scope="module")
def un(packs: dict[str, RulePack]) -> RulePack:
    return packs[UN]


@pytest.fixture(scope="module")
def budapest(packs: dict[str, RulePack]) -> RulePack:
    return packs[BUDAPEST]


def _shipped(key: str) -> Path:
    return next(p for p in builtin_pack_paths() if p.stem == key)


# --- the shipped packs --------------------------------------------------------------------------------------------


def test_both_shipped_packs_load(packs: dict[str, RulePack]) -> None:
    assert set(packs) == {UN, BUDAPEST}
    assert [p.name for p in builtin_pack_paths()] == [f"{BUDAPEST}.yaml", f"{UN}.yaml"]
    assert packs[UN].short_title == "Hanoi Convention"
    assert packs[BUDAPEST].short_title == "Budapest Convention"


def test_builtin_packs_are_a_fresh_dict_each_call() -> None:
    first = load_builtin_packs()
    first.clear()
    assert set(load_builtin_packs()) == {UN, BUDAPEST}


def test_un_pack_has_every_request_type(un: RulePack) -> None:
    assert {t.key for t in un.request_types} == UN_REQUEST_TYPES


def test_budapest_pack_has_only_the_types_it_provides_for(budapest: RulePack) -> None:
    keys = {t.key for t in budapest.request_types}
    assert keys < UN_REQUEST_TYPES
    absent = {"law_enforcement_information", "joint_investigation", "confiscation", "return_of_assets"}
    assert not keys & absent
    assert {"preservation", "mla", "extradition", "spontaneous_information", "emergency"} <= keys


def test_every_rule_has_a_citation(packs: dict[str, RulePack]) -> None:
    for pack in packs.values():
        for rtype in pack.request_types:
            assert rtype.citation.article > 0
            for item in rtype.required_items:
                assert item.citation.article > 0
                assert str(item.citation).startswith(f"Art {item.citation.article}")
                assert item.label
            for ground in rtype.refusal_grounds:
                assert ground.citation.article > 0
            for clock in rtype.clocks:
                assert clock.source is ClockSource.POLICY or clock.citation is not None


def test_art_42_item_e_reads_as_a_validation_message(un: RulePack) -> None:
    preservation = un.request_type("preservation")
    assert preservation is not None
    item = preservation.item("necessity")
    assert item is not None
    assert str(item.citation) == "Art 42(2)(e)"
    assert f"{item.citation}: {item.label} is missing" == "Art 42(2)(e): the necessity of the preservation is missing"
    assert item.verified is False  # Art 42 is [to verify] in CONVENTION.md
    assert [str(i.citation) for i in preservation.required_items] == [f"Art 42(2)({x})" for x in "abcdef"]


def test_budapest_art_29_items_are_verified(budapest: RulePack) -> None:
    preservation = budapest.request_type("preservation")
    assert preservation is not None
    assert [str(i.citation) for i in preservation.required_items] == [f"Art 29(2)({x})" for x in "abcdef"]
    assert all(i.verified and i.required for i in preservation.required_items)


def test_un_mla_items_where_possible_is_optional(un: RulePack) -> None:
    for key in MLA_FAMILY:
        rtype = un.request_type(key)
        assert rtype is not None
        persons = rtype.item("persons_concerned")
        assert persons is not None
        assert str(persons.citation).endswith("(e)")
        assert persons.required is False


def test_political_offence_is_a_budapest_ground_only(un: RulePack, budapest: RulePack) -> None:
    for key in ("mla", "preservation"):
        rtype = budapest.request_type(key)
        assert rtype is not None
        assert rtype.ground("political_offence") is not None
    assert all(t.ground("political_offence") is None for t in un.request_types)


def test_discrimination_is_a_un_ground_only(un: RulePack, budapest: RulePack) -> None:
    for key in (*MLA_FAMILY, "extradition"):
        rtype = un.request_type(key)
        assert rtype is not None
        assert rtype.ground("discrimination") is not None
    assert all(t.ground("discrimination") is None for t in budapest.request_types)


def test_bank_secrecy_is_never_a_ground_under_the_un_convention_only(un: RulePack, budapest: RulePack) -> None:
    # UN Art 40: bank secrecy is never a ground of refusal
    assert "bank_secrecy" in un.never_grounds
    assert all(t.ground("bank_secrecy") is None for t in un.request_types)
    assert "fiscal_matters" in un.never_grounds
    # Budapest has no such clause: the requested Party's law or treaty keeps its grounds (Art 25(4)), to which
    # Art 27(4) adds two; only preservation lists its grounds exhaustively (Art 29(5))
    assert "bank_secrecy" not in budapest.never_grounds
    mla = budapest.request_type("mla")
    assert mla is not None
    own_law = mla.ground("conditions_of_domestic_law_or_treaty")
    assert own_law is not None
    assert str(own_law.citation) == "Art 25(4)"
    preservation = budapest.request_type("preservation")
    assert preservation is not None
    assert {g.key for g in preservation.refusal_grounds} == {"political_offence", "essential_interests"}
    assert {str(g.citation) for g in preservation.refusal_grounds} == {"Art 29(5)(a)", "Art 29(5)(b)"}


def test_preservation_refusal_is_narrow(un: RulePack, budapest: RulePack) -> None:
    un_preservation = un.request_type("preservation")
    coe_preservation = budapest.request_type("preservation")
    assert un_preservation is not None
    assert coe_preservation is not None
    assert [g.key for g in un_preservation.refusal_grounds] == ["essential_interests"]
    assert [g.key for g in coe_preservation.refusal_grounds] == ["political_offence", "essential_interests"]
    assert str(coe_preservation.refusal_grounds[0].citation) == "Art 29(5)(a)"


def test_spontaneous_information_cannot_be_refused(packs: dict[str, RulePack]) -> None:
    for pack in packs.values():
        rtype = pack.request_type("spontaneous_information")
        assert rtype is not None
        assert rtype.workflow is Workflow.NOTIFICATION
        assert rtype.refusal_grounds == ()


def test_workflows_and_dual_criminality(un: RulePack) -> None:
    for rtype in un.request_types:
        expected = {"preservation": Workflow.PRESERVATION, "spontaneous_information": Workflow.NOTIFICATION}
        assert rtype.workflow is expected.get(rtype.key, Workflow.STANDARD)
    preservation, mla, extradition = (un.request_type(k) for k in ("preservation", "mla", "extradition"))
    assert preservation is not None
    assert mla is not None
    assert extradition is not None
    assert preservation.dual_criminality is DualCriminality.NOT_REQUIRED
    assert "reserve" in preservation.dual_criminality_note
    assert mla.dual_criminality is DualCriminality.MAY_BE_REQUIRED
    assert extradition.dual_criminality is DualCriminality.REQUIRED
    assert extradition.minimum_penalty_years == 1
    assert str(extradition.dual_criminality_citation) == "Art 37(1)"
    nationality = extradition.ground("nationality")
    assert nationality is not None
    assert "aut dedere aut judicare" in nationality.note.lower()


def test_clocks(un: RulePack) -> None:
    preservation, emergency, mla = (un.request_type(k) for k in ("preservation", "emergency", "mla"))
    assert preservation is not None
    assert emergency is not None
    assert mla is not None
    keep = next(c for c in preservation.clocks if c.kind is ClockKind.PRESERVATION)
    assert keep.period.days == 60
    assert keep.source is ClockSource.CONVENTION
    assert keep.held_while_follow_up_pending
    assert keep.extension is not None
    respond = next(c for c in emergency.clocks if c.kind is ClockKind.RESPOND)
    assert respond.period.hours == 8
    assert respond.source is ClockSource.POLICY
    assert "2023/1543" in respond.description
    acknowledge = next(c for c in mla.clocks if c.kind is ClockKind.ACKNOWLEDGE and not c.emergency_only)
    assert acknowledge.period.days == 10
    assert set(mla.follow_up_of) == {"preservation", "emergency"}


def test_every_type_carries_the_instruments_written_confirmation_clock(packs: dict[str, RulePack]) -> None:
    # an urgent oral request is confirmed in writing: one policy clock per instrument, in every type's list
    for pack in packs.values():
        for rtype in pack.request_types:
            oral = [c for c in rtype.clocks if c.kind is ClockKind.WRITTEN_CONFIRMATION]
            assert len(oral) == 1, (pack.key, rtype.key)
            assert oral[0].source is ClockSource.POLICY
            assert oral[0].period.hours == 72
    assert (
        str(next(c for c in packs[UN].request_types[0].clocks if c.kind is ClockKind.WRITTEN_CONFIRMATION).citation)
        == "Art 40"
    )


def test_a_written_confirmation_clock_belongs_to_the_instrument_not_a_type(tmp_path: Path) -> None:
    path, line = _broken(tmp_path, "- key: preservation", "kind: acknowledge", "kind: written_confirmation")
    error = _error(path)
    assert any(
        problem_line == line and "the instrument's: 'oral_confirmation'" in reason
        for problem_line, reason in error.problems
    )


def test_the_oral_confirmation_clock_must_be_one(tmp_path: Path) -> None:
    path, line = _broken(tmp_path, "oral_confirmation:", "kind: written_confirmation", "kind: respond")
    error = _error(path)
    assert (line, "oral_confirmation.kind: the oral-request clock is a 'written_confirmation' clock, not respond") in (
        error.problems
    )


def test_emergency_allowed(un: RulePack) -> None:
    allowed = {t.key for t in un.request_types if t.emergency_allowed}
    assert allowed == {
        "emergency",
        "preservation",
        "traffic_data_disclosure",
        *MLA_FAMILY,
        "provisional_arrest",
    }


def test_un_offences_are_articles_7_to_17(un: RulePack) -> None:
    expected = {
        "illegal_access": 7,
        "illegal_interception": 8,
        "data_interference": 9,
        "system_interference": 10,
        "misuse_of_devices": 11,
        "forgery": 12,
        "theft_or_fraud": 13,
        "csam": 14,
        "grooming": 15,
        "intimate_images": 16,
        "laundering": 17,
    }
    assert {o.key: o.citation.article for o in un.offences} == expected


def test_budapest_offences_are_articles_2_to_10(budapest: RulePack) -> None:
    assert [o.citation.article for o in budapest.offences] == list(range(2, 11))
    fraud = budapest.offence("theft_or_fraud")
    assert fraud is not None
    assert fraud.citation.article == 8
    assert budapest.offence("copyright") is not None


def test_serious_crime(un: RulePack, budapest: RulePack) -> None:
    assert un.serious_crime_min_years == 4
    assert str(un.serious_crime_citation) == "Art 2"
    assert budapest.serious_crime_min_years is None


def test_entry_into_force(un: RulePack, budapest: RulePack) -> None:
    rule = un.entry_into_force
    assert rule.instruments_required == 40
    assert rule.general_period.after(date(2026, 1, 1)) == date(2026, 4, 1)  # the 90th day after
    assert not rule.reio_counted_in_addition
    assert (rule.signature_opens, rule.signature_closes) == (date(2025, 10, 25), date(2026, 12, 31))
    coe = budapest.entry_into_force
    assert coe.instruments_required == 5
    # The fifth ratification was deposited on 18 March 2004; the Convention entered into force on 1 July 2004.
    assert coe.general_period.after(date(2004, 3, 18)) == date(2004, 7, 1)
    assert coe.signature_closes is None


# --- broken packs -------------------------------------------------------------------------------------------------


def _edit(text: str, anchor: str, old: str, new: str) -> tuple[str, int]:
    """Replace ``old`` by ``new`` on the first line containing ``old`` at or after ``anchor``; return its line."""
    lines = text.splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if anchor in line)
    index = next(i for i in range(start, len(lines)) if old in lines[i])
    lines[index] = lines[index].replace(old, new, 1)
    return "".join(lines), index + 1


def _broken(tmp_path: Path, anchor: str, old: str, new: str, key: str = UN) -> tuple[Path, int]:
    text, line = _edit(_shipped(key).read_text(encoding="utf-8"), anchor, old, new)
    path = tmp_path / f"{key}.yaml"
    path.write_text(text, encoding="utf-8")
    return path, line


def _line_of(path: Path, needle: str, start: str = "") -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    first = next(i for i, line in enumerate(lines) if start in line) if start else 0
    return next(i for i in range(first, len(lines)) if needle in lines[i]) + 1


def _error(path: Path) -> PackError:
    with pytest.raises(PackError) as caught:
        load_pack(path)
    return caught.value


def test_an_unaltered_copy_loads(tmp_path: Path) -> None:
    path = tmp_path / "copy.yaml"
    path.write_text(_shipped(UN).read_text(encoding="utf-8"), encoding="utf-8")
    assert load_pack(path) == load_builtin_packs()[UN]


def test_bad_yaml(tmp_path: Path) -> None:
    path, line = _broken(tmp_path, "short_title:", "Hanoi Convention", "Hanoi: Convention")
    error = _error(path)
    assert error.line == line
    assert "invalid YAML" in error.reason
    assert str(error) == f"{path}:{line}: {error.reason}"


def test_wrong_letter(tmp_path: Path) -> None:
    path, line = _broken(tmp_path, "label: the necessity of the preservation", "letter: e", "letter: ee")
    error = _error(path)
    assert error.line == line
    assert error.reason == "request_types[1].required_items[4].letter: must be a single lowercase letter"
    assert str(error) == f"{path}:{line}: {error.reason}"


def test_missing_verified_is_reported_at_its_item(tmp_path: Path) -> None:
    path, _ = _broken(tmp_path, "label: the necessity of the preservation", "verified: false", "")
    error = _error(path)
    assert error.line == _line_of(path, "- key: necessity")
    assert error.reason == "request_types[1].required_items[4].verified: is required"


def test_string_is_not_a_bool(tmp_path: Path) -> None:
    path, line = _broken(tmp_path, "label: the necessity of the preservation", "verified: false", 'verified: "no"')
    error = _error(path)
    assert error.line == line
    assert error.reason.startswith("request_types[1].required_items[4].verified: ")
    assert "boolean" in error.reason


def test_unknown_key(tmp_path: Path) -> None:
    path, line = _broken(tmp_path, "- key: necessity", "verified: false", "verifed: false")
    error = _error(path)
    # The misspelling makes two problems: `verified` is missing (at the item) and `verifed` is unknown (here).
    assert (
        line,
        "request_types[1].required_items[4].verifed: is not a field of a rule pack here (misspelt or misplaced?)",
    ) in error.problems
    assert (_line_of(path, "- key: necessity"), "request_types[1].required_items[4].verified: is required") in (
        error.problems
    )


def test_unknown_top_level_key(tmp_path: Path) -> None:
    path, line = _broken(tmp_path, "short_title:", "short_title: Hanoi Convention", "shorttitle: Hanoi Convention")
    error = _error(path)
    assert (line, "shorttitle: is not a field of a rule pack here (misspelt or misplaced?)") in error.problems


def test_duplicate_item_key(tmp_path: Path) -> None:
    path, line = _broken(tmp_path, "label: Preservation", "key: necessity", "key: requesting_authority")
    error = _error(path)
    assert error.line == line
    assert error.reason.startswith("request_types[1].required_items[4].key: duplicate item key 'requesting_authority'")


def test_bank_secrecy_as_a_ground(tmp_path: Path) -> None:
    path, line = _broken(
        tmp_path, "&un_ground_contrary_to_legal_system", "key: contrary_to_legal_system", "key: bank_secrecy"
    )
    error = _error(path)
    assert error.line == line
    assert error.reason.startswith("request_types[3].refusal_grounds[3].key: 'bank_secrecy' is never a ground")


def test_duplicate_yaml_key(tmp_path: Path) -> None:
    path, line = _broken(tmp_path, "- key: necessity", "verified: false", "verified: false\n        verified: true")
    error = _error(path)
    assert error.line == line + 1
    assert "request_types[1].required_items[4].verified: is written twice" in error.reason


def test_impossible_date(tmp_path: Path) -> None:
    path, line = _broken(tmp_path, "signature_closes:", "2026-12-31", "2026-02-30")
    error = _error(path)
    assert error.line == line
    assert "not a real date" in error.reason


def test_unknown_workflow(tmp_path: Path) -> None:
    path, line = _broken(tmp_path, "label: Mutual legal assistance", "workflow: standard", "workflow: fast")
    error = _error(path)
    assert error.line == line
    assert error.reason.startswith("request_types[3].workflow: ")


def test_follow_up_of_an_unknown_type(tmp_path: Path) -> None:
    path, line = _broken(
        tmp_path,
        "label: Mutual legal assistance",
        "follow_up_of: [preservation, emergency]",
        "follow_up_of: [preservation, emergencies]",
    )
    error = _error(path)
    assert error.line == line
    assert error.reason == "request_types[3].follow_up_of[1]: no request type 'emergencies' in this pack"


def test_zero_article(tmp_path: Path) -> None:
    path, line = _broken(tmp_path, "key: illegal_access", "article: 7", "article: 0")
    error = _error(path)
    assert error.line == line
    assert error.reason.startswith("offences[0].article: must be a positive whole number")


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("# nothing yet\n", encoding="utf-8")
    error = _error(path)
    assert error.line is None
    assert str(error) == f"{path}: the file is empty"


def test_duplicate_pack_key(tmp_path: Path) -> None:
    first = tmp_path / "one.yaml"
    second = tmp_path / "two.yaml"
    for path in (first, second):
        path.write_text(_shipped(BUDAPEST).read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(PackError) as caught:
        load_packs([first, second])
    assert caught.value.path == str(second)
    assert caught.value.line == _line_of(second, "key: budapest-ets185")
    assert "already loaded" in caught.value.reason
