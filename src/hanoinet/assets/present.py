"""The JSON shape of an asset and of the Art 57 asset figures, shared by the API and the CLI's --json.

Amounts are decimal text ("1250.50"): a JSON number is a binary float in most readers, and an amount of a virtual
asset with 18 decimals would not survive one.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hanoinet.assets.domain import Asset, Measure, amount_text
from hanoinet.assets.service import AssetFigure
from hanoinet.platform.present import _iso


def _amount(value: Decimal | None) -> str | None:
    return None if value is None else amount_text(value)


def measure(m: Measure) -> dict[str, Any]:
    """One measure a State took on the property."""
    return {
        "seq": m.seq,
        "kind": m.kind.value,
        "taken_on": m.taken_on.isoformat(),
        "state": m.state,
        "amount": _amount(m.amount),
        "order_reference": m.order_reference,
        "order_authority": m.order_authority,
        "order_document": m.order_document,
        "request": m.request_id,
        "recipient": m.recipient.value if m.recipient else None,
        "recipient_name": m.recipient_name,
        "note": m.note,
        "recorded_at": _iso(m.recorded_at),
        "recorded_by": m.recorded_by,
    }


def asset(a: Asset) -> dict[str, Any]:
    """An asset, where it stands and what is still frozen or confiscated, with its measures in order."""
    return {
        "id": a.id,
        "case_id": a.case_id,
        "kind": a.kind.value,
        "description": a.description,
        "location_state": a.location_state,
        "location": a.location,
        "holder": a.holder,
        "estimated_value": _amount(a.estimated_value),
        "currency": a.currency,
        "address": a.address,
        "network": a.network,
        "status": a.status.value,
        "still_frozen": _amount(a.still_frozen),
        "still_confiscated": _amount(a.still_confiscated),
        "requests": list(a.request_ids),
        "measures": [measure(m) for m in a.measures],
        "created_at": _iso(a.created_at),
        "created_by": a.created_by,
    }


def figure(f: AssetFigure) -> dict[str, Any]:
    """One line of the Art 57 asset figures."""
    return {
        "measure": f.measure.value,
        "state": f.state,
        "year": f.year,
        "currency": f.currency,
        "for_state": f.for_state or None,
        "recipient": f.recipient.value if f.recipient else None,
        "measures": f.measures,
        "amount": amount_text(f.amount),
    }
