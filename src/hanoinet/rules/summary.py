"""The shipped rule packs read without validation: their identity, request-type keys and entry-into-force rule.

The CLI's quick path (``app.quick_read``) answers ``treaty status`` and ``packs list`` from these, because the
validating loader (``rules.loader``: pydantic schema, line-numbered YAML) costs a fifth of a second a start. It is
only for the packs hanoinet ships, which the full loader validates at every node start and in the tests
(``tests/unit/test_quick_read.py`` checks that both readings give the same rules and summaries); operators' own
packs always go through the loader.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from hanoinet.rules.domain import Citation, EntryIntoForceRule, Period
from hanoinet.rules.files import builtin_pack_paths


@dataclass(frozen=True, slots=True)
class ShippedPack:
    """What the quick path needs of a pack."""

    key: str
    title: str
    short_title: str
    version: str
    request_types: tuple[str, ...]
    entry_into_force: EntryIntoForceRule

    def summary(self) -> dict[str, Any]:
        """The same shape as ``rules.present.pack_summary``."""
        return {
            "key": self.key,
            "title": self.title,
            "short_title": self.short_title,
            "version": self.version,
            "request_types": list(self.request_types),
        }


def _period(data: dict[str, Any]) -> Period:
    return Period(
        data.get("days", 0),
        data.get("hours", 0),
        data.get("months", 0),
        data.get("years", 0),
        data.get("first_day_of_following_month", False),
    )


def _citation(data: dict[str, Any]) -> Citation:
    return Citation(data["article"], data.get("paragraph"), data.get("letter"))


def _rule(data: dict[str, Any]) -> EntryIntoForceRule:
    return EntryIntoForceRule(
        instruments_required=data["instruments_required"],
        general_period=_period(data["general_period"]),
        general_citation=_citation(data["general_citation"]),
        later_party_period=_period(data["later_party_period"]),
        later_party_citation=_citation(data["later_party_citation"]),
        denunciation_period=_period(data["denunciation_period"]),
        denunciation_citation=_citation(data["denunciation_citation"]),
        reio_counted_in_addition=data["reio_counted_in_addition"],
        verified=data["verified"],
        signature_opens=data["signature_opens"],
        signature_closes=data["signature_closes"],
        signature_citation=_citation(data["signature_citation"]),
    )


def read_pack(path: Path) -> ShippedPack:
    """Read one shipped pack file (trusted: validated by the loader elsewhere)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)  # noqa: S506 - a safe loader, C or Python
    return ShippedPack(
        key=data["key"],
        title=data["title"].strip(),
        short_title=data["short_title"].strip(),
        version=data["version"].strip(),
        request_types=tuple(t["key"] for t in data["request_types"]),
        entry_into_force=_rule(data["entry_into_force"]),
    )


def shipped_packs() -> dict[str, ShippedPack]:
    """The shipped packs by key, in the loader's order."""
    packs = (read_pack(path) for path in builtin_pack_paths())
    return {pack.key: pack for pack in packs}
