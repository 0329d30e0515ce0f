"""The OpenAPI shape of a case: what ``cases.present`` writes."""

from __future__ import annotations

from hanoinet.platform.api import DateTime, Shape


class CaseOut(Shape):
    """A case: the requests of one investigation under a national reference."""

    id: str
    reference: str
    offence: str
    max_penalty_years: int | None
    summary: str
    legal_qualification: str
    created_at: DateTime
