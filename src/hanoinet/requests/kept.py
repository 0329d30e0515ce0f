"""The documents of a request kept in the vault: the formal document sent, the documents received with it.

A request handled off the network leaves a paper trail the node did not make or carry itself: the signed PDF sent
by e-mail, the letter received through the diplomatic channel, the other State's answer by post. Each is kept as
an evidence item of the request's case, with its custody from the moment it was sent or received, and named after
the request so that the request page lists them (``kept``) and a court can be shown what was exchanged.
"""

from __future__ import annotations

import hashlib
import io
from typing import TYPE_CHECKING

from hanoinet import __version__
from hanoinet.evidence import service as evidence
from hanoinet.evidence.domain import EvidenceItem, HandlingConditions, ItemDescription
from hanoinet.platform.events import Actor
from hanoinet.platform.ports import MAX_PAGE
from hanoinet.requests import service as requests

if TYPE_CHECKING:
    from hanoinet.app.node import Node


def _description(request_id: str, what: str) -> str:
    return f"{what} document of request {request_id}"


def keep(
    node: Node, request_id: str, data: bytes, *, actor: Actor, what: str, source: str, method: str, file_name: str
) -> EvidenceItem:
    """Keep a document of a request (``what``: sent, received) in the vault, with its custody: acquired by
    ``actor`` from ``source``, by ``method``."""
    view = requests.get_request(node, request_id)
    digest = hashlib.sha256(data).hexdigest()
    described = ItemDescription(
        case_id=view.request.case_id,
        exhibit=f"{request_id[:8]}-{what}-{digest[:12]}",
        source=source[:256],
        acquisition_method=method,
        acquisition_tool=f"hanoinet {__version__}",
        acquired_by=actor.name,
        acquired_at=node.clock.now(),
        description=_description(request_id, what),
        file_name=file_name[:256],
    )
    return evidence.ingest(node, io.BytesIO(data), described, HandlingConditions(), actor=actor.principal)


def kept(node: Node, case_id: str, request_id: str) -> list[EvidenceItem]:
    """The documents kept for a request, oldest first (items of its case named after it)."""
    names = {_description(request_id, what) for what in ("sent", "received")}
    found: list[EvidenceItem] = []
    offset = 0
    while True:
        page = evidence.list_items(node, case_id=case_id, limit=MAX_PAGE, offset=offset)
        found += [i for i in page if i.described.description in names]
        if len(page) < MAX_PAGE:
            return sorted(found, key=lambda i: i.described.acquired_at)
        offset += MAX_PAGE
