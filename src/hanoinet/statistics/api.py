"""Art 57 statistics over the API: the same figures as the web page, as JSON or as a CSV file.

The definitions (period, outcome, times, percentiles) are those of ``hanoinet.statistics.service``; the JSON
carries them in ``definitions`` so that a figure sent to the Secretariat says what it counts.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from hanoinet.assets import present as assets_present
from hanoinet.platform.api import IsoDate
from hanoinet.platform.logsafe import csv_cell
from hanoinet.platform.permissions import Permission
from hanoinet.platform.security import SecureRoute, secured
from hanoinet.requests.domain import Direction
from hanoinet.statistics import service as statistics_services
from hanoinet.statistics.schemas import StatisticsOut
from hanoinet.statistics.service import Figure, Statistics

if TYPE_CHECKING:
    from hanoinet.app.node import Node

CSV_COLUMNS = ("dimension", "key", "label", "article", "metric", "value")
"""The CSV file's columns: one row per figure (see ``statistics.figures`` for what each column holds)."""

DEFINITIONS = {
    "period": "whole UTC days, both ends included; default: the last twelve months by the node's clock",
    "requests": "requests sent (outgoing) or received (incoming) in the period; drafts never sent are not counted",
    "outcome": (
        "executed if executed or data preserved; else refused; else withdrawn; else closed; else open — "
        "as the request stands now"
    ),
    "refusal_ground": "each ground given counts once, with the article the rule pack cites for it",
    "timing": (
        "hours from sent or received to the first acknowledgement, and to the first execution or preservation; "
        "only requests that reached the milestone"
    ),
    "assets": (
        "measures on property taken in the period (by the day they took effect): how many, and the exact sum of "
        "their amounts, by measure, State that took it, year and unit (never converted), with the State at whose "
        "request and, for a return, the recipient; not filtered by direction or instrument"
    ),
    "percentile": "linear interpolation between closest ranks (as PostgreSQL percentile_cont); null if no request",
}


def to_csv(stats: Statistics) -> str:
    """The figures as CSV text: a header row, then one row per figure (``CSV_COLUMNS``)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in statistics_services.figures(stats):
        writer.writerow([csv_cell(cell) for cell in row])  # labels come from packs, but files travel
    return buffer.getvalue()


def csv_filename(stats: Statistics) -> str:
    """A file name that says what the file covers."""
    scope = f"-{stats.direction.value}" if stats.direction else ""
    return f"hanoinet-statistics-{stats.period.start.isoformat()}-{stats.period.end.isoformat()}{scope}.csv"


def csv_response(stats: Statistics) -> Response:
    """The CSV file as a download."""
    return Response(
        to_csv(stats),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{csv_filename(stats)}"'},
    )


def _figures(figures: tuple[Figure, ...]) -> list[dict[str, Any]]:
    return [{"key": f.key, "label": f.label, "article": f.article or None, "count": f.count} for f in figures]


def _hours(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def to_json(stats: Statistics) -> dict[str, Any]:
    """The figures as a JSON document."""
    return {
        "period": {"from": stats.period.start.isoformat(), "to": stats.period.end.isoformat()},
        "direction": stats.direction.value if stats.direction else None,
        "instrument": stats.instrument,
        "totals": {"requests": stats.total, "emergency": stats.emergency},
        **{f"by_{name}": _figures(figures) for name, figures in stats.breakdowns()},
        "timing": [
            {
                "direction": t.direction.value,
                "milestone": t.milestone.value,
                "requests": t.requests,
                "median_hours": _hours(t.median_hours),
                "p90_hours": _hours(t.p90_hours),
            }
            for t in stats.timings
        ],
        "assets": [assets_present.figure(f) for f in stats.assets],
        "definitions": DEFINITIONS,
    }


FromQuery = Annotated[IsoDate | None, Query(alias="from", description="First day (UTC), YYYY-MM-DD")]
ToQuery = Annotated[IsoDate | None, Query(alias="to", description="Last day (UTC), included, YYYY-MM-DD")]
InstrumentQuery = Annotated[str | None, Query(max_length=64, description="Rule pack key, e.g. uncc-2024")]


def statistics_router(node: Node) -> APIRouter:
    """``GET /api/v1/statistics`` (JSON) and ``GET /api/v1/statistics.csv``: Art 57 figures for a period."""
    api = APIRouter(route_class=SecureRoute, tags=["statistics"])

    def compute(
        start: date | None, end: date | None, direction: Direction | None, instrument: str | None
    ) -> Statistics:
        return statistics_services.statistics(node, start, end, direction, instrument or None)

    @api.get(
        "/api/v1/statistics",
        response_model=StatisticsOut,
        **secured(Permission.STATISTICS_READ, audit="statistics:view"),
    )
    def statistics(
        start: FromQuery = None,
        end: ToQuery = None,
        direction: Direction | None = None,
        instrument: InstrumentQuery = None,
    ) -> dict[str, Any]:
        """Requests by type, counterpart State, outcome and refusal ground; times to acknowledge and to execute."""
        return to_json(compute(start, end, direction, instrument))

    @api.get(
        "/api/v1/statistics.csv",
        response_class=Response,
        responses={200: {"content": {"text/csv": {}}, "description": "The figures as CSV"}},
        **secured(Permission.STATISTICS_READ, audit="statistics:export"),
    )
    def statistics_csv(
        start: FromQuery = None,
        end: ToQuery = None,
        direction: Direction | None = None,
        instrument: InstrumentQuery = None,
    ) -> Response:
        """The same figures as a CSV file: columns dimension, key, label, article, metric, value."""
        return csv_response(compute(start, end, direction, instrument))

    return api
