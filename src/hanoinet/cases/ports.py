"""What the cases service needs from storage."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from hanoinet.cases.domain import Case


class CaseRepository(Protocol):
    """Cases by id and by reference."""

    def add(self, case: Case) -> None:
        """Stage a new case; it is written when the unit of work commits."""

    def get(self, case_id: str) -> Case | None:
        """Return the case with this id, or None if there is none."""

    def by_reference(self, reference: str) -> Case | None:
        """Return the case with this reference, or None if there is none."""

    def list(self, *, limit: int, offset: int) -> Sequence[Case]:
        """Return cases, newest first."""
