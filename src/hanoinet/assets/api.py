"""Property over the API: record an asset in a case, the measures States took on it, the requests that point at it.

Amounts travel as decimal text ("1250.50", "0.75"): a JSON number would be read as a binary float by most clients.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Query
from pydantic import Field

from hanoinet.assets import present as assets_present
from hanoinet.assets import service as asset_services
from hanoinet.assets.domain import (
    MAX_DESCRIPTION,
    MAX_NOTE,
    MAX_TEXT,
    AssetDraft,
    AssetKind,
    MeasureDraft,
    MeasureKind,
    Recipient,
)
from hanoinet.assets.schemas import AssetOut
from hanoinet.platform.api import Strict, problems
from hanoinet.platform.paging import OffsetQuery
from hanoinet.platform.permissions import Permission
from hanoinet.platform.ports import MAX_PAGE
from hanoinet.platform.security import PrincipalDep, SecureRoute, secured

if TYPE_CHECKING:
    from hanoinet.app.node import Node

Amount = Annotated[str, Field(max_length=64, description='Decimal text, e.g. "1250.50" (never a JSON number)')]


class AssetCreate(Strict):
    """A piece of property in a case."""

    case: str = Field(max_length=64, description="Case id or reference")
    kind: AssetKind
    description: str = Field(max_length=MAX_DESCRIPTION)
    location_state: str = Field(max_length=8, description="Where it is: ISO 3166 alpha-3")
    location: str = Field(default="", max_length=MAX_TEXT, description="The bank, exchange, address or registry")
    holder: str = Field(default="", max_length=MAX_TEXT)
    estimated_value: Amount = ""
    currency: str = Field(max_length=10, description="ISO 4217, or a virtual asset's ticker (BTC)")
    address: str = Field(default="", max_length=MAX_TEXT, description="A virtual asset's address")
    network: str = Field(default="", max_length=MAX_TEXT, description="A virtual asset's network or chain")

    def draft(self) -> AssetDraft:
        """The service-layer draft."""
        return AssetDraft(**{**self.model_dump(), "kind": self.kind.value})


class MeasureCreate(Strict):
    """What a State did to the property, on which day, under which order."""

    kind: MeasureKind
    taken_on: date
    state: str = Field(max_length=8, description="The State that took the measure: ISO 3166 alpha-3")
    amount: Amount = ""
    order_reference: str = Field(default="", max_length=MAX_TEXT)
    order_authority: str = Field(default="", max_length=MAX_TEXT)
    order_document: str = Field(default="", max_length=36, description="The order's evidence item in the vault")
    request: str = Field(default="", max_length=36, description="The request it was taken on")
    recipient: Recipient | None = None
    recipient_name: str = Field(default="", max_length=MAX_TEXT)
    note: str = Field(default="", max_length=MAX_NOTE)

    def draft(self) -> MeasureDraft:
        """The service-layer draft."""
        values = self.model_dump()
        values.update(kind=self.kind.value, recipient=self.recipient.value if self.recipient else "")
        return MeasureDraft(**values)


class RequestLink(Strict):
    """A request of the same case that points at the property."""

    request: str = Field(max_length=36)


def router(node: Node) -> APIRouter:
    """The asset routes: casework permissions, every call audited."""
    api = APIRouter(prefix="/api/v1/assets", route_class=SecureRoute, tags=["assets"])

    @api.post(
        "",
        status_code=201,
        response_model=AssetOut,
        responses=problems(404),
        **secured(Permission.REQUESTS_WRITE, audit="asset:create"),
    )
    def create_asset(who: PrincipalDep, body: AssetCreate) -> dict[str, Any]:
        """Record a piece of property in a case."""
        return assets_present.asset(asset_services.record_asset(node, body.draft(), actor=who.name))

    @api.get(
        "",
        response_model=list[AssetOut],
        responses=problems(404),
        **secured(Permission.REQUESTS_READ, audit="asset:list"),
    )
    def list_assets(
        case: Annotated[str | None, Query(max_length=64, description="Case id or reference")] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
        offset: OffsetQuery = 0,
    ) -> list[dict[str, Any]]:
        """Assets, newest first, of one case or of all."""
        found = asset_services.list_assets(node, case=case, limit=limit, offset=offset)
        return [assets_present.asset(a) for a in found]

    @api.get(
        "/{asset_id}",
        response_model=AssetOut,
        responses=problems(404),
        **secured(Permission.REQUESTS_READ, audit="asset:view"),
    )
    def get_asset(asset_id: str) -> dict[str, Any]:
        """An asset with its measures."""
        return assets_present.asset(asset_services.get_asset(node, asset_id))

    @api.post(
        "/{asset_id}/measures",
        status_code=201,
        response_model=AssetOut,
        responses=problems(404, 409),
        **secured(Permission.REQUESTS_WRITE, audit="asset:measure"),
    )
    def add_measure(who: PrincipalDep, asset_id: str, body: MeasureCreate) -> dict[str, Any]:
        """Record a measure: amounts are checked against what is still frozen or confiscated."""
        return assets_present.asset(asset_services.record_measure(node, asset_id, body.draft(), actor=who.name))

    @api.post(
        "/{asset_id}/requests",
        response_model=AssetOut,
        responses=problems(404),
        **secured(Permission.REQUESTS_WRITE, audit="asset:link"),
    )
    def link_request(who: PrincipalDep, asset_id: str, body: RequestLink) -> dict[str, Any]:
        """Point a request of the same case at the property."""
        return assets_present.asset(asset_services.link_request(node, asset_id, body.request, actor=who.name))

    return api
