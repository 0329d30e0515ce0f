"""What a State declared under an instrument: for now, the languages in which it accepts requests.

A Party tells the depositary (or the other Parties) in which languages it accepts requests for mutual assistance
(Art 40: "in a language acceptable to the requested State Party"). A State that runs no node has no directory entry
to say so, so an operator imports its declarations from a file (``hanoinet treaty declarations import``), copied
from the depositary's notifications. The node then warns a composer who writes in another language, and offers a
translation field per item. A later declaration replaces an earlier one of the same State under the same
instrument, as a notification to the depositary does; every one is kept, with who recorded it and when.

This module is pure: it checks rows that ``declarations_file`` read, and chooses the declaration in force.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from hanoinet.platform.errors import Issue
from hanoinet.platform.language_tags import is_language_tag

MAX_REFERENCE = 200
"""A depositary notification reference (``C.N.123.2026.TREATIES-XVIII.16``) or a short citation of the source."""

MAX_LANGUAGES = 20


@dataclass(frozen=True, slots=True)
class Declaration:
    """One State's declaration under one instrument, as the depositary circulated it."""

    instrument: str
    state: str
    made_on: date
    """The day the declaration was made (or received by the depositary): a later one replaces it."""
    languages: tuple[str, ...]
    """Languages the State accepts requests in, as BCP 47 tags, in the order it gave them."""
    reference: str = ""
    """Where the declaration can be read: the depositary notification, or the source an operator copied."""
    reservations: tuple[str, ...] = ()
    """The reservations it made, by the keys of the instrument's pack (``reservations``): a ground of refusal only
    a State that made the reservation may give."""


@dataclass(frozen=True, slots=True)
class DeclarationRow:
    """A row as read from a file, before it is checked: every value as text, with where it was."""

    where: str
    """``declarations[2]``: the place an error is reported at."""
    instrument: object
    state: object
    made_on: object
    languages: object
    reference: object
    reservations: object = None


def check_declarations(
    rows: Sequence[DeclarationRow],
    *,
    instruments: Iterable[str],
    known_state: Callable[[str], bool],
    today: date,
    reservations_of: Callable[[str], Iterable[str]] = lambda _: (),
) -> tuple[list[Declaration], list[Issue]]:
    """The declarations of a file, or every problem with it (each at its row and field): a file is recorded whole
    or not at all, so a half-imported set of declarations never decides a request's language."""
    known = set(instruments)
    found: list[Declaration] = []
    issues: list[Issue] = []
    seen: dict[tuple[str, str, date], str] = {}
    for row in rows:
        before = len(issues)
        instrument = _text(row.instrument, f"{row.where}.instrument", issues)
        if instrument and instrument not in known:
            issues.append(
                Issue(f"{row.where}.instrument", f"no rule pack {instrument!r}; packs: {', '.join(sorted(known))}")
            )
        state = _text(row.state, f"{row.where}.state", issues).upper()
        if state and not known_state(state):
            issues.append(
                Issue(f"{row.where}.state", f"unknown State {state!r}: use an ISO 3166 alpha-3 code such as JPN")
            )
        made_on = row.made_on
        if not isinstance(made_on, date) or isinstance(made_on, datetime):
            issues.append(Issue(f"{row.where}.made_on", "must be a date (YYYY-MM-DD)"))
        elif made_on > today:
            issues.append(Issue(f"{row.where}.made_on", f"{made_on.isoformat()} is in the future"))
        languages = _languages(row.languages, f"{row.where}.languages", issues)
        reservations = _reservations(
            row.reservations, set(reservations_of(instrument)) if instrument in known else set(), row.where, issues
        )
        reference = row.reference if row.reference is not None else ""
        if not isinstance(reference, str) or len(reference) > MAX_REFERENCE:
            issues.append(Issue(f"{row.where}.reference", f"must be text of at most {MAX_REFERENCE} characters"))
        if len(issues) > before or not isinstance(made_on, date) or not isinstance(reference, str):  # for mypy
            continue
        key = (instrument, state, made_on)
        if key in seen:
            issues.append(
                Issue(row.where, f"{state} has another declaration under {instrument} made on {made_on} ({seen[key]})")
            )
            continue
        seen[key] = row.where
        found.append(Declaration(instrument, state, made_on, tuple(languages), reference.strip(), tuple(reservations)))
    return found, issues


def in_force(declarations: Iterable[Declaration], instrument: str, state: str) -> Declaration | None:
    """The declaration of ``state`` under ``instrument`` that stands: the latest one made, or None."""
    mine = [d for d in declarations if d.instrument == instrument and d.state == state]
    return max(mine, key=lambda d: d.made_on, default=None)


def _text(value: object, where: str, issues: list[Issue]) -> str:
    if not isinstance(value, str) or not value.strip():
        issues.append(Issue(where, "is required"))
        return ""
    return value.strip()


def _languages(value: object, where: str, issues: list[Issue]) -> list[str]:
    if not isinstance(value, list) or not value or len(value) > MAX_LANGUAGES:
        issues.append(Issue(where, f"must be a list of 1 to {MAX_LANGUAGES} language tags such as ja, en, fr"))
        return []
    tags: list[str] = []
    for index, tag in enumerate(value):
        if not isinstance(tag, str) or not is_language_tag(tag.strip()):
            issues.append(Issue(f"{where}[{index}]", f"{tag!r} is not a language tag (BCP 47: ja, en, zh-Hans)"))
        elif tag.strip() not in tags:
            tags.append(tag.strip())
    return tags


def _reservations(value: object, allowed: set[str], where: str, issues: list[Issue]) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        issues.append(Issue(f"{where}.reservations", "must be a list of reservation keys of the instrument's pack"))
        return []
    keys: list[str] = []
    for index, key in enumerate(value):
        if not isinstance(key, str) or key not in allowed:
            known = ", ".join(sorted(allowed)) or "none"
            issues.append(
                Issue(
                    f"{where}.reservations[{index}]", f"{key!r} is not a reservation of the instrument; known: {known}"
                )
            )
        elif key not in keys:
            keys.append(key)
    return keys
