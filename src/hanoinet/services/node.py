"""What every service needs: a unit-of-work factory, the rule packs, the State catalogue and a clock."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

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
