"""Threads joined by bounded queues, the vault's way of doing several things to a stream at once: a crew of
worker threads that stop together (``_Crew``), channels whose blocking calls give up when the crew is cancelled
(``_Channel``), and a fixed pool of preallocated chunk buffers shared by the stages (``_Pool``).

Kept apart because it knows nothing of blobs: ingest, reading and the assembly's hasher are built on it, each in
its own module, and it is where the vault's performance is decided.

Performance: ingest, ``open_stream`` and ``verify`` are pipelines of threads joined by bounded queues over a small
pool of preallocated chunk buffers, so memory stays flat for any size; hashlib and cryptography's AES-GCM release
the GIL on large buffers, so the stages run on separate cores. Where the work is split matters more than how much
is split: hashing data that another core has just written runs markedly slower (its cache lines must travel), so
SHA-256, the bottleneck, always runs on data the same thread has just produced: ingest's reader reads each chunk
in 512 KiB steps and hashes each step at once, like ``openssl dgst``, while another thread encrypts and writes
(and one thread per extra hash reads the shared buffers); verify's reader fills record buffers while the checker
decrypts each record into a buffer of its own and hashes it straight away. Ingest asks the kernel to start writing
as soon as a few MiB are written (``sync_file_range``) and waits for data a few units behind, so the disk works
while the CPU hashes and the final fsync only flushes the tail, rather than the whole file at the end; written
pages are then dropped from the page cache (evidence is large, rarely re-read at once, and should not evict
everything else).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

_POOL_CHUNKS = 6  # chunk buffers in flight per pipeline: enough to keep every stage busy, small enough to stay flat


class _StoppedError(Exception):
    """A pipeline was stopped (another stage failed, or the consumer went away)."""


_T = TypeVar("_T")


class _Hash(Protocol):
    """A hash object (hashlib's), as the hashing stages feed it."""

    def update(self, data: memoryview, /) -> None: ...
    def hexdigest(self) -> str: ...


_POLL = 0.05  # seconds a blocked stage waits before looking at the cancel flag again


class _Channel(Generic[_T]):
    """A bounded queue whose blocking calls give up when the pipeline is cancelled."""

    def __init__(self, cancel: threading.Event, maxsize: int) -> None:
        self._queue: queue.Queue[_T] = queue.Queue(maxsize)
        self._cancel = cancel

    def put(self, item: _T) -> None:
        while True:
            if self._cancel.is_set():
                raise _StoppedError
            try:
                self._queue.put(item, timeout=_POLL)
            except queue.Full:
                continue
            return

    def offer(self, item: _T) -> bool:
        """Put without waiting; return whether there was room."""
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            return False
        return True

    def get(self) -> _T:
        while True:
            if self._cancel.is_set():
                raise _StoppedError
            try:
                return self._queue.get(timeout=_POLL)
            except queue.Empty:
                continue


class _Crew:
    """Worker threads that stop together: the first exception cancels the rest and ``join`` re-raises it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.cancel = threading.Event()
        self._threads: list[threading.Thread] = []
        self._error: BaseException | None = None
        self._lock = threading.Lock()

    def start(self, target: Callable[[], None], role: str) -> None:
        thread = threading.Thread(target=self._run, args=(target,), name=f"{self.name}-{role}", daemon=True)
        self._threads.append(thread)
        thread.start()

    def _run(self, target: Callable[[], None]) -> None:
        try:
            target()
        except _StoppedError:
            pass
        except BaseException as exc:
            with self._lock:
                if self._error is None:
                    self._error = exc
            self.cancel.set()

    def join(self) -> None:
        """Wait for every worker; re-raise the first failure."""
        for thread in self._threads:
            thread.join()
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def stop(self) -> None:
        """Cancel and wait for every worker, discarding their failures (the caller is already failing)."""
        self.cancel.set()
        for thread in self._threads:
            thread.join()
        self._error = None


@dataclass(eq=False)
class _Slot:
    """A preallocated chunk buffer, returned to its pool when the last stage using it is done."""

    buf: bytearray
    view: memoryview
    n: int = 0
    users: int = 0


class _Pool:
    """A fixed set of chunk buffers shared by several stages (reference counted)."""

    def __init__(self, crew: _Crew, count: int, size: int) -> None:
        self._free = _Channel[_Slot](crew.cancel, count)
        self._lock = threading.Lock()
        for _ in range(count):
            buf = bytearray(size)
            self._free.put(_Slot(buf, memoryview(buf)))

    def take(self, users: int) -> _Slot:
        slot = self._free.get()
        slot.users = users
        return slot

    def release(self, slot: _Slot) -> None:
        with self._lock:
            slot.users -= 1
            done = slot.users == 0
        if done:
            self._free.put(slot)


_END = None  # end-of-stream marker on a channel


def _drain(crew: _Crew, channel: _Channel[_T | None]) -> Iterator[_T]:
    """Items from the last stage of a crew until its end marker; then join the crew. If a stage failed, its
    exception is raised here (rather than the bare cancellation the channel saw)."""
    stopped = False
    try:
        while (item := channel.get()) is not None:
            yield item
    except _StoppedError:
        stopped = True
    crew.join()  # outside the except clause, so the stage's error is not shown as raised "while handling" a stop
    if stopped:
        raise _StoppedError  # cancelled from outside, without a failure
