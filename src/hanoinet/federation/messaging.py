"""Store-and-forward messaging between nodes: compose into the outbox, deliver in batches, take receipts.

- **Compose**: a message is signed when it is composed and written to the outbox in the same transaction as the
  change it reports (a request sent, an action taken): either both are committed or neither (the transactional
  outbox). Nothing is lost if the node stops a moment later.
- **Deliver**: a worker takes a peer's delivery lease (one deliverer per peer, in any number of processes), seals
  the oldest pending messages into one transmission (JWS batch signed afresh, in a JWE to the peer) and posts it.
  The peer answers with a signed receipt only after it has committed the messages; each message is then marked
  delivered or rejected (with the peer's reason). A failure leaves the messages pending and backs off
  exponentially; they go again, in order, when the peer answers.
- **Receive** is in ``services.inbound``.
"""

from __future__ import annotations

import hashlib
import logging
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from hanoinet.audit import service as audit
from hanoinet.federation.domain import (
    PROTOCOL_VERSION,
    TYP_BATCH,
    TYP_MESSAGE,
    TYP_RECEIPT,
    EntryStatus,
    EnvelopeRejected,
    KeyStatus,
    KeyUse,
    Message,
    MessageKind,
    MessageOutcome,
    MessageStatus,
    ReceiptDirection,
    peer_answer,
)
from hanoinet.federation.ports import (
    DeliveryResult,
    Identity,
    IncomingMessage,
    MessageQuery,
    OutgoingMessage,
    Peer,
    PeerDelivery,
    Receipt,
    Transport,
    TransportError,
)
from hanoinet.platform import events
from hanoinet.platform.direction import Direction
from hanoinet.platform.errors import Issue, NotFound, ValidationFailed
from hanoinet.platform.ids import new_id

if TYPE_CHECKING:
    from hanoinet.app.node import Node, UnitOfWork

log = logging.getLogger("hanoinet.federation")

MAX_TEXT = 100_000


def digest(token: str) -> str:
    """SHA-256 of a signed message: what a receipt says was received."""
    return hashlib.sha256(token.encode()).hexdigest()


def compose(
    node: Node,
    uow: UnitOfWork,
    peer: Peer,
    kind: MessageKind,
    body: Mapping[str, Any],
    *,
    actor: str,
    request_id: str | None = None,
) -> OutgoingMessage:
    """Sign a message to ``peer`` and stage it in the outbox of ``uow`` (committed with the caller's change)."""
    outgoing = signed_message(node, peer, kind, body, actor=actor, request_id=request_id)
    uow.outbox.enqueue([outgoing])
    return outgoing


def signed_message(
    node: Node,
    peer: Peer | str,
    kind: MessageKind,
    body: Mapping[str, Any],
    *,
    actor: str,
    request_id: str | None = None,
) -> OutgoingMessage:
    """A message to ``peer`` (a trusted peer, or the id of one the caller checked), signed now, for the outbox."""
    identity, _, _ = node.network()
    if isinstance(peer, Peer) and peer.status is not EntryStatus.ACTIVE:
        raise ValidationFailed([Issue("to", f"node {peer.entry.node_id} is revoked here: nothing is sent to it")])
    recipient = peer.entry.node_id if isinstance(peer, Peer) else peer
    message = Message(
        id=new_id(),
        kind=kind,
        sender=identity.node_id,
        recipient=recipient,
        created_at=node.now_wall(),
        body=dict(body),
        request_id=request_id,
    )
    return OutgoingMessage(
        id=message.id,
        peer=recipient,
        kind=kind,
        request_id=request_id,
        jws=identity.sign(message.claims(), TYP_MESSAGE),
        created_at=message.created_at,
        created_by=actor,
    )


def usable_encryption_key(uow: UnitOfWork, peer: Peer) -> str | None:
    """Why nothing may be encrypted to the peer's published key (revoked here), or None if it may."""
    known = uow.peer_keys.get(peer.entry.encryption_key.kid)
    if known is not None and known.status is KeyStatus.REVOKED:
        return (
            f"the encryption key {known.key.kid} of {peer.entry.node_id} is revoked here ({known.reason}): nothing is "
            "encrypted to it; import the node's new entry"
        )
    return None


def _check_recipient(uow: UnitOfWork, node_id: str, field: str) -> None:
    """Raise ValidationFailed naming the field unless ``node_id`` is a trusted peer (its status only: cheap)."""
    status = uow.peers.status(node_id)
    if status is None:
        raise ValidationFailed(
            [Issue(field, f"no node {node_id!r} in this node's directory (hanoinet directory list)")]
        )
    if status is not EntryStatus.ACTIVE:
        raise ValidationFailed([Issue(field, f"node {node_id} is revoked here: nothing is sent to it")])


def find_peer(uow: UnitOfWork, node_id: str, field: str = "to") -> Peer:
    """The trusted peer with this id; raise ValidationFailed naming the field otherwise."""
    peer = uow.peers.get(node_id)
    if peer is None:
        raise ValidationFailed(
            [Issue(field, f"no node {node_id!r} in this node's directory (hanoinet directory list)")]
        )
    if peer.status is not EntryStatus.ACTIVE:
        raise ValidationFailed([Issue(field, f"node {node_id} is revoked here: {peer.status_reason}")])
    return peer


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A message a user or a machine asks to send: correspondence on a request, or spontaneous information."""

    to: str
    kind: MessageKind
    text: str
    subject: str = ""
    request_id: str | None = None
    conditions: Mapping[str, Any] | None = None


_SENDABLE = (MessageKind.CORRESPONDENCE, MessageKind.SPONTANEOUS_INFORMATION)


def _check(index: int, message: NewMessage) -> list[Issue]:
    where = f"messages[{index}]"
    issues = []
    if message.kind not in _SENDABLE:
        kinds = ", ".join(k.value for k in _SENDABLE)
        issues.append(Issue(f"{where}.kind", f"only {kinds} are sent this way"))
    if not message.text.strip():
        issues.append(Issue(f"{where}.text", "is missing"))
    if len(message.text) > MAX_TEXT or len(message.subject) > 500:
        issues.append(Issue(f"{where}.text", f"is longer than {MAX_TEXT} characters"))
    if message.kind is MessageKind.CORRESPONDENCE and not message.request_id:
        issues.append(Issue(f"{where}.request_id", "correspondence is about a request: name it"))
    return issues


def send_messages(node: Node, messages: Sequence[NewMessage], *, actor: str) -> list[OutgoingMessage]:
    """Queue correspondence and spontaneous information (Art 40; with conditions of use) for delivery, all or none."""
    issues = [i for n, m in enumerate(messages) for i in _check(n, m)]
    if not messages:
        issues.append(Issue("messages", "is empty"))
    if issues:
        raise ValidationFailed(issues)
    sent: list[OutgoingMessage] = []
    peers: set[str] = set()
    with node.uow() as uow:  # checks and signing outside the write, which may be shared with other calls
        for index, m in enumerate(messages):
            if m.to not in peers:
                _check_recipient(uow, m.to, f"messages[{index}].to")
                peers.add(m.to)
            if m.request_id is not None:
                request = uow.requests.get(m.request_id)
                if request is None:
                    raise ValidationFailed([Issue(f"messages[{index}].request_id", f"no request {m.request_id!r}")])
                if request.peer != m.to:
                    raise ValidationFailed(
                        [Issue(f"messages[{index}].to", f"request {m.request_id} is exchanged with {request.peer}")]
                    )
            body: dict[str, Any] = {"subject": m.subject, "text": m.text, "from_actor": actor}
            if m.conditions:
                body["conditions"] = dict(m.conditions)
            sent.append(signed_message(node, m.to, m.kind, body, actor=actor, request_id=m.request_id))
    entry = events.pending_entry()

    def write(uow: UnitOfWork) -> None:
        uow.outbox.enqueue(sent)
        if entry is not None:
            audit.write_entry(uow, entry, sent[0].id)

    node.writes.run(node.uow, write)
    if entry is not None:
        entry.written = True
    node.outbox_changed(*peers)
    return sent


def correspond(node: Node, request_id: str, text: str, *, subject: str = "", actor: str) -> OutgoingMessage:
    """Write to the node a request is exchanged with, about that request."""
    with node.uow() as uow:
        request = uow.requests.get(request_id)
    if request is None:
        raise NotFound(f"no request {request_id!r}")
    if request.peer is None:
        raise ValidationFailed([Issue("request_id", "this request is not exchanged with another node")])
    message = NewMessage(request.peer, MessageKind.CORRESPONDENCE, text, subject, request_id)
    return send_messages(node, [message], actor=actor)[0]


def federation_status(node: Node) -> dict[str, Any]:
    """For operators: each peer's deliveries, the outbox by status, the latest refusals."""
    identity, _, _ = node.network()
    with node.uow() as uow:
        peers = uow.peers.list()
        counts = uow.outbox.counts()
        rejections = uow.rejections.latest(20)
    return {
        "node_id": identity.node_id,
        "peers": [
            {
                "node_id": p.entry.node_id,
                "state": p.entry.state,
                "status": p.status.value,
                "pending": counts.get((p.entry.node_id, MessageStatus.PENDING), 0),
                "delivered": counts.get((p.entry.node_id, MessageStatus.DELIVERED), 0),
                "rejected": counts.get((p.entry.node_id, MessageStatus.REJECTED), 0),
                "failures": p.delivery.failures,
                "last_error": p.delivery.last_error,
                "next_attempt_at": p.delivery.next_attempt_at.isoformat() if p.delivery.next_attempt_at else None,
                "last_delivery_at": p.delivery.last_delivery_at.isoformat() if p.delivery.last_delivery_at else None,
            }
            for p in peers
        ],
        "rejections": [
            {
                "at": r.at.isoformat(),
                "reason": r.reason,
                "detail": r.detail,
                "claimed_sender": r.claimed_sender,
                "remote": r.remote,
            }
            for r in rejections
        ],
    }


# --------------------------------------------------------------------------------------------------------------
# Delivery


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """What one delivery round to one peer did."""

    peer: str
    sent: int = 0
    delivered: int = 0
    rejected: int = 0
    error: str | None = None
    skipped: bool = False
    offers: int = 0
    """Transfer offers among the messages delivered: their evidence can follow at once."""


def due_peers(node: Node) -> Sequence[str]:
    """Peers with messages waiting whose backoff has run out."""
    with node.uow() as uow:
        return uow.peers.due(node.now_wall())


def _failed(delivery: PeerDelivery, node: Node, error: str) -> PeerDelivery:
    failures = delivery.failures + 1
    now = node.now_wall()
    wait = node.federation.backoff.delay(failures, random.random())  # noqa: S311 - jitter, not a secret
    return PeerDelivery(now + wait, failures, error[:2000], now, delivery.last_delivery_at)


def _peer_error(status: int, body: bytes) -> str:
    """A refused delivery as operators see it: the status (and our reason code), never the peer's text."""
    return peer_answer(status, body)


def _holds(peer: Peer, owner: str, now: datetime, node: Node) -> bool:
    """True if this deliverer holds the peer's lease for a while yet (so a round needs no claim of its own)."""
    d = peer.delivery
    return d.lease_owner == owner and d.lease_until is not None and d.lease_until - now > node.federation.lease / 2


def deliver(node: Node, transport: Transport, peer_id: str, owner: str) -> DeliveryReport:
    """Deliver the oldest pending messages to one peer, if no other deliverer holds it: one transmission.

    A deliverer keeps a peer's lease from round to round (renewed in the round's one commit), so a round costs a
    read, the transmission and one transaction recording its outcome; other processes take over only when the
    lease runs out (``release`` gives it back when the deliverer stops).
    """
    node.network()  # a node without an identity has nothing to deliver with
    now = node.now_wall()
    with node.uow() as uow:
        peer = uow.peers.get(peer_id)
        if peer is None or peer.status is not EntryStatus.ACTIVE:
            return DeliveryReport(peer_id)
        if peer.delivery.next_attempt_at is not None and peer.delivery.next_attempt_at > now:
            return DeliveryReport(peer_id, skipped=True)  # backing off: the peer did not answer lately
        if not _holds(peer, owner, now, node):
            if not uow.peers.claim(peer_id, owner, now, now + node.federation.lease):
                return DeliveryReport(peer_id, skipped=True)
            uow.commit()
        pending = uow.outbox.pending(peer_id, node.federation.batch_size)
        unusable = usable_encryption_key(uow, peer) if pending else None
    if not pending:
        return DeliveryReport(peer_id)
    if unusable:
        with node.uow() as uow:
            uow.peers.release(peer_id, owner, _failed(peer.delivery, node, unusable))
            uow.commit()
        log.warning("delivery to %s held back: %s", peer_id, unusable)
        return DeliveryReport(peer_id, error=unusable)
    batch = _next_batch(pending)
    outcome: tuple[list[DeliveryResult], Receipt | None] = ([], None)
    try:
        if batch[0].kind is MessageKind.ENTRY:
            report, delivery, outcome = _push_entry(node, transport, peer, batch[0])
        else:
            report, delivery, outcome = _transmit(node, transport, peer, batch)
    except TransportError as exc:
        report = DeliveryReport(peer_id, sent=len(batch), error=str(exc))
        delivery = _failed(peer.delivery, node, str(exc))
    except EnvelopeRejected as exc:
        report = DeliveryReport(peer_id, sent=len(batch), error=f"the peer's receipt is not valid: {exc}")
        delivery = _failed(peer.delivery, node, report.error or "")
    results, receipt = outcome
    with node.uow() as uow:
        uow.outbox.record_attempt([m.id for m in batch], now)
        uow.outbox.record_results(results)
        if receipt is not None:
            uow.receipts.add(receipt)
        keep = node.now_wall() + node.federation.lease if not report.error else None
        uow.peers.release(peer_id, owner, delivery, keep_until=keep)
        uow.commit()
    if report.error:
        log.warning("delivery to %s failed (%d message(s) wait): %s", peer_id, len(batch), report.error)
    return report


def _next_batch(pending: Sequence[OutgoingMessage]) -> list[OutgoingMessage]:
    """A pushed directory entry goes alone (it must arrive before what its new key signs); messages go together."""
    if pending[0].kind is MessageKind.ENTRY:
        return [pending[0]]
    batch = []
    for message in pending:
        if message.kind is MessageKind.ENTRY:
            break
        batch.append(message)
    return batch


def release(node: Node, owner: str) -> None:
    """Give back every lease this deliverer holds (when it stops), so that another may deliver at once."""
    with node.uow() as uow:
        for peer in uow.peers.list():
            if peer.delivery.lease_owner == owner:
                uow.peers.release(peer.entry.node_id, owner, peer.delivery)
        uow.commit()


Outcome = tuple[DeliveryReport, PeerDelivery, tuple[list[DeliveryResult], Receipt | None]]


def _push_entry(node: Node, transport: Transport, peer: Peer, message: OutgoingMessage) -> Outcome:
    status, body = transport.push_entry(peer.entry.endpoint, message.jws)
    now = node.now_wall()
    if status != 200:
        error = _peer_error(status, body)
        return DeliveryReport(peer.entry.node_id, sent=1, error=error), _failed(peer.delivery, node, error), ([], None)
    results = [DeliveryResult(message.id, MessageStatus.DELIVERED, now, "entry")]
    return (
        DeliveryReport(peer.entry.node_id, sent=1, delivered=1),
        PeerDelivery(None, 0, None, now, now),
        (results, None),
    )


def _transmit(node: Node, transport: Transport, peer: Peer, batch: Sequence[OutgoingMessage]) -> Outcome:
    identity, _, _ = node.network()
    batch_id = new_id()
    claims = {
        "hanoinet_batch": PROTOCOL_VERSION,
        "id": batch_id,
        "from": identity.node_id,
        "to": peer.entry.node_id,
        "sent_at": node.now_wall().isoformat(),
        "messages": [m.jws for m in batch],
    }
    status, body = transport.transmit(peer.entry.endpoint, identity.seal(claims, TYP_BATCH, peer.entry.encryption_key))
    if status != 200:
        error = _peer_error(status, body)
        report = DeliveryReport(peer.entry.node_id, sent=len(batch), error=error)
        return report, _failed(peer.delivery, node, error), ([], None)
    token = identity.open(body.decode("ascii", errors="replace"))
    header, _ = identity.peek(token)
    kid = str(header.get("kid"))
    if kid != peer.entry.signing_key.kid:  # the peer's current key, or else it just rotated: look it up
        with node.uow() as uow:
            known = uow.peer_keys.get(kid)
        if (
            known is None
            or known.node_id != peer.entry.node_id
            or known.use is not KeyUse.SIGNING
            or known.status is KeyStatus.REVOKED
        ):
            raise EnvelopeRejected(
                "bad_signature", f"the receipt is signed by key {kid}, not a key of {peer.entry.node_id}"
            )
        signing = known.key
    else:
        signing = peer.entry.signing_key
    receipt = identity.verify(token, signing, TYP_RECEIPT)
    outcomes = _results(receipt, batch, peer, batch_id)
    now = node.now_wall()
    receipt_id = str(receipt["id"])
    results = [DeliveryResult(mid, status_, now, receipt_id, error) for mid, (status_, error) in outcomes.items()]
    rejected = sum(1 for s, _ in outcomes.values() if s is MessageStatus.REJECTED)
    offers = sum(1 for m in batch if m.kind is MessageKind.TRANSFER_OFFER)
    report = DeliveryReport(peer.entry.node_id, len(batch), len(outcomes) - rejected, rejected, offers=offers)
    stored = Receipt(receipt_id, batch_id, peer.entry.node_id, ReceiptDirection.RECEIVED, token, now)
    return report, PeerDelivery(None, 0, None, now, now), (results, stored)


def _results(
    receipt: Mapping[str, Any], batch: Sequence[OutgoingMessage], peer: Peer, batch_id: str
) -> dict[str, tuple[MessageStatus, str | None]]:
    """Check a receipt against what was sent: same batch, same peer, and each message's digest as sent."""
    if receipt.get("batch") != batch_id or receipt.get("from") != peer.entry.node_id:
        raise EnvelopeRejected("malformed", "the receipt is for another transmission")
    sent = {m.id: digest(m.jws) for m in batch}
    results: dict[str, tuple[MessageStatus, str | None]] = {}
    for entry in receipt.get("results", []):
        mid = entry.get("id")
        if mid not in sent or entry.get("digest") != sent[mid]:
            raise EnvelopeRejected("malformed", f"the receipt lists message {mid} with another digest than was sent")
        if entry.get("status") == MessageOutcome.REFUSED:
            results[mid] = (MessageStatus.REJECTED, str(entry.get("reason", ""))[:2000])
        else:
            results[mid] = (MessageStatus.DELIVERED, None)
    missing = set(sent) - set(results)
    if missing:
        raise EnvelopeRejected("malformed", f"the receipt leaves out {len(missing)} message(s)")
    return results


# --------------------------------------------------------------------------------------------------------------
# Reading


def mark_read(node: Node, request_id: str, *, actor: str) -> int:
    """Record that ``actor`` opened a request's incoming messages, and tell each sender (a signed read notice)."""
    if node.identity is None:
        return 0
    with node.uow() as uow:
        unread = [
            m
            for m in uow.inbox.list(MessageQuery(request_id=request_id, unread=True, limit=1000))
            if m.status is MessageStatus.ACCEPTED and m.kind is not MessageKind.READ
        ]
        if not unread:
            return 0
        now = node.now_wall()
        uow.inbox.mark_read([m.id for m in unread], now, actor)
        by_peer: dict[str, list[str]] = {}
        for m in unread:
            by_peer.setdefault(m.peer, []).append(m.id)
        for peer_id, ids in by_peer.items():
            peer = uow.peers.get(peer_id)
            if peer is not None and peer.status is EntryStatus.ACTIVE:
                compose(
                    node,
                    uow,
                    peer,
                    MessageKind.READ,
                    {"ids": ids, "read_at": now.isoformat()},
                    actor=actor,
                    request_id=request_id,
                )
        uow.commit()
    node.outbox_changed(*by_peer)
    return len(unread)


@dataclass(frozen=True, slots=True)
class MessageView:
    """A message either way, with what it said (decoded from the signed form)."""

    direction: Direction
    id: str
    peer: str
    kind: MessageKind
    request_id: str | None
    body: Mapping[str, Any]
    """The message's JSON body as its sender signed it (any object: each kind carries its own)."""
    created_at: datetime
    status: MessageStatus
    delivered_at: datetime | None = None
    """Outgoing: when the peer's receipt came; incoming: when it was received here."""
    read_at: datetime | None = None
    error: str | None = None
    attempts: int = 0
    created_by: str = ""


def _body(identity: Identity, jws: str) -> Mapping[str, Any]:
    try:
        _, claims = identity.peek(jws)
    except EnvelopeRejected:
        return {}
    body = claims.get("body", claims)
    return body if isinstance(body, dict) else {}


def _view(
    direction: Direction,
    m: OutgoingMessage | IncomingMessage,
    body: Mapping[str, Any],
    *,
    delivered_at: datetime | None,
    error: str | None,
    attempts: int,
    created_by: str,
) -> MessageView:
    """A message either way as one view: what the outbox and the inbox keep alike is read from the message the
    same way, what each keeps in its own words (when it was delivered or received, why it failed or was refused,
    who wrote or read it) is the caller's."""
    return MessageView(
        direction,
        m.id,
        m.peer,
        m.kind,
        m.request_id,
        body,
        m.created_at,
        m.status,
        delivered_at,
        m.read_at,
        error,
        attempts,
        created_by,
    )


def _outgoing_view(identity: Identity, m: OutgoingMessage) -> MessageView:
    body = _body(identity, m.jws) if m.kind is not MessageKind.ENTRY else {}
    return _view(
        Direction.OUTGOING,
        m,
        body,
        delivered_at=m.delivered_at,
        error=m.error,
        attempts=m.attempts,
        created_by=m.created_by,
    )


def _incoming_view(identity: Identity, i: IncomingMessage) -> MessageView:
    body = _body(identity, i.jws)
    return _view(
        Direction.INCOMING, i, body, delivered_at=i.received_at, error=i.reason, attempts=1, created_by=i.read_by or ""
    )


def list_messages(node: Node, query: MessageQuery, *, direction: str | None = None) -> list[MessageView]:
    """Messages sent and received, newest first (what each said, when it was delivered and read)."""
    identity, _, _ = node.network()
    views: list[MessageView] = []
    with node.uow() as uow:
        if direction in (None, Direction.OUTGOING):
            views.extend(_outgoing_view(identity, m) for m in uow.outbox.list(query))
        if direction in (None, Direction.INCOMING):
            views.extend(_incoming_view(identity, i) for i in uow.inbox.list(query))
    views.sort(key=lambda v: v.created_at, reverse=True)
    return views[: query.limit]


def get_message(node: Node, message_id: str) -> MessageView:
    """One message either way; raise NotFound."""
    identity, _, _ = node.network()
    with node.uow() as uow:
        m = uow.outbox.get(message_id)
        i = uow.inbox.get(message_id) if m is None else None
    if m is not None:
        return _outgoing_view(identity, m)
    if i is not None:
        return _incoming_view(identity, i)
    raise NotFound(f"no message {message_id!r}")


def incoming_record(message: Message, jws: str, batch_id: str, *, at: datetime) -> IncomingMessage:
    """The row that records a message received and applied."""
    return IncomingMessage(
        id=message.id,
        peer=message.sender,
        kind=message.kind,
        request_id=message.request_id,
        jws=jws,
        created_at=message.created_at,
        received_at=at,
        batch_id=batch_id,
        status=MessageStatus.ACCEPTED,
    )
