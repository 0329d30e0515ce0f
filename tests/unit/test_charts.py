"""Server-side SVG charts: well-formed SVG, named for screen readers, bars in proportion, labels escaped, no style."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import date

from markupsafe import Markup

from hanoinet.statistics.charts import LABEL_WIDTH, PLOT_WIDTH, Series, bar_chart, step_chart

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: Markup) -> ET.Element:
    return ET.fromstring(str(svg))  # noqa: S314 - our own output, parsed to check it is well-formed


def test_a_bar_chart_is_named_svg_with_bars_in_proportion() -> None:
    svg = bar_chart([("Preservation", 10), ("Mutual legal assistance", 5), ("Extradition", 0)], "Requests by type")
    assert isinstance(svg, Markup)
    root = parse(svg)
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    assert root.get("aria-label") == "Requests by type"
    assert root[0].tag == f"{SVG}title"
    assert root[0].text == "Requests by type"
    widths = [float(rect.get("width", "")) for rect in root.iter(f"{SVG}rect")]
    assert widths == [PLOT_WIDTH, PLOT_WIDTH / 2, 0]
    assert all(float(rect.get("x", "")) == LABEL_WIDTH for rect in root.iter(f"{SVG}rect"))
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert texts == ["Preservation", "10", "Mutual legal assistance", "5", "Extradition", "0"]
    tooltips = [g.find(f"{SVG}title") for g in root.iter(f"{SVG}g")]
    assert [t.text for t in tooltips if t is not None] == [
        "Preservation: 10",
        "Mutual legal assistance: 5",
        "Extradition: 0",
    ]


def test_labels_are_escaped_never_markup() -> None:
    evil = '<script>alert("x")</script> & Co'
    svg = bar_chart([(evil, 1)], 'Title with "quotes" & <tags>')
    text = str(svg)
    assert "<script>" not in text
    assert "&lt;script&gt;" in text
    root = parse(svg)  # still well-formed
    assert root.get("aria-label") == 'Title with "quotes" & <tags>'
    assert next(root.iter(f"{SVG}text")).text == evil


def test_long_labels_are_cut_in_the_picture_but_whole_in_the_tooltip() -> None:
    label = "prejudice to sovereignty, security, ordre public or other essential interests (Art 40(21)(b))"
    root = parse(bar_chart([(label, 3)], "Refusals"))
    shown = next(root.iter(f"{SVG}text")).text or ""
    assert shown.endswith("…")
    assert len(shown) < len(label)
    tooltip = next(root.iter(f"{SVG}g")).find(f"{SVG}title")
    assert tooltip is not None
    assert tooltip.text == f"{label}: 3"


def test_an_empty_bar_chart_is_still_valid() -> None:
    root = parse(bar_chart([], "Nothing"))
    assert list(root.iter(f"{SVG}rect")) == []
    assert root.get("aria-label") == "Nothing"


def test_no_inline_style_anywhere() -> None:
    """The Content-Security-Policy forbids inline styles: colours come from classes, geometry from attributes."""
    bars = str(bar_chart([("a", 1)], "t"))
    steps = str(step_chart([Series("s", "counted", [(date(2026, 1, 1), 1)])], "t", threshold=40))
    for svg in (bars, steps):
        assert "style=" not in svg
        assert "<style" not in svg
        assert "<script" not in svg


def _path_points(d: str) -> list[tuple[str, float]]:
    return [(cmd, float(value)) for cmd, value in re.findall(r"([MHV]) ?(-?[\d.]+)", d)]


def test_a_step_chart_rises_on_each_date_and_shows_the_threshold() -> None:
    counted = Series("Instruments counted", "counted", [(date(2026, 1, 1), 10), (date(2026, 1, 11), 40)])
    signatures = Series("Signatures", "signatures", [(date(2025, 12, 22), 50)])
    svg = step_chart([counted, signatures], "Deposits", threshold=40, threshold_label="40 instruments")
    root = parse(svg)
    assert root.get("role") == "img"
    assert root.get("aria-label") == "Deposits"
    paths = {p.get("class"): p for p in root.iter(f"{SVG}path")}
    assert set(paths) == {"line counted", "line signatures"}
    title = paths["line counted"].find(f"{SVG}title")
    assert title is not None
    assert title.text == "Instruments counted"
    threshold = next(line for line in root.iter(f"{SVG}line") if line.get("class") == "threshold")
    top = float(threshold.get("y1", ""))
    steps = _path_points(paths["line counted"].get("d", ""))
    # The counted line ends at the threshold's height (40 of 50): the y of the last vertical move.
    last_v = [value for cmd, value in steps if cmd == "V"][-1]
    assert last_v == top
    # x positions are in date order and the first is after the signatures' first date (the axis starts there).
    xs = [value for cmd, value in steps if cmd in "MH"]
    assert xs == sorted(xs)
    first_signature_x = _path_points(paths["line signatures"].get("d", ""))[0][1]
    assert first_signature_x < xs[0]
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "40 instruments" in texts
    assert "2025-12-22" in texts
    assert "2026-01-11" in texts


def test_the_time_axis_runs_to_the_chosen_date() -> None:
    series = Series("Signatures", "signatures", [(date(2026, 1, 1), 1)])
    texts = [t.text for t in parse(step_chart([series], "t", until=date(2026, 6, 30))).iter(f"{SVG}text")]
    assert "2026-06-30" in texts


def test_a_step_chart_without_points_is_still_valid() -> None:
    root = parse(step_chart([Series("Signatures", "signatures", [])], "Nothing yet", threshold=40))
    assert list(root.iter(f"{SVG}path")) == []
    assert root.get("aria-label") == "Nothing yet"
