"""The catalogue of States (ISO 3166-1, from pycountry) and of regional economic integration organizations.

Deposit records name parties by ISO 3166-1 alpha-3 code, or by an organization's code (``EU``); the treaty
arithmetic must tell the two apart because an organization's instrument is not counted (Art 65(1)). States
come from pycountry so the list follows ISO's; organizations are data (``hanoinet/treaty/data/organizations.yaml``)
so membership can be corrected without touching code.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from importlib import resources

import pycountry
import yaml

from hanoinet.treaty.domain import Organization, StateCatalog

ORGANIZATIONS_RESOURCE = "organizations.yaml"
"""File name, inside the ``hanoinet.treaty.data`` package, of the organizations list."""


class OrganizationsFileError(ValueError):
    """The organizations file is malformed; the node must not start with a wrong idea of who is a member."""


def iso_states() -> dict[str, str]:
    """Return every ISO 3166-1 country as alpha-3 code -> ISO short name ("Viet Nam", as the UN writes it)."""
    return {country.alpha_3: str(country.name) for country in pycountry.countries}


def parse_organizations(text: str, source: str, states: Mapping[str, str]) -> dict[str, Organization]:
    """Parse an organizations YAML document; raise OrganizationsFileError (a ValueError) naming ``source``.

    Every member must be a known alpha-3 code: a typo would silently make a member State look like a
    non-member, and so change which instruments are counted.
    """
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise OrganizationsFileError(f"{source}: not valid YAML: {exc}") from exc
    if not isinstance(document, dict) or not isinstance(document.get("organizations"), list):
        raise OrganizationsFileError(f"{source}: expected a mapping with a list under 'organizations'")
    organizations: dict[str, Organization] = {}
    for index, entry in enumerate(document["organizations"], start=1):
        where = f"{source}: organization #{index}"
        if not isinstance(entry, dict):
            raise OrganizationsFileError(f"{where}: expected a mapping with code, name and members")
        code, name, members = entry.get("code"), entry.get("name"), entry.get("members")
        if not isinstance(code, str) or not code.strip():
            raise OrganizationsFileError(f"{where}: 'code' must be a non-empty string")
        if not isinstance(name, str) or not name.strip():
            raise OrganizationsFileError(f"{where} ({code}): 'name' must be a non-empty string")
        if not isinstance(members, list) or not all(isinstance(m, str) for m in members):
            raise OrganizationsFileError(f"{where} ({code}): 'members' must be a list of ISO 3166-1 alpha-3 codes")
        code = code.strip()
        if code in organizations:
            raise OrganizationsFileError(f"{where}: organization code {code!r} is listed twice")
        if code in states:
            raise OrganizationsFileError(f"{where}: organization code {code!r} is an ISO 3166-1 alpha-3 State code")
        unknown = sorted({m for m in members if m not in states})
        if unknown:
            raise OrganizationsFileError(
                f"{where} ({code}): unknown member code(s) {', '.join(unknown)}; "
                "members must be ISO 3166-1 alpha-3 codes"
            )
        organizations[code] = Organization(code=code, name=name.strip(), members=frozenset(members))
    return organizations


@functools.cache
def load_catalog() -> StateCatalog:
    """Return the catalogue of ISO States and of the organizations shipped with hanoinet (read once)."""
    states = iso_states()
    resource = resources.files("hanoinet.treaty.data").joinpath(ORGANIZATIONS_RESOURCE)
    source = f"hanoinet/treaty/data/{ORGANIZATIONS_RESOURCE}"
    organizations = parse_organizations(resource.read_text(encoding="utf-8"), source, states)
    return StateCatalog(states=states, organizations=organizations)
