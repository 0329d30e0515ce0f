"""Use cases for property: record an asset in a case, record what a State did to it, point requests at it, and the
Art 57 figures of amounts frozen, confiscated and returned.

Each change is one transaction: the asset or measure, the link to its request and the audit entry commit together
or not at all, so that a refused measure (an amount larger than is still frozen, an order document of another case)
leaves nothing behind.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache
from typing import TYPE_CHECKING

import babel.numbers

from hanoinet.assets.domain import (
    Asset,
    AssetDraft,
    Measure,
    MeasureDraft,
    MeasureKind,
    Recipient,
    check_asset,
    check_measure,
    raise_if,
)
from hanoinet.audit import service as audit
from hanoinet.cases import service as case_services
from hanoinet.platform.errors import N_, Issue, NotFound
from hanoinet.platform.ids import new_id

if TYPE_CHECKING:
    from hanoinet.app.node import Node, UnitOfWork


@cache
def currencies() -> frozenset[str]:
    """The ISO 4217 codes (current and historic, from the CLDR data Babel ships)."""
    return frozenset(babel.numbers.list_currencies())


def _asset(uow: UnitOfWork, asset_id: str) -> Asset:
    found = uow.assets.get(asset_id)
    if found is None:
        raise NotFound(f"no asset {asset_id!r}")
    return found


def record_asset(node: Node, draft: AssetDraft, *, actor: str) -> Asset:
    """Record a piece of property in a case; raise ValidationFailed naming every field that is wrong."""
    kind, value, issues = check_asset(draft, currencies())
    state_issue = node.check_state(draft.location_state.upper(), "location_state")
    issues.extend([state_issue] if state_issue else [])
    case = case_services.get_case(node, draft.case)
    raise_if(issues)
    with node.uow() as uow:
        asset = Asset(
            id=new_id(),
            case_id=case.id,
            kind=kind,
            description=draft.description.strip(),
            location_state=draft.location_state.upper(),
            location=draft.location.strip(),
            holder=draft.holder.strip(),
            estimated_value=value,
            currency=draft.currency,
            address=draft.address.strip(),
            network=draft.network.strip(),
            created_at=node.clock.now(),
            created_by=actor,
        )
        uow.assets.add(asset)
        audit.attach(uow, asset.id)
        uow.commit()
    return asset


def get_asset(node: Node, asset_id: str) -> Asset:
    """Return an asset with its measures; raise NotFound if there is none."""
    with node.uow() as uow:
        return _asset(uow, asset_id)


def list_assets(node: Node, *, case: str | None = None, limit: int = 50, offset: int = 0) -> Sequence[Asset]:
    """Return assets, newest first: of one case (by id or reference), or of every case."""
    case_id = case_services.get_case(node, case).id if case else None
    with node.uow() as uow:
        return uow.assets.list(case_id=case_id, limit=limit, offset=offset)


def _request_issue(uow: UnitOfWork, asset: Asset, request_id: str, field: str) -> Issue | None:
    request = uow.requests.get(request_id)
    if request is None:
        return Issue.of(field, N_("no request %(id)s"), id=repr(request_id))
    if request.case_id != asset.case_id:
        return Issue.of(field, N_("the request belongs to another case"))
    return None


def _link(uow: UnitOfWork, asset: Asset, request_id: str) -> None:
    """Add the request to those that point at the asset, once."""
    if request_id not in asset.request_ids:
        asset.request_ids.append(request_id)
        uow.assets.link_request(asset.id, asset.request_ids)


def link_request(node: Node, asset_id: str, request_id: str, *, actor: str) -> Asset:
    """Record that a request (tracing, freezing, confiscation, return) points at the asset; a request of another
    case is refused. Linking twice changes nothing."""
    with node.uow() as uow:
        asset = _asset(uow, asset_id)
        problem = _request_issue(uow, asset, request_id, "request")
        raise_if([problem] if problem else [])
        _link(uow, asset, request_id)
        audit.attach(uow, asset.id)
        uow.commit()
    return asset


def record_measure(node: Node, asset_id: str, draft: MeasureDraft, *, actor: str) -> Asset:
    """Record what a State did to the property: checked against the measures so far (a release no larger than
    what is still frozen, a return no larger than what is confiscated and not yet returned), the State known, the
    request and the order document of the same case. The request is linked to the asset."""
    today = node.clock.now().date()
    with node.uow() as uow:
        asset = _asset(uow, asset_id)
        kind, amount, recipient, issues = check_measure(asset, draft, today)
        state_issue = node.check_state(draft.state.upper(), "state")
        issues.extend([state_issue] if state_issue else [])
        request_id = draft.request.strip() or None
        if request_id is not None and (problem := _request_issue(uow, asset, request_id, "request")):
            issues.append(problem)
        document = draft.order_document.strip() or None
        if document is not None:
            item = uow.evidence.get(document)
            if item is None or item.described.case_id != asset.case_id:
                issues.append(Issue.of("order_document", N_("is not an item in the vault of this asset's case")))
        raise_if(issues)
        measure = Measure(
            seq=len(asset.measures) + 1,
            kind=kind,
            taken_on=draft.taken_on,
            state=draft.state.upper(),
            amount=amount,
            order_reference=draft.order_reference.strip(),
            order_authority=draft.order_authority.strip(),
            order_document=document,
            request_id=request_id,
            recipient=recipient,
            recipient_name=draft.recipient_name.strip(),
            note=draft.note.strip(),
            recorded_at=node.clock.now(),
            recorded_by=actor,
        )
        uow.assets.add_measure(asset.id, measure)
        asset.measures.append(measure)
        if request_id is not None:
            _link(uow, asset, request_id)
        audit.attach(uow, asset.id)
        uow.commit()
    return asset


REPORTED = tuple(kind for kind in MeasureKind if kind is not MeasureKind.TRACED)
"""The measures the Art 57 figures sum, in the order reports show them (tracing has no amount to sum)."""


@dataclass(frozen=True, slots=True)
class AssetFigure:
    """One line of the Art 57 asset figures: what ``state`` did (``measure``) in ``year``, in one ``currency``, at
    the request of ``for_state`` ("" when no request is named), to ``recipient`` for a return: how many measures and
    the sum of their amounts."""

    measure: MeasureKind
    state: str
    year: int
    currency: str
    for_state: str
    recipient: Recipient | None
    measures: int
    amount: Decimal


def asset_figures(node: Node, since: date, until: date) -> tuple[AssetFigure, ...]:
    """The amounts frozen, released, confiscated, returned and disposed of by State and year, in each unit, for the
    measures taken from ``since`` up to ``until`` (excluded). Sums are exact (``Decimal``); no unit is converted
    into another, because no rate would be the one the States agreed."""
    with node.uow() as uow:
        taken = uow.assets.measures_taken(since, until)
        requests = {rid: uow.requests.get(rid) for rid in {m.request_id for _, m in taken if m.request_id is not None}}
    sums: dict[tuple[MeasureKind, str, int, str, str, Recipient | None], tuple[int, Decimal]] = defaultdict(
        lambda: (0, Decimal(0))
    )
    for asset, measure in taken:
        if measure.kind not in REPORTED or measure.amount is None:
            continue
        request = requests.get(measure.request_id) if measure.request_id else None
        for_state = ""
        if request is not None:
            for_state = request.requesting_state if request.requested_state == measure.state else ""
        key = (measure.kind, measure.state, measure.taken_on.year, asset.currency, for_state, measure.recipient)
        count, total = sums[key]
        sums[key] = (count + 1, total + measure.amount)
    order: dict[MeasureKind, int] = {kind: index for index, kind in enumerate(REPORTED)}
    figures = [AssetFigure(k[0], k[1], k[2], k[3], k[4], k[5], n, total) for k, (n, total) in sums.items()]
    figures.sort(key=lambda f: (f.year, order[f.measure], f.state, f.currency, f.for_state, f.recipient or ""))
    return tuple(figures)
