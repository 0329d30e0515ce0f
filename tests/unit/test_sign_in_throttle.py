"""Sign-in throttling and the bound on concurrent password checks, on their own: exponential backoff per account
and address, per address and (softer) per account; no lockout of the holder; memory bounded; a full queue of
checks refused at once (issue 11)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from hanoinet.accounts.domain import HashingBusy, TooManyAttempts
from hanoinet.accounts.passwords import Argon2Hasher
from hanoinet.accounts.throttle import SignInThrottle, ThrottlePolicy, place

T0 = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def waits(throttle: SignInThrottle, account: str, address: str, now: datetime) -> int:
    """0 if the attempt is admitted (and counted), else the Retry-After it was refused with."""
    try:
        throttle.admit(account, address, now)
    except TooManyAttempts as refused:
        return refused.retry_after
    return 0


def test_the_delay_doubles_beyond_the_allowance_up_to_its_cap() -> None:
    policy = ThrottlePolicy(first_delay=1.0, max_delay=60.0)
    assert [policy.delay(n, 5) for n in range(4, 13)] == [0, 1, 2, 4, 8, 16, 32, 60, 60]
    assert policy.delay(10_000, 5) == 60  # no overflow, however long the attack


def test_one_place_guessing_one_account_waits_longer_each_time() -> None:
    throttle = SignInThrottle(ThrottlePolicy(free_per_pair=3))
    assert [waits(throttle, "tran", "203.0.113.9", T0) for _ in range(3)] == [0, 0, 0]
    assert waits(throttle, "tran", "203.0.113.9", T0) == 1
    assert waits(throttle, "tran", "203.0.113.9", at(0.5)) == 1  # a refusal does not count, nor restart the wait
    assert waits(throttle, "tran", "203.0.113.9", at(1)) == 0
    assert waits(throttle, "tran", "203.0.113.9", at(1)) == 2
    assert waits(throttle, "tran", "203.0.113.9", at(3)) == 0
    assert waits(throttle, "tran", "203.0.113.9", at(3)) == 4
    assert waits(throttle, "tran", "192.0.2.7", at(3)) == 0  # the holder, elsewhere, is checked at once


def test_a_success_clears_its_place_and_keeps_it_known() -> None:
    throttle = SignInThrottle(ThrottlePolicy(free_per_pair=3, free_per_address=5))
    for _ in range(2):
        throttle.admit("tran", "192.0.2.7", T0)
    throttle.succeeded("tran", "192.0.2.7", T0)
    assert throttle.delay_after("tran", "192.0.2.7", T0) == 0
    for _ in range(3):
        throttle.admit("tran", "192.0.2.7", T0)  # three fresh failures: the count started again
    assert throttle.delay_after("tran", "192.0.2.7", T0) == 1


def test_one_address_trying_many_accounts_waits_too() -> None:
    throttle = SignInThrottle(ThrottlePolicy(free_per_address=4))
    assert [waits(throttle, f"name{i}", "203.0.113.9", T0) for i in range(5)] == [0, 0, 0, 0, 1]
    assert waits(throttle, "someone", "198.51.100.1", T0) == 0  # another address is not held back


def test_ipv6_addresses_count_by_their_64() -> None:
    assert place("2001:db8:1:2:aaaa::1") == place("2001:db8:1:2:bbbb::2") == "2001:db8:1:2::/64"
    assert place("::ffff:192.0.2.7") == "192.0.2.7"
    assert place("testclient") == "testclient"
    throttle = SignInThrottle(ThrottlePolicy(free_per_address=2))
    throttle.admit("a", "2001:db8:1:2::1", T0)
    throttle.admit("b", "2001:db8:1:2::2", T0)
    assert waits(throttle, "c", "2001:db8:1:2::3", T0) == 1


def test_many_addresses_against_one_account_wait_together_but_the_holder_gets_in() -> None:
    """The softer per-account limit: once the account has had its allowance of failures, every address that has
    failed on it waits on the account's backoff; a new address gets one try; the holder from a known place, or
    from any place that has not failed, is checked at once."""
    throttle = SignInThrottle(ThrottlePolicy(free_per_pair=5, free_per_account=10))
    throttle.admit("adam", "192.0.2.7", T0)
    throttle.succeeded("adam", "192.0.2.7", T0)  # the holder's office
    for i in range(10):
        throttle.admit("adam", f"203.0.113.{i}", T0)  # ten bots, one failure each
    assert waits(throttle, "adam", "203.0.113.0", T0) == 1  # a bot that failed already waits on the account
    assert waits(throttle, "adam", "203.0.113.50", T0) == 0  # a new bot gets one try …
    assert waits(throttle, "adam", "203.0.113.50", T0) == 2  # … then waits with the others
    assert waits(throttle, "adam", "192.0.2.7", T0) == 0  # the holder's known place: checked at once
    assert waits(throttle, "adam", "198.51.100.4", T0) == 0  # the holder elsewhere: checked at once


def test_an_unchecked_attempt_gives_its_reservations_back() -> None:
    throttle = SignInThrottle(ThrottlePolicy(free_per_pair=1))
    throttle.admit("tran", "192.0.2.7", T0)
    throttle.unchecked("tran", "192.0.2.7")
    assert waits(throttle, "tran", "192.0.2.7", T0) == 0


def test_counters_are_forgotten_and_bounded_in_number() -> None:
    throttle = SignInThrottle(ThrottlePolicy(free_per_pair=1, forget_after=600, max_tracked=100))
    throttle.admit("tran", "192.0.2.7", T0)
    assert waits(throttle, "tran", "192.0.2.7", at(0.5)) == 1
    assert waits(throttle, "tran", "192.0.2.7", at(601)) == 0  # forgotten an idle while later
    for i in range(1000):
        throttle.admit(f"name{i}", f"198.51.{i // 250}.{i % 250}", at(700 + i))
    assert len(throttle) <= 100


def test_an_administrator_lifts_an_accounts_delays() -> None:
    throttle = SignInThrottle(ThrottlePolicy(free_per_pair=1))
    throttle.admit("tran", "192.0.2.7", T0)
    throttle.forget_account("tran")
    assert waits(throttle, "tran", "192.0.2.7", T0) == 0


def test_checks_beyond_the_slots_and_their_queue_are_refused_at_once() -> None:
    """One slot and one place in the queue: while two slow checks run or wait, a third is refused at once (it would
    hold 64 MiB more); once they are done, checks go through again."""
    slow = Argon2Hasher(time_cost=60, memory_cost=8192, parallelism=1, concurrent=1, waiting=1)
    encoded = slow.hash("correct horse battery staple")
    started = time.monotonic()
    assert slow.verify(encoded, "correct horse battery staple")
    alone = time.monotonic() - started
    with ThreadPoolExecutor(2) as pool:
        busy = [pool.submit(slow.verify, encoded, "wrong") for _ in range(2)]
        deadline = time.monotonic() + 10
        while slow.pending < 2 and time.monotonic() < deadline:
            time.sleep(0.001)
        assert slow.pending == 2  # one running, one waiting: the queue is full
        started = time.monotonic()
        with pytest.raises(HashingBusy) as caught:
            slow.verify(encoded, "correct horse battery staple")
        assert time.monotonic() - started < alone / 2
        assert caught.value.retry_after >= 1
        assert [job.result(timeout=60) for job in busy] == [False, False]
    assert slow.verify(encoded, "correct horse battery staple")
