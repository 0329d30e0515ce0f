"""``platform.logsafe``: values escaped to one line and bounded; records that cannot forge or bloat a log line, as
text or JSON; CSV cells a spreadsheet never reads as formulas; error bodies that echo a bounded part of input."""

from __future__ import annotations

import io
import json
import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hanoinet.platform.logsafe import (
    JsonFormatter,
    SafeLogFilter,
    TextFormatter,
    bounded,
    csv_cell,
    safe,
)


def test_safe_escapes_control_and_format_characters_and_the_backslash() -> None:
    assert safe("plain text, é and 漢字") == "plain text, é and 漢字"
    assert safe("a\nINFO: forged\r\t") == "a\\nINFO: forged\\r\\t"
    assert safe("\x1b[31mred\x1b[0m") == "\\x1b[31mred\\x1b[0m"
    assert safe("\u202eevil\u2028x\x00") == "\\u202eevil\\u2028x\\x00"
    assert safe("typed \\n") == "typed \\\\n"  # never mistaken for an escaped newline
    assert safe(42) == "42"
    assert safe(None) == "None"


def test_safe_truncates_and_says_how_much_it_cut() -> None:
    huge = "x" * 100_000
    cut = safe(huge, 50)
    assert cut == "x" * 50 + "…[99950 more characters]"
    assert len(safe("\n" * 1000, 10)) < 40  # escapes count towards the limit


@given(st.text(), st.integers(min_value=1, max_value=500))
def test_safe_is_always_one_printable_line_near_its_limit(text: str, limit: int) -> None:
    out = safe(text, limit)
    assert out.isprintable()
    assert len(out) <= limit + len(f"…[{len(text)} more characters]")


class Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no")


def test_safe_survives_a_value_whose_str_fails() -> None:
    assert safe(Unprintable()) == "<Unprintable>"


@pytest.mark.parametrize("prefix", ["=", "+", "-", "@", "\t", "\r"])
def test_formula_prefixes_are_quoted(prefix: str) -> None:
    assert csv_cell(f'{prefix}HYPERLINK("http://x")') == f'\'{prefix}HYPERLINK("http://x")'


def test_other_cells_are_left_alone() -> None:
    assert csv_cell("ada") == "ada"
    assert csv_cell("2027-03-01T09:00:00+00:00") == "2027-03-01T09:00:00+00:00"


def test_error_bodies_are_bounded_in_every_string() -> None:
    detail = [{"field": "username", "message": "no account '" + "y" * 5000 + "'", "article": None}]
    shown = bounded(detail, 100)
    assert len(shown[0]["message"]) < 130
    assert shown[0]["field"] == "username"
    assert shown[0]["article"] is None
    assert bounded("short", 100) == "short"


def _logger(formatter: logging.Formatter) -> tuple[logging.Logger, io.StringIO]:
    sink = io.StringIO()
    handler = logging.StreamHandler(sink)
    handler.addFilter(SafeLogFilter(value_limit=100, message_limit=400))
    handler.setFormatter(formatter)
    logger = logging.getLogger(f"hanoinet.test.{id(sink)}")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger, sink


def test_a_record_with_a_forged_line_and_a_huge_value_is_one_bounded_line() -> None:
    logger, sink = _logger(TextFormatter())
    logger.warning("key %s refused (%d tries)", "abc\nINFO:     hanoinet.security: admin signed in" + "k" * 100_000, 3)
    text = sink.getvalue()
    assert text.count("\n") == 1, text
    assert "\\nINFO:     hanoinet.security" in text
    assert "(3 tries)" in text
    assert len(text) < 300


def _fail() -> None:
    raise ValueError("bad\nERROR:    forged")


def test_a_traceback_is_on_marked_continuation_lines() -> None:
    logger, sink = _logger(TextFormatter())
    try:
        _fail()
    except ValueError:
        logger.exception("failed")
    lines = sink.getvalue().splitlines()
    assert lines[0].startswith("ERROR:    hanoinet.test.")
    assert all(line.startswith("  | ") for line in lines[1:]), lines


def test_json_logs_are_one_object_per_line() -> None:
    logger, sink = _logger(JsonFormatter())
    logger.warning("kid %s refused", "a\nb\x1b[2J")
    (line,) = sink.getvalue().splitlines()
    entry = json.loads(line)
    assert entry["level"] == "WARNING"
    assert entry["message"] == "kid a\\nb\\x1b[2J refused"
    assert set(entry) == {"time", "level", "logger", "message"}
