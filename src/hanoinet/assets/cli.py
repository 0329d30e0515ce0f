"""Property at the command line: record an asset, record a measure on it, point a request at it, list and show."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table

from hanoinet.assets import present as assets_present
from hanoinet.assets import service as asset_services
from hanoinet.assets.domain import AssetDraft, AssetKind, MeasureDraft, MeasureKind, Recipient
from hanoinet.platform.cli import JsonOption, actor, emit, errors, node, out

asset_app = typer.Typer(help="Property in cases: traced, frozen, confiscated, returned.", no_args_is_help=True)

Day = Annotated[datetime, typer.Option(formats=["%Y-%m-%d"], help="The day it took effect (YYYY-MM-DD).")]


@asset_app.command("new")
def asset_new(
    case: Annotated[str, typer.Option(help="Case id or reference.")],
    kind: Annotated[AssetKind, typer.Option(help="What the property is.")],
    description: Annotated[str, typer.Option(help="What it is, as an order would describe it.")],
    location_state: Annotated[str, typer.Option(help="Where it is: ISO 3166 alpha-3.")],
    currency: Annotated[str, typer.Option(help="Unit of every amount: ISO 4217, or a virtual asset's ticker.")],
    location: Annotated[str, typer.Option(help="The bank, exchange, land registry or address.")] = "",
    holder: Annotated[str, typer.Option(help="Who holds it.")] = "",
    value: Annotated[str, typer.Option(help="Estimated value, decimal text.")] = "",
    address: Annotated[str, typer.Option(help="A virtual asset's address.")] = "",
    network: Annotated[str, typer.Option(help="A virtual asset's network or chain.")] = "",
    as_json: JsonOption = False,
) -> None:
    """Record a piece of property in a case."""
    n = node()
    draft = AssetDraft(
        case=case,
        kind=kind.value,
        description=description,
        location_state=location_state,
        currency=currency,
        location=location,
        holder=holder,
        estimated_value=value,
        address=address,
        network=network,
    )
    with errors():
        found = asset_services.record_asset(n, draft, actor=actor())
    emit(assets_present.asset(found), True) if as_json else out.print(f"asset recorded: {found.id}")


@asset_app.command("measure")
def asset_measure(
    asset: Annotated[str, typer.Argument(help="Asset id.")],
    kind: Annotated[MeasureKind, typer.Option(help="What the State did.")],
    state: Annotated[str, typer.Option(help="The State that took the measure: ISO 3166 alpha-3.")],
    taken_on: Day,
    amount: Annotated[str, typer.Option(help="How much, in the asset's unit, decimal text.")] = "",
    order: Annotated[str, typer.Option(help="The order's reference.")] = "",
    authority: Annotated[str, typer.Option(help="The authority that made the order.")] = "",
    document: Annotated[str, typer.Option(help="The order's evidence item in the vault.")] = "",
    request: Annotated[str, typer.Option(help="The request it was taken on.")] = "",
    recipient: Annotated[Recipient | None, typer.Option(help="For a return: to whom.")] = None,
    recipient_name: Annotated[str, typer.Option(help="For a return: the recipient's name.")] = "",
    note: str = "",
    as_json: JsonOption = False,
) -> None:
    """Record a measure on the property (checked against what is still frozen or confiscated)."""
    n = node()
    draft = MeasureDraft(
        kind=kind.value,
        taken_on=taken_on.date(),
        state=state,
        amount=amount,
        order_reference=order,
        order_authority=authority,
        order_document=document,
        request=request,
        recipient=recipient.value if recipient else "",
        recipient_name=recipient_name,
        note=note,
    )
    with errors():
        found = asset_services.record_measure(n, asset, draft, actor=actor())
    if as_json:
        emit(assets_present.asset(found), True)
    else:
        out.print(f"{kind.value} recorded; the asset is {found.status.value}")


@asset_app.command("link")
def asset_link(
    asset: Annotated[str, typer.Argument(help="Asset id.")],
    request: Annotated[str, typer.Option(help="A request of the same case that points at it.")],
) -> None:
    """Point a request at the property."""
    n = node()
    with errors():
        asset_services.link_request(n, asset, request, actor=actor())
    out.print(f"request {request} points at asset {asset}")


@asset_app.command("list")
def asset_list(
    case: Annotated[str | None, typer.Option(help="Only this case (id or reference).")] = None,
    as_json: JsonOption = False,
    limit: int = 50,
) -> None:
    """List assets, newest first."""
    n = node()
    with errors():
        found = asset_services.list_assets(n, case=case, limit=limit)

    def table() -> Table:
        t = Table("kind", "description", "where", "status", "still frozen", "unit", "id")
        for a in found:
            t.add_row(a.kind.value, a.description[:40], a.location_state, a.status.value, str(a.still_frozen),
                      a.currency, a.id)  # fmt: skip
        return t

    emit([assets_present.asset(a) for a in found], as_json, table)


@asset_app.command("show")
def asset_show(asset: Annotated[str, typer.Argument(help="Asset id.")]) -> None:
    """Show an asset and its measures as JSON."""
    n = node()
    with errors():
        emit(assets_present.asset(asset_services.get_asset(n, asset)), True)
