"""The directory: this node's own signed entry, the entries of other nodes, key rotation and revocation.

Trust is an operator's decision: an entry enters the directory because someone imported it (from a file handed
over by the other authority, or from a directory node's register the operator chose to trust). After that, a node
may change its own entry's hours and languages, and rotate its keys if the new entry is signed by the key it
replaces. What says who the node is and where it is reached (its State, authority, roles and endpoint:
``domain.IDENTITY_FIELDS``) is an operator's decision too: a node's own signature proves only that it holds its
key, so a newer entry changing any of them is held, the confirmed values stay in force (routing and delivery use
them), and an operator confirms or rejects the change (``pending_changes``, ``confirm_change``, ``reject_change``).
Revoking a key (or a whole node) is immediate and final: what it signs is refused from then on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from hanoinet.audit import service as audit
from hanoinet.federation.domain import (
    TYP_ENTRY,
    TYP_REGISTER,
    DirectoryEntry,
    EntryDecision,
    EntryStatus,
    EntryVerdict,
    KeyStatus,
    KeyUse,
    MessageKind,
    PublicKey,
    decide_entry,
    entry_from_document,
)
from hanoinet.federation.ports import OutgoingMessage, OwnEntry, Peer, PeerKey, PendingChange
from hanoinet.platform import events
from hanoinet.platform.errors import Conflict, DomainError, Issue, NotFound, ValidationFailed
from hanoinet.platform.events import Channel, Event
from hanoinet.platform.ids import new_id

if TYPE_CHECKING:
    from hanoinet.app.node import Node, UnitOfWork


class EntryRefused(DomainError):  # noqa: N818 - names the outcome
    """An offered directory entry is not accepted; the message says why."""


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What importing an entry did."""

    peer: Peer
    verdict: EntryVerdict
    reason: str


def _candidate(node: Node, stored: OwnEntry | None, revoked: tuple[str, ...] = ()) -> DirectoryEntry:
    identity, profile, state = node.network()
    custody = node.signer.public_key_hex() if node.signer else "0" * 64
    return DirectoryEntry(
        node_id=identity.node_id,
        state=state,
        authority=profile.authority,
        roles=profile.roles,
        languages=profile.languages,
        hours=profile.hours,
        endpoint=profile.endpoint.rstrip("/"),
        signing_key=identity.signing_key,
        encryption_key=identity.encryption_key,
        custody_key=custody,
        serial=(stored.entry.serial if stored else 0) + 1,
        issued_at=node.now_wall(),
        revoked_kids=tuple(dict.fromkeys([*(stored.entry.revoked_kids if stored else ()), *revoked])),
    )


def _push_to_peers(node: Node, uow: UnitOfWork, signed: Mapping[str, Any], actor: str) -> int:
    """Queue this node's new entry for every trusted peer, ahead of anything signed with its new key."""
    identity, _, _ = node.network()
    now = node.now_wall()
    messages = [
        OutgoingMessage(
            id=new_id(),
            peer=p.entry.node_id,
            kind=MessageKind.ENTRY,
            request_id=None,
            jws=_json(signed),
            created_at=now,
            created_by=actor,
        )
        for p in uow.peers.list()
        if p.status is EntryStatus.ACTIVE and p.entry.node_id != identity.node_id
    ]
    uow.outbox.enqueue(messages)
    return len(messages)


def _json(data: Mapping[str, Any]) -> str:
    import json  # noqa: PLC0415 - only for this small serialisation

    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def publish_own_entry(node: Node, *, actor: str = "node") -> OwnEntry:
    """Return this node's signed entry, re-signing it (serial + 1) if its profile or keys changed since last time.

    A changed entry is queued for every peer, so that a new endpoint or new hours reach them without an operator.
    """
    with node.uow() as uow:
        stored = uow.own_entry.get()
        candidate = _candidate(node, stored)
        if stored is not None and stored.entry.same_profile(candidate):
            return stored
        identity, _, _ = node.network()
        own = OwnEntry(candidate, identity.sign_document(candidate.document(), TYP_ENTRY), candidate.issued_at)
        uow.own_entry.save(own)
        if stored is not None:
            _push_to_peers(node, uow, own.signed, actor)
        uow.commit()
    node.outbox_changed()
    return own


def rotate_keys(node: Node, *, revoke_old: bool = False, actor: str) -> OwnEntry:
    """Replace this node's federation keys and publish the new entry, signed by the new and the old key.

    With ``revoke_old`` (a compromised key), the entry also declares the old keys revoked, so that peers refuse
    anything they sign from now on; without it, messages signed before the rotation are still accepted.
    """
    identity, _, _ = node.network()
    with node.uow() as uow:
        stored = uow.own_entry.get()
    old = (identity.signing_key.kid, identity.encryption_key.kid)
    holder: dict[str, DirectoryEntry] = {}

    def build(signing: PublicKey, encryption: PublicKey) -> dict[str, Any]:
        entry = replace(
            _candidate(node, stored, old if revoke_old else ()),
            signing_key=signing,
            encryption_key=encryption,
        )
        holder["entry"] = entry
        return entry.document()

    signed = identity.rotate(build, TYP_ENTRY)
    own = OwnEntry(holder["entry"], signed, node.now_wall())
    with node.uow() as uow:
        uow.own_entry.save(own)
        _push_to_peers(node, uow, signed, actor)
        audit.attach(uow, own.entry.node_id)
        uow.commit()
    node.outbox_changed()
    return own


def _verify(node: Node, uow: UnitOfWork, signed: Mapping[str, Any]) -> tuple[DirectoryEntry, frozenset[str]]:
    identity, _, _ = node.network()
    claimed, _ = identity.verify_document(signed, ())
    entry = entry_from_document(claimed, node.catalog.is_known)
    candidates = [entry.signing_key, *(k.key for k in uow.peer_keys.of_node(entry.node_id) if k.use is KeyUse.SIGNING)]
    payload, kids = identity.verify_document(signed, candidates)
    if payload != claimed:
        raise ValidationFailed([Issue("entry", "the entry changed while being read")])
    return entry, kids


def _record(  # noqa: PLR0917 - the entry, its proof, what it replaces and the verdict on it go together
    node: Node,
    uow: UnitOfWork,
    entry: DirectoryEntry,
    signed: Mapping[str, Any],
    current: Peer | None,
    decision: EntryDecision,
    *,
    hold_via: str | None,
    at: datetime,
) -> EntryDecision:
    """Save an accepted entry; or, if it changes the identity of a node known here and did not come from an
    operator (``hold_via``), save it with the confirmed identity kept and hold the change. Return the verdict."""
    if hold_via is None or current is None or entry.identity() == current.entry.identity():
        uow.peers.save(entry, signed, at)
        if current is not None and current.pending is not None:
            uow.peers.hold(entry.node_id, None)  # the node went back to what is confirmed, or an operator imported
        return decision
    held = PendingChange(entry.serial, current.entry.identity(), entry.identity(), signed, at, hold_via)
    # The confirmed identity stays in force; the rest of the entry (keys, hours, languages, serial) is taken. The
    # signed entry kept for the register stays the one last confirmed here.
    uow.peers.save(entry.with_identity(held.old), current.signed, at)
    uow.peers.hold(entry.node_id, held)
    changed = held.changed()
    audit.record(
        uow,
        node,
        audit.by_node(
            entry.node_id,
            "directory:change-held",
            "peer",
            entry.node_id,
            serial=entry.serial,
            via=hold_via,
            old={k: held.old[k] for k in changed},
            new={k: held.new[k] for k in changed},
        ),
    )
    return replace(
        decision,
        verdict=EntryVerdict.HELD,
        reason=f"{', '.join(changed)} changed: held for an operator's confirmation here ({decision.reason})",
    )


def _apply(
    node: Node,
    uow: UnitOfWork,
    signed: Mapping[str, Any],
    *,
    replace_entry: bool,
    known_only: bool,
    hold_via: str | None = None,
) -> tuple[Peer, EntryDecision]:
    """Check and record an offered entry. With ``hold_via`` (the entry came from the node itself or from a register,
    not from an operator), a change of its identity-bearing fields is held for an operator (``_record``)."""
    identity, _, _ = node.network()
    entry, kids = _verify(node, uow, signed)
    if entry.node_id == identity.node_id:
        raise EntryRefused(f"{entry.node_id} is this node's own id: an entry of this node cannot be imported here")
    current = uow.peers.get(entry.node_id)
    if current is None and known_only:
        raise EntryRefused(
            f"node {entry.node_id} is not in this node's directory: an operator must import its entry first"
        )
    if current is not None and current.status is EntryStatus.REVOKED and not replace_entry:
        raise EntryRefused(
            f"node {entry.node_id} was revoked here ({current.status_reason}); only an operator can "
            "restore it, with --replace"
        )
    offered = (entry.signing_key.kid, entry.encryption_key.kid)
    revoked = {k.key.kid for k in uow.peer_keys.of_node(entry.node_id) if k.status is KeyStatus.REVOKED}
    revoked |= {kid for kid in offered if (k := uow.peer_keys.get(kid)) is not None and k.status is KeyStatus.REVOKED}
    decision = decide_entry(current.entry if current else None, entry, kids, revoked, replace=replace_entry)
    if decision.verdict is EntryVerdict.REFUSED:
        raise EntryRefused(f"entry of {entry.node_id} refused: {decision.reason}")
    if decision.verdict is EntryVerdict.UNCHANGED:
        assert current is not None
        return current, decision
    now = node.now_wall()
    for kid in offered:
        owner = uow.peer_keys.get(kid)
        if owner is not None and owner.node_id != entry.node_id:
            raise EntryRefused(f"key {kid} already belongs to node {owner.node_id}")
    decision = _record(node, uow, entry, signed, current, decision, hold_via=hold_via, at=now)
    if current is not None and current.status is EntryStatus.REVOKED:
        uow.peers.set_status(entry.node_id, EntryStatus.ACTIVE, "restored by an operator", now)
    uow.peer_keys.save(entry.node_id, entry.signing_key, use=KeyUse.SIGNING, status=KeyStatus.CURRENT, at=now)
    uow.peer_keys.save(entry.node_id, entry.encryption_key, use=KeyUse.ENCRYPTION, status=KeyStatus.CURRENT, at=now)
    for kid in decision.retire:
        retired = uow.peer_keys.get(kid)
        if retired is not None:
            uow.peer_keys.save(
                entry.node_id,
                retired.key,
                use=retired.use,
                status=KeyStatus.RETIRED,
                at=now,
                reason="replaced by a rotation",
            )
    for kid in decision.revoke:
        known = uow.peer_keys.get(kid)
        if known is None or known.node_id != entry.node_id:
            # A node revokes only its own keys: a revocation of another node's key (or of a key nobody has shown
            # us yet) would let one node silence another. Directories revoke for others (import_register).
            continue
        key = known.key
        uow.peer_keys.save(
            entry.node_id,
            key,
            use=known.use,
            status=KeyStatus.REVOKED,
            at=now,
            reason="revoked by its node",
        )
    peer = uow.peers.get(entry.node_id)
    assert peer is not None
    return peer, decision


def import_entry(node: Node, signed: Mapping[str, Any], *, replace_entry: bool = False) -> ImportResult:
    """Import another node's signed entry (an operator's decision to trust it), or a newer one of a known node."""
    with node.uow() as uow:
        peer, decision = _apply(node, uow, signed, replace_entry=replace_entry, known_only=False)
        audit.attach(uow, peer.entry.node_id)
        uow.commit()
    return ImportResult(peer, decision.verdict, decision.reason)


def _import_from_register(node: Node, signed: Mapping[str, Any], publisher: str) -> ImportResult:
    """An entry of a register: a node new here is taken (the operator chose to sync from this directory); a change
    of identity of a node known here is held, as if the node had pushed it."""
    with node.uow() as uow:
        peer, decision = _apply(
            node, uow, signed, replace_entry=False, known_only=False, hold_via=f"in {publisher}'s register"
        )
        audit.attach(uow, peer.entry.node_id)
        uow.commit()
    return ImportResult(peer, decision.verdict, decision.reason)


def accept_pushed_entry(node: Node, signed: Mapping[str, Any]) -> ImportResult:
    """Take an entry a known node pushed to us (after a rotation or a change of endpoint); unknown nodes cannot
    enter the directory this way."""
    with node.uow() as uow:
        peer, decision = _apply(node, uow, signed, replace_entry=False, known_only=True, hold_via="pushed by the node")
        uow.commit()
    return ImportResult(peer, decision.verdict, decision.reason)


def pending_changes(node: Node) -> Sequence[Peer]:
    """The peers with a change of identity waiting for an operator, each with its confirmed and offered values."""
    with node.uow() as uow:
        return [p for p in uow.peers.list() if p.pending is not None]


def _decided(uow: UnitOfWork, node: Node, node_id: str, *, action: str, actor: str, change: PendingChange) -> None:
    """Audit an operator's decision on a held change: the call's own entry (the route's or command's), and an entry
    about the peer with the values decided on, naming the same caller (its roles, its channel)."""
    details = {
        "serial": change.serial,
        "via": change.via,
        "old": {k: change.old[k] for k in change.changed()},
        "new": {k: change.new[k] for k in change.changed()},
    }
    entry = events.pending_entry()
    caller = entry.event(node_id) if entry is not None else Event(actor, (), Channel.CLI, action, "peer", node_id)
    audit.attach(uow, node_id)
    audit.record(uow, node, replace(caller, action=action, subject="peer", object_id=node_id, details=details))


def _held(uow: UnitOfWork, node_id: str) -> tuple[Peer, PendingChange]:
    peer = uow.peers.get(node_id)
    if peer is None:
        raise NotFound(f"no node {node_id!r} in this node's directory")
    if peer.pending is None:
        raise Conflict(f"node {node_id} has no change waiting for a decision")
    return peer, peer.pending


def confirm_change(node: Node, node_id: str, *, actor: str) -> Peer:
    """Put a peer's held change of identity in force: from now on requests for its (new) State go to it, at its
    (new) endpoint. The signed entry it came in becomes the one this node republishes."""
    with node.uow() as uow:
        peer, change = _held(uow, node_id)
        uow.peers.save(peer.entry.with_identity(change.new), change.signed, node.now_wall())
        uow.peers.hold(node_id, None)
        _decided(uow, node, node_id, action="directory:change-confirmed", actor=actor, change=change)
        uow.commit()
        confirmed = uow.peers.get(node_id)
    assert confirmed is not None
    return confirmed


def reject_change(node: Node, node_id: str, *, actor: str) -> Peer:
    """Refuse a peer's held change of identity: the confirmed values stay. A newer entry that offers it again is
    held again (and audited again)."""
    with node.uow() as uow:
        peer, change = _held(uow, node_id)
        uow.peers.hold(node_id, None)
        _decided(uow, node, node_id, action="directory:change-rejected", actor=actor, change=change)
        uow.commit()
    return replace(peer, pending=None)


def list_peers(node: Node) -> Sequence[Peer]:
    """Every node in the directory."""
    with node.uow() as uow:
        return uow.peers.list()


def get_peer(node: Node, node_id: str) -> tuple[Peer, Sequence[PeerKey]]:
    """A peer and all its keys; raise NotFound."""
    with node.uow() as uow:
        peer = uow.peers.get(node_id)
        if peer is None:
            raise NotFound(f"no node {node_id!r} in this node's directory")
        return peer, uow.peer_keys.of_node(node_id)


def revoke(node: Node, target: str, *, reason: str, actor: str) -> str:
    """Revoke a peer's key (by key id) or a whole node (by node id): refused from now on. Return what was revoked."""
    if not reason.strip():
        raise ValidationFailed([Issue("reason", "say why (it is recorded, and shown when the node is refused)")])
    now = node.now_wall()
    with node.uow() as uow:
        peer = uow.peers.get(target)
        if peer is not None:
            uow.peers.set_status(target, EntryStatus.REVOKED, f"{reason} ({actor})", now)
            keys = uow.peer_keys.of_node(target)
            for each in keys:
                uow.peer_keys.save(target, each.key, use=each.use, status=KeyStatus.REVOKED, at=now, reason=reason)
            audit.attach(uow, target)
            uow.commit()
            return f"node {target} and its {len(keys)} key(s)"
        key = uow.peer_keys.get(target)
        if key is None:
            raise NotFound(f"no node or key {target!r} in this node's directory")
        if key.status is KeyStatus.REVOKED:
            raise Conflict(f"key {target} is already revoked")
        uow.peer_keys.save(
            key.node_id, key.key, use=key.use, status=KeyStatus.REVOKED, at=now, reason=f"{reason} ({actor})"
        )
        audit.attach(uow, target)
        uow.commit()
        return f"key {target} of node {key.node_id}"


def register(node: Node) -> dict[str, Any]:
    """This node's register: its own entry and the entries of every trusted peer, signed by this node (Art 41:
    a directory node publishes the register of points of contact, as the Secretary-General keeps it)."""
    identity, _, _ = node.network()
    own = publish_own_entry(node)
    with node.uow() as uow:
        peers = uow.peers.list()
        revoked = [
            k.key.kid for p in peers for k in uow.peer_keys.of_node(p.entry.node_id) if k.status is KeyStatus.REVOKED
        ]
    document = {
        "hanoinet_register": 1,
        "publisher": identity.node_id,
        "issued_at": node.now_wall().isoformat(),
        "entries": [dict(own.signed), *(dict(p.signed) for p in peers if p.status is EntryStatus.ACTIVE)],
        "revoked_kids": sorted(set(revoked)),
    }
    return identity.sign_document(document, TYP_REGISTER)


@dataclass(frozen=True, slots=True)
class SyncResult:
    """What a register brought."""

    publisher: str
    imported: tuple[ImportResult, ...]
    refused: tuple[str, ...]
    revoked: tuple[str, ...]


def import_register(node: Node, signed: Mapping[str, Any]) -> SyncResult:
    """Import a register published by a directory node this node already trusts: each entry is checked on its
    own signature and trust rules; revocations the publisher lists are applied."""
    identity, _, _ = node.network()
    claimed, _ = identity.verify_document(signed, ())
    publisher_id = str(claimed.get("publisher", ""))
    with node.uow() as uow:
        publisher = uow.peers.get(publisher_id)
        keys = [
            k.key
            for k in uow.peer_keys.of_node(publisher_id)
            if k.use is KeyUse.SIGNING and k.status is KeyStatus.CURRENT
        ]
    if publisher is None or publisher.status is not EntryStatus.ACTIVE:
        raise EntryRefused(
            f"the register's publisher {publisher_id!r} is not a trusted node here: import its entry first"
        )
    document, kids = identity.verify_document(signed, keys)
    if not kids:
        raise EntryRefused(f"the register is not signed by {publisher_id}'s current key")
    entries = document.get("entries")
    if not isinstance(entries, list):
        raise ValidationFailed([Issue("register.entries", "must be a list of signed entries")])
    imported: list[ImportResult] = []
    refused: list[str] = []
    for index, entry in enumerate(entries):
        try:
            if not isinstance(entry, dict):
                raise ValidationFailed([Issue(f"register.entries[{index}]", "is not a signed entry")])
            payload, _ = identity.verify_document(entry, ())
            if payload.get("node_id") == identity.node_id:
                continue
            imported.append(_import_from_register(node, entry, publisher_id))
        except (DomainError, ValueError) as exc:
            refused.append(f"entries[{index}]: {exc}")
    revoked: list[str] = []
    for kid in document.get("revoked_kids", []) or []:
        with node.uow() as uow:
            key = uow.peer_keys.get(str(kid))
            if key is not None and key.status is not KeyStatus.REVOKED:
                uow.peer_keys.save(
                    key.node_id,
                    key.key,
                    use=key.use,
                    status=KeyStatus.REVOKED,
                    at=node.now_wall(),
                    reason=f"revoked in {publisher_id}'s register",
                )
                audit.attach(uow, publisher_id)
                uow.commit()
                revoked.append(str(kid))
    return SyncResult(publisher_id, tuple(imported), tuple(refused), tuple(revoked))
