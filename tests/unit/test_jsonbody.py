"""The JSON nesting guard: brackets count only outside strings, and only as deep as they nest."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hanoinet.platform.jsonbody import MAX_JSON_DEPTH, nesting_exceeds


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def test_the_limit_is_inclusive() -> None:
    assert not nesting_exceeds(nested(MAX_JSON_DEPTH))
    assert nesting_exceeds(nested(MAX_JSON_DEPTH + 1))


def test_many_siblings_are_not_depth() -> None:
    assert not nesting_exceeds(json.dumps([{"a": [1]} for _ in range(10_000)]).encode())


@pytest.mark.parametrize(
    "text",
    [
        '{"a": "' + "[" * 100 + '"}',
        '{"a": "\\"' + "{" * 100 + '"}',
        '["\\\\", "' + "[" * 100 + '"]',
    ],
)
def test_brackets_inside_strings_do_not_count(text: str) -> None:
    json.loads(text)  # the cases are valid JSON
    assert not nesting_exceeds(text.encode())


def test_an_escaped_quote_does_not_end_a_string_early() -> None:
    text = '["\\"]' + "[" * 40 + '", ' + "[" * 40 + "]" * 41
    assert nesting_exceeds(text.encode(), 39)


@given(st.recursive(st.integers() | st.text(), lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner)))
def test_agrees_with_the_real_depth(value: object) -> None:
    def depth(v: object) -> int:
        if isinstance(v, list):
            return 1 + max((depth(x) for x in v), default=0)
        if isinstance(v, dict):
            return 1 + max((depth(x) for x in v.values()), default=0)
        return 0

    body = json.dumps(value).encode()
    real = depth(value)
    assert nesting_exceeds(body, real) is False
    if real > 0:
        assert nesting_exceeds(body, real - 1) is True
