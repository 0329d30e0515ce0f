"""Property in the web UI: a case's assets with the form to record one, and an asset's page with its measures, the
form to record what a State did, and the requests that point at it.

A refused form is shown again with what was typed and each problem next to its field; nothing is written.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from hanoinet.assets import service as asset_services
from hanoinet.assets.domain import (
    ASSET_KIND_LABELS,
    MEASURE_ARTICLES,
    MEASURE_LABELS,
    RECIPIENT_LABELS,
    Asset,
    AssetDraft,
    MeasureDraft,
)
from hanoinet.cases import service as case_services
from hanoinet.platform.errors import N_, Issue, ValidationFailed
from hanoinet.platform.limits import read_form
from hanoinet.platform.permissions import Permission
from hanoinet.platform.security import SecureRoute, secured
from hanoinet.platform.web import actor, by_field, flash, redirect, render
from hanoinet.requests import service as request_services
from hanoinet.requests.ports import InboxQuery

if TYPE_CHECKING:
    from hanoinet.app.node import Node

ASSET_FIELDS = tuple(f for f in AssetDraft.__dataclass_fields__ if f != "case")
MEASURE_FIELDS = tuple(MeasureDraft.__dataclass_fields__)

LABELS = {
    "kinds": ASSET_KIND_LABELS,
    "measures": MEASURE_LABELS,
    "articles": MEASURE_ARTICLES,
    "recipients": RECIPIENT_LABELS,
}


def _values(form: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, str]:
    return {name: str(form.get(name, "")).strip() for name in names}


def router(node: Node) -> APIRouter:
    """The asset pages: casework permissions, every call audited."""
    web = APIRouter(route_class=SecureRoute, include_in_schema=False)

    def _case_page(
        request: Request, case_id: str, values: Mapping[str, str], errors: dict[str, list[Issue]], status: int = 200
    ) -> HTMLResponse:
        case = case_services.get_case(node, case_id)
        found = asset_services.list_assets(node, case=case.id, limit=200)
        context = {"case": case, "assets": found, "values": values, "errors": errors, **LABELS}
        return render(request, "assets.html", {**context, **flash(request)}, status=status)

    @web.get("/cases/{case_id}/assets", **secured(Permission.REQUESTS_READ, audit="asset:list"))
    def case_assets(request: Request, case_id: str) -> HTMLResponse:
        """The property recorded in a case, with its totals, and the form to record more."""
        return _case_page(request, case_id, {"kind": "account"}, {})

    @web.post("/cases/{case_id}/assets", **secured(Permission.REQUESTS_WRITE, audit="asset:create"))
    async def create_asset(request: Request, case_id: str) -> Response:
        """Record a piece of property in the case, then show it."""
        values = _values(await read_form(request), ASSET_FIELDS)
        values["location_state"] = values["location_state"].upper()
        values["currency"] = values["currency"].upper()
        try:
            asset = asset_services.record_asset(node, AssetDraft(case=case_id, **values), actor=actor(request).name)
        except ValidationFailed as exc:
            return _case_page(request, case_id, values, by_field(exc.issues), status=422)
        return redirect(f"/assets/{asset.id}", "asset")

    def _asset_page(
        request: Request,
        asset: Asset,
        values: Mapping[str, str],
        errors: dict[str, list[Issue]],
        status: int = 200,
    ) -> HTMLResponse:
        case = case_services.get_case(node, asset.case_id)
        requests = request_services.inbox(node, InboxQuery(now=node.clock.now(), case_id=case.id, limit=200))
        context = {
            "case": case,
            "asset": asset,
            "case_requests": requests,
            "linked": set(asset.request_ids),
            "values": values,
            "errors": errors,
            "type_labels": {t.key: t.label for p in node.packs.values() for t in p.request_types},
            **LABELS,
        }
        return render(request, "asset.html", {**context, **flash(request)}, status=status)

    @web.get("/assets/{asset_id}", **secured(Permission.REQUESTS_READ, audit="asset:view"))
    def show_asset(request: Request, asset_id: str) -> HTMLResponse:
        """An asset, where it stands, its measures, and the forms to record the next one."""
        asset = asset_services.get_asset(node, asset_id)
        today = node.clock.now().date().isoformat()
        return _asset_page(request, asset, {"taken_on": today, "state": asset.location_state}, {})

    @web.post("/assets/{asset_id}/measures", **secured(Permission.REQUESTS_WRITE, audit="asset:measure"))
    async def add_measure(request: Request, asset_id: str) -> Response:
        """Record what a State did to the property."""
        values = _values(await read_form(request), MEASURE_FIELDS)
        values["state"] = values["state"].upper()
        try:
            taken_on = date.fromisoformat(values["taken_on"])
        except ValueError:
            asset = asset_services.get_asset(node, asset_id)
            problem = Issue.of("taken_on", N_("is not a date (YYYY-MM-DD)"))
            return _asset_page(request, asset, values, by_field([problem]), status=422)
        draft = MeasureDraft(**{k: v for k, v in values.items() if k != "taken_on"}, taken_on=taken_on)
        try:
            asset_services.record_measure(node, asset_id, draft, actor=actor(request).name)
        except ValidationFailed as exc:
            asset = asset_services.get_asset(node, asset_id)
            return _asset_page(request, asset, values, by_field(exc.issues), status=422)
        return redirect(f"/assets/{asset_id}", "measure")

    @web.post("/assets/{asset_id}/requests", **secured(Permission.REQUESTS_WRITE, audit="asset:link"))
    async def link_request(request: Request, asset_id: str) -> Response:
        """Point a request of the case at the property."""
        form = await read_form(request)
        try:
            asset_services.link_request(node, asset_id, str(form.get("request", "")), actor=actor(request).name)
        except ValidationFailed as exc:
            asset = asset_services.get_asset(node, asset_id)
            return _asset_page(request, asset, {}, by_field(exc.issues), status=422)
        return redirect(f"/assets/{asset_id}", "acted")

    return web
