"""The node's background work: delivering the outbox, pushing evidence transfers, forgetting old replay markers.

``serve`` runs it in a child process of its own (``WorkerProcess``), so that its CPU work does not compete with
the API for one interpreter lock; the child dies with its parent. Several processes may run it against one
database: deliveries to a peer are serialised by the peer's lease in the database, so messages still go in order
and once per transmission. Composing a message wakes the worker at once (the API process passes the peer ids down
a pipe); a slow poll catches messages composed by other processes (the command line) and retries whose backoff
has run out.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import TYPE_CHECKING, Any

from hanoinet.federation import directory, messaging, transfers
from hanoinet.federation.ports import Transport, TransportError
from hanoinet.federation.transport import HttpTransport
from hanoinet.platform import logsafe

if TYPE_CHECKING:
    from hanoinet.app.node import Node

log = logging.getLogger("hanoinet.worker")

POLL_SECONDS = 0.5
DELIVERERS = 4
SENDERS = 2
HOUSEKEEPING_SECONDS = 60.0
ROUND_SPACING_SECONDS = 0.010
"""Back-to-back rounds to one peer start at least this far apart. A round has a fixed cost on both nodes (a
transmission, a JWE, a commit on each side, a signed receipt) whatever its size: at a steady trickle of messages,
rounds of one message each would spend most of both nodes' CPU on that cost, and the queue behind them would grow
under any burst. Waiting a few milliseconds lets a round carry what came meanwhile. The first round after a quiet
spell goes at once."""


class FederationWorker:
    """Delivers messages and transfers until ``stop``."""

    def __init__(
        self,
        node: Node,
        *,
        transport: Callable[[], Transport] | None = None,
        poll: float = POLL_SECONDS,
    ) -> None:
        self.node = node
        if transport is None:  # the node's outbound rules: no private addresses unless allowed, answers capped

            def transport() -> Transport:
                return HttpTransport.of(node.federation)

        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._transport = transport
        self._poll = poll
        self._wake = threading.Event()
        self._wake_transfers = threading.Event()
        self._stop = threading.Event()
        self._local = threading.local()
        self._lock = threading.Lock()
        self._delivering: set[str] = set()
        self._more: set[str] = set()  # peers that got new messages while a delivery to them was under way
        self._sending: set[str] = set()
        self._transfer_wait: dict[str, tuple[float, int]] = {}  # transfer id -> (not before, failures)
        self._threads: list[threading.Thread] = []
        self._deliverers = ThreadPoolExecutor(DELIVERERS, thread_name_prefix="hanoinet-deliver")
        self._senders = ThreadPoolExecutor(SENDERS, thread_name_prefix="hanoinet-transfer")

    def wake(self, peers: frozenset[str] = frozenset()) -> None:
        """Something new waits in the outbox: for these peers (delivered at once, no search), or for any."""
        if not peers:
            self._wake.set()
            return
        for peer in peers:
            self._kick(peer)

    def _kick(self, peer: str) -> None:
        """Start delivering to ``peer``, or tell the delivery under way to look again before it stops."""
        with self._lock:
            if peer in self._delivering:
                self._more.add(peer)
                return
            self._delivering.add(peer)
        self._deliverers.submit(self._deliver, peer)

    def start(self) -> None:
        """Start the loops; compose() calls anywhere in this process now wake the deliverer."""
        self._recover_leases()
        self.node.listeners.append(self.wake)
        for target, name in (
            (self._delivery_loop, "deliveries"),
            (self._transfer_loop, "transfers"),
            (self._housekeeping, "housekeeping"),
        ):
            thread = threading.Thread(target=target, name=f"hanoinet-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Stop the loops and wait for deliveries in progress (their messages stay pending if cut)."""
        self._stop.set()
        self._wake.set()
        self._wake_transfers.set()
        if self.wake in self.node.listeners:
            self.node.listeners.remove(self.wake)
        for thread in self._threads:
            thread.join(timeout=10)
        self._deliverers.shutdown(wait=True, cancel_futures=True)
        self._senders.shutdown(wait=True, cancel_futures=True)
        try:
            messaging.release(self.node, self.owner)
        except Exception:
            log.exception("could not give back the delivery leases; they expire by themselves")

    def _recover_leases(self) -> None:
        """Leases held by a process of this host that no longer exists (a killed node) are given back at once,
        rather than after they expire."""
        host = socket.gethostname()
        for peer in directory.list_peers(self.node):
            owner = peer.delivery.lease_owner or ""
            name, _, rest = owner.partition(":")
            pid = rest.partition(":")[0]
            if name != host or not pid.isdigit() or owner == self.owner:
                continue
            try:
                os.kill(int(pid), 0)
            except ProcessLookupError:
                messaging.release(self.node, owner)
                log.info("took back the delivery lease on %s held by %s, which is gone", peer.entry.node_id, owner)
            except PermissionError:
                continue  # a live process of another user

    def _transport_here(self) -> Transport:
        found: Transport | None = getattr(self._local, "transport", None)
        if found is None:
            found = self._transport()
            self._local.transport = found
        return found

    # -- deliveries

    def _delivery_loop(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                for peer in messaging.due_peers(self.node):
                    self._kick(peer)
            except Exception:
                log.exception("the delivery loop failed; trying again")
            self._wake.wait(self._poll)

    def _deliver(self, peer: str) -> None:
        """Deliver round after round while there is something to send; before stopping, look again if new messages
        came for this peer meanwhile (so that a wake-up is never lost between the last round and the stop)."""
        try:
            started = 0.0
            while not self._stop.is_set():
                if (pause := started + ROUND_SPACING_SECONDS - time.monotonic()) > 0 and self._stop.wait(pause):
                    break
                started = time.monotonic()
                with self._lock:
                    self._more.discard(peer)
                report = messaging.deliver(self.node, self._transport_here(), peer, self.owner)
                if report.offers:
                    self._wake_transfers.set()  # an offer went through: its evidence can follow at once
                full = report.sent >= self.node.federation.batch_size and not report.error and not report.skipped
                with self._lock:
                    if not full and (peer not in self._more or self._stop.is_set()):
                        self._delivering.discard(peer)  # nothing came meanwhile: the next wake-up starts again
                        return
        except Exception:
            log.exception("delivery to %s failed", peer)
        with self._lock:
            self._delivering.discard(peer)

    # -- transfers

    def _transfer_loop(self) -> None:
        while not self._stop.is_set():
            try:
                now = self.node.now_wall().timestamp()
                for transfer_id in transfers.pending_transfers(self.node):
                    with self._lock:
                        if transfer_id in self._sending or self._transfer_wait.get(transfer_id, (0.0, 0))[0] > now:
                            continue
                        self._sending.add(transfer_id)
                    self._senders.submit(self._send, transfer_id)
            except Exception:
                log.exception("the transfer loop failed; trying again")
            self._wake_transfers.wait(self._poll)
            self._wake_transfers.clear()

    def _send(self, transfer_id: str) -> None:
        failed = True
        try:
            transfers.send_transfer(self.node, self._transport_here(), transfer_id)
            failed = False
        except TransportError as exc:
            log.warning("transfer %s: %s (it resumes from the receiver's last verified chunk)", transfer_id, exc)
        except Exception:
            log.exception("transfer %s failed; trying again", transfer_id)
        with self._lock:
            self._sending.discard(transfer_id)
            if failed:
                failures = self._transfer_wait.get(transfer_id, (0.0, 0))[1] + 1
                delay = self.node.federation.backoff.delay(failures, 0.5).total_seconds()
                self._transfer_wait[transfer_id] = (self.node.now_wall().timestamp() + delay, failures)
            else:
                self._transfer_wait.pop(transfer_id, None)

    # -- housekeeping

    def _housekeeping(self) -> None:
        while not self._stop.wait(HOUSEKEEPING_SECONDS):
            try:
                horizon = self.node.now_wall() - 2 * self.node.federation.window - timedelta(minutes=1)
                with self.node.uow() as uow:
                    forgotten = uow.seen.forget(horizon)
                    uow.commit()
                if forgotten:
                    log.debug("forgot %d replay marker(s) older than %s", forgotten, horizon.isoformat())
            except Exception:
                log.exception("housekeeping failed; trying again")


# --------------------------------------------------------------------------------------------------------------
# The worker in a process of its own


def _die_with_parent() -> None:
    """Ask Linux to kill this process when its parent dies (even by SIGKILL), so a node never leaves a worker
    behind delivering on its own."""
    if sys.platform != "linux":
        return
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:
        log.warning("could not tie the worker's life to its parent's; it stops when its pipe closes")


PR_SET_PDEATHSIG = 1


def worker_main(
    conn: Connection, build: Callable[[], Node], parent: int, logs: Mapping[str, Any] | None = None
) -> None:
    """The worker process: the same node, built by ``build`` (the composition root's bootstrap, with the settings
    from the environment), its delivery loops, and wake-ups from the API process through ``conn`` (peer ids); it
    ends when told to or when the API process goes away. ``logs``: the parent's logging (``logsafe.installed``), so
    that what a peer's answer puts in a failure's message is escaped and bounded here too."""
    _die_with_parent()
    if os.getppid() != parent:  # the parent died before we could ask to die with it
        return
    logsafe.apply(logs if logs is not None else logsafe.installed(level="INFO"))
    node = build()
    worker = FederationWorker(node)
    worker.start()
    try:
        while True:
            try:
                peers = conn.recv()
            except (EOFError, OSError):
                break  # the API process is gone
            if peers is None:
                break
            worker.wake(frozenset(peers))
    finally:
        worker.stop()


class WorkerProcess:
    """Runs ``worker_main`` in a child process, passes it wake-ups, and restarts it if it dies.

    Why a process: deliveries and transfers are CPU work (signatures, encryption, JSON) that would otherwise share
    one interpreter lock with the API's requests; in a process of its own the worker uses the other core, and a
    busy API does not slow deliveries down (see bench/federation.py).
    """

    def __init__(self, build: Callable[[], Node]) -> None:
        """``build`` makes the child's node; it is sent to the child process, so it must pickle (a module-level
        function, or a ``functools.partial`` of one)."""
        self._build = build
        self._context = multiprocessing.get_context("spawn")
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._conn: Connection | None = None
        self._process: BaseProcess | None = None
        self._supervisor: threading.Thread | None = None

    def start(self) -> None:
        """Start the child and a thread that restarts it if it dies."""
        self._spawn()
        self._supervisor = threading.Thread(target=self._supervise, name="hanoinet-worker-supervisor", daemon=True)
        self._supervisor.start()

    def _spawn(self) -> None:
        reader, writer = self._context.Pipe(duplex=False)
        process = self._context.Process(
            target=worker_main,
            args=(reader, self._build, os.getpid(), logsafe.installed(level="INFO")),
            name="hanoinet-worker",
            daemon=True,
        )
        process.start()
        reader.close()  # the child reads; this process only writes
        with self._lock:
            self._conn, self._process = writer, process

    def _supervise(self) -> None:
        while not self._stopping.is_set():
            with self._lock:
                process = self._process
            if process is None:
                return
            process.join(timeout=1.0)
            if process.exitcode is not None and not self._stopping.is_set():
                log.error("the worker process exited with %s; starting it again", process.exitcode)
                time.sleep(1.0)
                self._spawn()

    def wake(self, peers: frozenset[str]) -> None:
        """Tell the worker new messages wait (for these peers, or for any)."""
        with self._lock:
            if self._conn is None:
                return
            with contextlib.suppress(OSError):  # the worker is restarting: its first poll finds the messages
                self._conn.send(tuple(peers))

    def stop(self) -> None:
        """Ask the worker to stop (it finishes the delivery under way), then make sure it has."""
        self._stopping.set()
        with self._lock:
            conn, process = self._conn, self._process
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.send(None)
        if process is not None:
            process.join(timeout=20)
            if process.is_alive():
                process.kill()
                process.join()
        if conn is not None:
            conn.close()
