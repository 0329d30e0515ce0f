"""What refused transmissions may cost (``inbound.RefusalGuard``) and how sender-chosen values are shown
(``inbound.shown``), on a clock that moves only when told to."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hanoinet.federation.inbound import OTHER_SOURCES, RefusalGuard, Verdict
from hanoinet.federation.settings import RefusalLimits

START = datetime(2026, 12, 1, 10, 0, 0, tzinfo=UTC)  # on a window boundary for windows of a minute
LIMITS = RefusalLimits(rate=2.0, burst=5, cap=3, total=100, window=timedelta(minutes=1), sources=100)


def test_a_source_is_throttled_past_its_burst_and_earns_refusals_back_at_its_rate() -> None:
    guard = RefusalGuard(LIMITS)
    for _ in range(LIMITS.burst):
        assert guard.admit("10.0.0.1", START) is None
        guard.refused("10.0.0.1", "malformed", START)
    wait = guard.admit("10.0.0.1", START)
    assert wait == 1 / LIMITS.rate
    assert guard.admit("10.0.0.2", START) is None  # another address has its own bucket
    assert guard.admit("10.0.0.1", START + timedelta(seconds=0.5)) is None  # one refusal earned back


def test_a_source_whose_transmissions_are_taken_is_never_throttled() -> None:
    guard = RefusalGuard(LIMITS)
    assert all(guard.admit("10.0.0.1", START) is None for _ in range(10_000))


def test_the_first_refusals_of_a_window_are_recorded_the_rest_counted_and_handed_out_once_the_window_is_over() -> None:
    guard = RefusalGuard(LIMITS)
    verdicts = [guard.refused("10.0.0.1", "undecryptable", START) for _ in range(6)]
    assert verdicts == [Verdict.RECORD] * 3 + [Verdict.COUNT_FIRST, Verdict.COUNT, Verdict.COUNT]
    assert guard.admit("10.0.0.1", START) is not None  # the bucket is empty: throttled, counted
    assert guard.admit("10.0.0.1", START) is not None
    assert guard.closed(START + timedelta(seconds=59)) == []  # still open
    (count,) = guard.closed(START + timedelta(seconds=60))
    assert (count.remote, count.refused, count.throttled, dict(count.reasons)) == (
        "10.0.0.1",
        3,
        2,
        {"undecryptable": 3},
    )
    assert (count.window_start, count.window_end) == (START, START + timedelta(minutes=1))
    assert guard.closed(START + timedelta(seconds=61)) == []  # handed out once
    assert guard.refused("10.0.0.1", "stale", START + timedelta(seconds=61)) is Verdict.RECORD  # a new window


def test_a_window_with_nothing_counted_leaves_no_count_and_the_node_total_caps_many_addresses() -> None:
    guard = RefusalGuard(RefusalLimits(rate=1.0, burst=5, cap=3, total=4, window=timedelta(minutes=1), sources=100))
    verdicts = [guard.refused(f"10.0.0.{i}", "malformed", START) for i in range(6)]
    assert verdicts == [Verdict.RECORD] * 4 + [Verdict.COUNT_FIRST] * 2
    closed = guard.closed(START + timedelta(minutes=1))
    assert sorted(c.remote for c in closed) == ["10.0.0.4", "10.0.0.5"]


def test_memory_is_bounded_whatever_the_number_of_addresses() -> None:
    guard = RefusalGuard(RefusalLimits(rate=1.0, burst=1, cap=0, total=0, window=timedelta(minutes=1), sources=10))
    for i in range(1000):
        guard.refused(f"10.0.{i // 256}.{i % 256}", "malformed", START)
    counts = guard.drain()
    assert len(counts) == 11  # ten addresses, and one tally for all the others
    assert sum(c.refused for c in counts) == 1000
    assert [c.refused for c in counts if c.remote == OTHER_SOURCES] == [990]
    assert guard.drain() == []
