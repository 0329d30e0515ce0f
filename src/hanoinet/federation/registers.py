"""Which registers this node takes: only those of a node it trusts as a directory.

A register (Art 41(2): the list of points of contact a directory keeps) carries other nodes' entries and the key
ids its publisher declares revoked. Each entry is still checked on its own signature, but the revocations are
taken on the publisher's word: a register from any trusted peer would let a central authority silence every node
it names. So the publisher's entry in this node's directory — what an operator decided to trust, not what the
register says of itself — must hold the directory role; otherwise the register is refused whole, revocations
included, and the refusal is audited.

The rule sits here, not in ``directory.import_register``, while that module is being changed by another part of
issue 11; the lead may fold it in at merge. Every caller that imports a register goes through ``import_register``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from hanoinet.audit import service as audit
from hanoinet.federation import directory
from hanoinet.federation.domain import KeyStatus, KeyUse
from hanoinet.platform.events import Outcome
from hanoinet.platform.logsafe import safe
from hanoinet.platform.permissions import NodeRole

if TYPE_CHECKING:
    from hanoinet.app.node import Node


def check_publisher(node: Node, signed: Mapping[str, Any]) -> None:
    """Raise EntryRefused (and audit it) if the register is signed by a trusted node that is not a directory here.

    An unknown publisher or a register its current key did not sign is left to ``directory.import_register``,
    which refuses it: only a refusal this node can attribute to its signer is audited as that node's.
    """
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
    if publisher is None or not keys:
        return
    document, kids = identity.verify_document(signed, keys)
    if not kids or NodeRole.DIRECTORY in publisher.entry.roles:
        return
    roles = ", ".join(r.value for r in publisher.entry.roles)
    revoked = document.get("revoked_kids")
    entries = document.get("entries")
    with node.uow() as uow:
        event = audit.by_node(
            publisher_id,
            "register:refuse",
            "register",
            outcome=Outcome.REFUSED,
            reason="not_a_directory",
            roles=roles,
            entries=len(entries) if isinstance(entries, list) else 0,
            revocations=len(revoked) if isinstance(revoked, list) else 0,
        )
        audit.record(uow, node, event)
        uow.commit()
    raise directory.EntryRefused(
        f"the register's publisher {safe(publisher_id, 64)} is trusted here as {roles}, not as a directory: "
        "a register, and the revocations in it, is taken only from a node trusted as a directory"
    )


def import_register(node: Node, signed: Mapping[str, Any]) -> directory.SyncResult:
    """Import a register if its publisher is trusted here as a directory (``check_publisher``), entry by entry."""
    check_publisher(node, signed)
    return directory.import_register(node, signed)
