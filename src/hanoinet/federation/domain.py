"""Federation: who the other nodes are, which of them to trust with what, and the rules messages between them obey.

Pure rules only. Signing, encrypting and HTTP are adapters; the services combine them. What lives here:

- **Directory entries** (Art 41: the register of points of contact; Art 40: central authorities): a node's State,
  authority, roles, languages, hours, endpoint and public keys, with a serial number that grows with every change.
  The trust rules for accepting a new or changed entry (``decide_entry``): a key change must be signed by the key it
  replaces, unless an operator replaces the entry deliberately; a revoked key never comes back.
- **Messages**: their kinds and claims. Which side of a request may perform which action is a rule of requests
  (``requests.domain.ACTION_SIDES``), which the requests service applies to what a peer sends.
- **Freshness and retries**: the window a transmission's timestamp must fall in, and the exponential backoff
  between delivery attempts.
- **Onward transfer** (Art 36): evidence received from another State goes to a third one only with the originator's
  consent, scoped to the destination.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, ClassVar

from hanoinet.evidence.domain import Origin
from hanoinet.platform.errors import REJECTED, DomainError, ErrorKind, Issue, ValidationFailed
from hanoinet.platform.language_tags import LANGUAGE_TAG
from hanoinet.platform.permissions import NodeRole

PROTOCOL_VERSION = 1
TYP_MESSAGE = "hanoinet-message+jws"
TYP_BATCH = "hanoinet-batch+jws"
TYP_RECEIPT = "hanoinet-receipt+jws"
TYP_TRANSFER_RECEIPT = "hanoinet-transfer-receipt+jws"
TYP_ENTRY = "hanoinet-entry+jws"
TYP_REGISTER = "hanoinet-register+jws"
TYP_SEALED = "hanoinet-sealed+jwe"
TYP_SECRET = "hanoinet-secret+jwe"  # noqa: S105 - a JOSE type name, not a secret
"""JOSE ``typ`` values: a signature made for one purpose cannot be passed off as another."""
NODE_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")
MAX_TEXT = 500
IDENTITY_FIELDS = ("state", "authority", "roles", "endpoint")
"""The fields of a directory entry that say who a node is (its State, authority and roles: which requests it is
given) and where it is reached (its endpoint: where this node sends them). A node's own signature proves only that
it holds its key, not that it speaks for another State or may point this node's requests elsewhere: a change of any
of them waits for an operator here (``directory.confirm_change``); keys, hours and languages change on the node's
own word."""


class EntryStatus(StrEnum):
    """Whether a peer is trusted."""

    ACTIVE = "active"
    REVOKED = "revoked"  # every key of the node revoked: nothing from it is accepted any more


class KeyStatus(StrEnum):
    """Whether a peer's key may be used."""

    CURRENT = "current"  # the key its latest entry publishes
    RETIRED = "retired"  # replaced by a rotation: no longer accepted for new transmissions
    REVOKED = "revoked"  # compromised or withdrawn: refused from now on, whatever it signed


class KeyUse(StrEnum):
    """What a node's key is for (the JWK ``use`` parameter, RFC 7517): one never stands in for the other."""

    SIGNING = "sig"
    ENCRYPTION = "enc"


class MessageKind(StrEnum):
    """What a node-to-node message carries."""

    REQUEST = "request"  # a request document, sent by the requesting State
    ACTION = "action"  # a state change of a request: acknowledge, ask for information, refuse with grounds ...
    CORRESPONDENCE = "correspondence"  # free text about a request
    SPONTANEOUS_INFORMATION = "spontaneous_information"  # without a request (Art 40; Art 51 for proceeds)
    READ = "read"  # the recipient's people have opened these messages
    TRANSFER_OFFER = "transfer_offer"  # evidence about to be sent: manifest, custody, handling conditions
    TRANSFER_RECEIPT = "transfer_receipt"  # evidence received whole and verified
    CONSENT_REQUEST = "consent_request"  # may this item go on to a third State? (Art 36)
    CONSENT_DECISION = "consent_decision"  # the originator's answer
    ENTRY = "entry"  # this node's new directory entry (after a key rotation), pushed ahead of what it signs


class MessageStatus(StrEnum):
    """Where an outgoing message stands, or how an incoming one was taken."""

    PENDING = "pending"  # in the outbox
    DELIVERED = "delivered"  # the recipient's signed receipt says accepted (or already had it)
    REJECTED = "rejected"  # the recipient's signed receipt says it will not take it, and why
    ACCEPTED = "accepted"  # incoming: committed here
    REFUSED = "refused"  # incoming: not taken, with the reason sent back in the receipt


class MessageOutcome(StrEnum):
    """What a signed receipt says of one message of a transmission (the sender marks it delivered or rejected)."""

    ACCEPTED = "accepted"  # applied and committed here
    DUPLICATE = "duplicate"  # received before and accepted then: not applied again
    REFUSED = "refused"  # not taken; the receipt gives the reason
    PENDING = "pending"  # still being taken: never in a signed receipt


class ReceiptDirection(StrEnum):
    """Whether a kept receipt was issued here (for what this node took) or received (for what it delivered)."""

    ISSUED = "out"
    RECEIVED = "in"


# --------------------------------------------------------------------------------------------------------------
# Directory entries


@dataclass(frozen=True, slots=True)
class PublicKey:
    """A public key as a JWK (RFC 7517) with its thumbprint (RFC 7638) as ``kid``."""

    kid: str
    jwk: Mapping[str, Any]

    def as_dict(self) -> dict[str, Any]:
        """The JWK with its kid, as published."""
        return {**dict(self.jwk), "kid": self.kid}


@dataclass(frozen=True, slots=True)
class DirectoryEntry:
    """A node as it describes itself: signed by its own key, published to other nodes and directories."""

    node_id: str
    state: str
    authority: str
    roles: tuple[NodeRole, ...]
    languages: tuple[str, ...]
    hours: str
    endpoint: str
    signing_key: PublicKey
    encryption_key: PublicKey
    custody_key: str
    """Hex Ed25519 public key that signs the node's custody-ledger checkpoints (a separate, long-lived key)."""
    serial: int
    issued_at: datetime
    revoked_kids: tuple[str, ...] = ()
    """Keys this node declares revoked (its own earlier keys), so that nobody accepts them again."""

    def document(self) -> dict[str, Any]:
        """Plain data, the form that is signed and published."""
        return {
            "hanoinet_entry": PROTOCOL_VERSION,
            "node_id": self.node_id,
            "state": self.state,
            "authority": self.authority,
            "roles": [r.value for r in self.roles],
            "languages": list(self.languages),
            "hours": self.hours,
            "endpoint": self.endpoint,
            "signing_key": self.signing_key.as_dict(),
            "encryption_key": self.encryption_key.as_dict(),
            "custody_key": self.custody_key,
            "serial": self.serial,
            "issued_at": self.issued_at.astimezone(UTC).isoformat(),
            "revoked_kids": list(self.revoked_kids),
        }

    def same_profile(self, other: DirectoryEntry) -> bool:
        """True if everything but the serial and the issue time is the same."""
        mine, theirs = self.document(), other.document()
        for key in ("serial", "issued_at"):
            mine.pop(key)
            theirs.pop(key)
        return mine == theirs

    def identity(self) -> dict[str, Any]:
        """The fields that say who the node is and where it is reached (``IDENTITY_FIELDS``), as published."""
        document = self.document()
        return {name: document[name] for name in IDENTITY_FIELDS}

    def with_identity(self, values: Mapping[str, Any]) -> DirectoryEntry:
        """This entry with its identity-bearing fields taken from ``values`` (as ``identity`` gives them)."""
        return replace(
            self,
            state=str(values["state"]),
            authority=str(values["authority"]),
            roles=tuple(NodeRole(r) for r in values["roles"]),
            endpoint=str(values["endpoint"]),
        )

    @property
    def works_24_7(self) -> bool:
        """True for a 24/7 point of contact (Art 41)."""
        return NodeRole.POINT_OF_CONTACT in self.roles


def _text(doc: Mapping[str, Any], name: str, issues: list[Issue], *, required: bool = True) -> str:
    value = doc.get(name, "")
    if not isinstance(value, str) or (required and not value.strip()):
        issues.append(Issue(f"entry.{name}", "is missing" if not value else "must be text"))
        return ""
    if len(value) > MAX_TEXT:
        issues.append(Issue(f"entry.{name}", f"is longer than {MAX_TEXT} characters"))
    return value


def _key(doc: Mapping[str, Any], name: str, curve: str, issues: list[Issue]) -> PublicKey:
    value = doc.get(name)
    if (
        not isinstance(value, Mapping)
        or value.get("kty") != "OKP"
        or value.get("crv") != curve
        or not isinstance(value.get("x"), str)
        or not isinstance(value.get("kid"), str)
    ):
        issues.append(Issue(f"entry.{name}", f"must be an OKP {curve} public JWK with a kid"))
        return PublicKey("", {})
    if "d" in value:
        issues.append(Issue(f"entry.{name}", "contains a private key: never publish one"))
    return PublicKey(str(value["kid"]), {k: value[k] for k in ("kty", "crv", "x")})


def entry_from_document(doc: Mapping[str, Any], is_known_state: Callable[[str], bool] | None = None) -> DirectoryEntry:
    """Read a directory entry, naming every field that is missing or invalid (``ValidationFailed``)."""
    issues: list[Issue] = []
    if doc.get("hanoinet_entry") != PROTOCOL_VERSION:
        issues.append(Issue("entry.hanoinet_entry", f"must be {PROTOCOL_VERSION} (the directory entry format)"))
    node_id = _text(doc, "node_id", issues)
    if node_id and not NODE_ID_PATTERN.fullmatch(node_id):
        issues.append(Issue("entry.node_id", "must be 3-64 lower-case letters, digits, '.', '_' or '-'"))
    state = _text(doc, "state", issues).upper()
    if state and is_known_state is not None and not is_known_state(state):
        issues.append(Issue("entry.state", f"unknown State {state!r}: use an ISO 3166 alpha-3 code"))
    authority = _text(doc, "authority", issues)
    roles = _roles(doc.get("roles"), issues)
    languages = _strings(doc.get("languages"), LANGUAGE_TAG, "entry.languages", issues)
    hours = _text(doc, "hours", issues)
    endpoint = _text(doc, "endpoint", issues)
    if endpoint and not endpoint.startswith(("https://", "http://")):
        issues.append(Issue("entry.endpoint", "must be an http(s) URL"))
    signing = _key(doc, "signing_key", "Ed25519", issues)
    encryption = _key(doc, "encryption_key", "X25519", issues)
    custody = doc.get("custody_key", "")
    if not isinstance(custody, str) or not re.fullmatch(r"[0-9a-f]{64}", custody):
        issues.append(Issue("entry.custody_key", "must be the 64-hex-digit Ed25519 key of the custody ledger"))
        custody = ""
    serial = doc.get("serial")
    if not isinstance(serial, int) or isinstance(serial, bool) or serial < 1:
        issues.append(Issue("entry.serial", "must be a positive whole number"))
        serial = 0
    issued = _when(doc.get("issued_at"), "entry.issued_at", issues)
    revoked = _strings(doc.get("revoked_kids", []), None, "entry.revoked_kids", issues)
    for name, key in (("signing_key", signing), ("encryption_key", encryption)):
        if key.kid and key.kid in revoked:
            issues.append(Issue(f"entry.{name}", "is listed as revoked by the entry itself"))
    if issues:
        raise ValidationFailed(issues)
    return DirectoryEntry(
        node_id=node_id,
        state=state,
        authority=authority,
        roles=tuple(dict.fromkeys(roles)),
        languages=tuple(languages),
        hours=hours,
        endpoint=endpoint.rstrip("/"),
        signing_key=signing,
        encryption_key=encryption,
        custody_key=custody,
        serial=serial,
        issued_at=issued,
        revoked_kids=tuple(revoked),
    )


def _roles(value: Any, issues: list[Issue]) -> list[NodeRole]:
    if not isinstance(value, list) or not value:
        issues.append(Issue("entry.roles", f"must list at least one of {', '.join(r.value for r in NodeRole)}"))
        return []
    roles = []
    for index, role in enumerate(value):
        try:
            roles.append(NodeRole(role))
        except ValueError:
            issues.append(Issue(f"entry.roles[{index}]", f"unknown role {role!r}"))
    return roles


def _strings(value: Any, pattern: re.Pattern[str] | None, name: str, issues: list[Issue]) -> list[str]:
    if not isinstance(value, list) or not all(
        isinstance(x, str) and (pattern is None or pattern.fullmatch(x)) for x in value
    ):
        what = "language tags such as en, fr, vi" if pattern is LANGUAGE_TAG else "key ids"
        issues.append(Issue(name, f"must be a list of {what}"))
        return []
    return list(value)


def _when(value: Any, name: str, issues: list[Issue]) -> datetime:
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        issues.append(Issue(name, "must be an ISO 8601 time with a time zone"))
        return datetime.min.replace(tzinfo=UTC)
    if moment.tzinfo is None:
        issues.append(Issue(name, "must carry a time zone"))
        return moment.replace(tzinfo=UTC)
    return moment


class EntryVerdict(StrEnum):
    """What to do with an entry offered for the directory."""

    NEW = "new"  # not known yet: record it
    UPDATED = "updated"  # a newer entry of a known node: replace it
    UNCHANGED = "unchanged"  # the same or an older serial: keep what we have
    HELD = "held"  # a newer entry that changes who the node is or where it is reached: waits for an operator
    REFUSED = "refused"


@dataclass(frozen=True, slots=True)
class EntryDecision:
    """The verdict on an offered entry, why, and the keys it retires or revokes here."""

    verdict: EntryVerdict
    reason: str
    retire: tuple[str, ...] = ()
    revoke: tuple[str, ...] = ()


def decide_entry(  # noqa: PLR0911 - a decision table: one return per rule, in the docstring's order
    current: DirectoryEntry | None,
    offered: DirectoryEntry,
    signed_by: Iterable[str],
    revoked_here: Iterable[str],
    *,
    replace: bool = False,
) -> EntryDecision:
    """Decide whether to accept ``offered`` given what we hold (``current``) and whose signatures verified.

    - An entry must be signed by its own signing key (it proves the node holds the key it publishes).
    - A key this node has revoked is never accepted again, whoever signs it.
    - A newer entry of a known node with the same signing key is an update (endpoint, hours ...).
    - A newer entry with a new signing key is a rotation and must also be signed by the key it replaces; otherwise
      only an operator who checked the new key by other means may accept it (``replace``).
    """
    signed = set(signed_by)
    revoked = set(revoked_here)
    if offered.signing_key.kid not in signed:
        return EntryDecision(EntryVerdict.REFUSED, "the entry is not signed by the signing key it publishes")
    for kid in (offered.signing_key.kid, offered.encryption_key.kid):
        if kid in revoked:
            return EntryDecision(EntryVerdict.REFUSED, f"key {kid} has been revoked here and is refused from now on")
    if current is None:
        return EntryDecision(EntryVerdict.NEW, "new node", revoke=offered.revoked_kids)
    if current.node_id != offered.node_id:
        raise ValueError("decide_entry compares entries of one node")
    if offered.serial <= current.serial and not replace:
        if offered.signing_key.kid != current.signing_key.kid:
            return EntryDecision(
                EntryVerdict.REFUSED,
                f"serial {offered.serial} is not newer than {current.serial} and the keys differ: a reinstalled node? "
                "check the new key with the other authority by other means, then import it with --replace",
            )
        return EntryDecision(EntryVerdict.UNCHANGED, f"serial {offered.serial} is not newer than {current.serial}")
    retire = tuple(
        k.kid
        for k in (current.signing_key, current.encryption_key)
        if k.kid not in (offered.signing_key.kid, offered.encryption_key.kid)
    )
    if offered.signing_key.kid == current.signing_key.kid:
        return EntryDecision(EntryVerdict.UPDATED, "updated by the same key", retire, offered.revoked_kids)
    if current.signing_key.kid in signed:
        return EntryDecision(
            EntryVerdict.UPDATED, "keys rotated, signed by the previous key", retire, offered.revoked_kids
        )
    if replace:
        return EntryDecision(EntryVerdict.UPDATED, "replaced by an operator", retire, offered.revoked_kids)
    return EntryDecision(
        EntryVerdict.REFUSED,
        f"the signing key changed ({current.signing_key.kid} to {offered.signing_key.kid}) without a signature by the "
        "previous key: check the new key with the other authority by other means, then import it with --replace",
    )


# --------------------------------------------------------------------------------------------------------------
# Messages


@dataclass(frozen=True, slots=True)
class Message:
    """One node-to-node message, as signed by its sender."""

    id: str
    kind: MessageKind
    sender: str
    recipient: str
    created_at: datetime
    body: dict[str, Any]
    request_id: str | None = None

    def claims(self) -> dict[str, Any]:
        """The signed payload."""
        return {
            "hanoinet_message": PROTOCOL_VERSION,
            "id": self.id,
            "kind": self.kind.value,
            "from": self.sender,
            "to": self.recipient,
            "created_at": self.created_at.astimezone(UTC).isoformat(),
            "request_id": self.request_id,
            "body": self.body,
        }


def message_from_claims(claims: Mapping[str, Any]) -> Message:
    """Read a message's signed payload; raise ValidationFailed naming what is wrong."""
    issues: list[Issue] = []
    if claims.get("hanoinet_message") != PROTOCOL_VERSION:
        issues.append(Issue("message.hanoinet_message", f"must be {PROTOCOL_VERSION}"))
    try:
        kind = MessageKind(str(claims.get("kind")))
    except ValueError:
        issues.append(Issue("message.kind", f"unknown kind {claims.get('kind')!r}"))
        kind = MessageKind.CORRESPONDENCE
    for name in ("id", "from", "to"):
        if not isinstance(claims.get(name), str) or not claims[name]:
            issues.append(Issue(f"message.{name}", "is missing"))
    created = _when(claims.get("created_at"), "message.created_at", issues)
    body = claims.get("body")
    if not isinstance(body, dict):
        issues.append(Issue("message.body", "must be an object"))
        body = {}
    request_id = claims.get("request_id")
    if request_id is not None and not isinstance(request_id, str):
        issues.append(Issue("message.request_id", "must be text"))
    if issues:
        raise ValidationFailed(issues)
    return Message(
        id=str(claims["id"]),
        kind=kind,
        sender=str(claims["from"]),
        recipient=str(claims["to"]),
        created_at=created,
        body=body,
        request_id=request_id,
    )


class MessageRefused(DomainError):  # noqa: N818 - names the outcome
    """A message that cannot be applied here; its reason goes back to the sender in the signed receipt."""


class EnvelopeRejected(Exception):  # noqa: N818 - names the outcome
    """A transmission refused as a whole, before any message in it was looked at; ``reason`` is a stable code."""

    error_kind: ClassVar[ErrorKind] = REJECTED

    def __init__(self, reason: str, detail: str, *, sender: str | None = None) -> None:
        self.reason = reason
        self.detail = detail
        self.sender = sender
        super().__init__(f"{reason}: {detail}")


PEER_REASON_CODES = frozenset(
    {
        "malformed",
        "undecryptable",
        "unknown_sender",
        "bad_signature",
        "retired_key",
        "stale",
        "revoked_key",
        "revoked_sender",
        "misdirected",
        "replay",
        "entry_refused",
        "chunk rejected",
        "offset",
    }
)
"""The stable reason codes a node puts in the ``title`` of a refusal: one of them may be named in an error shown
here (it is one of ours, not the peer's text); anything else a peer answers is never shown."""


def peer_answer(status: int, body: bytes) -> str:
    """What an error says of a peer's answer: its HTTP status, and its reason code if it is one of ours — never its
    text, which the peer chose (it could be another service's reply that a hostile endpoint made this node fetch)."""
    code = ""
    try:
        title = json.loads(body).get("title") if body.lstrip()[:1] == b"{" else None
    except (ValueError, AttributeError):
        title = None
    if isinstance(title, str) and title in PEER_REASON_CODES:
        code = f"{title}; "
    return f"answered HTTP {status} ({code}body not shown)"


def check_freshness(sent_at: datetime, now: datetime, window: timedelta) -> str | None:
    """Return why a transmission's timestamp is unacceptable, or None.

    Every delivery attempt is signed afresh, so a genuine transmission is seconds old whatever the age of the
    messages it carries; an old one is a replay of a captured transmission.
    """
    if sent_at.tzinfo is None:
        return "the transmission time carries no time zone"
    skew, allowed = sent_at - now, f"allowed: {window.total_seconds():.0f} s"
    if skew > window:
        return f"the transmission is dated {skew.total_seconds():.0f} s in the future ({allowed})"
    if -skew > window:
        return f"the transmission is {(-skew).total_seconds():.0f} s old ({allowed})"
    return None


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff between delivery attempts to a peer: base x 2^(failures - 1), capped, with jitter."""

    base: timedelta = timedelta(milliseconds=500)
    cap: timedelta = timedelta(seconds=60)

    def delay(self, failures: int, jitter: float) -> timedelta:
        """The wait after ``failures`` consecutive failures; ``jitter`` in [0, 1) spreads retries of many nodes."""
        exponent = min(max(failures - 1, 0), 30)
        raw = min(self.cap.total_seconds(), self.base.total_seconds() * (2**exponent))
        return timedelta(seconds=raw * (0.5 + jitter / 2))


# --------------------------------------------------------------------------------------------------------------
# Evidence transfers


class TransferState(StrEnum):
    """Where an evidence transfer stands."""

    OFFERED = "offered"  # outgoing: the offer is on its way
    SENDING = "sending"  # outgoing: the offer was accepted, chunks are going
    RECEIVING = "receiving"  # incoming: chunks are arriving
    COMPLETED = "completed"  # both: the receiver's signed receipt is recorded
    REFUSED = "refused"  # outgoing: the receiver refused the offer (its reason kept)
    FAILED = "failed"  # the content did not match its manifest, or the sender's content is damaged


class TransferItemState(StrEnum):
    """How far one item of a transfer got."""

    PENDING = "pending"  # outgoing: not confirmed by the receiver yet
    RECEIVING = "receiving"  # incoming: its chunks are arriving
    DELIVERED = "delivered"  # outgoing: the receiver's signed receipt confirms it
    STORED = "stored"  # incoming: checked whole against the manifest and stored as an evidence item here


# --------------------------------------------------------------------------------------------------------------
# Onward transfer (Art 36)


class ConsentRole(StrEnum):
    """This node's side of a consent request."""

    HOLDER = "holder"  # it holds an item received from another State and asked that State
    ORIGINATOR = "originator"  # the item is this State's: another node asked


class ConsentStatus(StrEnum):
    """Where a consent request stands."""

    REQUESTED = "requested"
    GRANTED = "granted"
    REFUSED = "refused"


@dataclass(frozen=True, slots=True)
class Consent:
    """The originator's written authorization to pass an item on to one node (Art 36)."""

    item_id: str
    destination: str
    granted_by: str
    granted_at: datetime
    purpose: str = ""
    message_id: str | None = None


def check_onward_transfer(
    origin: Origin | None,
    onward_transfer_allowed: bool,
    destination: str,
    consents: Iterable[Consent],
) -> str | None:
    """Return why an item may not go to ``destination``, or None if it may.

    An item acquired here is this State's to send. An item received from another State may go back to it, or on to
    a third only if its conditions allow onward transfer or the originator consented to this destination.
    """
    if origin is None or destination == origin.node_id or onward_transfer_allowed:
        return None
    if any(c.destination == destination for c in consents):
        return None
    return (
        f"onward transfer to {destination} needs the prior authorization of {origin.node_id} ({origin.state}), which "
        "sent this item (Art 36): ask for its consent first"
    )
