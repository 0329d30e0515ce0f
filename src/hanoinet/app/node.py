"""What every service needs: a unit-of-work factory, the rule packs, the State catalogue and a clock."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self

from hanoinet.accounts.ports import Accounts, PasswordHasher, Tokens
from hanoinet.accounts.throttle import SignInThrottle
from hanoinet.app.handlers import message_handlers
from hanoinet.assets.ports import AssetRepository
from hanoinet.audit.ports import AuditLog
from hanoinet.cases.ports import CaseRepository
from hanoinet.documents.settings import DocumentSettings
from hanoinet.evidence.ports import EvidenceRepository, Exporter, Ledger, Vault
from hanoinet.federation.domain import MessageKind
from hanoinet.federation.ports import (
    ConsentRepository,
    Identity,
    InboxRepository,
    MessageHandler,
    OutboxRepository,
    OwnEntryRepository,
    PeerKeyRepository,
    PeerRepository,
    ReceiptRepository,
    RejectionRepository,
    SeenTransmissions,
    TransferRepository,
)
from hanoinet.federation.settings import FederationSettings, NodeProfile, NotOnNetwork
from hanoinet.platform.errors import Issue, ValidationFailed
from hanoinet.platform.groupcommit import GroupCommit
from hanoinet.platform.ports import Clock, Signer
from hanoinet.requests.ports import RequestRepository
from hanoinet.rules.domain import RulePack
from hanoinet.treaty.domain import StateCatalog
from hanoinet.treaty.ports import DeclarationRepository, DepositRepository


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
    federation: FederationSettings = field(default_factory=FederationSettings)
    documents: DocumentSettings = field(default_factory=DocumentSettings)
    wall_clock: Clock | None = None
    """Real time, for transmission timestamps, even when ``clock`` runs fast for a training exercise."""
    passwords: PasswordHasher | None = None
    sign_in: SignInThrottle = field(default_factory=SignInThrottle, compare=False, repr=False)
    """The counters that slow repeated failed sign-ins down (in this process: ``accounts.throttle``)."""
    listeners: list[Callable[[frozenset[str]], None]] = field(default_factory=list)
    """Called after a commit that put messages in the outbox (with the peers they are for, if known), to wake the
    delivery worker at once."""
    writes: GroupCommit[UnitOfWork] = field(default_factory=GroupCommit, compare=False, repr=False)
    """Where concurrent calls' small writes are committed together (``GroupCommit``)."""
    handlers: Mapping[MessageKind, MessageHandler] = field(default_factory=message_handlers, compare=False, repr=False)
    """What applies each kind of message a peer sends (``app.handlers``)."""

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


class UnitOfWork(Protocol):
    """A transaction over all repositories: it rolls back unless ``commit()`` is called."""

    @property
    def cases(self) -> CaseRepository:
        """Cases, inside this transaction."""

    @property
    def assets(self) -> AssetRepository:
        """Property in cases and the measures taken on it, inside this transaction."""

    @property
    def requests(self) -> RequestRepository:
        """Requests, inside this transaction."""

    @property
    def deposits(self) -> DepositRepository:
        """Treaty deposit events, inside this transaction."""

    @property
    def declarations(self) -> DeclarationRepository:
        """States' declarations under the instruments, inside this transaction."""

    @property
    def evidence(self) -> EvidenceRepository:
        """Evidence items, inside this transaction."""

    @property
    def ledger(self) -> Ledger:
        """The custody ledger, inside this transaction."""

    @property
    def tokens(self) -> Tokens:
        """API tokens, inside this transaction."""

    @property
    def peers(self) -> PeerRepository:
        """The directory of other nodes and how deliveries to each are going, inside this transaction."""

    @property
    def peer_keys(self) -> PeerKeyRepository:
        """Other nodes' public keys, inside this transaction."""

    @property
    def own_entry(self) -> OwnEntryRepository:
        """This node's signed directory entry, inside this transaction."""

    @property
    def outbox(self) -> OutboxRepository:
        """Messages to other nodes, inside this transaction."""

    @property
    def inbox(self) -> InboxRepository:
        """Messages received from other nodes, inside this transaction."""

    @property
    def receipts(self) -> ReceiptRepository:
        """Signed delivery receipts, inside this transaction."""

    @property
    def seen(self) -> SeenTransmissions:
        """The ids of transmissions taken (replay protection), inside this transaction."""

    @property
    def rejections(self) -> RejectionRepository:
        """Transmissions refused as a whole, inside this transaction."""

    @property
    def transfers(self) -> TransferRepository:
        """Evidence transfers either way, inside this transaction."""

    @property
    def consents(self) -> ConsentRepository:
        """Onward-transfer consents (Art 36), inside this transaction."""

    @property
    def accounts(self) -> Accounts:
        """Users and sessions, inside this transaction."""

    @property
    def audit(self) -> AuditLog:
        """The audit log, inside this transaction."""

    def __enter__(self) -> Self: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    def commit(self) -> None:
        """Make every staged change durable, atomically."""

    def rollback(self) -> None:
        """Discard every staged change."""
