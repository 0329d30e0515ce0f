"""The SQL repository of assets and their measures."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hanoinet.assets.domain import Asset, Measure, amount_text
from hanoinet.assets.orm import AssetRow, MeasureRow
from hanoinet.platform.sqlrows import from_row, to_row


def _decimal(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def _text(amount: Decimal | None) -> str | None:
    return None if amount is None else amount_text(amount)


class SqlAssetRepository:
    """Assets in ``assets``, their measures in ``asset_measures``."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, asset: Asset) -> None:
        self.session.add(
            AssetRow(
                **to_row(
                    asset,
                    omit=("measures",),
                    estimated_value=_text(asset.estimated_value),
                    request_ids=list(asset.request_ids),
                )
            )
        )
        self.session.flush()

    def get(self, asset_id: str) -> Asset | None:
        row = self.session.get(AssetRow, asset_id)
        return _with_measures(self.session, [row])[0] if row else None

    def list(self, *, case_id: str | None, limit: int, offset: int) -> Sequence[Asset]:
        stmt = select(AssetRow).order_by(AssetRow.created_at.desc(), AssetRow.id).limit(limit).offset(offset)
        if case_id is not None:
            stmt = stmt.where(AssetRow.case_id == case_id)
        return _with_measures(self.session, self.session.scalars(stmt))

    def add_measure(self, asset_id: str, measure: Measure) -> None:
        self.session.add(MeasureRow(asset_id=asset_id, **to_row(measure, amount=_text(measure.amount))))
        self.session.flush()

    def link_request(self, asset_id: str, request_ids: Sequence[str]) -> None:
        self.session.execute(update(AssetRow).where(AssetRow.id == asset_id).values(request_ids=list(request_ids)))

    def measures_taken(self, since: date, until: date) -> Sequence[tuple[Asset, Measure]]:
        rows = self.session.scalars(
            select(MeasureRow)
            .where(MeasureRow.taken_on >= since, MeasureRow.taken_on < until)
            .order_by(MeasureRow.taken_on, MeasureRow.asset_id, MeasureRow.seq)
        ).all()
        assets = {
            a.id: _asset(a, [])
            for a in self.session.scalars(select(AssetRow).where(AssetRow.id.in_({r.asset_id for r in rows})))
        }
        return [(assets[r.asset_id], _measure(r)) for r in rows]


def _with_measures(session: Session, rows: Iterable[AssetRow]) -> list[Asset]:
    """The assets of these rows, each with its measures in order: one query for the measures of them all."""
    found = list(rows)
    measures: defaultdict[str, list[Measure]] = defaultdict(list)
    if found:
        stmt = (
            select(MeasureRow)
            .where(MeasureRow.asset_id.in_([a.id for a in found]))
            .order_by(MeasureRow.asset_id, MeasureRow.seq)
        )
        for m in session.scalars(stmt):
            measures[m.asset_id].append(_measure(m))
    return [_asset(a, measures[a.id]) for a in found]


def _asset(row: AssetRow, measures: Sequence[Measure]) -> Asset:
    return from_row(
        Asset,
        row,
        estimated_value=_decimal(row.estimated_value),
        request_ids=list(row.request_ids),
        measures=[*measures],
    )


def _measure(row: MeasureRow) -> Measure:
    return from_row(Measure, row, amount=_decimal(row.amount))
