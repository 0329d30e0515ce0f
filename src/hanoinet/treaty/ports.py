"""What the treaty service needs from storage: the deposit events and the States' declarations."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Protocol

from hanoinet.treaty.declarations import Declaration
from hanoinet.treaty.domain import DepositEvent


class DepositRepository(Protocol):
    """Treaty deposit events."""

    def list(self, instrument: str | None = None) -> Sequence[DepositEvent]:
        """Return every recorded deposit event, of one instrument or all."""

    def add_all(self, events: Iterable[DepositEvent], recorded_at: datetime) -> None:
        """Stage new deposit events."""


class DeclarationRepository(Protocol):
    """States' declarations under the instruments (acceptable languages), every one kept."""

    def list(self, state: str | None = None) -> Sequence[Declaration]:
        """Return every recorded declaration, of one State or all, oldest first."""

    def add_all(self, declarations: Iterable[Declaration], recorded_at: datetime, recorded_by: str) -> None:
        """Stage new declarations."""
