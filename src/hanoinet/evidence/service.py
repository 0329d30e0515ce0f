"""Use cases of the evidence vault: ingest, read, verify, export, dispose — each one a custody event.

Content goes into the vault first (durably, outside any database transaction: it may take minutes); the item row
and its acquisition event are then committed together. A crash in between leaves content that no item refers to,
which is not evidence (``verify`` starts from the items and the ledger) and is reused by the next ingest of the same
content. Every custody event is appended under the ledger's lock and followed by a checkpoint signed by the node
(``Custody``, which the federation's transfers record with too).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, BinaryIO

from hanoinet.audit import service as audit
from hanoinet.evidence.domain import (
    ACCESS_PERMISSIONS,
    FULL_CHECK,
    GENESIS,
    HASH_NAMES,
    AccessDenied,
    Checkpoint,
    CustodyAction,
    CustodyEvent,
    EvidenceItem,
    HandlingConditions,
    ItemDescription,
    VerifiedMark,
    check_chain,
    check_description,
    check_item,
    metadata_digest,
    next_event,
    records_its_verification,
)
from hanoinet.platform.errors import Conflict, Issue, NotFound, ValidationFailed
from hanoinet.platform.ids import new_id
from hanoinet.platform.permissions import Forbidden, Principal, Role, may
from hanoinet.platform.ports import Signer

if TYPE_CHECKING:
    from hanoinet.app.node import Node, UnitOfWork


@dataclass(frozen=True, slots=True)
class Custody:
    """How a use case records custody: in its unit of work, signed by the node, for one actor at one moment.

    Every event of a use case (an ingest, a verify of many items, a transfer's receipt) shares these four, so they
    are given once and each event names only its item, action, reason and details.
    """

    uow: UnitOfWork
    signer: Signer
    actor: str
    at: datetime

    def record(self, item_id: str, action: CustodyAction, reason: str, **details: Any) -> CustodyEvent:
        """Append one custody event after the ledger's head, and sign a checkpoint of the new head."""
        head = self.uow.ledger.lock_head()
        event = next_event(
            head, item_id=item_id, action=action, actor=self.actor, at=self.at, reason=reason, details=details
        )
        self.uow.ledger.append(event)
        unsigned = Checkpoint(event.seq, event.hash, self.at, b"")
        self.uow.ledger.add_checkpoint(Checkpoint(event.seq, event.hash, self.at, self.signer.sign(unsigned.message())))
        return event

    def refuse(self, item_id: str, attempted: CustodyAction, reason: str, what: str, **details: Any) -> AccessDenied:
        """Record that ``attempted`` was refused and commit it, so that the refusal stays in the ledger whatever
        follows; return the AccessDenied to raise, which says what may not be done (``what``) and that it is
        recorded."""
        self.record(item_id, CustodyAction.ACCESS_REFUSED, reason, attempted=attempted.value, **details)
        self.uow.commit()
        return AccessDenied(f"{self.actor} may not {what}; the refusal is recorded in its custody")


def ingest(
    node: Node,
    source: BinaryIO,
    described: ItemDescription,
    conditions: HandlingConditions,
    *,
    actor: Principal,
    extra_hashes: Sequence[str] = (),
    progress: Callable[[int], None] | None = None,
) -> EvidenceItem:
    """Store new evidence and record its acquisition; running the same ingest again returns the same item."""
    vault, signer = node.evidence_store()
    now = node.clock.now()
    check_description(described, conditions, now)
    unknown = [h for h in extra_hashes if h not in HASH_NAMES]
    if unknown:
        raise ValidationFailed([Issue("hashes", f"unknown hash {', '.join(unknown)}; known: {', '.join(HASH_NAMES)}")])
    with node.uow() as uow:
        if uow.cases.get(described.case_id) is None:
            raise ValidationFailed([Issue("case", f"no case {described.case_id!r}")])
    stored = vault.ingest(source, extra_hashes=tuple(h for h in extra_hashes if h != "sha256"), progress=progress)
    with node.uow() as uow:
        existing = uow.evidence.by_exhibit(described.case_id, described.exhibit)
        if existing is not None:
            if existing.sha256 == stored.sha256:
                return existing  # the same ingest, run again (e.g. after a crash before it answered)
            raise Conflict(f"exhibit {described.exhibit!r} of this case already holds other content ({existing.id})")
        item = EvidenceItem(
            id=new_id(),
            sha256=stored.sha256,
            size=stored.size,
            hashes=dict(stored.hashes),
            described=described,
            conditions=conditions,
            created_at=now,
        )
        uow.evidence.add(item)
        Custody(uow, signer, actor.name, now).record(
            item.id,
            CustodyAction.ACQUIRE,
            f"acquired by {described.acquired_by} from {described.source}",
            hashes=item.hashes,
            size=item.size,
            metadata_digest=metadata_digest(item),
            stored_once=stored.deduplicated,
        )
        audit.attach(uow, item.id)
        uow.commit()
    return item


def _get(uow: UnitOfWork, item_id: str) -> EvidenceItem:
    item = uow.evidence.get(item_id)
    if item is None:
        raise NotFound(f"no evidence item {item_id!r}")
    return item


def get_item(node: Node, item_id: str) -> tuple[EvidenceItem, Sequence[CustodyEvent]]:
    """Return an item's record and custody history (metadata, not content: no custody event)."""
    with node.uow() as uow:
        item = _get(uow, item_id)
        return item, uow.ledger.history(item_id)


def list_items(node: Node, *, case_id: str | None = None, limit: int = 100, offset: int = 0) -> Sequence[EvidenceItem]:
    """Return items, newest first."""
    with node.uow() as uow:
        return uow.evidence.list(case_id=case_id, limit=limit, offset=offset)


def require_access(principal: Principal, action: CustodyAction) -> None:
    """Refuse (Forbidden) a principal whose roles do not allow ``action`` on any item (``ACCESS_PERMISSIONS``).

    Not the handling conditions' refusal, which is a custody event, but the permission model's: such a caller
    appends nothing to the ledger — the entry point records the refusal in the audit log.
    """
    needed = ACCESS_PERMISSIONS.get(action)
    if needed is not None and not may(principal.roles, needed):
        raise Forbidden(f"{principal.name} may not {action.value} evidence: that needs {needed.value}")


def authorise(
    node: Node,
    item_id: str,
    *,
    principal: Principal,
    action: CustodyAction,
    reason: str,
    details: dict[str, Any] | None = None,
) -> EvidenceItem:
    """Check the handling conditions for an access, and record it: granted as ``action``, refused as a refusal.

    The refusal is committed before AccessDenied is raised, so that it stays in the ledger.
    """
    require_access(principal, action)
    _, signer = node.evidence_store()
    now = node.clock.now()
    if not reason.strip():
        raise ValidationFailed([Issue("reason", "say why you need this item (it is recorded in its custody)")])
    with node.uow() as uow:
        item = _get(uow, item_id)
        if item.disposed_at is not None:
            raise NotFound(
                f"item {item_id} was disposed of on {item.disposed_at.date().isoformat()}: no content is left"
            )
        custody = Custody(uow, signer, principal.name, now)
        if not item.conditions.permits(principal):
            roles = ", ".join(r.value for r in item.conditions.allowed_roles) or "none"
            users = f" and users {', '.join(item.conditions.allowed_users)}" if item.conditions.allowed_users else ""
            raise custody.refuse(
                item.id,
                action,
                reason,
                f"{action.value} item {item.id}: its handling conditions allow roles {roles}{users}",
                roles=sorted(r.value for r in principal.roles),
            )
        custody.record(item.id, action, reason, **(details or {}))
        audit.attach(uow, item.id)
        uow.commit()
    return item


def read_content(
    node: Node, item_id: str, principal: Principal, reason: str, *, view: bool = False
) -> tuple[EvidenceItem, Iterator[bytes]]:
    """Authorise and record a download (or view), then stream the decrypted content, verified on the fly."""
    vault, _ = node.evidence_store()
    action = CustodyAction.VIEW if view else CustodyAction.DOWNLOAD
    item = authorise(node, item_id, principal=principal, action=action, reason=reason)
    return item, vault.open_stream(item.sha256)


@dataclass
class VerifyReport:
    """What ``verify`` found: the number of items and events checked, and every problem, precisely.

    ``events`` and ``checkpoints`` count the ledger's entries whose chain and signatures were checked this time:
    all of them on a full check (``full``), those after the last verified mark otherwise (from ``since``); an
    item's own events are checked against their signed checkpoints either way (``item_events``).
    """

    items: int = 0
    events: int = 0
    checkpoints: int = 0
    problems: list[str] = field(default_factory=list)
    full: bool = False
    since: int = 1
    """The first event whose link in the chain was checked."""
    item_events: int = 0

    @property
    def ok(self) -> bool:
        """True if nothing is wrong."""
        return not self.problems


def _start(uow: UnitOfWork, signer: Signer, full: bool, problems: list[str]) -> tuple[int, str]:
    """Where the chain check starts: after the verified mark, unless a full check was asked for or the mark does
    not hold (unsigned, altered, or its event changed since), in which case from the genesis."""
    mark = uow.ledger.verified()
    if full or mark.seq == 0:
        return 0, GENESIS
    if not signer.verify(mark.signature, mark.message()):
        problems.append(
            f"the ledger's verified mark (event {mark.seq}) is not signed by this node: it was altered;"
            " the whole ledger was checked instead"
        )
        return 0, GENESIS
    anchor = uow.ledger.event(mark.seq)
    if anchor is None or anchor.hash != mark.head_hash:
        problems.append(
            f"custody event {mark.seq} differs from when the ledger was last verified (or is missing);"
            " the whole ledger was checked instead"
        )
        return 0, GENESIS
    return mark.seq, mark.head_hash


def _check_ledger(
    uow: UnitOfWork, signer: Signer, report: VerifyReport, *, full: bool
) -> tuple[list[CustodyEvent], list[str]]:
    """Check the chain and its signed checkpoints from the verified mark (or all of it); return the events checked
    and the ledger's problems (which ``report`` gets too)."""
    problems: list[str] = []
    after, prev = _start(uow, signer, full, problems)
    events = list(uow.ledger.events_after(after))
    report.full, report.since, report.events = after == 0, after + 1, len(events)
    problems += check_chain(events, after=after, prev=prev)
    by_seq = {e.seq: e for e in events}
    head_seq, head_hash = uow.ledger.head_row()
    last_seq, last_hash = (events[-1].seq, events[-1].hash) if events else (after, prev)
    if last_seq != head_seq or last_hash != head_hash:
        problems.append(f"the ledger head records event {head_seq}, but the last event is {last_seq}")
    checkpoints = uow.ledger.checkpoints_after(after)
    report.checkpoints = len(checkpoints)
    problems += _check_checkpoints(signer, checkpoints, by_seq)
    signed = {cp.seq for cp in checkpoints}
    problems += [
        f"custody event {e.seq} has no signed checkpoint (every event gets one: it was removed)"
        for e in events
        if e.seq not in signed
    ]
    report.problems += problems
    return events, problems


def _check_checkpoints(signer: Signer, checkpoints: Sequence[Checkpoint], by_seq: dict[int, CustodyEvent]) -> list[str]:
    problems = []
    for cp in checkpoints:
        event = by_seq.get(cp.seq)
        if not signer.verify(cp.signature, cp.message()):
            problems.append(f"checkpoint {cp.seq}: the node's signature does not match")
        elif event is None:
            problems.append(f"checkpoint {cp.seq}: the signed event is missing from the ledger")
        elif event.hash != cp.head_hash:
            problems.append(f"checkpoint {cp.seq}: event {cp.seq} differs from what the node signed")
    return problems


def _check_history(uow: UnitOfWork, signer: Signer, history: Sequence[CustodyEvent], since: int) -> list[str]:
    """An item's events before ``since`` (those the chain check did not reach this time), each against its own hash
    and the checkpoint the node signed of it: altering one, even with its hash recomputed, needs the node's key to
    go unnoticed. Its cost is the item's history, not the ledger's."""
    older = [e for e in history if e.seq < since]
    problems = [
        f"custody event {e.seq} was altered: its contents do not match its hash"
        for e in older
        if e.computed_hash() != e.hash
    ]
    checkpoints = uow.ledger.checkpoints_of(e.seq for e in older)
    problems += _check_checkpoints(signer, checkpoints, {e.seq: e for e in older})
    signed = {cp.seq for cp in checkpoints}
    problems += [
        f"custody event {e.seq} has no signed checkpoint (every event gets one: it was removed)"
        for e in older
        if e.seq not in signed
    ]
    return problems


def verify(
    node: Node,
    item_id: str | None,
    principal: Principal,
    progress: Callable[[int], None] | None = None,
    *,
    full: bool = False,
    on_host: bool = False,
) -> VerifyReport:
    """Recompute content hashes, the ledger's chain and signatures, and each item's metadata against its custody.

    The chain is checked from the last verified mark on (its cost follows what was appended since, not the whole
    ledger), unless ``full`` is asked for — by a role that may (``FULL_CHECK``, the auditor) or at the node's
    command line (``on_host``); every item at once (``item_id`` None, which only the command line offers) is always a
    full check. Each item checked
    gets a ``verify`` custody event with the outcome when the principal handles evidence
    (``records_its_verification``); a read-only role's check appends nothing to the ledger and is recorded in the
    audit log by the entry point, with its outcome.
    """
    if full and not (on_host or may(principal.roles, FULL_CHECK)):
        raise Forbidden(
            f"{principal.name} may not ask for a full check of the custody ledger: that is for a role with"
            f" {FULL_CHECK.value} (the auditor) or the node's command line (hanoinet evidence verify --full);"
            " a normal verify checks what was appended since the last one"
        )
    full = full or item_id is None  # every item at once: the node's command line (no route offers it)
    vault, signer = node.evidence_store()
    report = VerifyReport()
    with node.uow() as uow:
        events, ledger_problems = _check_ledger(uow, signer, report, full=full)
        items = [_get(uow, item_id)] if item_id else list(uow.evidence.all())
        histories = {i.id: uow.ledger.history(i.id) for i in items}
        if item_id is not None:
            report.item_events = len(histories[item_id])
            found = _check_history(uow, signer, histories[item_id], report.since)
            report.problems += found
            ledger_problems += found
    if item_id is None:
        known = {i.id for i in items}
        orphans: dict[str, int] = {}
        for e in events:
            if e.item_id not in known:
                orphans.setdefault(e.item_id, e.seq)
        report.problems += [
            f"item {i}: the custody ledger records it (event {seq}) but its record is missing (deleted?)"
            for i, seq in orphans.items()
        ]
    outcomes: dict[str, list[str]] = {}
    for item in items:
        found = check_item(item, histories[item.id])
        if item.disposed_at is None:
            check = vault.verify(item.sha256, size=item.size, progress=progress)
            found += [f"item {item.id} ({item.described.exhibit}): {p}" for p in check.problems]
        outcomes[item.id] = found
        report.problems += found
    report.items = len(items)
    now = node.clock.now()
    with node.uow() as uow:
        if not ledger_problems and events:
            unsigned = VerifiedMark(events[-1].seq, events[-1].hash, now)
            uow.ledger.mark_verified(replace(unsigned, signature=signer.sign(unsigned.message())))
        if records_its_verification(principal):
            custody = Custody(uow, signer, principal.name, now)
            for item in items:
                problems = outcomes[item.id]
                custody.record(
                    item.id,
                    CustodyAction.VERIFY,
                    "integrity check",
                    ok=not problems,
                    problems=problems[:20],
                    sha256=item.sha256,
                )
            audit.attach(uow, item_id or "")
        uow.commit()
    return report


def dispose(node: Node, item_id: str, principal: Principal, reason: str) -> EvidenceItem:
    """Destroy an item's content once its retention has ended; the record and a dispose event are kept."""
    vault, signer = node.evidence_store()
    now = node.clock.now()
    with node.uow() as uow:
        item = _get(uow, item_id)
        if item.disposed_at is not None:
            raise Conflict(f"item {item_id} was already disposed of")
        until = item.conditions.retention_until
        if until is None or until >= now.date():
            when = until.isoformat() if until else "no retention end"
            raise ValidationFailed(
                [Issue("retention_until", f"the item may be kept until {when}; it cannot be disposed of yet")]
            )
        if Role.ADMINISTRATOR not in principal.roles and not item.conditions.permits(principal):
            raise AccessDenied(f"{principal.name} may not dispose of item {item_id}")
        uow.evidence.mark_disposed(item.id, now)
        Custody(uow, signer, principal.name, now).record(
            item.id, CustodyAction.DISPOSE, reason, retention_until=until.isoformat(), sha256=item.sha256
        )
        shared = uow.evidence.live_with_content(item.sha256) > 0
        audit.attach(uow, item.id)
        uow.commit()
    if not shared:
        vault.destroy(item.sha256)  # after the commit: a crash here leaves content that no live item refers to
    item.disposed_at = now
    return item


def dispose_expired(node: Node, principal: Principal) -> list[EvidenceItem]:
    """Dispose of every item whose retention has ended."""
    with node.uow() as uow:
        expired = uow.evidence.expired(node.clock.now().date())
    return [dispose(node, i.id, principal, "retention period ended") for i in expired]
