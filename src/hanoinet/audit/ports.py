"""What the audit service needs from storage: an append-only log whose head is locked while an entry is chained."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from hanoinet.audit.domain import AuditEntry
from hanoinet.platform.chain import HashChain
from hanoinet.platform.events import Channel, Outcome


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """A filter over the audit log; every field narrows the result."""

    actor: str | None = None
    action: str | None = None
    subject: str | None = None
    object_id: str | None = None
    outcome: Outcome | None = None
    channel: Channel | None = None
    since: datetime | None = None
    until: datetime | None = None
    after_seq: int | None = None
    """Only entries after this one: a stable cursor while new entries keep arriving (exports, pages)."""
    before_seq: int | None = None
    """Only entries before this one."""
    oldest_first: bool = False
    limit: int = 100
    offset: int = 0


class AuditLog(HashChain[AuditEntry], Protocol):
    """The append-only, hash-chained audit log."""

    def entries(self, query: AuditQuery) -> Sequence[AuditEntry]:
        """Entries matching the query, newest first."""

    def all(self) -> Iterator[AuditEntry]:
        """Every entry, oldest first (for verification and export)."""
