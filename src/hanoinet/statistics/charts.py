"""Tiny server-side SVG charts: bars for counts, steps for running totals — no script, no third-party code.

A chart is inline SVG built here, so it works with the strict Content-Security-Policy (no inline ``style``: colours
come from the stylesheet's ``.chart`` classes, geometry from SVG presentation attributes) and on a node with no
Internet access. Every chart is an image with a name (``role="img"``, ``aria-label`` and a ``<title>``), and the
pages show the same numbers in a table next to it, which is what a screen reader reads. Every label is escaped:
``Markup.format`` escapes its arguments, so a State's or a ground's name can never become markup.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from markupsafe import Markup

SVG_NS = "http://www.w3.org/2000/svg"
BAR_HEIGHT = 22
BAR_GAP = 8
LABEL_WIDTH = 260
PLOT_WIDTH = 360
VALUE_WIDTH = 60
LABEL_CHARS = 38
"""Longer labels are cut with an ellipsis in the picture (the full label is in each bar's tooltip and the table)."""


def _num(value: float) -> str:
    """A coordinate or a value, without needless decimals."""
    return f"{value:.1f}".removesuffix(".0")


def _short(label: str, limit: int = LABEL_CHARS) -> str:
    return label if len(label) <= limit else label[: limit - 1].rstrip() + "…"


def _open(width: float, height: float, title: str, css: str) -> Markup:
    return Markup(
        '<svg xmlns="{}" class="chart {}" role="img" aria-label="{}" viewBox="0 0 {} {}" width="{}" height="{}">'
        "<title>{}</title>"
    ).format(SVG_NS, css, title, _num(width), _num(height), _num(width), _num(height), title)


def bar_chart(items: Sequence[tuple[str, float]], title: str) -> Markup:
    """Horizontal bars, one per ``(label, value)``, each as long as its value in proportion to the largest.

    Horizontal, because labels (request types, States, refusal grounds) are long and must stay readable.
    """
    height = max(1, len(items)) * (BAR_HEIGHT + BAR_GAP) + BAR_GAP
    width = LABEL_WIDTH + PLOT_WIDTH + VALUE_WIDTH
    largest = max((value for _, value in items), default=0)
    parts = [_open(width, height, title, "bars")]
    parts.append(Markup('<line class="axis" x1="{x}" y1="0" x2="{x}" y2="{h}"/>').format(x=LABEL_WIDTH, h=_num(height)))
    for index, (label, value) in enumerate(items):
        y = BAR_GAP + index * (BAR_HEIGHT + BAR_GAP)
        length = PLOT_WIDTH * value / largest if largest > 0 else 0
        middle = y + BAR_HEIGHT / 2
        parts.append(
            Markup(
                '<g class="row"><title>{label}: {value}</title>'
                '<text class="label" x="{lx}" y="{ty}" text-anchor="end" dominant-baseline="middle">{short}</text>'
                '<rect class="bar" x="{x}" y="{y}" width="{w}" height="{h}"/>'
                '<text class="value" x="{vx}" y="{ty}" dominant-baseline="middle">{value}</text></g>'
            ).format(
                label=label,
                short=_short(label),
                value=_num(value),
                lx=LABEL_WIDTH - 6,
                ty=_num(middle),
                x=LABEL_WIDTH,
                y=_num(y),
                w=_num(length),
                h=BAR_HEIGHT,
                vx=_num(LABEL_WIDTH + length + 6),
            )
        )
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)


@dataclass(frozen=True, slots=True)
class Series:
    """One running total over time: its name (for the legend), a CSS class and its points, oldest first."""

    name: str
    css: str
    points: Sequence[tuple[date, float]]


STEP_WIDTH = 640
STEP_HEIGHT = 280
MARGIN_LEFT = 44
MARGIN_RIGHT = 16
MARGIN_TOP = 16
MARGIN_BOTTOM = 56


def step_chart(
    series: Sequence[Series],
    title: str,
    *,
    threshold: float | None = None,
    threshold_label: str = "",
    until: date | None = None,
) -> Markup:
    """Running totals as step lines over dates (a total changes on the day of a deposit and stays until the next),
    with an optional horizontal threshold line (e.g. the 40 instruments of Art 65(1)); the time axis runs from the
    first point to the last, or to ``until`` (the date the page is about) if that is later."""
    dates = sorted({d for s in series for d, _ in s.points} | ({until} if until else set()))
    top = max([v for s in series for _, v in s.points] + [threshold or 0, 1])
    plot_w = STEP_WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_h = STEP_HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    first, last = (dates[0], dates[-1]) if dates else (None, None)
    span = (last - first).days if first and last else 0
    bottom = MARGIN_TOP + plot_h

    def x(day: date) -> float:
        if first is None or span == 0:
            return MARGIN_LEFT + plot_w / 2
        return MARGIN_LEFT + plot_w * (day - first).days / span

    def y(value: float) -> float:
        return MARGIN_TOP + plot_h * (1 - value / top)

    parts = [_open(STEP_WIDTH, STEP_HEIGHT, title, "steps")]
    parts.append(
        Markup(
            '<line class="axis" x1="{l}" y1="{b}" x2="{r}" y2="{b}"/><line class="axis" x1="{l}" y1="{t}" x2="{l}" '
            'y2="{b}"/><text class="tick" x="{tx}" y="{b}" text-anchor="end" dominant-baseline="middle">0</text>'
            '<text class="tick" x="{tx}" y="{t}" text-anchor="end" dominant-baseline="middle">{top}</text>'
        ).format(l=MARGIN_LEFT, r=MARGIN_LEFT + plot_w, t=MARGIN_TOP, b=bottom, tx=MARGIN_LEFT - 6, top=_num(top))
    )
    if first is not None and last is not None:
        parts.append(
            Markup(
                '<text class="tick" x="{x1}" y="{ty}" text-anchor="start">{d1}</text>'
                '<text class="tick" x="{x2}" y="{ty}" text-anchor="end">{d2}</text>'
            ).format(x1=MARGIN_LEFT, x2=MARGIN_LEFT + plot_w, ty=bottom + 16, d1=first.isoformat(), d2=last.isoformat())
        )
    if threshold is not None:
        parts.append(
            Markup(
                '<line class="threshold" x1="{l}" y1="{y}" x2="{r}" y2="{y}" stroke-dasharray="6 4"/>'
                '<text class="threshold-label" x="{r}" y="{ty}" text-anchor="end">{label}</text>'
            ).format(
                l=MARGIN_LEFT,
                r=MARGIN_LEFT + plot_w,
                y=_num(y(threshold)),
                ty=_num(y(threshold) - 5),
                label=threshold_label or _num(threshold),
            )
        )
    for s in series:
        if not s.points:
            continue
        path = [f"M {_num(x(s.points[0][0]))} {_num(y(0))} V {_num(y(s.points[0][1]))}"]
        for day, value in s.points[1:]:
            path.append(f"H {_num(x(day))} V {_num(y(value))}")
        path.append(f"H {_num(MARGIN_LEFT + plot_w)}")
        parts.append(
            Markup('<path class="line {}" d="{}"><title>{}</title></path>').format(s.css, " ".join(path), s.name)
        )
    for index, s in enumerate(series):  # the legend, under the axis
        lx = MARGIN_LEFT + index * 220
        ly = STEP_HEIGHT - 14
        parts.append(
            Markup(
                '<line class="line {css}" x1="{x1}" y1="{y}" x2="{x2}" y2="{y}"/>'
                '<text class="legend" x="{tx}" y="{y}" dominant-baseline="middle">{name}</text>'
            ).format(css=s.css, x1=lx, x2=lx + 24, y=ly, tx=lx + 30, name=s.name)
        )
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)
