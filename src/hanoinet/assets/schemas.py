"""The OpenAPI shapes of property: what ``assets.present`` writes."""

from __future__ import annotations

from hanoinet.platform.api import DateTime, Day, Shape


class MeasureOut(Shape):
    """What a State did to the property: on which day, under which order, how much (decimal text, in the
    asset's unit), at whose request, and for a return to whom."""

    seq: int
    kind: str
    taken_on: Day
    state: str
    amount: str | None
    order_reference: str
    order_authority: str
    order_document: str | None
    request: str | None
    recipient: str | None
    recipient_name: str
    note: str
    recorded_at: DateTime
    recorded_by: str


class AssetOut(Shape):
    """A piece of property in a case: what and where it is, its unit, where it stands, and every measure."""

    id: str
    case_id: str
    kind: str
    description: str
    location_state: str
    location: str
    holder: str
    estimated_value: str | None
    currency: str
    address: str
    network: str
    status: str
    still_frozen: str
    still_confiscated: str
    requests: list[str]
    measures: list[MeasureOut]
    created_at: DateTime
    created_by: str


class AssetFigureOut(Shape):
    """Measures of one kind taken by one State in one year, in one unit (and at one State's request, to one kind
    of recipient): how many, and the exact sum of their amounts as decimal text."""

    measure: str
    state: str
    year: int
    currency: str
    for_state: str | None
    recipient: str | None
    measures: int
    amount: str
