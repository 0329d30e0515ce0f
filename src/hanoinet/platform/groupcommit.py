"""Group commit: concurrent small writes share one transaction, so a busy node commits less often per call."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Generic, Protocol, Self, TypeVar


class Transaction(Protocol):
    """What ``GroupCommit`` needs of a unit of work: a context that rolls back unless committed."""

    def __enter__(self) -> Self: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    def commit(self) -> None:
        """Make the staged work durable."""


T = TypeVar("T", bound=Transaction)


@dataclass(eq=False)
class _Write(Generic[T]):
    apply: Callable[[T], None]
    done: bool = False
    error: BaseException | None = None


class GroupCommit(Generic[T]):
    """Small independent writes from concurrent calls, committed together: one transaction for all that wait.

    A node answering many small calls at once (a machine sending one message per call, say) would otherwise commit
    once per call, each writer waiting for the one before — and on a busy node the waits grow faster than the work.
    Here a call queues its write; whoever holds the writer's turn takes every write queued so far into one
    transaction, so the busier the node, the larger (and cheaper per call) each commit. A call returns only once
    its own write is committed (or has failed: then it raises its own error). If a joint transaction fails, each of
    its writes is retried alone, so that one bad write fails only its own call. A write must not itself go through
    the same GroupCommit, and must not depend on the calling thread (its context variables, say): it may run in
    another caller's thread.
    """

    def __init__(self) -> None:
        self._queued: list[_Write[T]] = []
        self._queue_lock = threading.Lock()
        self._turn = threading.Lock()

    def run(self, transaction: Callable[[], T], apply: Callable[[T], None]) -> None:
        """Apply ``apply`` in a committed transaction (perhaps shared with other calls'); raise what it raised."""
        write = _Write(apply)
        with self._queue_lock:
            self._queued.append(write)
        with self._turn:
            if not write.done:  # else the previous turn took it
                with self._queue_lock:
                    batch, self._queued = self._queued, []
                self._commit(transaction, batch)
        if write.error is not None:
            raise write.error

    @staticmethod
    def _commit(transaction: Callable[[], T], batch: Sequence[_Write[T]]) -> None:
        try:
            with transaction() as uow:
                for write in batch:
                    write.apply(uow)
                uow.commit()
        except Exception as exc:
            if len(batch) == 1:
                batch[0].error = exc
            else:  # find the write that failed: each alone, so that the others still commit
                for write in batch:
                    GroupCommit._commit(transaction, [write])
        except BaseException as exc:  # interrupted: nothing of the batch is known to be committed
            for write in batch:
                write.error = write.error or exc
            raise
        finally:
            for write in batch:
                write.done = True
