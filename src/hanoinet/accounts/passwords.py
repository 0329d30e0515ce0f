"""Argon2id password hashing: the one place the node's password parameters are chosen, and how many run at once."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from argon2 import PasswordHasher as Argon2
from argon2.exceptions import InvalidHashError, VerificationError

from hanoinet.accounts.domain import HashingBusy

T = TypeVar("T")


HASH_NICE = 10
"""How much lower than the node's other threads the hashing threads run (Linux niceness): under a flood of
sign-ins the API's calls still get the processor first (a weight of about 1 to 10)."""


def _lower_priority() -> None:
    """Run this worker thread (and the threads Argon2 starts for its lanes, which inherit it) at a lower priority;
    where the system cannot, the slots alone bound the cost."""
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASH_NICE)


class Argon2Hasher:
    """Argon2id with argon2-cffi's current defaults (RFC 9106's second recommended profile, 64 MiB), at most
    ``concurrent`` at a time, on threads of lower priority.

    Each check holds 64 MiB and four lanes of processor for its duration: twenty sign-ins at once took a node from
    118 MiB to 1.2 GiB and a parallel API call from 3 to 80 ms (worst 946 ms). So checks run on ``concurrent``
    worker threads of their own, at a lower priority (``HASH_NICE``); at most ``waiting`` more wait for one (up to
    ``wait_seconds`` in all), and a check beyond that queue is refused at once with HashingBusy rather than piling
    up. Hashing a new password (an administrator's or the holder's own act) runs on the same workers but is never
    refused: it waits its turn.
    """

    def __init__(
        self,
        *,
        time_cost: int = 3,
        memory_cost: int = 65536,
        parallelism: int = 4,
        concurrent: int = 2,
        waiting: int = 8,
        wait_seconds: float = 10.0,
    ) -> None:
        if concurrent < 1 or waiting < 0:
            raise ValueError("concurrent must be at least 1 and waiting at least 0")
        self._hasher = Argon2(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism)
        self._workers = ThreadPoolExecutor(concurrent, thread_name_prefix="argon2", initializer=_lower_priority)
        self._bound = concurrent + waiting
        self._wait_seconds = wait_seconds
        self._lock = threading.Lock()
        self._in = 0  # checks running or waiting for a worker

    def _run(self, work: Callable[[], T], *, refuse: bool) -> T:
        with self._lock:
            if refuse and self._in >= self._bound:
                raise HashingBusy()
            self._in += 1
        try:
            job = self._workers.submit(work)
        except BaseException:
            self._done(None)
            raise
        job.add_done_callback(self._done)  # counted until it has really finished, even if its caller gave up
        try:
            return job.result(timeout=self._wait_seconds if refuse else None)
        except TimeoutError:
            job.cancel()
            raise HashingBusy() from None

    @property
    def pending(self) -> int:
        """Checks and hashes running or waiting for a worker now."""
        with self._lock:
            return self._in

    def _done(self, _: object) -> None:
        with self._lock:
            self._in -= 1

    def hash(self, password: str) -> str:
        return self._run(lambda: self._hasher.hash(password), refuse=False)

    def verify(self, encoded: str, password: str) -> bool:
        def check() -> bool:
            try:
                return self._hasher.verify(encoded, password)
            except (VerificationError, InvalidHashError):
                return False

        return self._run(check, refuse=True)

    def needs_rehash(self, encoded: str) -> bool:
        try:
            return self._hasher.check_needs_rehash(encoded)
        except InvalidHashError:
            return True
