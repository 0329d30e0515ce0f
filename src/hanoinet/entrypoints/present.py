"""Plain-data presentations of domain objects, shared by the CLI's JSON and the HTTP API's responses."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

from hanoinet.domain.cases import Case
from hanoinet.domain.clocks import Clock
from hanoinet.domain.errors import Issue
from hanoinet.domain.evidence import CustodyEvent, EvidenceItem
from hanoinet.domain.rules import Citation, RequestType, RulePack
from hanoinet.domain.treaty import InstrumentStatus, PartyStatus
from hanoinet.services.messaging import MessageView
from hanoinet.services.ports import ConsentRecord, Peer, PeerKey, RequestSummary, TransferRecord
from hanoinet.services.requests import RequestView

DUE_SOON_SECONDS = 24 * 3600


def _iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def instrument_status(status: InstrumentStatus) -> dict[str, Any]:
    """Where an instrument stands on a date."""
    return {k: _iso(v) if not isinstance(v, tuple) else list(v) for k, v in asdict(status).items()}


def party_status(status: PartyStatus) -> dict[str, Any]:
    """One State's relation to an instrument on a date."""
    return {k: _iso(v) for k, v in asdict(status).items()}


def case(c: Case) -> dict[str, Any]:
    """A case."""
    return {k: _iso(v) for k, v in asdict(c).items()}


def issue(i: Issue) -> dict[str, Any]:
    """One validation problem, with the article that requires what is wrong."""
    return {"field": i.field, "message": i.message, "article": i.citation, "text": str(i)}


def time_left(due: datetime | None, now: datetime) -> str:
    """Human time left: "3d 4h", "45m", or "overdue 2h"."""
    if due is None:
        return ""
    delta = (due - now).total_seconds()
    prefix = "overdue " if delta < 0 else ""
    seconds = int(abs(delta))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    text = f"{days}d {hours}h" if days else f"{hours}h {minutes}m" if hours else f"{minutes}m"
    return prefix + text


def urgency(due: datetime | None, now: datetime) -> str | None:
    """ "overdue", "due_soon" (within a day) or None: what an inbox marks."""
    if due is None:
        return None
    if due < now:
        return "overdue"
    return "due_soon" if (due - now).total_seconds() <= DUE_SOON_SECONDS else None


def clock(c: Clock, now: datetime) -> dict[str, Any]:
    """A clock with its time left."""
    running = c.status.value == "running"
    return {
        "name": c.name,
        "status": c.status.value,
        "started_at": c.started_at.isoformat(),
        "due_at": _iso(c.due_at),
        "time_left": time_left(c.due_at, now) if running else "",
        "urgency": urgency(c.due_at, now) if running else None,
        "basis": c.basis,
        "description": c.description,
    }


def summary(r: RequestSummary, now: datetime) -> dict[str, Any]:
    """One inbox line."""
    data = {k: _iso(v) for k, v in asdict(r).items()}
    data["time_left"] = time_left(r.next_due_at, now)
    data["urgency"] = urgency(r.next_due_at, now)
    return data


def request_view(view: RequestView, now: datetime) -> dict[str, Any]:
    """A request with its history, clocks, allowed actions and missing items."""
    r = view.request
    return {
        "id": r.id,
        "case_id": r.case_id,
        "instrument": r.instrument,
        "type": r.type,
        "type_label": view.rtype.label,
        "article": str(view.rtype.citation),
        "direction": r.direction.value,
        "requesting_state": r.requesting_state,
        "requested_state": r.requested_state,
        "state": r.state.value,
        "emergency": r.emergency,
        "deadline": _iso(r.deadline),
        "follows_up": r.follows_up,
        "items": r.items,
        "created_at": r.created_at.isoformat(),
        "version": r.version,
        "peer": r.peer,
        "clocks": [clock(c, now) for c in view.clocks],
        "allowed_actions": [a.value for a in view.allowed_actions],
        "issues": [issue(i) for i in view.issues],
        "events": [
            {
                "seq": e.seq,
                "kind": e.kind.value,
                "at": e.at.isoformat(),
                "actor": e.actor,
                "from": e.state_from.value if e.state_from else None,
                "to": e.state_to.value,
                "data": e.data,
            }
            for e in r.events
        ],
        "messages": [message(m) for m in view.messages],
    }


def message(m: MessageView) -> dict[str, Any]:
    """A message either way: what it said, when it was sent, delivered and read."""
    return {
        "id": m.id,
        "direction": m.direction,
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
    }
    if keys:
        data["keys"] = [
            {
                "kid": k.key.kid,
                "use": k.use,
                "status": k.status.value,
                "added_at": _iso(k.added_at),
                "changed_at": _iso(k.changed_at),
                "reason": k.reason,
            }
            for k in keys
        ]
    return data


def transfer(t: TransferRecord) -> dict[str, Any]:
    """An evidence transfer and how far each item got."""
    return {
        "id": t.id,
        "direction": t.direction.value,
        "peer": t.peer,
        "request_id": t.request_id,
        "case_id": t.case_id,
        "state": t.state,
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
                "state": i.state,
            }
            for i in t.items
        ],
    }


def consent(c: ConsentRecord) -> dict[str, Any]:
    """A consent request or decision (Art 36)."""
    return {k: _iso(v) for k, v in asdict(c).items()}


def evidence_item(item: EvidenceItem) -> dict[str, Any]:
    """An evidence item's record (never its content)."""
    d = item.described
    return {
        "id": item.id,
        "case_id": d.case_id,
        "exhibit": d.exhibit,
        "sha256": item.sha256,
        "size": item.size,
        "hashes": item.hashes,
        "file_name": d.file_name,
        "source": d.source,
        "acquisition_method": d.acquisition_method,
        "acquisition_tool": d.acquisition_tool,
        "acquired_by": d.acquired_by,
        "acquired_at": d.acquired_at.isoformat(),
        "description": d.description,
        "conditions": item.conditions.as_dict(),
        "created_at": item.created_at.isoformat(),
        "disposed_at": _iso(item.disposed_at),
    }


def custody_event(e: CustodyEvent) -> dict[str, Any]:
    """One custody event with its place in the hash chain."""
    return {
        "seq": e.seq,
        "item_id": e.item_id,
        "action": e.action.value,
        "actor": e.actor,
        "at": e.at.isoformat(),
        "reason": e.reason,
        "details": e.details,
        "prev_hash": e.prev_hash,
        "hash": e.hash,
    }


def citation(c: Citation | None) -> str | None:
    """An article reference as text."""
    return str(c) if c else None


def pack_summary(p: RulePack) -> dict[str, Any]:
    """A pack's identity and request types."""
    return {
        "key": p.key,
        "title": p.title,
        "short_title": p.short_title,
        "version": p.version,
        "request_types": [t.key for t in p.request_types],
    }


def request_type(t: RequestType) -> dict[str, Any]:
    """A request type with everything a composer needs: items, grounds, clocks, each with its article."""
    return {
        "key": t.key,
        "label": t.label,
        "article": str(t.citation),
        "workflow": t.workflow.value,
        "verified": t.verified,
        "emergency_allowed": t.emergency_allowed,
        "dual_criminality": t.dual_criminality.value,
        "dual_criminality_article": citation(t.dual_criminality_citation),
        "minimum_penalty_years": t.minimum_penalty_years,
        "follow_up_of": list(t.follow_up_of),
        "items": [
            {
                "key": i.key,
                "label": i.label,
                "article": str(i.citation),
                "required": i.required,
                "verified": i.verified,
                "help": i.help,
            }
            for i in t.required_items
        ],
        "refusal_grounds": [
            {"key": g.key, "label": g.label, "article": str(g.citation), "verified": g.verified}
            for g in t.refusal_grounds
        ],
        "clocks": [
            {
                "kind": c.kind.value,
                "starts": c.start.value,
                "period": str(c.period),
                "source": c.source.value,
                "article": citation(c.citation),
                "verified": c.verified,
                "emergency_only": c.emergency_only,
                "extension": str(c.extension) if c.extension else None,
                "held_while_follow_up_pending": c.held_while_follow_up_pending,
            }
            for c in t.clocks
        ],
        "notes": t.notes,
    }


def pack(p: RulePack) -> dict[str, Any]:
    """A whole pack, for reviewers and composers."""
    eif = p.entry_into_force
    return {
        **pack_summary(p),
        "entry_into_force": {
            "instruments_required": eif.instruments_required,
            "general": f"{eif.general_period} after the last instrument required ({eif.general_citation})",
            "later_party": f"{eif.later_party_period} after its deposit ({eif.later_party_citation})",
            "denunciation": f"{eif.denunciation_period} after receipt ({eif.denunciation_citation})",
            "verified": eif.verified,
        },
        "offences": [{"key": o.key, "label": o.label, "article": str(o.citation)} for o in p.offences],
        "serious_crime_min_years": p.serious_crime_min_years,
        "never_grounds": list(p.never_grounds),
        "request_types": [request_type(t) for t in p.request_types],
    }
