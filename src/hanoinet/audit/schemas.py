"""The OpenAPI shapes of the audit routes: what ``audit.api`` writes."""

from __future__ import annotations

from typing import Any

from hanoinet.platform.api import DateTime, Shape


class AuditEntryOut(Shape):
    """An audit entry with its hashes, so that a copy can be checked against the node's log later."""

    seq: int
    at: DateTime
    actor: str
    roles: list[str]
    channel: str
    action: str
    subject: str
    object_id: str
    outcome: str
    details: dict[str, Any]
    remote: str
    prev_hash: str
    hash: str


class AuditVerifyOut(Shape):
    """What recomputing the chain found."""

    ok: bool
    entries: int
    problems: list[str]
