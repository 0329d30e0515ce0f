"""Put a node over in-memory fakes on the network: real keys (JOSE), a signed directory entry per peer State.

Sending a request needs a node of the requested State to carry it; unit tests that send give their node such a
peer through the same services an operator uses (the peer signs its entry, this node imports it).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from hanoinet.app.node import Node
from hanoinet.federation import directory
from hanoinet.federation.jose import JoseIdentity
from hanoinet.federation.settings import NodeProfile
from hanoinet.platform.permissions import NodeRole
from tests.fakes import FakeUnitOfWork, Store


def on_network(node: Node, keys: Path, node_id: str | None = None) -> Node:
    """The node with keys of its own and a profile (both roles), so that it can sign what it sends."""
    state = node.node_state or "VNM"
    node_id = node_id or f"{state.lower()}-test"
    profile = NodeProfile(
        authority=f"{state} central authority and 24/7 point of contact (test)",
        roles=(NodeRole.CENTRAL_AUTHORITY, NodeRole.POINT_OF_CONTACT),
        languages=("en",),
        hours="24/7",
        endpoint=f"https://{node_id}.example.test",
    )
    return replace(node, identity=JoseIdentity(keys / node_id, node_id, state), profile=profile)


def add_peer(node: Node, keys: Path, state: str) -> str:
    """A node of ``state`` signs its entry and ``node`` imports it; returns the peer's node id."""
    other = Node(uow=lambda: FakeUnitOfWork(Store()), packs=node.packs, catalog=node.catalog, clock=node.clock)
    peer = on_network(replace(other, node_state=state), keys)
    directory.import_entry(node, directory.publish_own_entry(peer).signed)
    assert peer.identity is not None
    return peer.identity.node_id
