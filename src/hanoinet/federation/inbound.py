"""Receiving from other nodes: open, authenticate and take a transmission, once, and answer with a signed receipt.

A transmission is refused whole (and the refusal recorded with its reason) when it cannot be decrypted with this
node's keys, is signed by a key this node does not know or has revoked, does not verify, is not addressed to this
node, is dated outside the freshness window, or repeats a transmission already taken (a replay). Otherwise each
message in it is verified on its own signature and applied once: a message id already received is not applied
again (the receipt says "duplicate"), so a message delivered twice has one effect. A message that cannot be applied
(an action the request's state does not allow, a request for another State) is refused with its reason in the
receipt, and nothing of it is kept but the refusal.

All the messages of a transmission, the replay marker and the receipt are committed in one transaction before the
receipt is returned: a receipt is only ever sent for what is durable.

Refusals come mostly from callers nobody authenticated, so what they cost is bounded (``RefusalGuard``): each source
address has a token bucket of refusals (past it, its transmissions are answered 429 unread), and per window only the
first refusals of an address are recorded one by one (a row and a signed audit entry each); the rest of the window
is one counter row and one audit entry with the count. Every value a sender chose (a key id, a node id, any header)
is escaped and truncated (``platform.logsafe.safe``) before it reaches a log line, an answer or a stored refusal.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import Counter, OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import Enum
from typing import TYPE_CHECKING, Any

from hanoinet.audit import service as audit
from hanoinet.federation.domain import (
    PROTOCOL_VERSION,
    TYP_BATCH,
    TYP_MESSAGE,
    TYP_RECEIPT,
    TYP_SEALED,
    EntryStatus,
    EnvelopeRejected,
    KeyStatus,
    KeyUse,
    Message,
    MessageKind,
    MessageOutcome,
    MessageRefused,
    MessageStatus,
    ReceiptDirection,
    check_freshness,
    message_from_claims,
)
from hanoinet.federation.messaging import digest, incoming_record
from hanoinet.federation.ports import IncomingMessage, Peer, PeerKey, Receipt, RefusalCount, Rejection
from hanoinet.federation.settings import RefusalLimits
from hanoinet.platform.errors import Conflict, DomainError, ValidationFailed
from hanoinet.platform.events import Outcome
from hanoinet.platform.ids import new_id
from hanoinet.platform.logsafe import safe

if TYPE_CHECKING:
    from hanoinet.app.node import Node, UnitOfWork

if TYPE_CHECKING:  # imported when called: directory imports nothing from here, and layers stay flat
    from hanoinet.federation.directory import ImportResult

log = logging.getLogger("hanoinet.federation")

MAX_MESSAGES = 5000


def note(node: Node, uow: UnitOfWork, peer: Peer, message: Message) -> None:
    """Correspondence and spontaneous information: the received message is itself the record."""
    body = message.body
    if not isinstance(body.get("text"), str) or not body["text"].strip():
        raise MessageRefused("the message has no text")
    if message.request_id is not None:
        request = uow.requests.get(message.request_id)
        if request is None or request.peer != peer.entry.node_id:
            raise MessageRefused(f"no request {message.request_id} is exchanged with {peer.entry.node_id} here")
    elif message.kind is MessageKind.CORRESPONDENCE:
        raise MessageRefused("correspondence must name its request")


def read_notice(node: Node, uow: UnitOfWork, peer: Peer, message: Message) -> None:
    """A read notice: the peer's officers opened these messages of ours."""
    ids = message.body.get("ids")
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise MessageRefused("a read notice lists message ids")
    uow.outbox.mark_read(peer.entry.node_id, ids, message.created_at)


@dataclass(frozen=True, slots=True)
class Opened:
    """An authenticated transmission: who sent it, its id, its message tokens, and every key of its sender."""

    peer: Peer
    batch_id: str
    messages: list[str]
    keys: dict[str, PeerKey]


DETAIL_LIMIT = 500
"""The longest refusal detail shown in a log line, an answer, the rejections table or the audit log."""


class Verdict(Enum):
    """What to keep of one refusal."""

    RECORD = "record"  # a row and a signed audit entry of its own
    COUNT_FIRST = "count_first"  # counted: the first of the window past the cap (logged once)
    COUNT = "count"  # counted


@dataclass
class _Tally:
    """The counted refusals of one source address in one window."""

    recorded: int = 0
    refused: int = 0
    throttled: int = 0
    reasons: Counter[str] = field(default_factory=Counter)


OTHER_SOURCES = "(other sources)"
"""Where the refusals of addresses beyond ``RefusalLimits.sources`` are counted, together."""


class RefusalGuard:
    """What refused transmissions may cost, per source address: a token bucket (``rate`` refusals a second,
    ``burst`` at most) and, per window, the first ``cap`` refusals (``total`` for all addresses) recorded one by
    one and the rest counted. In memory, for one server process; at most ``sources`` addresses are tracked.

    A source's tokens go only on refusals: a peer whose transmissions are taken is never throttled, whatever its
    volume. Windows are aligned on the clock (``window`` long), so that one address's window and the node's total
    are the same window; a window's counts are handed out (``closed``) once it is over, and at shutdown (``drain``).
    """

    def __init__(self, limits: RefusalLimits) -> None:
        self._limits = limits
        self._lock = threading.Lock()
        self._buckets: OrderedDict[str, tuple[float, datetime]] = OrderedDict()  # address -> (tokens, when)
        self._tallies: dict[tuple[str, int], _Tally] = {}  # (address, window number) -> counts
        self._recorded: dict[int, int] = {}  # window number -> refusals recorded one by one, all addresses

    def _window(self, now: datetime) -> int:
        return math.floor(now.timestamp() / self._limits.window.total_seconds())

    def _tokens(self, remote: str, now: datetime) -> float:
        """The address's tokens now (refilled since last time); the bucket becomes the most recent one."""
        tokens, then = self._buckets.pop(remote, (float(self._limits.burst), now))
        elapsed = max((now - then).total_seconds(), 0.0)
        tokens = min(float(self._limits.burst), tokens + elapsed * self._limits.rate)
        self._buckets[remote] = (tokens, now)
        while len(self._buckets) > self._limits.sources:
            self._buckets.popitem(last=False)
        return tokens

    def _tally(self, remote: str, window: int) -> _Tally:
        key = (remote, window)
        if key not in self._tallies and len(self._tallies) >= self._limits.sources:
            key = (OTHER_SOURCES, window)
        return self._tallies.setdefault(key, _Tally())

    def admit(self, remote: str | None, now: datetime) -> float | None:
        """None if a transmission from ``remote`` may be read; else the seconds until it may (it is counted as
        throttled, and answered 429 without being read)."""
        source = remote or "?"
        with self._lock:
            tokens = self._tokens(source, now)
            if tokens >= 1.0:
                return None
            self._tally(source, self._window(now)).throttled += 1
            return (1.0 - tokens) / self._limits.rate

    def refused(self, remote: str | None, reason: str, now: datetime) -> Verdict:
        """A transmission from ``remote`` was refused: it takes a token; say whether it is recorded or counted."""
        source = remote or "?"
        window = self._window(now)
        with self._lock:
            tokens = self._tokens(source, now)
            self._buckets[source] = (max(tokens - 1.0, 0.0), now)
            tally = self._tally(source, window)
            recorded = self._recorded.get(window, 0)
            if tally.recorded < self._limits.cap and recorded < self._limits.total:
                tally.recorded += 1
                self._recorded[window] = recorded + 1
                return Verdict.RECORD
            tally.refused += 1
            tally.reasons[reason] += 1
            return Verdict.COUNT_FIRST if tally.refused == 1 else Verdict.COUNT

    def _take(self, keep: int | None) -> list[RefusalCount]:
        """Remove the tallies of windows before ``keep`` (all if None) and return those with counts."""
        span = self._limits.window
        out: list[RefusalCount] = []
        with self._lock:
            for key in [k for k in self._tallies if keep is None or k[1] < keep]:
                tally = self._tallies.pop(key)
                if tally.refused or tally.throttled:
                    start = datetime.fromtimestamp(key[1] * span.total_seconds(), UTC)
                    out.append(
                        RefusalCount(key[0], start, start + span, tally.refused, tally.throttled, dict(tally.reasons))
                    )
            for window in [w for w in self._recorded if keep is None or w < keep]:
                del self._recorded[window]
        return out

    def closed(self, now: datetime) -> list[RefusalCount]:
        """The counts of the windows that are over (each handed out once)."""
        return self._take(self._window(now))

    def drain(self) -> list[RefusalCount]:
        """Every count, the current window's included (the server stops)."""
        return self._take(None)


def keep_counts(node: Node, counts: list[RefusalCount]) -> None:
    """Record closed windows' counts: one row and one signed audit entry per address and window."""
    if not counts:
        return
    with node.uow() as uow:
        for count in counts:
            uow.rejections.add_count(count)
            event = audit.by_node(
                "",
                "transmission:refuse-counted",
                "transmission",
                outcome=Outcome.REFUSED,
                remote=safe(count.remote, 64),
                window_start=count.window_start.isoformat(),
                window_end=count.window_end.isoformat(),
                refused=count.refused,
                throttled=count.throttled,
                reasons=dict(count.reasons),
            )
            audit.record(uow, node, event)
        uow.commit()
    for count in counts:
        log.warning(
            "%d refused and %d throttled transmission(s) from %s between %s and %s (counted)",
            count.refused,
            count.throttled,
            safe(count.remote, 64),
            count.window_start.isoformat(),
            count.window_end.isoformat(),
        )


def refuse(node: Node, exc: EnvelopeRejected, remote: str | None, guard: RefusalGuard | None = None) -> None:
    """Record a refused transmission (or entry): one by one within the guard's caps, else counted; without a guard
    (in-process callers) always one by one. Closed windows' counts are recorded on the way."""
    now = node.now_wall()
    verdict = Verdict.RECORD if guard is None else guard.refused(remote, exc.reason, now)
    if guard is not None:
        keep_counts(node, guard.closed(now))
    source = safe(remote or "?", 64)
    sender = safe(exc.sender, 64) if exc.sender else None
    detail = safe(exc.detail, DETAIL_LIMIT)
    if verdict is Verdict.COUNT_FIRST:
        log.warning("further refusals from %s this window are counted, not recorded one by one", source)
    if verdict is not Verdict.RECORD:
        return
    log.warning("transmission from %s (claims %s) refused: %s: %s", source, sender or "?", exc.reason, detail)
    with node.uow() as uow:
        uow.rejections.add(Rejection(now, exc.reason, detail, sender, source))
        event = audit.by_node(
            sender or "",
            "transmission:refuse",
            "transmission",
            outcome=Outcome.REFUSED,
            reason=exc.reason,
            detail=detail,
            remote=source,
        )
        audit.record(uow, node, event)
        uow.commit()


MAX_KID = 128
"""The longest key id looked up: this node's key ids are thumbprints (43 characters); longer is nobody's key."""


def _sender_key(uow: UnitOfWork, kid: str, claimed: str | None) -> tuple[PeerKey, Peer, dict[str, PeerKey]]:
    key = uow.peer_keys.get(kid) if len(kid) <= MAX_KID else None
    if key is None or not key.key.jwk:
        raise EnvelopeRejected("unknown_sender", f"key {kid} is not in this node's directory", sender=claimed)
    if key.status is KeyStatus.REVOKED:
        raise EnvelopeRejected(
            "revoked_key", f"key {kid} of {key.node_id} was revoked here ({key.reason})", sender=claimed
        )
    peer = uow.peers.get(key.node_id)
    if peer is None:
        raise EnvelopeRejected("unknown_sender", f"node {key.node_id} is not in this node's directory", sender=claimed)
    if peer.status is EntryStatus.REVOKED:
        raise EnvelopeRejected(
            "revoked_sender", f"node {key.node_id} was revoked here ({peer.status_reason})", sender=claimed
        )
    if key.use is not KeyUse.SIGNING:
        raise EnvelopeRejected("bad_signature", f"key {kid} is an encryption key, not a signing key", sender=claimed)
    if key.status is KeyStatus.RETIRED:
        raise EnvelopeRejected(
            "retired_key",
            f"key {key.key.kid} of {key.node_id} was replaced by a rotation: sign with the new key",
            sender=claimed,
        )
    return key, peer, {k.key.kid: k for k in uow.peer_keys.of_node(key.node_id)}


def open_transmission(node: Node, envelope: str) -> Opened:
    """Decrypt and authenticate a transmission, refusing it whole if anything is wrong (see the module docstring).

    A replay is detected when the transmission is taken (its id is recorded in the same transaction as its
    messages), so that checking costs nothing on the way in.
    """
    identity, _, _ = node.network()
    inner = identity.open(envelope)
    header, unverified = identity.peek(inner)
    claimed = str(unverified.get("from", ""))[:64] or None
    with node.uow() as uow:
        key, peer, keys = _sender_key(uow, str(header.get("kid", "")), claimed)
    batch = identity.verify(inner, key.key, TYP_BATCH)
    if batch.get("hanoinet_batch") != PROTOCOL_VERSION:
        raise EnvelopeRejected("malformed", "not a hanoinet batch of this protocol version", sender=claimed)
    if batch.get("from") != key.node_id:
        raise EnvelopeRejected(
            "bad_signature",
            f"signed by {key.node_id}'s key but claims to come from {batch.get('from')}",
            sender=claimed,
        )
    if batch.get("to") != identity.node_id:
        raise EnvelopeRejected(
            "misdirected", f"addressed to {batch.get('to')}, this node is {identity.node_id}", sender=claimed
        )
    try:
        sent_at = datetime.fromisoformat(str(batch.get("sent_at")))
    except ValueError:
        raise EnvelopeRejected("malformed", "the transmission time is not ISO 8601", sender=claimed) from None
    stale = check_freshness(sent_at, node.now_wall(), node.federation.window)
    if stale:
        raise EnvelopeRejected("stale", stale, sender=claimed)
    batch_id = batch.get("id")
    messages = batch.get("messages")
    if not isinstance(batch_id, str) or not isinstance(messages, list) or not all(isinstance(m, str) for m in messages):
        raise EnvelopeRejected("malformed", "a batch has an id and a list of signed messages", sender=claimed)
    if len(messages) > MAX_MESSAGES:
        raise EnvelopeRejected("malformed", f"more than {MAX_MESSAGES} messages in one transmission", sender=claimed)
    return Opened(peer, batch_id, messages, keys)


@dataclass
class _Parsed:
    """One message of a transmission, verified (``message``) or not (``refusal`` says why)."""

    token: str
    digest: str
    id: str | None
    message: Message | None = None
    refusal: str | None = None


def _parse(node: Node, opened: Opened, token: str) -> _Parsed:
    """Verify one message on its own signature with the sender's keys (it may be signed by a key its node has since
    rotated away, not by one revoked); nothing is read from the database."""
    identity, _, _ = node.network()
    parsed = _Parsed(token, digest(token), None)
    try:
        header, claims = identity.peek(token)
    except EnvelopeRejected:
        parsed.refusal = "not a readable signed message"
        return parsed
    mid = claims.get("id")
    parsed.id = mid if isinstance(mid, str) and 0 < len(mid) <= 36 else None
    key = opened.keys.get(str(header.get("kid", "")))
    if parsed.id is None:
        parsed.refusal = "the message has no id"
    elif key is None or key.use is not KeyUse.SIGNING:
        parsed.refusal = f"signed by key {header.get('kid')}, which is not a key of {opened.peer.entry.node_id}"
    elif key.status is KeyStatus.REVOKED:
        parsed.refusal = f"signed by key {key.key.kid}, revoked here ({key.reason})"
    if parsed.refusal:
        return parsed
    assert key is not None
    try:
        message = message_from_claims(identity.verify(token, key.key, TYP_MESSAGE))
    except EnvelopeRejected as exc:
        parsed.refusal = exc.detail
        return parsed
    except ValidationFailed as exc:
        parsed.refusal = str(exc)
        return parsed
    if message.sender != opened.peer.entry.node_id or message.recipient != identity.node_id:
        parsed.refusal = (
            f"the message is from {message.sender} to {message.recipient}, not to this node from its sender"
        )
    elif message.kind is MessageKind.ENTRY:
        parsed.refusal = "directory entries are not sent inside transmissions"
    else:
        parsed.message = message
    return parsed


@dataclass
class _Outcome:
    id: str
    digest: str
    status: MessageOutcome
    reason: str | None = None


def _refused_record(opened: Opened, parsed: _Parsed, *, now: datetime, reason: str) -> IncomingMessage:
    message = parsed.message
    return IncomingMessage(
        parsed.id or "",
        opened.peer.entry.node_id,
        message.kind if message else MessageKind.CORRESPONDENCE,
        message.request_id if message else None,
        parsed.token,
        message.created_at if message else now,
        now,
        opened.batch_id,
        MessageStatus.REFUSED,
        reason[:2000],
    )


def _triage(
    uow: UnitOfWork, opened: Opened, parsed: list[_Parsed], now: datetime
) -> tuple[list[_Outcome], list[_Parsed], list[IncomingMessage]]:
    """Sort the batch's messages: already received (a duplicate keeps its first outcome), refused on sight (their
    refusal recorded), and to apply."""
    known = uow.inbox.known([p.id for p in parsed if p.id])
    outcomes: list[_Outcome] = []
    pending: list[_Parsed] = []
    refused: list[IncomingMessage] = []
    taken: set[str] = set()
    for p in parsed:
        if p.id is not None and (p.id in known or p.id in taken):
            prior = known.get(p.id)
            refused_before = prior is not None and prior.status is MessageStatus.REFUSED
            status = MessageOutcome.REFUSED if refused_before else MessageOutcome.DUPLICATE
            outcomes.append(_Outcome(p.id, p.digest, status, prior.reason if prior else None))
            continue
        if p.id is not None:
            taken.add(p.id)
        if p.refusal is not None:
            outcomes.append(_Outcome(p.id or "", p.digest, MessageOutcome.REFUSED, p.refusal))
            if p.id is not None:
                refused.append(_refused_record(opened, p, now=now, reason=p.refusal))
            continue
        pending.append(p)
        outcomes.append(_Outcome(p.id or "", p.digest, MessageOutcome.PENDING))
    return outcomes, pending, refused


def _apply_one(node: Node, uow: UnitOfWork, opened: Opened, parsed: _Parsed, now: datetime) -> IncomingMessage:
    """Apply one verified message inside ``uow``; a handler raises before writing anything if it cannot apply it."""
    message = parsed.message
    assert message is not None
    handler = node.handlers.get(message.kind)
    if handler is None:
        raise MessageRefused(f"this node takes no {message.kind.value} messages")
    handler(node, uow, opened.peer, message)
    return incoming_record(message, parsed.token, opened.batch_id, at=now)


class _OneByOne(Exception):  # noqa: N818 - control flow: a message of the batch cannot be applied
    """Take the batch one message per transaction."""


def _take_together(node: Node, opened: Opened, parsed: list[_Parsed], now: datetime) -> tuple[list[_Outcome], str]:
    """The fast path: every message, the replay marker and the receipt in one transaction."""
    with node.uow() as uow:
        uow.seen.add(opened.batch_id, opened.peer.entry.node_id, now)
        outcomes, pending, records = _triage(uow, opened, parsed, now)
        try:
            for p in pending:
                records.append(_apply_one(node, uow, opened, p, now))
                _replace(outcomes, _Outcome(p.id or "", p.digest, MessageOutcome.ACCEPTED))
        except (DomainError, EnvelopeRejected):
            raise _OneByOne from None  # leaving the block rolls everything back
        uow.inbox.receive(records)
        token = _issue(node, uow, opened, outcomes, now)
        uow.commit()
    return outcomes, token


def _take_one_by_one(node: Node, opened: Opened, parsed: list[_Parsed], now: datetime) -> tuple[list[_Outcome], str]:
    """The careful path: a transaction per message, so that a refused one leaves nothing but its refusal."""
    with node.uow() as uow:
        uow.seen.add(opened.batch_id, opened.peer.entry.node_id, now)
        outcomes, pending, refused = _triage(uow, opened, parsed, now)
        uow.inbox.receive(refused)
        uow.commit()
    for p in pending:
        try:
            with node.uow() as uow:
                uow.inbox.receive([_apply_one(node, uow, opened, p, now)])
                uow.commit()
            outcome = _Outcome(p.id or "", p.digest, MessageOutcome.ACCEPTED)
        except (DomainError, EnvelopeRejected) as exc:
            if isinstance(exc, ValidationFailed) and len(exc.issues) == 1:
                reason = str(exc.issues[0])
            else:
                reason = exc.detail if isinstance(exc, EnvelopeRejected) else str(exc)
            log.info("message %s from %s refused: %s", safe(p.id), opened.peer.entry.node_id, safe(reason))
            with node.uow() as uow:
                uow.inbox.receive([_refused_record(opened, p, now=now, reason=reason)])
                uow.commit()
            outcome = _Outcome(p.id or "", p.digest, MessageOutcome.REFUSED, reason)
        _replace(outcomes, outcome)
    with node.uow() as uow:
        token = _issue(node, uow, opened, outcomes, now)
        uow.commit()
    return outcomes, token


def _replace(outcomes: list[_Outcome], outcome: _Outcome) -> None:
    for index, existing in enumerate(outcomes):
        if existing.id == outcome.id and existing.status is MessageOutcome.PENDING:
            outcomes[index] = outcome
            return


def _issue(node: Node, uow: UnitOfWork, opened: Opened, outcomes: list[_Outcome], now: datetime) -> str:
    """Sign the receipt and keep it, inside the transaction that commits the messages; return it."""
    identity, _, _ = node.network()
    receipt_id = new_id()
    claims = {
        "hanoinet_receipt": PROTOCOL_VERSION,
        "id": receipt_id,
        "batch": opened.batch_id,
        "from": identity.node_id,
        "to": opened.peer.entry.node_id,
        "at": now.isoformat(),
        "results": [
            {"id": o.id, "digest": o.digest, "status": o.status.value, **({"reason": o.reason} if o.reason else {})}
            for o in outcomes
        ],
    }
    token = identity.sign(claims, TYP_RECEIPT)
    uow.receipts.add(
        Receipt(receipt_id, opened.batch_id, opened.peer.entry.node_id, ReceiptDirection.ISSUED, token, now)
    )
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.status.value] = counts.get(o.status.value, 0) + 1
    event = audit.by_node(opened.peer.entry.node_id, "transmission:receive", "transmission", opened.batch_id)
    audit.record(uow, node, replace(event, details={"messages": counts}))
    return token


def receive_transmission(
    node: Node, envelope: str, remote: str | None = None, guard: RefusalGuard | None = None
) -> str:
    """Take a sealed transmission; return the sealed, signed receipt. Raise EnvelopeRejected (recorded, or counted
    by ``guard``) if refused."""
    identity, _, _ = node.network()
    try:
        opened = open_transmission(node, envelope)
    except EnvelopeRejected as exc:
        refuse(node, exc, remote, guard)
        raise
    parsed = [_parse(node, opened, token) for token in opened.messages]
    now = node.now_wall()
    for attempt in range(3):
        try:
            try:
                outcomes, token = _take_together(node, opened, parsed, now)
            except _OneByOne:
                outcomes, token = _take_one_by_one(node, opened, parsed, now)
            break
        except Conflict:
            # The same transmission twice at once (a replay racing the original), the same message through two
            # workers, or a request changed here meanwhile: the loser's transaction is rolled back whole, and
            # looking again sees what the winner committed.
            if attempt == 2:
                raise
            with node.uow() as uow:
                replayed = uow.seen.contains(opened.batch_id)
            if replayed:
                replay = EnvelopeRejected("replay", f"transmission {opened.batch_id} was already received: a replay")
                refuse(node, replay, remote, guard)
                raise replay from None
    accepted = sum(1 for o in outcomes if o.status is MessageOutcome.ACCEPTED)
    log.debug("took %d of %d message(s) from %s", accepted, len(outcomes), opened.peer.entry.node_id)
    return identity.encrypt_to(token.encode(), opened.peer.entry.encryption_key, TYP_SEALED, TYP_RECEIPT)


def receive_entry(
    node: Node, signed: Mapping[str, Any], remote: str | None = None, guard: RefusalGuard | None = None
) -> ImportResult:
    """Take a directory entry pushed by a known node (after it rotated its keys or changed its endpoint)."""
    from hanoinet.federation import directory  # noqa: PLC0415 - directory imports nothing from here; keeps layers flat

    try:
        return directory.accept_pushed_entry(node, signed)
    except (DomainError, EnvelopeRejected) as exc:
        detail = exc.detail if isinstance(exc, EnvelopeRejected) else str(exc)
        refuse(node, EnvelopeRejected("entry_refused", detail), remote, guard)
        raise
