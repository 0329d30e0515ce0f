"""Evidence items, their handling conditions, and the hash-chained chain-of-custody ledger.

Content lives in the vault (encrypted, content-addressed, write-once); this module holds what a court asks about
it: what the item is, who may see it and why, and every action on it, each custody event committing to the one
before, so that changing, removing or reordering any event breaks the chain from that point on. An item's
descriptive metadata is committed to by its acquisition event (``metadata_digest``), so a changed metadata row is
detected too. The node signs checkpoints of the chain's head with its Ed25519 key (done by an adapter: signing is
I/O with a key, not domain logic).
"""

from __future__ import annotations

import base64
import hashlib
import struct
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import date, datetime
from enum import StrEnum
from typing import Any, ClassVar, Literal

from hanoinet.platform.canonical import canonical, utc_iso
from hanoinet.platform.errors import FORBIDDEN, REJECTED, DomainError, ErrorKind, Issue, ValidationFailed
from hanoinet.platform.permissions import Permission, Principal, Role, may

GENESIS = "0" * 64
"""The ``prev_hash`` of the first custody event."""

HASH_NAMES = ("sha256", "sha1", "md5")
"""SHA-256 always; SHA-1 and MD5 only on request, for court systems that still expect them."""


class CustodyAction(StrEnum):
    """Every action on an item; each is a custody event."""

    ACQUIRE = "acquire"
    SEAL = "seal"
    VIEW = "view"
    DOWNLOAD = "download"
    EXPORT = "export"
    TRANSFER_OUT = "transfer_out"
    TRANSFER_IN = "transfer_in"
    VERIFY = "verify"
    DISPOSE = "dispose"
    ACCESS_REFUSED = "access_refused"


class AccessDenied(DomainError):  # noqa: N818 - names the outcome, like HTTP 403
    """The handling conditions do not let this principal do this; the refusal itself is a custody event."""

    error_kind: ClassVar[ErrorKind] = FORBIDDEN


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a received item came from: the node (and State) that first sent it, whose prior authorization any
    onward transfer to a third State needs (Art 36), and its id for the item there."""

    node_id: str
    state: str
    item_id: str

    def as_dict(self) -> dict[str, str]:
        """Plain data."""
        return {"node_id": self.node_id, "state": self.state, "item_id": self.item_id}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Origin:
        """Inverse of ``as_dict``."""
        return cls(str(data["node_id"]), str(data["state"]), str(data["item_id"]))


@dataclass(frozen=True, slots=True)
class HandlingConditions:
    """What the sender or acquirer allows (Art 36; speciality, Art 40): who may see it, for what, until when."""

    allowed_roles: tuple[Role, ...] = (Role.INVESTIGATOR, Role.PROSECUTOR, Role.CENTRAL_AUTHORITY)
    allowed_users: tuple[str, ...] = ()
    purpose: str = ""
    retention_until: date | None = None
    onward_transfer_allowed: bool = False
    origin: Origin | None = None
    """Set on items received from another State: they travel on only with its consent."""

    def permits(self, principal: Principal) -> bool:
        """True if the principal may see the content: by name, or by one of its roles."""
        return principal.name in self.allowed_users or any(r in self.allowed_roles for r in principal.roles)

    def as_dict(self) -> dict[str, Any]:
        """Plain data, for storage, manifests and the metadata digest."""
        return {
            "allowed_roles": sorted(r.value for r in self.allowed_roles),
            "allowed_users": sorted(self.allowed_users),
            "purpose": self.purpose,
            "retention_until": self.retention_until.isoformat() if self.retention_until else None,
            "onward_transfer_allowed": self.onward_transfer_allowed,
            # Only when set: the metadata digest of items acquired before federation must not change.
            **({"origin": self.origin.as_dict()} if self.origin else {}),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HandlingConditions:
        """Inverse of ``as_dict``."""
        until = data.get("retention_until")
        return cls(
            allowed_roles=tuple(Role(r) for r in data.get("allowed_roles", ())),
            allowed_users=tuple(data.get("allowed_users", ())),
            purpose=str(data.get("purpose", "")),
            retention_until=date.fromisoformat(until) if until else None,
            onward_transfer_allowed=bool(data.get("onward_transfer_allowed", False)),
            origin=Origin.from_dict(data["origin"]) if data.get("origin") else None,
        )


@dataclass(frozen=True, slots=True)
class ItemDescription:
    """What the person acquiring the evidence says about it."""

    case_id: str
    exhibit: str
    source: str
    acquisition_method: str
    acquisition_tool: str
    acquired_by: str
    acquired_at: datetime
    description: str = ""
    file_name: str = ""

    def as_dict(self) -> dict[str, str]:
        """Plain data, the time in UTC: the one shape of a description in the metadata digest, court package
        manifests and transfer offers, so that what a receiver or a court recomputes is what was committed to."""
        return {**asdict(self), "acquired_at": utc_iso(self.acquired_at)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ItemDescription:
        """Inverse of ``as_dict``: every field must be there (KeyError otherwise); all are text but the time."""
        values: dict[str, Any] = {f.name: str(data[f.name]) for f in fields(cls)}
        values["acquired_at"] = datetime.fromisoformat(data["acquired_at"])
        return cls(**values)


@dataclass(slots=True)
class EvidenceItem:
    """One exhibit: its content's hashes and size, its description, its handling conditions."""

    id: str
    sha256: str
    size: int
    hashes: dict[str, str]
    described: ItemDescription
    conditions: HandlingConditions
    created_at: datetime
    disposed_at: datetime | None = None
    stored_retention_until: date | Literal["same"] | None = "same"
    """What a store's separate index of the retention end says, when it keeps one and it differs from the
    conditions ("same" otherwise): the disposal sweep reads that index, so a change to it must not go unseen."""

    @property
    def retention_expired_on(self) -> date | None:
        """The last day the item may be kept, if its conditions set one."""
        return self.conditions.retention_until


def check_description(described: ItemDescription, conditions: HandlingConditions, now: datetime) -> None:
    """Raise ValidationFailed naming every missing or invalid field of a new item."""
    issues = [
        Issue(name, "is missing")
        for name in ("case_id", "exhibit", "source", "acquisition_method", "acquired_by")
        if not str(getattr(described, name)).strip()
    ]
    if described.acquired_at.tzinfo is None:
        issues.append(Issue("acquired_at", "must carry a time zone"))
    elif described.acquired_at > now:
        issues.append(Issue("acquired_at", "is in the future"))
    if conditions.retention_until is not None and conditions.retention_until < now.date():
        issues.append(Issue("retention_until", "is in the past"))
    if not conditions.allowed_roles and not conditions.allowed_users:
        issues.append(Issue("allowed_roles", "nobody could see this item: allow at least one role or user"))
    if issues:
        raise ValidationFailed(issues)


def metadata_digest(item: EvidenceItem) -> str:
    """SHA-256 of everything about an item that must never change after acquisition."""
    return hashlib.sha256(
        canonical(
            {
                "id": item.id,
                "sha256": item.sha256,
                "size": item.size,
                "hashes": item.hashes,
                **item.described.as_dict(),
                "conditions": item.conditions.as_dict(),
                "created_at": utc_iso(item.created_at),
            }
        )
    ).hexdigest()


@dataclass(frozen=True, slots=True)
class CustodyEvent:
    """One entry of the node's custody ledger; ``hash`` commits to every field and to ``prev_hash``."""

    seq: int
    item_id: str
    action: CustodyAction
    actor: str
    at: datetime
    reason: str
    details: dict[str, Any] = field(default_factory=dict)
    prev_hash: str = GENESIS
    hash: str = ""

    def body(self) -> dict[str, Any]:
        """The fields the hash covers."""
        return {
            "seq": self.seq,
            "item_id": self.item_id,
            "action": self.action.value,
            "actor": self.actor,
            "at": utc_iso(self.at),
            "reason": self.reason,
            "details": self.details,
            "prev_hash": self.prev_hash,
        }

    def computed_hash(self) -> str:
        """The hash this event must carry, recomputed from its fields."""
        return hashlib.sha256(canonical(self.body())).hexdigest()

    def as_dict(self) -> dict[str, Any]:
        """The hashed fields and the hash: an event as a court package or a transfer offer carries it."""
        return {**self.body(), "hash": self.hash}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CustodyEvent:
        """Inverse of ``as_dict``, for events read from elsewhere; the hash is taken as given (check it with
        ``computed_hash``). Raises KeyError, TypeError or ValueError on a malformed event."""
        return cls(
            seq=int(data["seq"]),
            item_id=str(data["item_id"]),
            action=CustodyAction(data["action"]),
            actor=str(data["actor"]),
            at=datetime.fromisoformat(data["at"]),
            reason=str(data["reason"]),
            details=dict(data["details"]),
            prev_hash=str(data["prev_hash"]),
            hash=str(data["hash"]),
        )


def next_event(
    head: CustodyEvent | tuple[int, str] | None,
    *,
    item_id: str,
    action: CustodyAction,
    actor: str,
    at: datetime,
    reason: str,
    details: dict[str, Any] | None = None,
) -> CustodyEvent:
    """Return the event that follows ``head`` (an event, or the ledger's (seq, hash)), with its hash computed."""
    seq, prev = (head.seq, head.hash) if isinstance(head, CustodyEvent) else head or (0, GENESIS)
    event = CustodyEvent(
        seq=seq + 1,
        item_id=item_id,
        action=action,
        actor=actor,
        at=at,
        reason=reason,
        details=dict(details or {}),
        prev_hash=prev,
    )
    return replace(event, hash=event.computed_hash())


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A signed statement by the node: "the ledger's event ``seq`` has hash ``head_hash``"."""

    seq: int
    head_hash: str
    signed_at: datetime
    signature: bytes

    def message(self) -> bytes:
        """The bytes that are signed."""
        return canonical({"ledger": "hanoinet-custody", "seq": self.seq, "head_hash": self.head_hash})

    def as_dict(self) -> dict[str, Any]:
        """Plain data, the signature in base64: a checkpoint as a court package or a transfer offer carries it."""
        return {
            "seq": self.seq,
            "head_hash": self.head_hash,
            "signed_at": utc_iso(self.signed_at),
            "signature": base64.b64encode(self.signature).decode(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Checkpoint:
        """Inverse of ``as_dict``; raises KeyError, TypeError or ValueError on a malformed checkpoint."""
        return cls(
            int(data["seq"]),
            str(data["head_hash"]),
            datetime.fromisoformat(data["signed_at"]),
            base64.b64decode(data["signature"], validate=True),
        )


@dataclass(frozen=True, slots=True)
class VerifiedMark:
    """A signed statement by the node: "the ledger was found whole up to event ``seq``, whose hash is ``head_hash``".

    A normal verify checks the chain from the mark on, so its cost follows what was appended since the last one,
    not the whole ledger; a full check (an auditor's, or the node's command line) starts again from the genesis and
    is what catches an event altered before the mark together with every hash after it. The mark is signed so that
    whoever can write the database cannot move it forward over events they altered; an unsigned one (the genesis,
    seq 0) or one that does not verify makes the check a full one.
    """

    seq: int
    head_hash: str
    verified_at: datetime | None = None
    signature: bytes = b""

    def message(self) -> bytes:
        """The bytes that are signed."""
        return canonical({"ledger": "hanoinet-custody-verified", "seq": self.seq, "head_hash": self.head_hash})


VERIFICATION_IS_CUSTODY = Permission.EVIDENCE_WRITE
"""Whose verification of an item is a custody event: those who handle evidence. A read-only role (an auditor, a
duty officer) may verify, but appends nothing to the ledger: its check is recorded in the audit log, as every
access to evidence is — so that reading the ledger never lengthens it, nor can be used to (issue 11)."""

FULL_CHECK = Permission.AUDIT_READ
"""Who may ask for a full check of the ledger from the API or the web UI (the auditor); the node's command line
may always (``hanoinet evidence verify --full``)."""

ACCESS_PERMISSIONS: dict[CustodyAction, Permission] = {
    CustodyAction.VIEW: Permission.EVIDENCE_CONTENT,
    CustodyAction.DOWNLOAD: Permission.EVIDENCE_CONTENT,
    CustodyAction.EXPORT: Permission.EVIDENCE_EXPORT,
    CustodyAction.TRANSFER_OUT: Permission.EVIDENCE_TRANSFER,
}
"""The permission an access recorded in custody needs, whatever the entry point: a principal whose roles do not
allow it is refused before the handling conditions are looked at, and appends nothing (its refusal is in the
audit log, where the route's guard records it)."""


def records_its_verification(principal: Principal) -> bool:
    """True if ``principal``'s verification of an item is a custody event (see ``VERIFICATION_IS_CUSTODY``)."""
    return may(principal.roles, VERIFICATION_IS_CUSTODY)


def check_chain(events: Sequence[CustodyEvent], *, after: int = 0, prev: str = GENESIS) -> list[str]:
    """Return every break in the ledger (events in seq order): a changed, missing or reordered event.

    ``after`` and ``prev`` start the check past a verified mark: the first event must be ``after + 1`` and follow
    ``prev``.
    """
    problems = []
    for expected, event in enumerate(events, start=after + 1):
        if event.seq != expected:
            problems.append(f"custody event {expected} is missing (found {event.seq} in its place)")
        if event.prev_hash != prev:
            problems.append(f"custody event {event.seq} does not follow the event before it (chain broken)")
        if event.computed_hash() != event.hash:
            problems.append(f"custody event {event.seq} was altered: its contents do not match its hash")
        prev = event.hash
    return problems


def check_item(item: EvidenceItem, history: Iterable[CustodyEvent]) -> list[str]:
    """Return problems between an item's row and its custody history (metadata changed, disposal unrecorded)."""
    events = list(history)
    problems = []
    acquired = next(
        (
            e
            for e in events
            if e.action is CustodyAction.ACQUIRE
            or (e.action is CustodyAction.TRANSFER_IN and "metadata_digest" in e.details)
        ),
        None,
    )
    if acquired is None:
        problems.append(f"item {item.id}: no acquisition event in the custody ledger")
    elif acquired.details.get("metadata_digest") != metadata_digest(item) or item.stored_retention_until != "same":
        problems.append(f"item {item.id}: its metadata differ from what was recorded at acquisition")
    disposed = any(e.action is CustodyAction.DISPOSE for e in events)
    if (item.disposed_at is not None) != disposed:
        problems.append(f"item {item.id}: its disposal state does not match the custody ledger")
    return problems


SEALED_RECORD_HEAD = struct.Struct(">IB")
"""A sealed record's clear head: its plaintext length and its flags (the vault's blob format, v1)."""
SEALED_RECORD_TAG = 16


class RecordTooLong(DomainError):  # noqa: N818 - names the outcome
    """A sealed record states more content bytes than its blob's chunk size: refused before any of it is read."""

    error_kind: ClassVar[ErrorKind] = REJECTED


class RecordFramer:
    """Cuts a stream of sealed records (length, flags, ciphertext, tag) into whole records, holding at most one
    record's worth of bytes: a record whose stated length exceeds ``chunk_size`` is refused the moment its five-byte
    head arrives (``RecordTooLong``), so a declared 4 GiB record costs nothing but its head (issue 11)."""

    def __init__(self, chunk_size: int) -> None:
        self.chunk_size = chunk_size
        self._buffer = bytearray()

    def feed(self, piece: bytes) -> list[bytes]:
        """Take the next bytes of the stream; return the records they complete, in order."""
        self._buffer += piece
        records = []
        while len(self._buffer) >= SEALED_RECORD_HEAD.size:
            length, _ = SEALED_RECORD_HEAD.unpack_from(self._buffer)
            if length > self.chunk_size:
                self._buffer.clear()
                raise RecordTooLong(
                    f"a record states {length} content bytes, more than the item's chunk size ({self.chunk_size})"
                )
            whole = SEALED_RECORD_HEAD.size + length + SEALED_RECORD_TAG
            if len(self._buffer) < whole:
                break
            records.append(bytes(self._buffer[:whole]))
            del self._buffer[:whole]
        return records

    @property
    def pending(self) -> int:
        """Bytes of an incomplete record held (dropped if the stream ends: the sender resumes at the last whole one)."""
        return len(self._buffer)
