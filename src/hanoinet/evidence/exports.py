"""Exports for courts and forensic tools: a signed court package, and CASE/UCO JSON-LD.

Exporting content is an access like a download: the handling conditions are checked for every item and the export
is recorded in each item's custody *before* the package is written, so that the package carries its own export.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hanoinet.audit import service as audit
from hanoinet.cases.service import get_case
from hanoinet.evidence.domain import Checkpoint, CustodyAction, CustodyEvent, EvidenceItem
from hanoinet.evidence.ports import Exporter, PackageOrder
from hanoinet.evidence.service import Custody, authorise, require_access
from hanoinet.platform.errors import Issue, ValidationFailed
from hanoinet.platform.permissions import Principal

if TYPE_CHECKING:
    from hanoinet.app.node import Node


def _exporter(node: Node) -> Exporter:
    if node.exporter is None:
        raise RuntimeError("this node was built without an exporter")
    return node.exporter


def _select(node: Node, case: str, item_ids: Sequence[str]) -> tuple[str, list[EvidenceItem]]:
    found = get_case(node, case)
    with node.uow() as uow:
        items = list(uow.evidence.list(case_id=found.id, limit=100_000))
    if item_ids:
        wanted = set(item_ids)
        missing = wanted - {i.id for i in items}
        if missing:
            raise ValidationFailed(
                [Issue("items", f"not items of case {found.reference}: {', '.join(sorted(missing))}")]
            )
        items = [i for i in items if i.id in wanted]
    if not items:
        raise ValidationFailed([Issue("items", f"case {found.reference} has no evidence to export")])
    return found.reference, sorted(items, key=lambda i: i.described.exhibit)


def _custody(node: Node, items: Sequence[EvidenceItem]) -> tuple[list[CustodyEvent], list[Checkpoint]]:
    with node.uow() as uow:
        events = [e for i in items for e in uow.ledger.history(i.id)]
        checkpoints = list(uow.ledger.checkpoints())
    seqs = {e.seq for e in events}
    return sorted(events, key=lambda e: e.seq), [c for c in checkpoints if c.seq in seqs]


def export_package(
    node: Node, case: str, dest: Path, *, principal: Principal, reason: str, item_ids: Sequence[str] = ()
) -> Path:
    """Write a court package of a case's items (or some of them) with their custody, signed by the node."""
    vault, _ = node.evidence_store()
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise FileExistsError(f"{dest} exists and is not empty: a package is written only into a new place")
    reference, items = _select(node, case, item_ids)
    # Items this principal may not see come first: the refusal is recorded and nothing else is marked exported.
    for item in sorted(items, key=lambda i: i.conditions.permits(principal)):
        if item.disposed_at is None:
            authorise(
                node,
                item.id,
                principal=principal,
                action=CustodyAction.EXPORT,
                reason=reason,
                details={"format": "court-package", "destination": dest.name},
            )
    events, checkpoints = _custody(node, items)

    def stream(sha256: str) -> Callable[[], Iterable[bytes]]:
        return lambda: vault.open_stream(sha256)

    order = PackageOrder(
        [(i, None if i.disposed_at else stream(i.sha256)) for i in items],
        events,
        checkpoints,
        case_reference=reference,
        exported_by=principal.name,
        exported_at=node.clock.now(),
    )
    return _exporter(node).court_package(dest, order)


def export_case_graph(
    node: Node, case: str, *, principal: Principal, reason: str, item_ids: Sequence[str] = ()
) -> dict[str, Any]:
    """Return a case's items and custody as CASE/UCO JSON-LD (records only, no content); recorded in custody."""
    require_access(principal, CustodyAction.EXPORT)
    _, signer = node.evidence_store()
    if not reason.strip():
        raise ValidationFailed([Issue("reason", "say why you export this (it is recorded in custody)")])
    reference, items = _select(node, case, item_ids)
    now = node.clock.now()
    with node.uow() as uow:
        custody = Custody(uow, signer, principal.name, now)
        for item in items:
            custody.record(item.id, CustodyAction.EXPORT, reason, format="case-uco-jsonld")
        audit.attach(uow, case)
        uow.commit()
    events, _ = _custody(node, items)
    return _exporter(node).case_graph(items, events, case_reference=reference)
