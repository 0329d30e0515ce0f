"""In-memory fakes of our own ports, for fast unit tests of the services (fakes, never mocks)."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from types import TracebackType
from typing import Any, Self

from hanoinet.accounts.domain import GrantStatus, RoleGrant, User
from hanoinet.accounts.ports import SessionRecord
from hanoinet.assets.domain import Asset, Measure
from hanoinet.audit.domain import AUDIT_GENESIS, AuditEntry
from hanoinet.audit.ports import AuditQuery
from hanoinet.cases.domain import Case
from hanoinet.evidence.domain import GENESIS, Checkpoint, CustodyEvent, EvidenceItem, VerifiedMark
from hanoinet.federation.domain import (
    ConsentRole,
    ConsentStatus,
    DirectoryEntry,
    EntryStatus,
    KeyStatus,
    KeyUse,
    MessageKind,
    MessageStatus,
    PublicKey,
    TransferItemState,
    TransferState,
    entry_from_document,
)
from hanoinet.federation.ports import (
    ConsentRecord,
    DeliveryResult,
    IncomingMessage,
    MessageQuery,
    OutgoingMessage,
    OwnEntry,
    Peer,
    PeerDelivery,
    PeerKey,
    PendingChange,
    Receipt,
    RefusalCount,
    Rejection,
    TransferRecord,
)
from hanoinet.platform.errors import Conflict
from hanoinet.platform.permissions import Principal, Role
from hanoinet.platform.ports import MAX_ROWS
from hanoinet.requests.domain import OPEN_STATES, Direction, Request
from hanoinet.requests.ports import InboxQuery, RequestSummary
from hanoinet.treaty.declarations import Declaration
from hanoinet.treaty.domain import DepositEvent


class FixedClock:
    """A clock that only moves when told to."""

    def __init__(self, start: datetime) -> None:
        self.current = start

    def now(self) -> datetime:
        return self.current

    def advance(self, **kwargs: float) -> None:
        """Move time forward, e.g. advance(days=61)."""
        self.current += timedelta(**kwargs)


FEDERATION_MAX_PAGE = 1000
"""The most messages or rejections one query returns (as the SQL store)."""


def _json(value: Mapping[str, Any]) -> dict[str, Any]:
    """What a JSON column gives back: a fresh, plain copy (tuples become lists; what JSON cannot hold fails)."""
    copied: dict[str, Any] = json.loads(json.dumps(dict(value)))
    return copied


@dataclass
class FederationState:
    """The federation's tables. Records are frozen and replaced on change, so copying the containers is enough."""

    peers: dict[str, Peer] = field(default_factory=dict)
    leases: dict[str, tuple[str, datetime]] = field(default_factory=dict)  # node id -> (owner, until)
    keys: dict[str, PeerKey] = field(default_factory=dict)
    own: OwnEntry | None = None
    outbox: dict[str, OutgoingMessage] = field(default_factory=dict)  # in seq order
    next_seq: int = 1
    inbound: dict[str, IncomingMessage] = field(default_factory=dict)
    receipts: dict[str, Receipt] = field(default_factory=dict)
    seen: dict[str, tuple[str, datetime]] = field(default_factory=dict)  # transmission id -> (peer, seen at)
    rejections: list[Rejection] = field(default_factory=list)  # oldest first
    refusal_counts: list[RefusalCount] = field(default_factory=list)  # oldest first
    transfers: dict[str, TransferRecord] = field(default_factory=dict)
    consents: dict[str, ConsentRecord] = field(default_factory=dict)

    def copy(self) -> FederationState:
        return FederationState(
            peers=dict(self.peers),
            leases=dict(self.leases),
            keys=dict(self.keys),
            own=self.own,
            outbox=dict(self.outbox),
            next_seq=self.next_seq,
            inbound=dict(self.inbound),
            receipts=dict(self.receipts),
            seen=dict(self.seen),
            rejections=list(self.rejections),
            refusal_counts=list(self.refusal_counts),
            transfers=dict(self.transfers),
            consents=dict(self.consents),
        )


@dataclass
class AccountsState:
    """The ``users``, ``sessions`` and ``role_grants`` tables. Their records are frozen, so copying the dicts is
    enough."""

    users: dict[str, User] = field(default_factory=dict)  # id -> user
    sessions: dict[str, SessionRecord] = field(default_factory=dict)  # id -> session
    grants: dict[str, RoleGrant] = field(default_factory=dict)  # id -> grant

    def copy(self) -> AccountsState:
        return AccountsState(users=dict(self.users), sessions=dict(self.sessions), grants=dict(self.grants))


@dataclass
class AuditState:
    """The ``audit_log`` table (kept in seq order) and its separate head row, as the migration creates it.

    Tests may tamper with ``entries`` directly, as someone with access to the database could; the head row stays.
    """

    entries: list[AuditEntry] = field(default_factory=list)
    head: tuple[int, str] = (0, AUDIT_GENESIS)

    def copy(self) -> AuditState:
        return AuditState(entries=list(self.entries), head=self.head)


@dataclass
class Store:
    """What the fake database holds; shared by every unit of work made from it."""

    cases: dict[str, Case] = field(default_factory=dict)
    requests: dict[str, tuple[Request, datetime | None, str | None]] = field(default_factory=dict)
    deposits: list[DepositEvent] = field(default_factory=list)
    declarations: list[Declaration] = field(default_factory=list)
    evidence: dict[str, EvidenceItem] = field(default_factory=dict)
    custody: list[CustodyEvent] = field(default_factory=list)
    checkpoints: list[Checkpoint] = field(default_factory=list)
    ledger_verified: VerifiedMark | None = None
    tokens: dict[str, tuple[str, Principal, bool]] = field(default_factory=dict)
    federation: FederationState = field(default_factory=FederationState)
    accounts: AccountsState = field(default_factory=AccountsState)
    audit: AuditState = field(default_factory=AuditState)
    assets: dict[str, Asset] = field(default_factory=dict)
    commits: int = 0


class FakeAssets:
    """Assets in a dict, each with its measures (copied on staging, so a dropped unit of work leaves none)."""

    def __init__(self, staged: dict[str, Asset]) -> None:
        self.staged = {
            k: replace(a, request_ids=list(a.request_ids), measures=list(a.measures)) for k, a in staged.items()
        }

    def add(self, asset: Asset) -> None:
        self.staged[asset.id] = replace(asset, request_ids=list(asset.request_ids), measures=[])

    def get(self, asset_id: str) -> Asset | None:
        found = self.staged.get(asset_id)
        return replace(found, measures=list(found.measures)) if found else None

    def list(self, *, case_id: str | None, limit: int, offset: int) -> Sequence[Asset]:
        found = [a for a in self.staged.values() if case_id in (None, a.case_id)]
        found.sort(key=lambda a: (-a.created_at.timestamp(), a.id))
        return found[offset : offset + limit]

    def add_measure(self, asset_id: str, measure: Measure) -> None:
        measures = self.staged[asset_id].measures
        if any(m.seq == measure.seq for m in measures):
            raise Conflict("a concurrent change won: the measure's number is taken")
        measures.append(measure)

    def link_request(self, asset_id: str, request_ids: Sequence[str]) -> None:
        self.staged[asset_id].request_ids = [*request_ids]

    def measures_taken(self, since: date, until: date) -> Sequence[tuple[Asset, Measure]]:
        return sorted(
            ((a, m) for a in self.staged.values() for m in a.measures if since <= m.taken_on < until),
            key=lambda am: (am[1].taken_on, am[0].id, am[1].seq),
        )


class FakeCases:
    def __init__(self, staged: dict[str, Case]) -> None:
        self.staged = staged

    def add(self, case: Case) -> None:
        self.staged[case.id] = case

    def get(self, case_id: str) -> Case | None:
        return self.staged.get(case_id)

    def by_reference(self, reference: str) -> Case | None:
        return next((c for c in self.staged.values() if c.reference == reference), None)

    def list(self, *, limit: int, offset: int) -> Sequence[Case]:
        ordered = sorted(self.staged.values(), key=lambda c: c.created_at, reverse=True)
        return ordered[offset : offset + limit]


class FakeRequests:
    def __init__(
        self, staged: dict[str, tuple[Request, datetime | None, str | None]], cases: dict[str, Case] | None = None
    ) -> None:
        self.staged = staged
        self.cases = cases if cases is not None else {}

    def add(self, request: Request, next_due_at: datetime | None, next_clock: str | None) -> None:
        self.staged[request.id] = (copy.deepcopy(request), next_due_at, next_clock)

    def get(self, request_id: str) -> Request | None:
        found = self.staged.get(request_id)
        return copy.deepcopy(found[0]) if found else None

    def save(self, request: Request, next_due_at: datetime | None, next_clock: str | None) -> None:
        stored = self.staged[request.id][0]
        if stored.version != request.version:
            raise Conflict(f"request {request.id} was changed by someone else")
        request.version += 1
        self.staged[request.id] = (copy.deepcopy(request), next_due_at, next_clock)

    def follow_ups(self, request_id: str) -> Sequence[Request]:
        return [copy.deepcopy(r) for r, _, _ in self.staged.values() if r.follows_up == request_id]

    def ids_starting_with(self, prefixes: Collection[str], limit: int) -> Sequence[str]:
        if len({len(p) for p in prefixes}) > 1:
            raise ValueError("the prefixes must all have one length")
        return sorted(i for i in self.staged if any(i.startswith(p) for p in prefixes))[: max(0, min(limit, MAX_ROWS))]

    def inbox(self, query: InboxQuery) -> Sequence[RequestSummary]:
        rows = []
        for r, due, clock in self.staged.values():
            reference = self.cases[r.case_id].reference if r.case_id in self.cases else ""
            term = (query.search or "").strip().lower()
            checks = [
                not term or r.id.startswith(term) or term in reference.lower(),
                query.direction is None or r.direction is query.direction,
                query.state is None or r.state is query.state,
                query.counterpart_state is None or r.counterpart_state == query.counterpart_state,
                query.type is None or r.type == query.type,
                query.instrument is None or r.instrument == query.instrument,
                query.case_id is None or r.case_id == query.case_id,
                not query.open_only or r.state in OPEN_STATES,
                not query.overdue or (due is not None and due < query.now),
                query.due_within_seconds is None
                or (due is not None and query.now <= due < query.now + timedelta(seconds=query.due_within_seconds)),
            ]
            if all(checks):
                rows.append(
                    RequestSummary(
                        r.id,
                        r.case_id,
                        r.instrument,
                        r.type,
                        r.direction,
                        r.counterpart_state,
                        r.state,
                        r.emergency,
                        r.created_at,
                        due,
                        clock,
                        reference,
                    )
                )
        by_due = query.overdue or query.due_within_seconds is not None
        rows.sort(key=lambda s: s.id)
        if by_due:
            rows.sort(key=lambda s: s.next_due_at or query.now)
        else:
            rows.sort(key=lambda s: s.created_at, reverse=True)
        return rows[query.offset : query.offset + query.limit]

    def activity(
        self, since: datetime, until: datetime, direction: Direction | None = None, instrument: str | None = None
    ) -> Sequence[Any]:
        """The Art 57 figures per request, computed from the events as the SQL aggregate does."""
        from hanoinet.requests.domain import EventKind  # noqa: PLC0415 - kept inside the one method added here
        from hanoinet.requests.ports import RequestActivity  # noqa: PLC0415 - likewise

        def first(r: Request, *kinds: EventKind) -> datetime | None:
            return min((e.at for e in r.events if e.kind in kinds), default=None)

        found = []
        for r, _, _ in sorted(self.staged.values(), key=lambda staged: staged[0].id):
            start = first(r, EventKind.SENT if r.direction is Direction.OUTGOING else EventKind.RECEIVED)
            if start is None or not since <= start < until or r.created_at >= until:
                continue
            if (direction is not None and r.direction is not direction) or instrument not in (None, r.instrument):
                continue
            refusal = next((e for e in r.events if e.kind is EventKind.REFUSED), None)
            what = (r.id, r.instrument, r.type, r.direction, r.counterpart_state, r.state, r.emergency, start)
            found.append(
                RequestActivity(
                    *what,
                    acknowledged_at=first(r, EventKind.ACKNOWLEDGED),
                    executed_at=first(r, EventKind.EXECUTED, EventKind.PRESERVED),
                    refused_at=first(r, EventKind.REFUSED),
                    withdrawn_at=first(r, EventKind.WITHDRAWN),
                    grounds=tuple(str(g) for g in refusal.data.get("grounds", [])) if refusal else (),
                )
            )
        return found


class FakeDeposits:
    def __init__(self, staged: list[DepositEvent]) -> None:
        self.staged = staged

    def list(self, instrument: str | None = None) -> Sequence[DepositEvent]:
        return [e for e in self.staged if instrument is None or e.instrument == instrument]

    def add_all(self, events: Iterable[DepositEvent], recorded_at: datetime) -> None:
        self.staged.extend(events)


class FakeDeclarations:
    def __init__(self, staged: list[Declaration]) -> None:
        self.staged = staged

    def list(self, state: str | None = None) -> Sequence[Declaration]:
        return sorted((d for d in self.staged if state is None or d.state == state), key=lambda d: d.made_on)

    def add_all(self, declarations: Iterable[Declaration], recorded_at: datetime, recorded_by: str) -> None:
        self.staged.extend(declarations)


class FakeEvidence:
    def __init__(self, staged: dict[str, EvidenceItem]) -> None:
        self.staged = staged

    def add(self, item: EvidenceItem) -> None:
        self.staged[item.id] = copy.deepcopy(item)

    def get(self, item_id: str) -> EvidenceItem | None:
        return copy.deepcopy(self.staged.get(item_id))

    def by_exhibit(self, case_id: str, exhibit: str) -> EvidenceItem | None:
        found = [i for i in self.staged.values() if (i.described.case_id, i.described.exhibit) == (case_id, exhibit)]
        return copy.deepcopy(found[0]) if found else None

    def list(self, *, case_id: str | None = None, limit: int = 100, offset: int = 0) -> Sequence[EvidenceItem]:
        items = [i for i in self.staged.values() if case_id is None or i.described.case_id == case_id]
        items.sort(key=lambda i: i.created_at, reverse=True)
        return items[offset : offset + limit]

    def all(self) -> Iterator[EvidenceItem]:
        yield from sorted(self.staged.values(), key=lambda i: i.created_at)

    def live_with_content(self, sha256: str) -> int:
        return sum(1 for i in self.staged.values() if i.sha256 == sha256 and i.disposed_at is None)

    def expired(self, today: date) -> Sequence[EvidenceItem]:
        return [
            i
            for i in self.staged.values()
            if i.disposed_at is None and i.conditions.retention_until and i.conditions.retention_until < today
        ]

    def mark_disposed(self, item_id: str, at: datetime) -> None:
        self.staged[item_id] = replace(self.staged[item_id], disposed_at=at)


class FakeLedger:
    def __init__(
        self, events: list[CustodyEvent], checkpoints: list[Checkpoint], verified: VerifiedMark | None = None
    ) -> None:
        self.staged = events
        self.staged_checkpoints = checkpoints
        self.verified_mark = verified or VerifiedMark(0, GENESIS)

    def lock_head(self) -> tuple[int, str]:
        return (self.staged[-1].seq, self.staged[-1].hash) if self.staged else (0, GENESIS)

    def append(self, event: CustodyEvent) -> None:
        if event.seq != len(self.staged) + 1:
            raise Conflict("the custody ledger moved on")
        self.staged.append(event)

    def history(self, item_id: str) -> Sequence[CustodyEvent]:
        return [e for e in self.staged if e.item_id == item_id]

    def events(self) -> Sequence[CustodyEvent]:
        return list(self.staged)

    def head_row(self) -> tuple[int, str]:
        return (self.staged[-1].seq, self.staged[-1].hash) if self.staged else (0, GENESIS)

    def add_checkpoint(self, checkpoint: Checkpoint) -> None:
        self.staged_checkpoints.append(checkpoint)

    def checkpoints(self) -> Sequence[Checkpoint]:
        return list(self.staged_checkpoints)

    def events_after(self, seq: int) -> Sequence[CustodyEvent]:
        return [e for e in self.staged if e.seq > seq]

    def event(self, seq: int) -> CustodyEvent | None:
        return next((e for e in self.staged if e.seq == seq), None)

    def checkpoints_after(self, seq: int) -> Sequence[Checkpoint]:
        return [cp for cp in self.staged_checkpoints if cp.seq > seq]

    def checkpoints_of(self, seqs: Iterable[int]) -> Sequence[Checkpoint]:
        wanted = set(seqs)
        return [cp for cp in self.staged_checkpoints if cp.seq in wanted]

    def verified(self) -> VerifiedMark:
        return self.verified_mark

    def mark_verified(self, mark: VerifiedMark) -> None:
        if mark.seq >= self.verified_mark.seq:
            self.verified_mark = mark


class FakeTokens:
    def __init__(self, staged: dict[str, tuple[str, Principal, bool]]) -> None:
        self.staged = staged  # hash -> (name, principal, revoked)

    def add(self, token_id: str, name: str, roles: Sequence[Role], token_hash: str, at: datetime) -> None:
        self.staged[token_hash] = (name, Principal(name, frozenset(roles)), False)

    def principal(self, token_hash: str) -> Principal | None:
        found = self.staged.get(token_hash)
        return found[1] if found and not found[2] else None

    def by_name(self, name: str) -> bool:
        return any(n == name for n, _, _ in self.staged.values())

    def revoke(self, name: str, at: datetime) -> bool:
        for key, (n, p, revoked) in self.staged.items():
            if n == name and not revoked:
                self.staged[key] = (n, p, True)
                return True
        return False


class _FakeFederationTables:
    """Some of the federation's tables in memory, with the SQL repositories' semantics (``federation/sql.py``).

    Every repository of a unit of work shares one staged ``FederationState``, as the SQL ones share a session: what
    one stages, another sees (the peers due for delivery are those with pending messages in the outbox)."""

    def __init__(self, staged: FederationState) -> None:
        self.staged = staged


class FakePeers(_FakeFederationTables):
    def _with_lease(self, peer: Peer) -> Peer:
        owner, until = self.staged.leases.get(peer.entry.node_id, (None, None))
        return copy.deepcopy(replace(peer, delivery=replace(peer.delivery, lease_owner=owner, lease_until=until)))

    def get(self, node_id: str) -> Peer | None:
        found = self.staged.peers.get(node_id)
        return self._with_lease(found) if found else None

    def status(self, node_id: str) -> EntryStatus | None:
        found = self.staged.peers.get(node_id)
        return found.status if found else None

    def list(self) -> Sequence[Peer]:
        ordered = sorted(self.staged.peers.values(), key=lambda p: (p.entry.state, p.entry.node_id))
        return [self._with_lease(p) for p in ordered]

    def save(self, entry: DirectoryEntry, signed: Mapping[str, Any], at: datetime) -> None:
        stored = entry_from_document(_json(entry.document()))  # what reading the stored document gives
        known = self.staged.peers.get(entry.node_id)
        if known is None:
            self.staged.peers[entry.node_id] = Peer(stored, _json(signed), EntryStatus.ACTIVE, "", at, at)
        else:  # a newer entry: its status, delivery state and lease are kept
            self.staged.peers[entry.node_id] = replace(known, entry=stored, signed=_json(signed), updated_at=at)

    def set_status(self, node_id: str, status: EntryStatus, reason: str, at: datetime) -> None:
        known = self.staged.peers.get(node_id)
        if known is not None:
            self.staged.peers[node_id] = replace(known, status=status, status_reason=reason, updated_at=at)

    def hold(self, node_id: str, change: PendingChange | None) -> None:
        known = self.staged.peers.get(node_id)
        if known is not None:  # stored as the SQL one stores it: through its plain-data form
            kept = PendingChange.from_dict(_json(change.as_dict())) if change is not None else None
            self.staged.peers[node_id] = replace(known, pending=kept)

    def due(self, now: datetime) -> Sequence[str]:
        waiting = {m.peer for m in self.staged.outbox.values() if m.status is MessageStatus.PENDING}
        return sorted(
            node_id
            for node_id, p in self.staged.peers.items()
            if node_id in waiting
            and p.status is EntryStatus.ACTIVE
            and (p.delivery.next_attempt_at is None or p.delivery.next_attempt_at <= now)
        )

    def claim(self, node_id: str, owner: str, now: datetime, until: datetime) -> bool:
        if node_id not in self.staged.peers:
            return False
        held = self.staged.leases.get(node_id)
        if held is not None and held[1] >= now and held[0] != owner:
            return False
        self.staged.leases[node_id] = (owner, until)
        return True

    def release(self, node_id: str, owner: str, delivery: PeerDelivery, *, keep_until: datetime | None = None) -> None:
        held = self.staged.leases.get(node_id)
        if node_id in self.staged.peers and held is not None and held[0] == owner:
            if keep_until is None:
                del self.staged.leases[node_id]
            else:
                self.staged.leases[node_id] = (owner, keep_until)
            kept = replace(delivery, lease_owner=None, lease_until=None)
            self.staged.peers[node_id] = replace(self.staged.peers[node_id], delivery=kept)


class FakePeerKeys(_FakeFederationTables):
    def get(self, kid: str) -> PeerKey | None:
        return copy.deepcopy(self.staged.keys.get(kid))

    def of_node(self, node_id: str) -> Sequence[PeerKey]:
        found = [k for k in self.staged.keys.values() if k.node_id == node_id]
        found.sort(key=lambda k: (k.added_at, k.key.kid))
        return [copy.deepcopy(k) for k in found]

    def save(
        self, node_id: str, key: PublicKey, *, use: KeyUse, status: KeyStatus, at: datetime, reason: str = ""
    ) -> None:
        known = self.staged.keys.get(key.kid)
        if known is None:
            self.staged.keys[key.kid] = PeerKey(
                node_id, use, PublicKey(key.kid, _json(key.jwk)), status, at, None, reason
            )
            return
        if known.status in (KeyStatus.REVOKED, status):
            return  # revocation is final; an unchanged status is no change
        jwk = _json(key.jwk) if key.jwk and not known.key.jwk else known.key.jwk
        self.staged.keys[key.kid] = replace(
            known,
            node_id=known.node_id or node_id,
            key=PublicKey(key.kid, jwk),
            status=status,
            changed_at=at,
            reason=reason,
        )


class FakeOwnEntry(_FakeFederationTables):
    def get(self) -> OwnEntry | None:
        return copy.deepcopy(self.staged.own)

    def save(self, own: OwnEntry) -> None:
        self.staged.own = OwnEntry(entry_from_document(_json(own.entry.document())), _json(own.signed), own.updated_at)


class FakeOutbox(_FakeFederationTables):
    def enqueue(self, messages: Sequence[OutgoingMessage]) -> None:
        ids = [m.id for m in messages]
        if len(set(ids)) != len(ids) or any(i in self.staged.outbox for i in ids):
            raise Conflict("an outgoing message with this id already exists")
        for m in messages:
            self.staged.outbox[m.id] = OutgoingMessage(
                id=m.id,
                peer=m.peer,
                kind=m.kind,
                request_id=m.request_id,
                jws=m.jws,
                created_at=m.created_at,
                created_by=m.created_by,
                status=m.status,
                seq=self.staged.next_seq,
            )
            self.staged.next_seq += 1

    def pending(self, peer: str, limit: int) -> Sequence[OutgoingMessage]:
        found = [m for m in self.staged.outbox.values() if m.peer == peer and m.status is MessageStatus.PENDING]
        entries = sorted((m for m in found if m.kind is MessageKind.ENTRY), key=lambda m: m.seq)
        return entries[:1] if entries else sorted(found, key=lambda m: m.seq)[:limit]

    def record_attempt(self, ids: Sequence[str], at: datetime) -> None:
        for message_id in set(ids):
            m = self.staged.outbox.get(message_id)
            if m is not None:
                self.staged.outbox[message_id] = replace(
                    m, attempts=m.attempts + 1, first_sent_at=m.first_sent_at or at
                )

    def record_results(self, results: Sequence[DeliveryResult]) -> None:
        for r in results:
            m = self.staged.outbox.get(r.id)
            if m is not None and m.status is MessageStatus.PENDING:
                self.staged.outbox[r.id] = replace(
                    m, status=r.status, delivered_at=r.at, receipt_id=r.receipt_id, error=r.error
                )

    def mark_read(self, peer: str, ids: Sequence[str], at: datetime) -> int:
        marked = 0
        for message_id in set(ids):
            m = self.staged.outbox.get(message_id)
            if m is not None and m.peer == peer and m.read_at is None:
                self.staged.outbox[message_id] = replace(m, read_at=at)
                marked += 1
        return marked

    def list(self, query: MessageQuery) -> Sequence[OutgoingMessage]:
        found = [m for m in self.staged.outbox.values() if _matches(m, query)]
        found.sort(key=lambda m: m.seq, reverse=True)
        return found[query.offset : query.offset + min(query.limit, FEDERATION_MAX_PAGE)]

    def counts(self) -> Mapping[tuple[str, MessageStatus], int]:
        counts: dict[tuple[str, MessageStatus], int] = {}
        for m in self.staged.outbox.values():
            counts[m.peer, m.status] = counts.get((m.peer, m.status), 0) + 1
        return counts

    def get(self, message_id: str) -> OutgoingMessage | None:
        return self.staged.outbox.get(message_id)


class FakeInbox(_FakeFederationTables):
    def known(self, ids: Sequence[str]) -> Mapping[str, IncomingMessage]:
        return {i: self.staged.inbound[i] for i in ids if i in self.staged.inbound}

    def receive(self, messages: Sequence[IncomingMessage]) -> None:
        ids = [m.id for m in messages]
        if len(set(ids)) != len(ids) or any(i in self.staged.inbound for i in ids):
            raise Conflict("a message of this transmission was taken meanwhile by another worker")
        for m in messages:
            self.staged.inbound[m.id] = replace(m, read_at=None, read_by=None)  # what the SQL store inserts

    def list(self, query: MessageQuery) -> Sequence[IncomingMessage]:
        found = sorted((m for m in self.staged.inbound.values() if _matches(m, query)), key=lambda m: m.id)
        found.sort(key=lambda m: m.received_at, reverse=True)
        return found[query.offset : query.offset + min(query.limit, FEDERATION_MAX_PAGE)]

    def mark_read(self, ids: Sequence[str], at: datetime, by: str) -> None:
        for message_id in set(ids):
            m = self.staged.inbound.get(message_id)
            if m is not None and m.read_at is None:
                self.staged.inbound[message_id] = replace(m, read_at=at, read_by=by)

    def get(self, message_id: str) -> IncomingMessage | None:
        return self.staged.inbound.get(message_id)


class FakeReceipts(_FakeFederationTables):
    def add(self, receipt: Receipt) -> None:
        if receipt.id in self.staged.receipts:
            raise Conflict(f"receipt {receipt.id} is kept already")
        self.staged.receipts[receipt.id] = receipt

    def get(self, receipt_id: str) -> Receipt | None:
        return self.staged.receipts.get(receipt_id)


class FakeSeenTransmissions(_FakeFederationTables):
    def contains(self, transmission_id: str) -> bool:
        return transmission_id in self.staged.seen

    def add(self, transmission_id: str, peer: str, at: datetime) -> None:
        if transmission_id in self.staged.seen:
            raise Conflict(f"transmission {transmission_id} is being taken by another worker")
        self.staged.seen[transmission_id] = (peer, at)

    def forget(self, before: datetime) -> int:
        old = [i for i, (_, at) in self.staged.seen.items() if at < before]
        for transmission_id in old:
            del self.staged.seen[transmission_id]
        return len(old)


class FakeRejections(_FakeFederationTables):
    def add(self, rejection: Rejection) -> None:
        self.staged.rejections.append(
            replace(
                rejection,
                detail=rejection.detail[:2000],
                claimed_sender=(rejection.claimed_sender or "")[:64] or None,
                remote=(rejection.remote or "")[:64] or None,
            )
        )

    def latest(self, limit: int) -> Sequence[Rejection]:
        return self.staged.rejections[::-1][: min(limit, FEDERATION_MAX_PAGE)]

    def add_count(self, count: RefusalCount) -> None:
        self.staged.refusal_counts.append(replace(count, remote=count.remote[:64], reasons=dict(count.reasons)))

    def latest_counts(self, limit: int) -> Sequence[RefusalCount]:
        return self.staged.refusal_counts[::-1][: min(limit, FEDERATION_MAX_PAGE)]


class FakeTransfers(_FakeFederationTables):
    def add(self, transfer: TransferRecord) -> None:
        if transfer.id in self.staged.transfers:
            raise Conflict(f"transfer {transfer.id} already exists")
        items = tuple(sorted(transfer.items, key=lambda i: i.idx))
        if len({i.idx for i in items}) != len(items):
            raise Conflict(f"transfer {transfer.id} lists an item twice")
        self.staged.transfers[transfer.id] = replace(transfer, offer=_json(transfer.offer), items=items)

    def get(self, transfer_id: str) -> TransferRecord | None:
        return copy.deepcopy(self.staged.transfers.get(transfer_id))

    def list(
        self, *, state: TransferState | None = None, direction: Direction | None = None
    ) -> Sequence[TransferRecord]:
        found = [
            t
            for t in self.staged.transfers.values()
            if (state is None or t.state == state) and (direction is None or t.direction is direction)
        ]
        found.sort(key=lambda t: t.id)
        found.sort(key=lambda t: t.created_at, reverse=True)
        return [copy.deepcopy(t) for t in found]

    def update(
        self,
        transfer_id: str,
        *,
        state: TransferState,
        at: datetime,
        receipt: str | None = None,
        error: str | None = None,
    ) -> None:
        t = self.staged.transfers.get(transfer_id)
        if t is not None:
            self.staged.transfers[transfer_id] = replace(
                t, state=state, updated_at=at, error=error, receipt=t.receipt if receipt is None else receipt
            )

    def update_item(
        self,
        transfer_id: str,
        idx: int,
        *,
        chunks_done: int | None = None,
        state: TransferItemState | None = None,
        local_item_id: str | None = None,
    ) -> None:
        t = self.staged.transfers.get(transfer_id)
        if t is None:
            return
        items = tuple(
            replace(
                i,
                chunks_done=i.chunks_done if chunks_done is None else chunks_done,
                state=i.state if state is None else state,
                local_item_id=i.local_item_id if local_item_id is None else local_item_id,
            )
            if i.idx == idx
            else i
            for i in t.items
        )
        self.staged.transfers[transfer_id] = replace(t, items=items)


class FakeConsents(_FakeFederationTables):
    def add(self, consent: ConsentRecord) -> None:
        if consent.id in self.staged.consents:
            raise Conflict(f"consent {consent.id} already exists")
        self.staged.consents[consent.id] = consent

    def get(self, consent_id: str) -> ConsentRecord | None:
        return self.staged.consents.get(consent_id)

    def list(self, *, item_id: str | None = None, role: ConsentRole | None = None) -> Sequence[ConsentRecord]:
        found = [
            c
            for c in self.staged.consents.values()
            if (item_id is None or c.item_id == item_id) and (role is None or c.role == role)
        ]
        found.sort(key=lambda c: c.id)
        found.sort(key=lambda c: c.requested_at, reverse=True)
        return found

    def decide(self, consent_id: str, *, status: ConsentStatus, at: datetime, by: str, note: str) -> None:
        c = self.staged.consents.get(consent_id)
        if c is not None:
            self.staged.consents[consent_id] = replace(c, status=status, decided_at=at, decided_by=by, note=note)


def _matches(message: OutgoingMessage | IncomingMessage, query: MessageQuery) -> bool:
    return (
        (query.peer is None or message.peer == query.peer)
        and (query.request_id is None or message.request_id == query.request_id)
        and (query.kind is None or message.kind is query.kind)
        and (query.status is None or message.status is query.status)
        and (not query.unread or message.read_at is None)
    )


# --------------------------------------------------------------------------------------------------------------
# Accounts and audit


AUDIT_MAX_PAGE = 1000
"""The most audit entries one query returns (as the SQL log)."""


def _utc(value: datetime | None) -> datetime | None:
    """What a ``UTCDateTime`` column gives back: the same instant in UTC; a naive time is refused."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetimes are refused: hanoinet stores UTC only")
    return value.astimezone(UTC)


def _utc_required(value: datetime) -> datetime:
    stored = _utc(value)
    assert stored is not None
    return stored


def _stored_user(user: User) -> User:
    return replace(
        user,
        roles=frozenset(user.roles),
        created_at=_utc_required(user.created_at),
        locked_until=_utc(user.locked_until),
        disabled_at=_utc(user.disabled_at),
        last_login_at=_utc(user.last_login_at),
    )


class FakeAccounts:
    """Users and sessions in memory, with the SQL store's semantics (``adapters/accounts_repository.py``): unique
    ids, user names and token hashes, a session only for an existing user, ``update`` never changes ``created_at``,
    a session's first end time is kept."""

    def __init__(self, staged: AccountsState) -> None:
        self.staged = staged

    def add(self, user: User) -> None:
        if user.id in self.staged.users or self.by_username(user.username) is not None:
            raise Conflict(f"an account with the id or name of {user.username!r} already exists")
        self.staged.users[user.id] = _stored_user(user)

    def get(self, user_id: str) -> User | None:
        return self.staged.users.get(user_id)

    def by_username(self, username: str) -> User | None:
        return next((u for u in self.staged.users.values() if u.username == username), None)

    def list(self) -> Sequence[User]:
        return sorted(self.staged.users.values(), key=lambda u: u.username)

    def count(self) -> int:
        return len(self.staged.users)

    def update(self, user_id: str, changes: Mapping[str, Any]) -> None:
        stored = self.staged.users.get(user_id)
        if stored is None:
            return  # an UPDATE that matches no row
        if {"id", "created_at"} & changes.keys():
            raise ValueError("an account's id and creation time never change")
        user = replace(stored, **changes)
        other = self.by_username(user.username)
        if other is not None and other.id != user.id:
            raise Conflict(f"an account named {user.username!r} already exists")
        self.staged.users[user.id] = _stored_user(user)

    def count_failure(self, user_id: str) -> int:
        stored = self.staged.users.get(user_id)
        if stored is None:
            return 0
        self.staged.users[user_id] = _stored_user(replace(stored, failed_logins=stored.failed_logins + 1))
        return stored.failed_logins + 1

    def add_session(self, session: SessionRecord) -> None:
        if session.id in self.staged.sessions or self.session(session.token_hash) is not None:
            raise Conflict("a session with this id or token already exists")
        if session.user_id not in self.staged.users:
            raise Conflict(f"no account {session.user_id!r} to open a session for")
        self.staged.sessions[session.id] = replace(
            session,
            created_at=_utc_required(session.created_at),
            last_seen_at=_utc_required(session.last_seen_at),
            expires_at=_utc_required(session.expires_at),
            ended_at=_utc(session.ended_at),
            remote=session.remote[:64],
        )

    def session(self, token_hash: str) -> SessionRecord | None:
        return next((s for s in self.staged.sessions.values() if s.token_hash == token_hash), None)

    def touch_session(self, session_id: str, at: datetime, expires_at: datetime) -> None:
        found = self.staged.sessions.get(session_id)
        if found is not None:
            self.staged.sessions[session_id] = replace(
                found, last_seen_at=_utc_required(at), expires_at=_utc_required(expires_at)
            )

    def end_session(self, session_id: str, at: datetime) -> None:
        found = self.staged.sessions.get(session_id)
        if found is not None and found.ended_at is None:
            self.staged.sessions[session_id] = replace(found, ended_at=_utc_required(at))

    def end_sessions_of(self, user_id: str, at: datetime) -> int:
        open_ = [s for s in self.staged.sessions.values() if s.user_id == user_id and s.ended_at is None]
        for s in open_:
            self.staged.sessions[s.id] = replace(s, ended_at=_utc_required(at))
        return len(open_)

    def add_grant(self, grant: RoleGrant) -> None:
        if grant.id in self.staged.grants:
            raise Conflict(f"a grant {grant.id} already exists")
        if grant.user_id not in self.staged.users:
            raise Conflict(f"no account {grant.user_id!r} to grant roles to")
        self.staged.grants[grant.id] = replace(
            grant,
            roles=frozenset(grant.roles),
            previous=frozenset(grant.previous),
            requested_at=_utc_required(grant.requested_at),
            decided_at=_utc(grant.decided_at),
        )

    def grant(self, grant_id: str) -> RoleGrant | None:
        return self.staged.grants.get(grant_id)

    def pending_grants(self, user_id: str | None = None) -> Sequence[RoleGrant]:
        found = [
            g
            for g in self.staged.grants.values()
            if g.status is GrantStatus.PENDING and (user_id is None or g.user_id == user_id)
        ]
        return sorted(found, key=lambda g: (g.requested_at, g.id))

    def decide_grant(self, grant_id: str, status: GrantStatus, by: str, at: datetime) -> bool:
        found = self.staged.grants.get(grant_id)
        if found is None or found.status is not GrantStatus.PENDING:
            return False
        self.staged.grants[grant_id] = replace(
            found, status=status, decided_by=by, decided_at=_utc_required(at), password_hash=None
        )
        return True


def _audit_matches(entry: AuditEntry, query: AuditQuery) -> bool:
    return (
        (query.actor is None or entry.actor == query.actor)
        and (query.action is None or entry.action == query.action)
        and (query.subject is None or entry.subject == query.subject)
        and (query.object_id is None or entry.object_id == query.object_id)
        and (query.outcome is None or entry.outcome == query.outcome)
        and (query.channel is None or entry.channel == query.channel)
        and (query.since is None or entry.at >= query.since)
        and (query.until is None or entry.at < query.until)
        and (query.after_seq is None or entry.seq > query.after_seq)
        and (query.before_seq is None or entry.seq < query.before_seq)
    )


class FakeAuditLog:
    """The audit log in memory, with the SQL log's semantics: ``append`` moves the head row only from the entry's
    predecessor (else Conflict), sequence numbers and hashes are unique, and what is stored is what the columns
    keep (actor cut to 256 characters, object id to 128, remote to 64; details as JSON).

    The SQL log's lock makes a second writer wait; a fake cannot wait, so if another unit of work committed entries
    since this one began (``committed_head`` moved), ``append`` raises Conflict instead of forking the chain."""

    def __init__(self, staged: AuditState, committed_head: Callable[[], tuple[int, str]] | None = None) -> None:
        self.staged = staged
        self._base = staged.head
        self._committed_head = committed_head

    def lock_head(self) -> tuple[int, str]:
        return self.staged.head

    def append(self, entry: AuditEntry) -> None:
        moved = self._committed_head is not None and self._committed_head() != self._base
        if moved or self.staged.head[0] != entry.seq - 1:
            raise Conflict("the audit log moved on under this transaction; retry")
        if any(e.seq == entry.seq or e.hash == entry.hash for e in self.staged.entries):
            raise Conflict(f"audit entry {entry.seq} or its hash is already in the log")
        self.staged.head = (entry.seq, entry.hash)
        self.staged.entries.append(
            replace(
                entry,
                at=_utc_required(entry.at),
                actor=entry.actor[:256],
                roles=tuple(entry.roles),
                object_id=entry.object_id[:128],
                details=_json(entry.details),
                remote=entry.remote[:64],
                signature=bytes(entry.signature),
            )
        )

    def _ordered(self) -> list[AuditEntry]:
        return sorted(self.staged.entries, key=lambda e: e.seq)

    def entries(self, query: AuditQuery) -> Sequence[AuditEntry]:
        ordered = self._ordered() if query.oldest_first else list(reversed(self._ordered()))
        found = [e for e in ordered if _audit_matches(e, query)]
        return [copy.deepcopy(e) for e in found[query.offset : query.offset + min(query.limit, AUDIT_MAX_PAGE)]]

    def all(self) -> Iterator[AuditEntry]:
        for entry in self._ordered():
            yield copy.deepcopy(entry)

    def head_row(self) -> tuple[int, str]:
        return self.staged.head


class FakePasswordHasher:
    """NOT a password hash: a fast, unsalted SHA-256 (``fake$<version>$<hex>``) for unit tests only, where Argon2id
    would be slow on purpose. ``version`` plays the part of Argon2's parameters: a hash made by an older version
    verifies but needs rehashing. ``checks`` counts the passwords verified."""

    PREFIX = "fake"

    def __init__(self, version: int = 1) -> None:
        self.version = version
        self.checks = 0

    def hash(self, password: str) -> str:
        return f"{self.PREFIX}${self.version}${hashlib.sha256(password.encode()).hexdigest()}"

    @classmethod
    def _parse(cls, encoded: str) -> tuple[int, str] | None:
        prefix, _, rest = encoded.partition("$")
        version, _, digest = rest.partition("$")
        if prefix != cls.PREFIX or not version.isdigit() or len(digest) != 64:
            return None
        return int(version), digest

    def verify(self, encoded: str, password: str) -> bool:
        self.checks += 1
        parsed = self._parse(encoded)
        if parsed is None:
            return False
        return hmac.compare_digest(parsed[1], hashlib.sha256(password.encode()).hexdigest())

    def needs_rehash(self, encoded: str) -> bool:
        parsed = self._parse(encoded)
        return parsed is None or parsed[0] < self.version


class FakeUnitOfWork:
    """Stages changes on a copy of the store; commit() publishes them, leaving without it drops them."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def __enter__(self) -> Self:
        self._cases = FakeCases(dict(self.store.cases))
        self._assets = FakeAssets(self.store.assets)
        self._requests = FakeRequests(dict(self.store.requests), self._cases.staged)
        self._deposits = FakeDeposits(list(self.store.deposits))
        self._declarations = FakeDeclarations(list(self.store.declarations))
        self._evidence = FakeEvidence(dict(self.store.evidence))
        self._ledger = FakeLedger(list(self.store.custody), list(self.store.checkpoints), self.store.ledger_verified)
        self._tokens = FakeTokens(dict(self.store.tokens))
        federation = self.store.federation.copy()  # one staged copy, shared as the SQL repositories share a session
        self._federation = federation
        self._peers = FakePeers(federation)
        self._peer_keys = FakePeerKeys(federation)
        self._own_entry = FakeOwnEntry(federation)
        self._outbox = FakeOutbox(federation)
        self._inbox = FakeInbox(federation)
        self._receipts = FakeReceipts(federation)
        self._seen = FakeSeenTransmissions(federation)
        self._rejections = FakeRejections(federation)
        self._transfers = FakeTransfers(federation)
        self._consents = FakeConsents(federation)
        self._accounts = FakeAccounts(self.store.accounts.copy())
        self._audit = FakeAuditLog(self.store.audit.copy(), lambda: self.store.audit.head)
        return self

    @property
    def evidence(self) -> FakeEvidence:
        return self._evidence

    @property
    def ledger(self) -> FakeLedger:
        return self._ledger

    @property
    def tokens(self) -> FakeTokens:
        return self._tokens

    @property
    def cases(self) -> FakeCases:
        return self._cases

    @property
    def assets(self) -> FakeAssets:
        return self._assets

    @property
    def requests(self) -> FakeRequests:
        return self._requests

    @property
    def deposits(self) -> FakeDeposits:
        return self._deposits

    @property
    def declarations(self) -> FakeDeclarations:
        return self._declarations

    @property
    def peers(self) -> FakePeers:
        return self._peers

    @property
    def peer_keys(self) -> FakePeerKeys:
        return self._peer_keys

    @property
    def own_entry(self) -> FakeOwnEntry:
        return self._own_entry

    @property
    def outbox(self) -> FakeOutbox:
        return self._outbox

    @property
    def inbox(self) -> FakeInbox:
        return self._inbox

    @property
    def receipts(self) -> FakeReceipts:
        return self._receipts

    @property
    def seen(self) -> FakeSeenTransmissions:
        return self._seen

    @property
    def rejections(self) -> FakeRejections:
        return self._rejections

    @property
    def transfers(self) -> FakeTransfers:
        return self._transfers

    @property
    def consents(self) -> FakeConsents:
        return self._consents

    @property
    def accounts(self) -> FakeAccounts:
        return self._accounts

    @property
    def audit(self) -> FakeAuditLog:
        return self._audit

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    def commit(self) -> None:
        self.store.cases = dict(self._cases.staged)
        self.store.assets = dict(self._assets.staged)
        self.store.requests = dict(self._requests.staged)
        self.store.deposits = list(self._deposits.staged)
        self.store.declarations = list(self._declarations.staged)
        self.store.evidence = dict(self._evidence.staged)
        self.store.custody = list(self._ledger.staged)
        self.store.checkpoints = list(self._ledger.staged_checkpoints)
        self.store.ledger_verified = self._ledger.verified_mark
        self.store.tokens = dict(self._tokens.staged)
        self.store.federation = self._federation.copy()
        self.store.accounts = self._accounts.staged.copy()
        self.store.audit = self._audit.staged.copy()
        self.store.commits += 1

    def rollback(self) -> None:
        self.__enter__()
