"""Plain-data presentations of audit entries, shared by the API's responses and ``hanoinet audit list --json``.

One mapping of an entry's fields, so that the API and the command line never disagree on how an entry reads (its
time, its roles, the enums' values); the command line's listing shows the entry without the two fields it has
never carried. Imports nothing heavy: the command line loads it at start.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hanoinet.audit.domain import AuditEntry

LISTING_OMITS = frozenset({"subject", "prev_hash"})
"""The fields of ``entry`` that ``hanoinet audit list --json`` leaves out (its output stays as it always was)."""


def entry(e: AuditEntry) -> dict[str, Any]:
    """An audit entry with its hashes, so that a copy can be checked against the node's log later."""
    return {
        "seq": e.seq,
        "at": e.at.isoformat(),
        "actor": e.actor,
        "roles": list(e.roles),
        "channel": e.channel.value,
        "action": e.action,
        "subject": e.subject,
        "object_id": e.object_id,
        "outcome": e.outcome.value,
        "details": e.details,
        "remote": e.remote,
        "prev_hash": e.prev_hash,
        "hash": e.hash,
    }


def listed(e: AuditEntry) -> dict[str, Any]:
    """An entry as ``hanoinet audit list --json`` shows it: ``entry`` without ``LISTING_OMITS``, in the same order."""
    return {name: value for name, value in entry(e).items() if name not in LISTING_OMITS}
