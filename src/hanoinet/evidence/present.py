"""The JSON shapes of evidence items and custody events, shared by the API and the CLI."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hanoinet.evidence.domain import CustodyEvent, EvidenceItem
from hanoinet.platform.present import _iso

if TYPE_CHECKING:
    from hanoinet.evidence.service import VerifyReport


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


def verify_report(report: VerifyReport) -> dict[str, Any]:
    """A verify's findings: what was checked (how much of the ledger, whether all of it) and every problem."""
    return {
        "ok": report.ok,
        "items": report.items,
        "events": report.events,
        "checkpoints": report.checkpoints,
        "full": report.full,
        "since": report.since,
        "item_events": report.item_events,
        "problems": report.problems,
    }
