"""The exporter the services use: court packages on disk and CASE/UCO graphs, signed with the node's key."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hanoinet.evidence.case_uco import NodeInfo, case_bundle
from hanoinet.evidence.court_package import PackageEntry, write_package
from hanoinet.evidence.domain import CustodyEvent, EvidenceItem
from hanoinet.evidence.ports import PackageOrder
from hanoinet.platform.keys import NodeKeys


class FileExporter:
    """Writes court packages and builds CASE bundles for one node."""

    def __init__(self, keys: NodeKeys, name: str, state: str) -> None:
        self.keys = keys
        self.node = NodeInfo(name=name, state=state, public_key_hex=keys.public_key_hex())

    def court_package(self, dest: Path, order: PackageOrder) -> Path:
        entries = [PackageEntry(item, content) for item, content in order.items]
        return write_package(
            dest,
            entries,
            order.events,
            order.checkpoints,
            self.keys,
            self.node,
            case_reference=order.case_reference,
            exported_by=order.exported_by,
            exported_at=order.exported_at,
        )

    def case_graph(
        self, items: Sequence[EvidenceItem], events: Sequence[CustodyEvent], *, case_reference: str
    ) -> dict[str, Any]:
        return case_bundle(items, events, node=self.node, case_reference=case_reference)
