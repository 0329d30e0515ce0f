"""GroupCommit: concurrent calls' small writes share one transaction; a write that fails fails only its own call."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import Self

import pytest

from hanoinet.platform.groupcommit import GroupCommit


class Journal:
    """A unit-of-work stand-in that records what each transaction committed (a fake of the port, no database)."""

    def __init__(self) -> None:
        self.committed: list[list[str]] = []
        self._staged: list[str] = []

    def __call__(self) -> Self:
        return self

    def __enter__(self) -> Self:
        self._staged = []
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._staged = []  # rolled back unless committed

    def stage(self, name: str) -> None:
        if name.startswith("bad"):
            raise ValueError(f"{name} is refused")
        self._staged.append(name)

    def commit(self) -> None:
        self.committed.append(self._staged)
        self._staged = []


def _submit(pool: ThreadPoolExecutor, group: GroupCommit[Journal], journal: Journal, name: str) -> Future[None]:
    return pool.submit(group.run, journal, lambda uow: uow.stage(name))


def _holding(gate: threading.Event, holding: threading.Event) -> Callable[[Journal], None]:
    """A write that holds the writer's turn (its transaction open) until ``gate`` is set."""

    def slow(uow: Journal) -> None:
        holding.set()
        gate.wait(10)
        uow.stage("first")

    return slow


def _wait_until_queued(group: GroupCommit[Journal], count: int) -> None:
    for _ in range(500):
        if len(group._queued) >= count:  # the test must know the writes wait
            return
        threading.Event().wait(0.01)
    raise AssertionError(f"{count} writes never queued")


def test_writes_queued_behind_a_commit_share_the_next_one() -> None:
    group, journal, gate, holding = GroupCommit[Journal](), Journal(), threading.Event(), threading.Event()
    with ThreadPoolExecutor(4) as pool:
        first = pool.submit(group.run, journal, _holding(gate, holding))
        assert holding.wait(10)
        others = [_submit(pool, group, journal, f"m{i}") for i in range(3)]
        _wait_until_queued(group, 3)
        gate.set()
        for future in [first, *others]:
            assert future.result(timeout=10) is None

    assert journal.committed[0] == ["first"]
    assert sorted(journal.committed[1]) == ["m0", "m1", "m2"]
    assert len(journal.committed) == 2


def test_a_failing_write_fails_its_own_call_and_the_others_commit() -> None:
    group, journal, gate, holding = GroupCommit[Journal](), Journal(), threading.Event(), threading.Event()
    with ThreadPoolExecutor(4) as pool:
        first = pool.submit(group.run, journal, _holding(gate, holding))
        assert holding.wait(10)
        names = ["m0", "bad-one", "m2"]
        futures = [_submit(pool, group, journal, name) for name in names]
        _wait_until_queued(group, 3)
        gate.set()
        first.result(timeout=10)
        with pytest.raises(ValueError, match="bad-one is refused"):
            futures[1].result(timeout=10)
        futures[0].result(timeout=10)
        futures[2].result(timeout=10)

    flat = [name for batch in journal.committed for name in batch]
    assert sorted(flat) == ["first", "m0", "m2"]  # each committed once; the refused one never


def test_a_lone_write_commits_alone_and_raises_its_error() -> None:
    group, journal = GroupCommit[Journal](), Journal()
    group.run(journal, lambda uow: uow.stage("alone"))
    with pytest.raises(ValueError, match="bad is refused"):
        group.run(journal, lambda uow: uow.stage("bad"))
    assert journal.committed == [["alone"]]
