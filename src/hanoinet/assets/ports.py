"""What the assets service needs from storage."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Protocol

from hanoinet.assets.domain import Asset, Measure


class AssetRepository(Protocol):
    """Assets with their measures."""

    def add(self, asset: Asset) -> None:
        """Stage a new asset (without measures); it is written when the unit of work commits."""

    def get(self, asset_id: str) -> Asset | None:
        """Return the asset with its measures in order, or None if there is none."""

    def list(self, *, case_id: str | None, limit: int, offset: int) -> Sequence[Asset]:
        """Return assets with their measures, newest first, of one case or of all."""

    def add_measure(self, asset_id: str, measure: Measure) -> None:
        """Stage a measure; a second writer of the same ``seq`` fails at commit (Conflict)."""

    def link_request(self, asset_id: str, request_ids: Sequence[str]) -> None:
        """Record the requests that point at the asset (the whole list)."""

    def measures_taken(self, since: date, until: date) -> Sequence[tuple[Asset, Measure]]:
        """Every measure taken on a day from ``since`` up to ``until`` (excluded), with its asset (without its
        other measures), for the Art 57 figures."""
