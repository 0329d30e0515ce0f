"""The dashboards: the treaty's status on any date, and the Art 57 statistics with their CSV export.

Thin like every page: parse the filters, call one service, render. Charts are inline SVG built on the server
(``web.charts``) and always sit next to a table with the same numbers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import TYPE_CHECKING, Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from hanoinet.assets.domain import MEASURE_ARTICLES, MEASURE_LABELS, RECIPIENT_LABELS
from hanoinet.platform.errors import Issue, ValidationFailed
from hanoinet.platform.permissions import Permission
from hanoinet.platform.security import SecureRoute, secured
from hanoinet.platform.web import default_instrument, page_language, render
from hanoinet.requests.domain import Direction
from hanoinet.rules.texts import translated
from hanoinet.statistics import charts
from hanoinet.statistics import service as statistics_services
from hanoinet.statistics.api import csv_response
from hanoinet.statistics.service import Statistics
from hanoinet.treaty import service as treaty_services

if TYPE_CHECKING:
    from hanoinet.app.node import Node

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
DateText = Annotated[str, Query(max_length=32)]


def parse_day(text: str, field: str) -> date | None:
    """A date from a form field (``<input type="date">`` sends YYYY-MM-DD); blank is None.

    Parsed here rather than by the framework so that an empty field means "the default", and a bad one is a 422
    page naming the field.
    """
    text = text.strip()
    if not text:
        return None
    if _ISO_DATE.fullmatch(text):
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    raise ValidationFailed([Issue(field, f"{text!r} is not a date: use YYYY-MM-DD")])


def parse_direction(text: str) -> Direction | None:
    """A direction from the filter; blank is both."""
    if not text.strip():
        return None
    try:
        return Direction(text.strip())
    except ValueError:
        raise ValidationFailed([Issue("direction", "is incoming, outgoing, or blank for both")]) from None


def router(node: Node) -> APIRouter:
    """The treaty dashboard and the statistics pages."""
    web = APIRouter(route_class=SecureRoute, include_in_schema=False)

    @web.get("/treaty", **secured(Permission.TREATY_READ))
    def treaty(
        request: Request,
        instrument: Annotated[str, Query(max_length=64)] = "",
        on: DateText = "",
    ) -> HTMLResponse:
        """Signatures and instruments, the Parties and whether the instrument is in force on a date (today by
        default), and the deposits over time against the threshold of Art 65(1)."""
        key = instrument.strip() or default_instrument(node)
        day = parse_day(on, "on")
        overview = treaty_services.overview(node, key, day)
        shown = translated(node.pack(key), page_language(request))
        context = {
            "instrument": key,
            "pack": node.pack(key),
            "packs": list(node.packs.values()),
            "overview": overview,
            "declarations": [d for d in treaty_services.declarations(node) if d.instrument == key],
            "reservation_label": lambda k: r.label if (r := shown.reservation(k)) else k,
            "reservation_citation": lambda k: str(r.citation) if (r := shown.reservation(k)) else "",
            "status": overview.status,
            "rule": overview.rule,
            "on": overview.status.on.isoformat(),
            "today": node.clock.now().date().isoformat(),
            "step_chart": charts.step_chart,
            "series": _treaty_series,
        }
        return render(request, "treaty.html", context)

    def _filters(
        start: str, end: str, direction: str, instrument: str
    ) -> tuple[date | None, date | None, Direction | None, str | None]:
        return (
            parse_day(start, "from"),
            parse_day(end, "to"),
            parse_direction(direction),
            instrument.strip() or None,
        )

    @web.get("/statistics", **secured(Permission.STATISTICS_READ, audit="statistics:view"))
    def statistics(
        request: Request,
        start: Annotated[str, Query(alias="from", max_length=32)] = "",
        end: Annotated[str, Query(alias="to", max_length=32)] = "",
        direction: Annotated[str, Query(max_length=16)] = "",
        instrument: Annotated[str, Query(max_length=64)] = "",
    ) -> HTMLResponse:
        """Requests of the period by type, State, outcome and refusal ground, with charts, tables and times."""
        stats = statistics_services.statistics(node, *_filters(start, end, direction, instrument))
        context = {
            "stats": stats,
            "filters": _filter_values(stats),
            "query_string": urlencode(_filter_values(stats)),
            "packs": list(node.packs.values()),
            "bar_chart": charts.bar_chart,
            "bars": _bars,
            "measure_labels": MEASURE_LABELS,
            "measure_articles": MEASURE_ARTICLES,
            "recipient_labels": RECIPIENT_LABELS,
        }
        return render(request, "statistics.html", context)

    @web.get("/statistics/export.csv", **secured(Permission.STATISTICS_READ, audit="statistics:export"))
    def export(
        start: Annotated[str, Query(alias="from", max_length=32)] = "",
        end: Annotated[str, Query(alias="to", max_length=32)] = "",
        direction: Annotated[str, Query(max_length=16)] = "",
        instrument: Annotated[str, Query(max_length=64)] = "",
    ) -> Response:
        """The figures shown on the page, with the same filters, as a CSV file (one row per figure)."""
        return csv_response(statistics_services.statistics(node, *_filters(start, end, direction, instrument)))

    return web


def _filter_values(stats: Statistics) -> dict[str, str]:
    """The filters as the form shows them and the export link repeats them (the period as computed)."""
    values = {"from": stats.period.start.isoformat(), "to": stats.period.end.isoformat()}
    if stats.direction is not None:
        values["direction"] = stats.direction.value
    if stats.instrument is not None:
        values["instrument"] = stats.instrument
    return values


def _bars(figures: tuple[statistics_services.Figure, ...], labels: Mapping[str, str]) -> list[tuple[str, float]]:
    """A breakdown as chart bars: label (translated where the page has one, with the article if any) and count."""
    bars: list[tuple[str, float]] = []
    for f in figures:
        label = labels.get(f.key, f.label)
        bars.append((f"{label} ({f.article})" if f.article else label, f.count))
    return bars


def _treaty_series(overview: treaty_services.TreatyOverview, signatures: str, instruments: str) -> list[charts.Series]:
    """The two running totals of the treaty chart, named in the page's language."""
    return [
        charts.Series(instruments, "counted", [(p.on, p.instruments_counted) for p in overview.timeline]),
        charts.Series(signatures, "signatures", [(p.on, p.signatures) for p in overview.timeline]),
    ]
