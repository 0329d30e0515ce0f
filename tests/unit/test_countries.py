"""The catalogue of States (ISO 3166-1) and of regional economic integration organizations."""

from __future__ import annotations

import pytest

from hanoinet.treaty.countries import OrganizationsFileError, iso_states, load_catalog, parse_organizations

EU_MEMBERS = frozenset(
    {
        *("AUT", "BEL", "BGR", "HRV", "CYP", "CZE", "DNK", "EST", "FIN", "FRA", "DEU", "GRC", "HUN", "IRL"),
        *("ITA", "LVA", "LTU", "LUX", "MLT", "NLD", "POL", "PRT", "ROU", "SVK", "SVN", "ESP", "SWE"),
    }
)
STATES = {"FRA": "France", "DEU": "Germany", "VNM": "Viet Nam"}


def test_every_iso_state_is_known_by_its_alpha_3_code() -> None:
    catalog = load_catalog()
    assert len(catalog.states) >= 249
    assert catalog.is_known("VNM")
    assert catalog.is_state("VNM")
    assert not catalog.is_reio("VNM")
    assert catalog.name("FRA") == "France"
    assert catalog.name("BOL") == "Bolivia, Plurinational State of"  # ISO short name, as UN documents
    assert catalog.name("VNM") == "Viet Nam"
    assert not catalog.is_known("VN")  # alpha-2 is not accepted
    assert not catalog.is_known("XXX")


def test_the_eu_is_an_organization_of_its_27_member_states() -> None:
    catalog = load_catalog()
    assert catalog.is_reio("EU")
    assert catalog.name("EU") == "European Union"
    assert catalog.organizations["EU"].members == EU_MEMBERS
    assert not catalog.is_state("EU")


def test_the_catalogue_is_read_once() -> None:
    assert load_catalog() is load_catalog()


def test_iso_states_maps_alpha_3_to_a_name() -> None:
    states = iso_states()
    assert states["DEU"] == "Germany"
    assert all(len(code) == 3 and code.isupper() for code in states)


def test_organizations_are_parsed_from_yaml() -> None:
    text = "organizations:\n  - code: XU\n    name: Example Union\n    members: [FRA, DEU]\n"
    organizations = parse_organizations(text, "orgs.yaml", STATES)
    assert organizations["XU"].members == frozenset({"FRA", "DEU"})
    assert organizations["XU"].name == "Example Union"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("organizations:\n  - code: XU\n    name: X\n    members: [FRA, FRX]\n", "unknown member code(s) FRX"),
        ("organizations:\n  - code: FRA\n    name: X\n    members: []\n", "is an ISO 3166-1 alpha-3 State code"),
        ("organizations:\n  - {code: XU, name: X, members: []}\n  - {code: XU, name: Y, members: []}\n", "twice"),
        ("organizations:\n  - code: XU\n    members: []\n", "'name' must be"),
        ("organizations:\n  - code: XU\n    name: X\n    members: FRA\n", "'members' must be a list"),
        ("organizations:\n  - just a string\n", "expected a mapping"),
        ("members: [FRA]\n", "list under 'organizations'"),
        ("organizations: [\n", "not valid YAML"),
    ],
)
def test_a_malformed_organizations_file_is_refused_naming_the_file(text: str, reason: str) -> None:
    with pytest.raises(OrganizationsFileError, match=r"^orgs\.yaml: ") as caught:
        parse_organizations(text, "orgs.yaml", STATES)
    assert reason in str(caught.value)
    assert isinstance(caught.value, ValueError)
