"""What every service needs: a unit-of-work factory, the rule packs, the State catalogue and a clock."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import TracebackType
from typing import Generic, Protocol, Self, TypeVar

from hanoinet.domain.errors import Issue, ValidationFailed
from hanoinet.domain.federation import Backoff, NodeRole
from hanoinet.domain.rules import RulePack
from hanoinet.domain.treaty import StateCatalog
from hanoinet.services.ports import Clock, Exporter, Identity, PasswordHasher, Signer, UnitOfWork, Vault


@dataclass(frozen=True)
class NodeProfile:
    """How this node describes itself in its directory entry."""

    authority: str
    roles: tuple[NodeRole, ...]
    languages: tuple[str, ...]
    hours: str
    endpoint: str


@dataclass(frozen=True)
class FederationSettings:
    """How this node talks to others: freshness window, batch size, retries, leases."""

    window: timedelta = timedelta(minutes=5)
    batch_size: int = 500
    backoff: Backoff = field(default_factory=Backoff)
    lease: timedelta = timedelta(seconds=30)


class NotOnNetwork(RuntimeError):  # noqa: N818 - names the condition, like the domain's errors
    """The node was built without a federation identity (or without a State) and cannot talk to other nodes."""


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


@dataclass(frozen=True)
class Node:
    """The wiring a service call runs with; built once by ``hanoinet.bootstrap``."""

    uow: Callable[[], UnitOfWork]
    packs: Mapping[str, RulePack]
    catalog: StateCatalog
    clock: Clock
    node_state: str | None = None
    vault: Vault | None = None
    signer: Signer | None = None
    exporter: Exporter | None = None
    name: str = "hanoinet node"
    identity: Identity | None = None
    profile: NodeProfile | None = None
    federation: FederationSettings = FederationSettings()
    wall_clock: Clock | None = None
    """Real time, for transmission timestamps, even when ``clock`` runs fast for a training exercise."""
    passwords: PasswordHasher | None = None
    listeners: list[Callable[[frozenset[str]], None]] = field(default_factory=list)
    """Called after a commit that put messages in the outbox (with the peers they are for, if known), to wake the
    delivery worker at once."""
    writes: GroupCommit[UnitOfWork] = field(default_factory=GroupCommit, compare=False, repr=False)
    """Where concurrent calls' small writes are committed together (``GroupCommit``)."""

    def network(self) -> tuple[Identity, NodeProfile, str]:
        """The identity, profile and State a node needs on the network; raise NotOnNetwork without them."""
        if self.identity is None or self.profile is None:
            raise NotOnNetwork("this node was built without a federation identity")
        if not self.node_state:
            raise NotOnNetwork("set HANOINET_NODE_STATE: a node on the network serves one State")
        return self.identity, self.profile, self.node_state

    def now_wall(self) -> datetime:
        """The real time, whatever pace the legal clock keeps."""
        return (self.wall_clock or self.clock).now()

    def outbox_changed(self, *peers: str | None) -> None:
        """Tell the delivery worker that new messages wait (for these peers; for any if none is named)."""
        named = frozenset(p for p in peers if p)
        for listener in list(self.listeners):
            listener(named)

    def evidence_store(self) -> tuple[Vault, Signer]:
        """The vault and the signing key; a node built without them cannot handle evidence."""
        if self.vault is None or self.signer is None:
            raise RuntimeError("this node was built without an evidence vault")
        return self.vault, self.signer

    def pack(self, instrument: str, field: str = "instrument") -> RulePack:
        """Return the rule pack of an instrument; raise ValidationFailed naming the field if there is none."""
        pack = self.packs.get(instrument)
        if pack is None:
            known = ", ".join(sorted(self.packs))
            raise ValidationFailed([Issue(field, f"unknown instrument {instrument!r}; known: {known}")])
        return pack

    def check_state(self, code: str, field: str) -> Issue | None:
        """Return an issue if ``code`` is not a known State or organization, else None."""
        if self.catalog.is_known(code):
            return None
        return Issue(field, f"unknown State {code!r}: use an ISO 3166 alpha-3 code such as VNM")


def new_id() -> str:
    """Return a fresh identifier; random, so that nodes can create ids without coordinating."""
    return str(uuid.uuid4())
