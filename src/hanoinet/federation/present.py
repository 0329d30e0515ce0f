"""The JSON shapes of peers, messages, transfers and consents, shared by the API and the CLI."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from hanoinet.federation.messaging import MessageView
from hanoinet.federation.ports import ConsentRecord, Peer, PeerKey, PendingChange, TransferRecord
from hanoinet.platform.present import _iso


def message(m: MessageView) -> dict[str, Any]:
    """A message either way: what it said, when it was sent, delivered and read."""
    return {
        "id": m.id,
        "direction": m.direction.value,
        "peer": m.peer,
        "kind": m.kind.value,
        "request_id": m.request_id,
        "body": {k: v for k, v in m.body.items() if k != "secret"},
        "created_at": _iso(m.created_at),
        "status": m.status.value,
        "delivered_at": _iso(m.delivered_at),
        "read_at": _iso(m.read_at),
        "error": m.error,
        "attempts": m.attempts,
        "by": m.created_by,
    }


def peer(p: Peer, keys: Sequence[PeerKey] = ()) -> dict[str, Any]:
    """A node of the directory, and how deliveries to it are going."""
    e = p.entry
    data: dict[str, Any] = {
        "node_id": e.node_id,
        "state": e.state,
        "authority": e.authority,
        "roles": [r.value for r in e.roles],
        "languages": list(e.languages),
        "hours": e.hours,
        "endpoint": e.endpoint,
        "serial": e.serial,
        "issued_at": e.issued_at.isoformat(),
        "signing_key": e.signing_key.kid,
        "encryption_key": e.encryption_key.kid,
        "custody_key": e.custody_key,
        "status": p.status.value,
        "status_reason": p.status_reason,
        "imported_at": p.imported_at.isoformat(),
        "delivery": {k: _iso(v) for k, v in asdict(p.delivery).items()},
        "pending": pending(p.pending) if p.pending is not None else None,
    }
    if keys:
        data["keys"] = [
            {
                "kid": k.key.kid,
                "use": k.use.value,
                "status": k.status.value,
                "added_at": _iso(k.added_at),
                "changed_at": _iso(k.changed_at),
                "reason": k.reason,
            }
            for k in keys
        ]
    return data


def pending(c: PendingChange) -> dict[str, Any]:
    """A change of identity a peer offered, waiting for an operator: the fields it changes, in force and offered."""
    changed = c.changed()
    return {
        "serial": c.serial,
        "received_at": c.received_at.isoformat(),
        "via": c.via,
        "changed": list(changed),
        "old": {k: c.old[k] for k in changed},
        "new": {k: c.new[k] for k in changed},
    }


def transfer(t: TransferRecord) -> dict[str, Any]:
    """An evidence transfer and how far each item got."""
    return {
        "id": t.id,
        "direction": t.direction.value,
        "peer": t.peer,
        "request_id": t.request_id,
        "case_id": t.case_id,
        "state": t.state.value,
        "created_at": t.created_at.isoformat(),
        "updated_at": t.updated_at.isoformat(),
        "created_by": t.created_by,
        "reason": t.reason,
        "error": t.error,
        "receipt": t.receipt,
        "items": [
            {
                "idx": i.idx,
                "item_id": i.item_id,
                "local_item_id": i.local_item_id,
                "sha256": i.sha256,
                "size": i.size,
                "chunks_done": i.chunks_done,
                "chunks_total": i.chunks_total,
                "state": i.state.value,
            }
            for i in t.items
        ],
    }


def consent(c: ConsentRecord) -> dict[str, Any]:
    """A consent request or decision (Art 36)."""
    return {
        "id": c.id,
        "role": c.role.value,
        "item_id": c.item_id,
        "peer": c.peer,
        "destination": c.destination,
        "purpose": c.purpose,
        "status": c.status.value,
        "requested_at": _iso(c.requested_at),
        "requested_by": c.requested_by,
        "decided_at": _iso(c.decided_at),
        "decided_by": c.decided_by,
        "note": c.note,
    }
