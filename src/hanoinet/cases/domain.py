"""Cases: the investigation or proceeding that requests are made for.

A case records what the Convention's scope turns on (Art 35 with Art 2): the offence category — one of the
instrument's own offences or "other serious crime" — and the maximum penalty in years, plus the requesting State's
own legal qualification of the conduct (dual criminality looks at conduct, not names).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from hanoinet.platform.errors import Issue, ValidationFailed
from hanoinet.rules.domain import OTHER_SERIOUS_CRIME, RulePack

REFERENCE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9./_-]{0,63}$")
MAX_PENALTY_LIMIT = 100  # life imprisonment is recorded as 100 years
MAX_SUMMARY = 20_000
MAX_QUALIFICATION = 2_000
"""Lengths of a case's texts, checked here so that every way in (API, web, CLI, a peer's request) has the same
limits; the entry points declare the same numbers to their parsers so that a form or a schema says them too."""


@dataclass(slots=True)
class Case:
    """An investigation, prosecution or proceeding, identified by the authority's own reference."""

    id: str
    reference: str
    offence: str
    max_penalty_years: int | None
    summary: str
    legal_qualification: str
    created_at: datetime


def known_offences(packs: Mapping[str, RulePack]) -> dict[str, str]:
    """Return every offence category the loaded packs know, with a label, plus "other serious crime"."""
    offences = {o.key: f"{o.label} ({pack.short_title} {o.citation})" for pack in packs.values() for o in pack.offences}
    offences[OTHER_SERIOUS_CRIME] = "Other serious crime (maximum penalty of at least four years, Art 2)"
    return offences


def check_case(
    *,
    reference: str,
    offence: str,
    max_penalty_years: int | None,
    summary: str,
    packs: dict[str, RulePack],
    legal_qualification: str = "",
) -> None:
    """Raise ValidationFailed naming every field of a new case that is missing or invalid."""
    issues: list[Issue] = []
    if not REFERENCE_PATTERN.fullmatch(reference):
        issues.append(Issue("reference", "must be 1-64 letters, digits or . / _ - and start with a letter or digit"))
    offences = known_offences(packs)
    if offence not in offences:
        issues.append(Issue("offence", f"unknown offence category {offence!r}; known: {', '.join(sorted(offences))}"))
    if max_penalty_years is not None and not 0 <= max_penalty_years <= MAX_PENALTY_LIMIT:
        issues.append(Issue("max_penalty_years", f"must be between 0 and {MAX_PENALTY_LIMIT} (life)"))
    if offence == OTHER_SERIOUS_CRIME and max_penalty_years is None:
        issues.append(
            Issue(
                "max_penalty_years",
                "is required for other serious crime: the scope depends on the maximum penalty",
                "Art 2",
            )
        )
    if not summary.strip():
        issues.append(Issue("summary", "is missing"))
    elif len(summary.strip()) > MAX_SUMMARY:
        issues.append(Issue("summary", f"is longer than {MAX_SUMMARY:,} characters"))
    if len(legal_qualification.strip()) > MAX_QUALIFICATION:
        issues.append(Issue("legal_qualification", f"is longer than {MAX_QUALIFICATION:,} characters"))
    if issues:
        raise ValidationFailed(issues)
