"""The OpenAPI shape of the Art 57 figures: what ``statistics.api.to_json`` writes."""

from __future__ import annotations

from pydantic import Field

from hanoinet.assets.schemas import AssetFigureOut
from hanoinet.platform.api import Day, Shape


class PeriodOut(Shape):
    """Whole UTC days, both ends included."""

    from_: Day = Field(alias="from")
    to: Day


class TotalsOut(Shape):
    """Requests sent or received in the period."""

    requests: int
    emergency: int


class FigureOut(Shape):
    """One line of a breakdown: what is counted, with the article if any, and how many."""

    key: str
    label: str
    article: str | None
    count: int


class TimingOut(Shape):
    """Hours to a milestone, for the requests that reached it."""

    direction: str
    milestone: str
    requests: int
    median_hours: float | None
    p90_hours: float | None


class StatisticsOut(Shape):
    """Requests by type, counterpart State, outcome and refusal ground; times to acknowledge and to execute;
    and what each figure counts."""

    period: PeriodOut
    direction: str | None
    instrument: str | None
    totals: TotalsOut
    by_direction: list[FigureOut]
    by_type: list[FigureOut]
    by_state: list[FigureOut]
    by_outcome: list[FigureOut]
    by_open_state: list[FigureOut]
    by_refusal_ground: list[FigureOut]
    timing: list[TimingOut]
    assets: list[AssetFigureOut]
    definitions: dict[str, str]
