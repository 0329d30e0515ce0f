"""What the treaty service needs from storage: the deposit events."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Protocol

from hanoinet.treaty.domain import DepositEvent


class DepositRepository(Protocol):
    """Treaty deposit events."""

    def list(self, instrument: str | None = None) -> Sequence[DepositEvent]:
        """Return every recorded deposit event, of one instrument or all."""

    def add_all(self, events: Iterable[DepositEvent], recorded_at: datetime) -> None:
        """Stage new deposit events."""
