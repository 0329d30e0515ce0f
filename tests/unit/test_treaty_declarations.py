"""A declarations file: what States declared (the languages they accept requests in), read and checked whole."""

from __future__ import annotations

from datetime import date

import pytest

from hanoinet.platform.errors import ValidationFailed
from hanoinet.treaty.declarations import Declaration, check_declarations, in_force
from hanoinet.treaty.declarations_file import parse_declarations

TODAY = date(2027, 3, 1)
KNOWN = {"JPN", "VNM", "EGY"}

JAPAN = """
declarations:
  - state: jpn
    instrument: uncc-2024
    made_on: 2026-05-01
    languages: [ja, en, ja]
    reference: "  C.N.123.2026.TREATIES-XVIII.16  "
  - state: EGY
    instrument: budapest-ets185
    made_on: 2020-01-01
    languages: [ar]
"""


def check(text: str) -> tuple[list[Declaration], dict[str, str]]:
    found, issues = check_declarations(
        parse_declarations(text, "test.yaml"),
        instruments=("uncc-2024", "budapest-ets185"),
        known_state=KNOWN.__contains__,
        today=TODAY,
    )
    return found, {i.field: i.message for i in issues}


def test_a_good_file_gives_each_declaration_normalised() -> None:
    found, issues = check(JAPAN)
    assert issues == {}
    assert found == [
        Declaration("uncc-2024", "JPN", date(2026, 5, 1), ("ja", "en"), "C.N.123.2026.TREATIES-XVIII.16"),
        Declaration("budapest-ets185", "EGY", date(2020, 1, 1), ("ar",), ""),
    ]


@pytest.mark.parametrize(
    ("entry", "field", "says"),
    [
        ("{state: XXX, instrument: uncc-2024, made_on: 2026-05-01, languages: [ja]}", "state", "unknown State 'XXX'"),
        ("{state: JPN, instrument: nope, made_on: 2026-05-01, languages: [ja]}", "instrument", "no rule pack 'nope'"),
        ("{state: JPN, instrument: uncc-2024, made_on: 2028-01-01, languages: [ja]}", "made_on", "in the future"),
        ("{state: JPN, instrument: uncc-2024, made_on: yesterday, languages: [ja]}", "made_on", "must be a date"),
        ("{state: JPN, instrument: uncc-2024, made_on: 2026-05-01 10:00:00, languages: [ja]}", "made_on", "a date"),
        ("{state: JPN, instrument: uncc-2024, made_on: 2026-05-01, languages: []}", "languages", "a list of 1 to"),
        ("{state: JPN, instrument: uncc-2024, made_on: 2026-05-01, languages: ja}", "languages", "a list of 1 to"),
        ("{state: JPN, instrument: uncc-2024, made_on: 2026-05-01, languages: [Japanese]}", "languages[0]", "BCP 47"),
        ("{instrument: uncc-2024, made_on: 2026-05-01, languages: [ja]}", "state", "is required"),
        (
            "{state: JPN, instrument: uncc-2024, made_on: 2026-05-01, languages: [ja], reference: 7}",
            "reference",
            "text",
        ),
    ],
)
def test_each_bad_value_is_named_with_its_entry_and_field(entry: str, field: str, says: str) -> None:
    found, issues = check(
        f"declarations:\n  - {{state: VNM, instrument: uncc-2024, made_on: 2026-01-01, languages: [vi]}}\n  - {entry}\n"
    )
    assert says in issues[f"declarations[1].{field}"]
    assert len(found) == 1  # the good entry is checked too, but the service records a file whole or not at all


def test_two_declarations_of_one_state_on_one_day_are_refused() -> None:
    text = "declarations:\n" + "  - {state: JPN, instrument: uncc-2024, made_on: 2026-05-01, languages: [ja]}\n" * 2
    _, issues = check(text)
    assert "another declaration under uncc-2024 made on 2026-05-01 (declarations[0])" in issues["declarations[1]"]


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("declarations: {JPN: ja}", "a list 'declarations'"),
        ("- state: JPN", "a list 'declarations'"),
        ("declarations:\n  - state: [JPN\n", "is not valid YAML"),
        ("declarations:\n  - {state: JPN, langauges: [ja]}", "is not a field of a declaration"),
        ("declarations:\n  - JPN", "must be a mapping of state"),
        ("declarations:\n  - {state: JPN, instrument: uncc-2024, made_on: 2026-02-30, languages: [ja]}", "real date"),
    ],
)
def test_a_file_that_is_not_a_declarations_file_is_refused_with_where(text: str, says: str) -> None:
    with pytest.raises(ValidationFailed) as raised:
        parse_declarations(text, "test.yaml")
    assert says in str(raised.value)


def test_bytes_that_are_not_utf8_or_too_many_are_refused() -> None:
    with pytest.raises(ValidationFailed, match="not UTF-8"):
        parse_declarations(b"declarations: [\xff]", "x.yaml")
    with pytest.raises(ValidationFailed, match="larger than"):
        parse_declarations(b" " * (1024 * 1024 + 1), "x.yaml")


def test_the_latest_declaration_is_the_one_in_force() -> None:
    old = Declaration("uncc-2024", "JPN", date(2026, 5, 1), ("ja",))
    new = Declaration("uncc-2024", "JPN", date(2026, 9, 1), ("ja", "en"))
    other = Declaration("budapest-ets185", "JPN", date(2027, 1, 1), ("en",))
    assert in_force([new, old, other], "uncc-2024", "JPN") == new
    assert in_force([old, other], "uncc-2024", "EGY") is None


def test_the_composer_warns_when_the_request_is_not_in_a_declared_language() -> None:
    from hanoinet.requests.web import _language_offer  # noqa: PLC0415 - the page's own rule, not a copy of it

    korea = ("ko", "en")
    in_vietnamese = _language_offer(korea, "vi", "en")
    assert in_vietnamese["not_accepted"]
    assert in_vietnamese["accepted"] == ["Korean", "English"]
    assert in_vietnamese["translate_to"] == "en"  # the first accepted language a document can be made in
    in_english = _language_offer(korea, "en-GB", "fr")
    assert not in_english["not_accepted"]
    assert in_english["accepted"] == ["coréen", "anglais"]
    assert in_english["translate_to"] == ""
    unknown = _language_offer(("tlh",), "en", "en")  # a tag Babel does not name is shown as it is, never a 500
    assert unknown["accepted"] == ["tlh"]
    assert unknown["not_accepted"]
    assert _language_offer((), "vi", "en")["not_accepted"] is False  # nothing declared: nothing to warn about


def test_reservations_are_keys_of_the_instruments_pack() -> None:
    entry = (
        "declarations:\n"
        "  - {state: JPN, instrument: uncc-2024, made_on: 2026-05-01, languages: [ja], reservations: %s}\n"
    )

    def checked(reservations: str) -> tuple[list[Declaration], dict[str, str]]:
        found, issues = check_declarations(
            parse_declarations(entry % reservations, "test.yaml"),
            instruments=("uncc-2024",),
            known_state=KNOWN.__contains__,
            today=TODAY,
            reservations_of=lambda _: {"preservation_dual_criminality"},
        )
        return found, {i.field: i.message for i in issues}

    found, issues = checked("[preservation_dual_criminality, preservation_dual_criminality]")
    assert issues == {}
    assert found[0].reservations == ("preservation_dual_criminality",)
    _, issues = checked("[no_such_reservation]")
    assert (
        "is not a reservation of the instrument; known: preservation_dual_criminality"
        in issues["declarations[0].reservations[0]"]
    )
    _, issues = checked("preservation_dual_criminality")
    assert "must be a list" in issues["declarations[0].reservations"]
