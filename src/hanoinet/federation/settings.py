"""How this node presents itself to and talks with other nodes, and the error when it was built without them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import ClassVar

from hanoinet.federation.domain import Backoff, NodeRole
from hanoinet.platform.errors import OFFLINE, ErrorKind


@dataclass(frozen=True)
class NodeProfile:
    """How this node describes itself in its directory entry."""

    authority: str
    roles: tuple[NodeRole, ...]
    languages: tuple[str, ...]
    hours: str
    endpoint: str


@dataclass(frozen=True)
class FederationSettings:
    """How this node talks to others: freshness window, batch size, retries, leases."""

    window: timedelta = timedelta(minutes=5)
    batch_size: int = 500
    backoff: Backoff = field(default_factory=Backoff)
    lease: timedelta = timedelta(seconds=30)


class NotOnNetwork(RuntimeError):  # noqa: N818 - names the condition, like the domain's errors
    """The node was built without a federation identity (or without a State) and cannot talk to other nodes."""

    error_kind: ClassVar[ErrorKind] = OFFLINE
