"""The audit log: who did what, when, from where, with what outcome — append-only and hash-chained.

Every sign-in (and failed attempt), every read of a request or evidence item, every change, export and transfer,
and every refusal is one entry. Each entry commits to the one before (``prev_hash``) and the node signs each entry's
hash, so an entry changed, removed or inserted afterwards breaks the chain from there on, and rewriting the rest of
the chain to hide it would need the node's key. ``hanoinet audit verify`` recomputes all of it.

Actions are named ``subject:verb`` (``request:view``, ``evidence:download``, ``session:login``), and the channel
says where they came from (``web``, ``api``, ``cli``, ``node`` for what other nodes did), as Warehouse tags its
events ``source:subject:action``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from hanoinet.platform.canonical import canonical, utc_iso
from hanoinet.platform.events import Channel, Event, Outcome

AUDIT_GENESIS = "0" * 64


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One entry; ``hash`` commits to every field and to ``prev_hash``."""

    seq: int
    at: datetime
    actor: str
    roles: tuple[str, ...]
    channel: Channel
    action: str
    subject: str  # what kind of thing: request, evidence, case, user, session, node ...
    object_id: str
    outcome: Outcome
    details: dict[str, Any] = field(default_factory=dict)
    remote: str = ""
    prev_hash: str = AUDIT_GENESIS
    hash: str = ""
    signature: bytes = b""

    def body(self) -> dict[str, Any]:
        """The fields the hash covers."""
        return {
            "seq": self.seq,
            "at": utc_iso(self.at),
            "actor": self.actor,
            "roles": list(self.roles),
            "channel": self.channel.value,
            "action": self.action,
            "subject": self.subject,
            "object_id": self.object_id,
            "outcome": self.outcome.value,
            "details": self.details,
            "remote": self.remote,
            "prev_hash": self.prev_hash,
        }

    def computed_hash(self) -> str:
        """The hash this entry must carry, recomputed from its fields."""
        return hashlib.sha256(canonical(self.body())).hexdigest()

    def message(self) -> bytes:
        """What the node signs: the entry's place and hash."""
        return canonical({"log": "hanoinet-audit", "seq": self.seq, "hash": self.hash})


FIELD_LIMITS = {"actor": 256, "action": 64, "subject": 32, "object_id": 128, "remote": 64}
"""The longest each text field may be, as stored. An entry is cut to these *before* it is hashed, so that what is
stored is exactly what was hashed: a 200-character user name typed at sign-in must not make the log look
tampered with."""


def chain(head: tuple[int, str], event: Event, at: datetime) -> AuditEntry:
    """The entry that records ``event`` after the head (seq, hash), with its hash computed (unsigned)."""
    seq, prev = head
    entry = AuditEntry(
        seq=seq + 1,
        at=at,
        actor=event.actor[: FIELD_LIMITS["actor"]],
        roles=event.roles,
        channel=event.channel,
        action=event.action[: FIELD_LIMITS["action"]],
        subject=event.subject[: FIELD_LIMITS["subject"]],
        object_id=event.object_id[: FIELD_LIMITS["object_id"]],
        outcome=event.outcome,
        details=dict(event.details),
        remote=event.remote[: FIELD_LIMITS["remote"]],
        prev_hash=prev,
    )
    return replace(entry, hash=entry.computed_hash())


def check_log(entries: Sequence[AuditEntry], head: tuple[int, str], verify: Any) -> list[str]:
    """Every break in the log (entries in seq order): a changed, missing, reordered or unsigned entry, or a head
    that does not match the last entry. ``verify(signature, message)`` checks the node's signature."""
    problems = []
    prev = AUDIT_GENESIS
    for expected, entry in enumerate(entries, start=1):
        if entry.seq != expected:
            problems.append(f"audit entry {expected} is missing (found {entry.seq} in its place)")
        if entry.prev_hash != prev:
            problems.append(f"audit entry {entry.seq} does not follow the entry before it (chain broken)")
        if entry.computed_hash() != entry.hash:
            problems.append(f"audit entry {entry.seq} was altered: its contents do not match its hash")
        elif not verify(entry.signature, entry.message()):
            problems.append(f"audit entry {entry.seq}: the node's signature does not match")
        prev = entry.hash
    last = (entries[-1].seq, entries[-1].hash) if entries else (0, AUDIT_GENESIS)
    if last != head:
        problems.append(f"the log's head records entry {head[0]}, but the last entry is {last[0]} (entries removed?)")
    return problems
