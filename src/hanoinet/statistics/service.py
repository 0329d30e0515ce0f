"""Art 57 statistics: the figures a Party reports so that the Conference of the States Parties can review how the
Convention is implemented — how many requests of each type went to and came from which States, how they ended,
on which grounds they were refused, and how long acknowledging and executing them took.

Definitions (the same for the web page, the API and the CSV file, and stated there):

- **The period** is a range of whole UTC days, both ends included (``start`` to ``end``); by default the last twelve
  months by the node's clock: from the day after the same date a year ago up to today.
- **A request counts in a period** if it was *sent* (outgoing) or *received* (incoming) in it: drafts never sent are
  no request of one State to another. The requests of a period are a cohort: their outcome and their times are
  taken as they stand now, even if they were decided after the period ended, so a report for a closed year grows
  more complete over time but never double-counts a request.
- **Outcome**: *executed* if the assistance was given (an ``executed`` event, or ``preserved`` for a preservation,
  even if the data were later released or the requester withdrew); else *refused*; else *withdrawn*; else *closed*
  (closed without any of these, e.g. a notification acknowledged and closed); else *open* (still waiting on
  someone), which is further broken down by its current state.
- **Refusal grounds** are counted per ground given (a refusal may give several), with the article the rule pack
  cites for that ground and request type.
- **Times** run from sent (outgoing) or received (incoming) to the *first* acknowledgement, and to the first
  ``executed`` or ``preserved`` event, in hours. Only requests that reached the milestone count (the others have no
  time yet); the number of requests behind each figure is given with it.
- **Percentiles** use linear interpolation between the closest ranks (the definition of PostgreSQL's
  ``percentile_cont``, NumPy's default and ``statistics.quantiles(method="inclusive")``): for sorted values
  ``x[0] … x[n-1]``, the p-th percentile is at rank ``h = (n - 1) · p / 100``, i.e.
  ``x[⌊h⌋] + (h - ⌊h⌋) · (x[⌈h⌉] - x[⌊h⌋])``. The median is the 50th percentile (the mean of the two middle values
  for an even count). An empty set has no percentile (``None``, shown as "—").
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from hanoinet.assets.domain import MEASURE_ARTICLES, amount_text
from hanoinet.assets.service import AssetFigure, asset_figures
from hanoinet.platform.errors import Issue, ValidationFailed
from hanoinet.requests.domain import OPEN_STATES, Direction
from hanoinet.requests.ports import RequestActivity

if TYPE_CHECKING:
    from hanoinet.app.node import Node

MAX_DAYS = 366 * 20
"""The longest period asked for at once (twenty years): longer is a typing mistake, not a report."""


class Outcome(StrEnum):
    """How a request ended, or that it has not (see the module's definitions)."""

    EXECUTED = "executed"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"
    CLOSED = "closed"
    OPEN = "open"


OUTCOME_LABELS = {
    Outcome.EXECUTED: "Executed (or data preserved)",
    Outcome.REFUSED: "Refused",
    Outcome.WITHDRAWN: "Withdrawn",
    Outcome.CLOSED: "Closed without execution or refusal",
    Outcome.OPEN: "Open",
}


class Milestone(StrEnum):
    """What a time is measured to, from sent or received."""

    ACKNOWLEDGE = "acknowledge"
    EXECUTE = "execute"


MILESTONE_LABELS = {
    Milestone.ACKNOWLEDGE: "to the first acknowledgement",
    Milestone.EXECUTE: "to execution (or preservation)",
}


@dataclass(frozen=True, slots=True)
class ReportingPeriod:
    """Whole UTC days from ``start`` to ``end``, both included."""

    start: date
    end: date

    @property
    def since(self) -> datetime:
        """The first instant of the period (UTC midnight at its start)."""
        return datetime.combine(self.start, time(0), UTC)

    @property
    def until(self) -> datetime:
        """The first instant after the period (UTC midnight after its last day): the range is half-open."""
        return datetime.combine(self.end + timedelta(days=1), time(0), UTC)


@dataclass(frozen=True, slots=True)
class Figure:
    """One line of a breakdown: what is counted (``key``, readable ``label``, the ``article`` if any) and how many."""

    key: str
    label: str
    count: int
    article: str = ""


@dataclass(frozen=True, slots=True)
class Timing:
    """How long one direction's requests took to reach a milestone, in hours (None: no request reached it)."""

    direction: Direction
    milestone: Milestone
    requests: int
    median_hours: float | None
    p90_hours: float | None

    @property
    def key(self) -> str:
        """``incoming:acknowledge`` and so on: a stable name for files and charts."""
        return f"{self.direction.value}:{self.milestone.value}"


@dataclass(frozen=True, slots=True)
class Statistics:
    """The Art 57 figures for one period (and optionally one direction and one instrument)."""

    period: ReportingPeriod
    direction: Direction | None
    instrument: str | None
    total: int
    emergency: int
    by_direction: tuple[Figure, ...]
    by_type: tuple[Figure, ...]
    by_state: tuple[Figure, ...]
    by_outcome: tuple[Figure, ...]
    open_by_state: tuple[Figure, ...]
    by_refusal_ground: tuple[Figure, ...]
    timings: tuple[Timing, ...]
    assets: tuple[AssetFigure, ...] = ()
    """Amounts frozen, released, confiscated, returned and disposed of in the period, by State, year and unit
    (``assets.service.asset_figures``): measures on property, not requests, so neither filter applies to them."""

    def breakdowns(self) -> tuple[tuple[str, tuple[Figure, ...]], ...]:
        """Every breakdown with its dimension name, in the order reports show them."""
        return (
            ("direction", self.by_direction),
            ("type", self.by_type),
            ("state", self.by_state),
            ("outcome", self.by_outcome),
            ("open_state", self.open_by_state),
            ("refusal_ground", self.by_refusal_ground),
        )


def percentile(values: Iterable[float], p: float) -> float | None:
    """Return the p-th percentile (0 to 100) by linear interpolation between closest ranks; None for no values.

    The same definition as PostgreSQL's ``percentile_cont`` (see the module docstring), so a figure computed here
    can be checked against the database by hand.
    """
    if not 0 <= p <= 100 or math.isnan(p):
        raise ValueError(f"a percentile is between 0 and 100, not {p}")
    ordered = sorted(values)
    if not ordered:
        return None
    rank = (len(ordered) - 1) * p / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (rank - low) * (ordered[high] - ordered[low])


def median(values: Iterable[float]) -> float | None:
    """Return the median (the 50th percentile as defined above), or None for no values."""
    return percentile(values, 50)


def _year_before(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def reporting_period(node: Node, start: date | None = None, end: date | None = None) -> ReportingPeriod:
    """The period asked for; a missing end is today, a missing start twelve months before the end (exclusive).

    Raise ValidationFailed naming the field (``from``, ``to``) if the period is backwards or absurdly long.
    """
    end = end or node.clock.now().date()
    start = start or _year_before(end) + timedelta(days=1)
    if start > end:
        raise ValidationFailed([Issue("from", f"the period starts ({start}) after it ends ({end})")])
    if (end - start).days > MAX_DAYS:
        raise ValidationFailed([Issue("from", f"the period is longer than {MAX_DAYS // 366} years")])
    return ReportingPeriod(start, end)


def outcome(activity: RequestActivity) -> Outcome:
    """How a request ended (the module's definition): executed, refused, withdrawn, closed, or still open."""
    if activity.executed_at is not None:
        return Outcome.EXECUTED
    if activity.refused_at is not None:
        return Outcome.REFUSED
    if activity.withdrawn_at is not None:
        return Outcome.WITHDRAWN
    if activity.state in OPEN_STATES:
        return Outcome.OPEN
    return Outcome.CLOSED


def _hours(start: datetime, end: datetime | None) -> float | None:
    """Hours between two events; never negative (an event reported by another node may carry a slightly earlier
    time than our own record of sending)."""
    if end is None:
        return None
    return max(0.0, (end - start).total_seconds() / 3600)


def _timing(rows: Sequence[RequestActivity], direction: Direction, milestone: Milestone) -> Timing:
    reached = [
        h
        for r in rows
        if r.direction is direction
        and (h := _hours(r.started_at, r.acknowledged_at if milestone is Milestone.ACKNOWLEDGE else r.executed_at))
        is not None
    ]
    return Timing(direction, milestone, len(reached), median(reached), percentile(reached, 90))


def _figures(counts: Counter[str], label: Callable[[str], tuple[str, str]]) -> tuple[Figure, ...]:
    """Figures, most frequent first (ties by key, so that reports are stable)."""
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return tuple(Figure(key, label(key)[0], n, label(key)[1]) for key, n in ordered)


def compute(
    node: Node, rows: Sequence[RequestActivity], period: ReportingPeriod, direction: Direction | None = None,
    instrument: str | None = None,
) -> Statistics:  # fmt: skip
    """The figures for requests already selected for the period: pure arithmetic, labels from the rule packs."""

    def type_label(key: str) -> tuple[str, str]:
        pack_key, _, type_key = key.partition(":")
        pack = node.packs.get(pack_key)
        rtype = pack.request_type(type_key) if pack else None
        if pack is None or rtype is None:
            return key, ""
        return f"{rtype.label} ({pack.short_title})", str(rtype.citation)

    def state_label(code: str) -> tuple[str, str]:
        try:
            return node.catalog.name(code), ""
        except KeyError:
            return code, ""

    grounds: Counter[str] = Counter()
    ground_labels: dict[str, tuple[str, str]] = {}
    for row in rows:
        if row.refused_at is None:
            continue
        pack = node.packs.get(row.instrument)
        rtype = pack.request_type(row.type) if pack else None
        for ground in row.grounds:
            found = rtype.ground(ground) if rtype else None
            article = str(found.citation) if found else ""
            key = f"{row.instrument}:{ground}" + (f"@{article}" if article else "")
            grounds[key] += 1
            ground_labels[key] = (found.label if found else ground, article)

    outcomes = Counter(outcome(r).value for r in rows)
    return Statistics(
        period=period,
        direction=direction,
        instrument=instrument,
        total=len(rows),
        emergency=sum(1 for r in rows if r.emergency),
        by_direction=_figures(Counter(r.direction.value for r in rows), lambda k: (k.capitalize(), "")),
        by_type=_figures(Counter(f"{r.instrument}:{r.type}" for r in rows), type_label),
        by_state=_figures(Counter(r.counterpart_state for r in rows), state_label),
        by_outcome=tuple(Figure(o.value, OUTCOME_LABELS[o], outcomes[o.value]) for o in Outcome if outcomes[o.value]),
        open_by_state=_figures(
            Counter(r.state.value for r in rows if outcome(r) is Outcome.OPEN),
            lambda k: (k.replace("_", " ").capitalize(), ""),
        ),
        by_refusal_ground=_figures(grounds, lambda k: ground_labels[k]),
        timings=tuple(
            _timing(rows, d, m)
            for d in (Direction.INCOMING, Direction.OUTGOING)
            if direction in (None, d)
            for m in Milestone
        ),
    )


def statistics(
    node: Node,
    start: date | None = None,
    end: date | None = None,
    direction: Direction | None = None,
    instrument: str | None = None,
) -> Statistics:
    """The Art 57 figures for a period (default: the last twelve months), optionally one direction and instrument.

    The database selects the period's requests and the first time of each milestone per request; the counting and
    the percentiles are done here, in the same way on every backend.
    """
    if instrument is not None:
        node.pack(instrument)
    period = reporting_period(node, start, end)
    with node.uow() as uow:
        rows = uow.requests.activity(period.since, period.until, direction, instrument)
    stats = compute(node, rows, period, direction, instrument)
    return replace(stats, assets=asset_figures(node, period.start, period.end + timedelta(days=1)))


def figures(stats: Statistics) -> list[tuple[str, str, str, str, str, str]]:
    """Every figure as one flat row ``(dimension, key, label, article, metric, value)`` for files and exports.

    ``dimension`` names the breakdown (``period``, ``filter``, ``total``, ``direction``, ``type``, ``state``,
    ``outcome``, ``open_state``, ``refusal_ground``, ``timing``); ``key`` is stable (a rule-pack key, an ISO 3166
    code, a state name); ``metric`` is ``count``, ``date``, ``text``, ``requests``, ``median_hours`` or
    ``p90_hours``; an empty ``value`` means there is no figure (no request reached that milestone).
    """
    rows: list[tuple[str, str, str, str, str, str]] = [
        ("period", "from", "First day of the period (UTC)", "", "date", stats.period.start.isoformat()),
        ("period", "to", "Last day of the period (UTC), included", "", "date", stats.period.end.isoformat()),
        ("filter", "direction", "Direction", "", "text", stats.direction.value if stats.direction else "all"),
        ("filter", "instrument", "Instrument", "", "text", stats.instrument or "all"),
        ("total", "requests", "Requests sent or received in the period", "", "count", str(stats.total)),
        ("total", "emergency", "Emergency requests", "", "count", str(stats.emergency)),
    ]
    for dimension, breakdown in stats.breakdowns():
        rows += [(dimension, f.key, f.label, f.article, "count", str(f.count)) for f in breakdown]
    for t in stats.timings:
        label = f"{t.direction.value.capitalize()}: from sent or received {MILESTONE_LABELS[t.milestone]}"
        rows.append(("timing", t.key, label, "", "requests", str(t.requests)))
        for metric, value in (("median_hours", t.median_hours), ("p90_hours", t.p90_hours)):
            rows.append(("timing", t.key, label, "", metric, "" if value is None else f"{value:.2f}"))
    for f in stats.assets:
        key = asset_key(f)
        label = f"{f.measure.value.capitalize()} by {f.state} in {f.year}, in {f.currency}"
        label += f", at the request of {f.for_state}" if f.for_state else ""
        label += f", to {f.recipient.value.replace('_', ' ')}" if f.recipient else ""
        article = MEASURE_ARTICLES[f.measure]
        rows.append(("assets", key, label, article, "measures", str(f.measures)))
        rows.append(("assets", key, label, article, "amount", amount_text(f.amount)))
    return rows


def asset_key(f: AssetFigure) -> str:
    """``frozen:THA:2026:BTC:VNM:`` and so on: measure, State, year, unit, at whose request, recipient."""
    return ":".join((f.measure.value, f.state, str(f.year), f.currency, f.for_state, f.recipient or ""))
