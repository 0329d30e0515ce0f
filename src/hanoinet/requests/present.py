"""Plain-data presentations of domain objects, shared by the CLI's JSON and the HTTP API's responses."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from hanoinet.federation.present import message
from hanoinet.platform.present import _iso, issue
from hanoinet.requests.clocks import Clock
from hanoinet.requests.ports import RequestSummary
from hanoinet.requests.service import Preflight, RequestView
from hanoinet.treaty.domain import BasisFinding

DUE_SOON_SECONDS = 24 * 3600


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
        "language": r.language,
        "translations": r.translations,
        "confidential": r.confidential,
        "created_at": r.created_at.isoformat(),
        "version": r.version,
        "peer": r.peer,
        "means": r.means.value if r.means else None,
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


def basis(finding: BasisFinding) -> dict[str, Any]:
    """A legal-basis finding under one instrument: each State's standing, what binds both, the sentence."""
    return {
        "instrument": finding.instrument,
        "on": finding.on.isoformat(),
        "holds": finding.holds,
        "parties": dict(zip(finding.states, finding.parties, strict=True)),
        "instruments_binding_both": list(finding.binding),
        "finding": finding.sentence(),
        "article": finding.citation,
    }


def preflight(checked: Preflight) -> dict[str, Any]:
    """What Send would find now: ``complete`` for the contents alone, ``ready`` for everything, and every
    problem (contents, then legal basis, then the node to carry it) with its field and article."""
    return {
        "complete": not checked.issues,
        "ready": checked.ready,
        "issues": [issue(i) for i in checked.problems],
        "legal_basis": basis(checked.basis) if checked.basis else None,
        "node": checked.route.peer if checked.route else None,
    }
