"""Test data: treaty deposits, cases and complete requests built from the shipped rule packs.

Treaty data here is exercise data, invented for tests; it is not the real status of any instrument.
"""

from __future__ import annotations

import random
from datetime import date

from hanoinet.rules.domain import Citation, EntryIntoForceRule, Period
from hanoinet.rules.loader import load_builtin_packs

UN_RULE = EntryIntoForceRule(
    instruments_required=40,
    general_period=Period(days=90),
    general_citation=Citation(65, 1),
    later_party_period=Period(days=30),
    later_party_citation=Citation(65, 2),
    denunciation_period=Period(years=1),
    denunciation_citation=Citation(67),
    reio_counted_in_addition=False,
    verified=False,
    signature_opens=date(2025, 10, 25),
    signature_closes=date(2026, 12, 31),
    signature_citation=Citation(64),
)
"""The Hanoi Convention's entry-into-force rule written out by hand (as CONVENTION.md states it), so that the
treaty arithmetic is tested against the text, not against whatever the shipped pack says."""

# Forty States (not EU members, so that the EU can be tested separately) that sign and ratify the UN text.
UN_PARTIES = [
    "VNM",
    "KHM",
    "LAO",
    "THA",
    "MYS",
    "IDN",
    "PHL",
    "SGP",
    "CHN",
    "JPN",
    "KOR",
    "MNG",
    "IND",
    "PAK",
    "BGD",
    "LKA",
    "NPL",
    "AUS",
    "NZL",
    "FJI",
    "BRA",
    "ARG",
    "CHL",
    "COL",
    "PER",
    "URY",
    "MEX",
    "CAN",
    "NGA",
    "GHA",
    "KEN",
    "ZAF",
    "EGY",
    "MAR",
    "TUN",
    "SEN",
    "CIV",
    "ETH",
    "RWA",
    "UGA",
]
assert len(set(UN_PARTIES)) == 40


def deposits_csv(
    parties: list[str] | tuple[str, ...] = UN_PARTIES,
    *,
    signed: date = date(2025, 10, 25),
    ratified: date = date(2026, 1, 12),
) -> str:
    """CSV text in which every party signs, then ratifies: the UN text is in force 90 days after the last one."""
    lines = ["state,action,date"]
    for code in parties:
        lines += [f"{code},signature,{signed.isoformat()}", f"{code},ratification,{ratified.isoformat()}"]
    return "\n".join(lines) + "\n"


def complete_items(instrument: str, request_type: str) -> dict[str, str]:
    """Every item (required or not) of a request type, filled with readable text naming the item."""
    pack = load_builtin_packs()[instrument]
    rtype = pack.request_type(request_type)
    assert rtype is not None, request_type
    return {item.key: f"{item.label} ({item.citation}) for the test" for item in rtype.required_items}


def reference(prefix: str = "CASE") -> str:
    """A readable random case reference."""
    words = ["lotus", "orchid", "river", "bamboo", "lantern", "harbour", "monsoon", "jade"]
    return f"{prefix}-{random.choice(words)}-{random.randint(1000, 9999)}".upper()
