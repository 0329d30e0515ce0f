"""The legal core against cases the first packs got wrong (issue 13, item 6), each with the article it turns on."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hanoinet.cases.domain import Case
from hanoinet.platform.errors import Issue, ValidationFailed
from hanoinet.requests.domain import check_contents, check_refusal_grounds
from hanoinet.rules.domain import OTHER_SERIOUS_CRIME, RulePack
from hanoinet.rules.loader import load_builtin_packs
from tests.factories import complete_items

NOW = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
UN = "uncc-2024"
BUDAPEST = "budapest-ets185"


@pytest.fixture(scope="module")
def packs() -> dict[str, RulePack]:
    return load_builtin_packs()


def issues(pack: RulePack, type_: str, case: Case, items: dict[str, str] | None = None) -> list[Issue]:
    rtype = pack.request_type(type_)
    assert rtype is not None
    found = complete_items(pack.key, type_) if items is None else items
    return check_contents(
        pack, rtype, items=found, case=case, emergency=False, requesting_state="VNM", requested_state="FRA",
        deadline=None, now=NOW,
    )  # fmt: skip


def case(offence: str, years: int | None) -> Case:
    return Case("c1", "HN-1", offence, years, "Facts", "", NOW)


def test_budapest_extradition_is_only_for_the_offences_of_articles_2_to_11(packs: dict[str, RulePack]) -> None:
    budapest = packs[BUDAPEST]
    other = issues(budapest, "extradition", case(OTHER_SERIOUS_CRIME, 5))
    assert [(i.field, i.citation) for i in other] == [("case.offence", "Art 24(1)(a)")]
    assert "only for the offences it establishes" in other[0].message
    assert issues(budapest, "extradition", case("illegal_access", 5)) == []  # Art 2: an offence it establishes
    # its mutual assistance still reaches the electronic evidence of any criminal offence (Art 23)
    assert all(i.field != "case.offence" for i in issues(budapest, "mla", case(OTHER_SERIOUS_CRIME, 5)))


def test_service_of_judicial_documents_needs_no_summary_of_the_facts(packs: dict[str, RulePack]) -> None:
    un = packs[UN]
    served = complete_items(UN, "mla_service")
    assert "facts_summary" not in served
    assert issues(un, "mla_service", case("illegal_access", 7), served) == []
    mla = complete_items(UN, "mla")
    del mla["facts_summary"]
    missing = issues(un, "mla", case("illegal_access", 7), mla)
    assert [(i.field, i.citation) for i in missing] == [("items.facts_summary", "Art 40(15)(c)")]
    service = un.request_type("mla_service")
    assert service is not None
    assert str(service.citation) == "Art 40(3)(b)"
    assert [i.key for i in service.required_items] == [
        "requesting_authority", "subject_matter", "assistance_sought", "persons_concerned", "purpose",
    ]  # fmt: skip


def test_bank_secrecy_is_barred_by_the_un_convention_but_left_to_domestic_law_under_budapest(
    packs: dict[str, RulePack],
) -> None:
    un, budapest = packs[UN], packs[BUDAPEST]
    un_mla, coe_mla = un.request_type("mla"), budapest.request_type("mla")
    assert un_mla is not None
    assert coe_mla is not None
    with pytest.raises(ValidationFailed) as barred:
        check_refusal_grounds(un_mla, ("bank_secrecy",), un)
    assert "is never a ground for refusal" in barred.value.issues[0].message
    # Budapest Art 25(4): the requested Party's law (its bank secrecy, say) or the applicable treaty decides
    assert check_refusal_grounds(coe_mla, ("conditions_of_domestic_law_or_treaty",), budapest) == (
        "conditions_of_domestic_law_or_treaty",
    )
    with pytest.raises(ValidationFailed) as unknown:
        check_refusal_grounds(coe_mla, ("bank_secrecy",), budapest)
    assert "is not a ground for refusal of this type" in unknown.value.issues[0].message  # not "never": no such rule


def test_a_reservation_is_a_ground_only_for_a_state_that_made_it(packs: dict[str, RulePack]) -> None:
    budapest = packs[BUDAPEST]
    preservation, mla = budapest.request_type("preservation"), budapest.request_type("mla")
    assert preservation is not None
    assert mla is not None
    key = "preservation_dual_criminality"
    reservation = budapest.reservation(key)
    assert reservation is not None
    assert str(reservation.citation) == "Art 29(4)"
    assert check_refusal_grounds(preservation, (key,), budapest, frozenset({key})) == (key,)
    with pytest.raises(ValidationFailed) as not_made:
        check_refusal_grounds(preservation, (key,), budapest, frozenset())
    assert not_made.value.issues[0].citation == "Art 29(4)"
    assert "only for a State that made the reservation" in not_made.value.issues[0].message
    assert check_refusal_grounds(preservation, (key,), budapest, None) == (key,)  # another node's own refusal
    with pytest.raises(ValidationFailed, match="is not a ground for refusal of this type"):
        check_refusal_grounds(mla, (key,), budapest, frozenset({key}))  # the reservation concerns preservation
