"""How this node presents itself to and talks with other nodes, and the error when it was built without them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import ClassVar

from hanoinet.federation.domain import Backoff
from hanoinet.platform.errors import OFFLINE, ErrorKind
from hanoinet.platform.permissions import NodeRole


@dataclass(frozen=True)
class NodeProfile:
    """How this node describes itself in its directory entry."""

    authority: str
    roles: tuple[NodeRole, ...]
    languages: tuple[str, ...]
    hours: str
    endpoint: str


@dataclass(frozen=True)
class RefusalLimits:
    """What refused transmissions may cost (``HANOINET_FEDERATION_REFUSAL_*``): a token bucket per source address
    (``rate`` a second, ``burst`` at most), and per ``window`` the first ``cap`` refusals of an address (``total``
    of all addresses) recorded one by one, the rest counted; at most ``sources`` addresses tracked at once."""

    rate: float = 1.0
    burst: int = 30
    cap: int = 20
    total: int = 200
    window: timedelta = timedelta(minutes=1)
    sources: int = 10_000


@dataclass(frozen=True)
class FederationSettings:
    """How this node talks to others: freshness window, batch size, retries, leases, what refusals may cost."""

    window: timedelta = timedelta(minutes=5)
    batch_size: int = 500
    backoff: Backoff = field(default_factory=Backoff)
    lease: timedelta = timedelta(seconds=30)
    refusals: RefusalLimits = field(default_factory=RefusalLimits)
    allow_private_peers: bool = False
    """Connect to peers at private, loopback and link-local addresses (``HANOINET_ALLOW_PRIVATE_PEERS``)."""
    directory_urls: tuple[str, ...] = ()
    """Where ``directory sync`` may fetch a register, besides trusted directory nodes' confirmed endpoints."""
    max_answer_bytes: int = 16 * 1024 * 1024
    """The longest answer read from a peer (``HANOINET_FEDERATION_MAX_ANSWER_BYTES``): longer ones are cut off."""


class NotOnNetwork(RuntimeError):  # noqa: N818 - names the condition, like the domain's errors
    """The node was built without a federation identity (or without a State) and cannot talk to other nodes."""

    error_kind: ClassVar[ErrorKind] = OFFLINE
