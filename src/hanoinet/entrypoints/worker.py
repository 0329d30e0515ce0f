"""The node's background work: delivering the outbox, pushing evidence transfers, forgetting old replay markers.

Runs in threads of the ``serve`` process. Several processes may run it against one database: deliveries to a peer
are serialised by the peer's lease in the database, so messages still go in order and once per transmission.
Composing a message wakes the delivery loop at once (low latency); a slow poll catches messages composed by other
processes (the command line) and retries whose backoff has run out.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from hanoinet.adapters.transport import HttpTransport
from hanoinet.services import directory, messaging, transfers
from hanoinet.services.node import Node
from hanoinet.services.ports import Transport, TransportError

log = logging.getLogger("hanoinet.worker")

POLL_SECONDS = 0.5
DELIVERERS = 4
SENDERS = 2
HOUSEKEEPING_SECONDS = 60.0


class FederationWorker:
    """Delivers messages and transfers until ``stop``."""

    def __init__(
        self,
        node: Node,
        *,
        transport: Callable[[], Transport] = HttpTransport,
        poll: float = POLL_SECONDS,
    ) -> None:
        self.node = node
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._transport = transport
        self._poll = poll
        self._wake = threading.Event()
        self._wake_transfers = threading.Event()
        self._stop = threading.Event()
        self._local = threading.local()
        self._lock = threading.Lock()
        self._delivering: set[str] = set()
        self._sending: set[str] = set()
        self._transfer_wait: dict[str, tuple[float, int]] = {}  # transfer id -> (not before, failures)
        self._threads: list[threading.Thread] = []
        self._deliverers = ThreadPoolExecutor(DELIVERERS, thread_name_prefix="hanoinet-deliver")
        self._senders = ThreadPoolExecutor(SENDERS, thread_name_prefix="hanoinet-transfer")

    def wake(self) -> None:
        """Something new waits in the outbox."""
        self._wake.set()

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
                    with self._lock:
                        if peer in self._delivering:
                            continue
                        self._delivering.add(peer)
                    self._deliverers.submit(self._deliver, peer)
            except Exception:
                log.exception("the delivery loop failed; trying again")
            self._wake.wait(self._poll)

    def _deliver(self, peer: str) -> None:
        try:
            while not self._stop.is_set():
                report = messaging.deliver(self.node, self._transport_here(), peer, self.owner)
                if report.delivered:
                    self._wake_transfers.set()  # an offer may have gone through: its chunks can follow at once
                if report.skipped or report.error or not report.sent:
                    break  # nothing left, another process holds the peer, or the peer is backing off
        except Exception:
            log.exception("delivery to %s failed", peer)
        finally:
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
                    forgotten = uow.federation.forget_seen(horizon)
                    uow.commit()
                if forgotten:
                    log.debug("forgot %d replay marker(s) older than %s", forgotten, horizon.isoformat())
            except Exception:
                log.exception("housekeeping failed; trying again")
