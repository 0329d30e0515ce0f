"""Evidence transfer between nodes: offer, chunks, completion, receipt — custody on both sides, conditions enforced.

1. **Offer** (sender): a signed, encrypted message with the manifest — each item's description, hashes, size and
   framing, its handling conditions and origin, and its custody history with the sender's signed checkpoints —
   and, encrypted to the receiver's key alone, each blob's data key and a bearer token for the chunks. Onward
   transfer of an item received from another State is refused here, and the refusal recorded in its custody,
   unless the originator consented to this destination (Art 36).
2. **Chunks**: the sender's stored records go verbatim (no decryption, no re-hashing on the sender). The receiver
   authenticates each on arrival with the blob's key (an altered, reordered or foreign chunk is refused and named)
   and writes it, re-encrypted under its own key, into an assembly that survives a crash: a resumed transfer starts
   from the receiver's last verified chunk.
3. **Completion**: the receiver checks the whole (SHA-256 and size) against the manifest, stores the item with its
   sender's conditions and origin, records a ``transfer_in`` custody event that carries the sender's custody
   history, and returns a signed receipt (also queued as a message). The sender records ``transfer_out`` with it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from hanoinet.audit import service as audit
from hanoinet.evidence.domain import (
    CustodyAction,
    CustodyEvent,
    EvidenceItem,
    HandlingConditions,
    ItemDescription,
    Origin,
    metadata_digest,
)
from hanoinet.evidence.ports import (
    Assembly,
    AssemblyInUse,
    ChunkOpener,
    ChunkRefused,
    ContentMismatch,
    SealedContent,
    SealedVault,
)
from hanoinet.evidence.service import Custody
from hanoinet.federation.domain import (
    PROTOCOL_VERSION,
    TYP_SECRET,
    TYP_TRANSFER_RECEIPT,
    Consent,
    ConsentRole,
    ConsentStatus,
    EnvelopeRejected,
    KeyStatus,
    Message,
    MessageKind,
    MessageRefused,
    MessageStatus,
    TransferItemState,
    TransferState,
    check_onward_transfer,
    peer_answer,
)
from hanoinet.federation.messaging import compose, find_peer, usable_encryption_key
from hanoinet.federation.ports import (
    Identity,
    Peer,
    Rejection,
    TransferItemRecord,
    TransferRecord,
    Transport,
    TransportError,
)
from hanoinet.platform.direction import Direction
from hanoinet.platform.errors import (
    UNAUTHENTICATED,
    Conflict,
    DomainError,
    ErrorKind,
    Issue,
    NotFound,
    ValidationFailed,
)
from hanoinet.platform.ids import new_id
from hanoinet.platform.permissions import Principal

if TYPE_CHECKING:
    from hanoinet.app.node import Node, UnitOfWork

log = logging.getLogger("hanoinet.federation")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: Any) -> bytes:
    try:
        return base64.b64decode(str(text), validate=True)
    except ValueError:
        raise MessageRefused("a transfer secret is not base64") from None


# --------------------------------------------------------------------------------------------------------------
# Sender


def _sealed_vault(node: Node) -> SealedVault:
    vault, _ = node.evidence_store()
    return vault  # type: ignore[return-value] # the real vault is both; a node without it fails in evidence_store


def _custody_excerpt(node: Node, uow: UnitOfWork, item: EvidenceItem) -> dict[str, Any]:
    """The item's custody here, each event with the checkpoint this node signed for it; and, for an item that was
    itself received, the history it arrived with (inside its ``transfer_in`` event)."""
    _, signer = node.evidence_store()
    events = list(uow.ledger.history(item.id))
    seqs = {e.seq for e in events}
    checkpoints = [cp for cp in uow.ledger.checkpoints() if cp.seq in seqs]
    return {
        "custody_key": signer.public_key_hex(),
        "events": [e.as_dict() for e in events],
        "checkpoints": [cp.as_dict() for cp in checkpoints],
    }


def _refuse_transfer(node: Node, item: EvidenceItem, principal: Principal, reason: str, why: str, *, to: Peer) -> None:
    """Record the refusal in the item's custody (committed), then raise AccessDenied."""
    _, signer = node.evidence_store()
    with node.uow() as uow:
        denied = Custody(uow, signer, principal.name, node.clock.now()).refuse(
            item.id,
            CustodyAction.TRANSFER_OUT,
            reason,
            f"send item {item.id} to {to.entry.node_id}: {why}",
            to_node=to.entry.node_id,
            to_state=to.entry.state,
            refusal=why,
        )
    raise denied


def _select(
    node: Node, uow: UnitOfWork, to: str, item_ids: Sequence[str], request_id: str
) -> tuple[Peer, list[EvidenceItem], dict[str, list[Consent]]]:
    """The destination, the items (each must still have content) and the consents granted for them."""
    peer = find_peer(uow, to)
    request = uow.requests.get(request_id) if request_id else None
    if request is None:
        raise ValidationFailed([Issue("request_id", f"no request {request_id!r}: evidence answers a request")])
    if request.peer != peer.entry.node_id:
        raise ValidationFailed(
            [Issue("request_id", f"request {request_id} is exchanged with {request.peer}, not {to}")]
        )
    items: list[EvidenceItem] = []
    for index, item_id in enumerate(item_ids):
        item = uow.evidence.get(item_id)
        if item is None:
            raise ValidationFailed([Issue(f"items[{index}]", f"no evidence item {item_id!r}")])
        if item.disposed_at is not None:
            raise ValidationFailed([Issue(f"items[{index}]", f"item {item_id} was disposed of: it has no content")])
        items.append(item)
    consents = {
        i.id: [
            c.as_consent()
            for c in uow.consents.list(item_id=i.id, role=ConsentRole.HOLDER)
            if c.status is ConsentStatus.GRANTED
        ]
        for i in items
    }
    return peer, items, consents


def _manifest_item(node: Node, uow: UnitOfWork, idx: int, item: EvidenceItem, sealed: SealedContent) -> dict[str, Any]:
    """What the receiver is told of one item: enough to check it, store it and know its history and conditions."""
    identity, _, _ = node.network()
    return {
        "idx": idx,
        "item_id": item.id,
        "sha256": item.sha256,
        "size": item.size,
        "hashes": item.hashes,
        "chunk_size": sealed.chunk_size,
        "records": sealed.records,
        # The case is the sender's own: the receiver files the item under the case of its request.
        "described": {k: v for k, v in item.described.as_dict().items() if k != "case_id"},
        "conditions": item.conditions.as_dict(),
        "origin": (item.conditions.origin or Origin(identity.node_id, node.node_state or "", item.id)).as_dict(),
        "custody": _custody_excerpt(node, uow, item),
    }


def start_transfer(
    node: Node,
    *,
    to: str,
    item_ids: Sequence[str],
    principal: Principal,
    reason: str,
    request_id: str,
) -> TransferRecord:
    """Offer items to another node in answer to a request exchanged with it: checks, manifest, encrypted keys, and
    the offer queued with the transfer."""
    identity, _, _ = node.network()
    vault = _sealed_vault(node)
    issues = []
    if not reason.strip():
        issues.append(Issue("reason", "say why the evidence goes (it is recorded in custody on both sides)"))
    if not item_ids:
        issues.append(Issue("items", "name at least one item"))
    if len(set(item_ids)) != len(item_ids):
        issues.append(Issue("items", "an item is named twice"))
    if issues:
        raise ValidationFailed(issues)
    with node.uow() as uow:
        peer, items, consents = _select(node, uow, to, item_ids, request_id)
        unusable = usable_encryption_key(uow, peer)
    if unusable:
        raise ValidationFailed([Issue("to", unusable)])
    for item in items:
        if not item.conditions.permits(principal):
            roles = ", ".join(r.value for r in item.conditions.allowed_roles)
            _refuse_transfer(node, item, principal, reason, f"its handling conditions allow roles {roles}", to=peer)
        origin, onward = item.conditions.origin, item.conditions.onward_transfer_allowed
        why = check_onward_transfer(origin, onward, peer.entry.node_id, consents[item.id])
        if why:
            _refuse_transfer(node, item, principal, reason, why, to=peer)
    transfer_id, token, now = new_id(), secrets.token_urlsafe(32), node.clock.now()
    with node.uow() as uow:
        sealed = [vault.seal_info(item.sha256) for item in items]
        keys = [
            {
                "idx": i,
                "data_key": _b64(s.data_key),
                "nonce_prefix": _b64(s.nonce_prefix),
                "header_hash": _b64(s.header_hash),
            }
            for i, s in enumerate(sealed)
        ]
        secret = json.dumps({"transfer_id": transfer_id, "token": token, "items": keys}).encode()
        offer = {
            "hanoinet_transfer": PROTOCOL_VERSION,
            "transfer_id": transfer_id,
            "request_id": request_id,
            "reason": reason,
            "sent_by": principal.name,
            "items": [
                _manifest_item(node, uow, i, item, s) for i, (item, s) in enumerate(zip(items, sealed, strict=True))
            ],
            "secret": identity.encrypt_to(secret, peer.entry.encryption_key, TYP_SECRET),
        }
        message = compose(
            node, uow, peer, MessageKind.TRANSFER_OFFER, offer, actor=principal.name, request_id=request_id
        )
        transfer = TransferRecord(
            id=transfer_id,
            direction=Direction.OUTGOING,
            peer=peer.entry.node_id,
            request_id=request_id,
            case_id=items[0].described.case_id,
            state=TransferState.OFFERED,
            created_at=now,
            updated_at=now,
            created_by=principal.name,
            reason=reason,
            offer_id=message.id,
            # The receiver's secrets are not kept; the chunks' bearer token is, encrypted to this node's own key, so
            # that a sender restarted mid-transfer can resume it.
            offer={**{k: v for k, v in offer.items() if k != "secret"}, "own_token": _seal_to_self(identity, token)},
            items=tuple(
                TransferItemRecord(i, item.id, item.sha256, item.size, s.chunk_size, s.records)
                for i, (item, s) in enumerate(zip(items, sealed, strict=True))
            ),
            token_hash=hashlib.sha256(token.encode()).hexdigest(),
        )
        uow.transfers.add(transfer)
        audit.attach(uow, transfer.id)
        uow.commit()
    node.outbox_changed(peer.entry.node_id)
    return transfer


def _seal_to_self(identity: Identity, token: str) -> str:
    return identity.encrypt_to(token.encode(), identity.encryption_key, TYP_SECRET)


def _token(node: Node, transfer: TransferRecord) -> str:
    """The bearer token of an outgoing transfer, decrypted with this node's key (current or retired)."""
    identity, _, _ = node.network()
    return identity.decrypt(str(transfer.offer["own_token"])).decode()


def list_transfers(node: Node) -> Sequence[TransferRecord]:
    """Transfers either way, newest first."""
    with node.uow() as uow:
        return uow.transfers.list()


def get_transfer(node: Node, transfer_id: str) -> TransferRecord:
    """One transfer; raise NotFound."""
    with node.uow() as uow:
        transfer = uow.transfers.get(transfer_id)
    if transfer is None:
        raise NotFound(f"no transfer {transfer_id!r}")
    return transfer


# --------------------------------------------------------------------------------------------------------------
# Sender: pushing the chunks, recording the receipt


def _peer_of(uow: UnitOfWork, transfer: TransferRecord) -> Peer:
    peer = uow.peers.get(transfer.peer)
    if peer is None:
        raise NotFound(f"node {transfer.peer} is no longer in the directory")
    return peer


def _status_json(code: int, body: bytes, what: str) -> dict[str, Any]:
    if code != 200:
        raise TransportError(f"{what}: {peer_answer(code, body)}")
    try:
        data = json.loads(body)
    except ValueError:
        raise TransportError(f"{what}: the answer is not JSON") from None
    if not isinstance(data, dict):
        raise TransportError(f"{what}: the answer is not a JSON object")
    return data


def _fail(node: Node, transfer_id: str, error: str) -> TransferRecord:
    log.error("transfer %s failed: %s", transfer_id, error)
    with node.uow() as uow:
        uow.transfers.update(transfer_id, state=TransferState.FAILED, at=node.clock.now(), error=error[:2000])
        uow.commit()
    return get_transfer(node, transfer_id)


def _offer_outcome(node: Node, transfer: TransferRecord) -> TransferRecord | None:
    """Move an offered transfer on once its offer is delivered (or refused); None while it is still on its way."""
    with node.uow() as uow:
        offer = uow.outbox.get(transfer.offer_id)
    if offer is None or offer.status is MessageStatus.PENDING:
        return None
    state = TransferState.SENDING if offer.status is MessageStatus.DELIVERED else TransferState.REFUSED
    with node.uow() as uow:
        uow.transfers.update(transfer.id, state=state, at=node.clock.now(), error=offer.error)
        uow.commit()
    return get_transfer(node, transfer.id)


def _push_items(
    node: Node, transport: Transport, transfer: TransferRecord, endpoint: str, token: str
) -> TransferRecord | None:
    """Send each item's records the receiver does not hold yet; return the failed transfer if the content itself is
    at fault (not worth retrying), None when every item is through."""
    vault = _sealed_vault(node)
    for _ in range(3):
        code, answer = transport.transfer_status(endpoint, transfer.id, token)
        status = _status_json(code, answer, "transfer status")
        done = {int(i["idx"]): int(i["chunks_done"]) for i in status.get("items", [])}
        remaining = [i for i in transfer.items if done.get(i.idx, 0) < i.chunks_total]
        if not remaining:
            return None
        for item in remaining:
            start = done.get(item.idx, 0)
            try:
                records = vault.read_records(item.sha256, start)
                code, body = transport.send_records(
                    endpoint, transfer.id, item.idx, start=start, token=token, records=records
                )
            except (OSError, ValueError) as exc:  # the sender's own content cannot be read
                return _fail(node, transfer.id, f"item {item.item_id}: its stored content cannot be read: {exc}")
            if code == 422:  # what it said stays there (its operator sees it); here, only that it refused
                why = (
                    f"item {item.item_id}: the receiver refused a chunk ({peer_answer(code, body)}); "
                    "run 'hanoinet evidence verify', and ask the receiver's operator why"
                )
                return _fail(node, transfer.id, why)
            if code not in (200, 409):  # 409: the receiver wants another offset; the next status says which
                raise TransportError(f"sending item {item.idx}: {peer_answer(code, body)}")
            if code == 200:
                with node.uow() as uow:
                    chunks = int(json.loads(body).get("chunks_done", 0))
                    uow.transfers.update_item(transfer.id, item.idx, chunks_done=chunks)
                    uow.commit()
    raise TransportError("the receiver keeps asking for other chunks; trying again later")


def send_transfer(node: Node, transport: Transport, transfer_id: str) -> TransferRecord:
    """Advance an outgoing transfer as far as it goes now: wait for the offer, push the chunks the receiver does
    not have yet (it says which), complete, record the receipt. Raise TransportError to be retried later."""
    transfer = get_transfer(node, transfer_id)
    if transfer.direction is not Direction.OUTGOING:
        raise ValidationFailed([Issue("transfer", f"transfer {transfer_id} is incoming")])
    if transfer.state == TransferState.OFFERED:
        moved = _offer_outcome(node, transfer)
        if moved is None or moved.state != TransferState.SENDING:
            return moved or transfer
        transfer = moved
    if transfer.state != TransferState.SENDING:
        return transfer
    with node.uow() as uow:
        peer = _peer_of(uow, transfer)
    endpoint, token = peer.entry.endpoint, _token(node, transfer)
    failed = _push_items(node, transport, transfer, endpoint, token)
    if failed is not None:
        return failed
    code, body = transport.complete_transfer(endpoint, transfer.id, token)
    if code == 422:
        why = f"the receiver refused the whole ({peer_answer(code, body)}): ask the receiver's operator why"
        return _fail(node, transfer.id, why)
    if code != 200:
        raise TransportError(f"completing transfer: {peer_answer(code, body)}")
    receipt = str(json.loads(body).get("receipt", ""))
    with node.uow() as uow:
        record_receipt(node, uow, _peer_of(uow, transfer), transfer.id, receipt)
        uow.commit()
    return get_transfer(node, transfer.id)


def pending_transfers(node: Node) -> Sequence[str]:
    """Outgoing transfers still to move on."""
    with node.uow() as uow:
        return [
            t.id
            for state in (TransferState.OFFERED, TransferState.SENDING)
            for t in uow.transfers.list(state=state, direction=Direction.OUTGOING)
        ]


def record_receipt(node: Node, uow: UnitOfWork, peer: Peer, transfer_id: str, receipt: str) -> None:
    """Check a receiver's signed transfer receipt and record ``transfer_out`` for each item (once)."""
    identity, _, _ = node.network()
    transfer = uow.transfers.get(transfer_id)
    if transfer is None or transfer.direction is not Direction.OUTGOING or transfer.peer != peer.entry.node_id:
        raise MessageRefused(f"no transfer {transfer_id} to {peer.entry.node_id} here")
    if transfer.state == TransferState.COMPLETED:
        return
    header, _ = identity.peek(receipt)
    key = uow.peer_keys.get(str(header.get("kid", "")))
    if key is None or key.node_id != peer.entry.node_id or key.status is KeyStatus.REVOKED:
        raise MessageRefused("the transfer receipt is not signed by a key of the receiving node")
    claims = identity.verify(receipt, key.key, TYP_TRANSFER_RECEIPT)
    if claims.get("transfer") != transfer_id or claims.get("from") != peer.entry.node_id:
        raise MessageRefused("the receipt is for another transfer")
    received = {int(i["idx"]): i for i in claims.get("items", []) if isinstance(i, dict)}
    _, signer = node.evidence_store()
    now = node.clock.now()
    custody = Custody(uow, signer, transfer.created_by, now)
    for item in transfer.items:
        got = received.get(item.idx)
        if got is None or got.get("sha256") != item.sha256 or got.get("size") != item.size:
            raise MessageRefused(f"the receipt does not confirm item {item.item_id} as sent")
        custody.record(
            item.item_id,
            CustodyAction.TRANSFER_OUT,
            f"sent to {peer.entry.authority} ({peer.entry.state}): {transfer.reason}",
            to_node=peer.entry.node_id,
            to_state=peer.entry.state,
            transfer_id=transfer_id,
            request_id=transfer.request_id,
            sha256=item.sha256,
            receipt_sha256=hashlib.sha256(receipt.encode()).hexdigest(),
            their_item_id=got.get("local_item_id"),
            their_custody_event=got.get("custody_event"),
        )
        uow.transfers.update_item(
            transfer_id, item.idx, state=TransferItemState.DELIVERED, chunks_done=item.chunks_total
        )
    uow.transfers.update(transfer_id, state=TransferState.COMPLETED, at=now, receipt=receipt)
    done = audit.by_node(
        peer.entry.node_id, "transfer:receipt", "transfer", transfer_id, items=[i.item_id for i in transfer.items]
    )
    audit.record(uow, node, done)


def receive_receipt(node: Node, uow: UnitOfWork, peer: Peer, message: Message) -> None:
    """A transfer receipt that came as a message (when the answer to the last call was lost)."""
    receipt = message.body.get("receipt")
    transfer_id = message.body.get("transfer_id")
    if not isinstance(receipt, str) or not isinstance(transfer_id, str):
        raise MessageRefused("a transfer receipt message carries the transfer id and the signed receipt")
    record_receipt(node, uow, peer, transfer_id, receipt)


# --------------------------------------------------------------------------------------------------------------
# Receiver: the offer, the chunks, completion


class TransferUnauthorized(DomainError):  # noqa: N818 - mirrors HTTP 401
    """The chunk or status call does not carry the transfer's token."""

    error_kind: ClassVar[ErrorKind] = UNAUTHENTICATED


class OffsetMismatch(Conflict):
    """Chunks must come in order: ``expected`` is the next one this node needs."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        super().__init__(f"the next chunk this node needs is {expected}")


def _check_excerpt(node: Node, peer: Peer, excerpt: Any, where: str) -> None:
    """The sender's custody history of an item: each event intact and covered by a checkpoint the sender's custody
    key signed (the key its directory entry publishes)."""
    identity, _, _ = node.network()
    if not isinstance(excerpt, dict) or not isinstance(excerpt.get("events"), list):
        raise MessageRefused(f"{where}: the custody history is missing")
    if excerpt.get("custody_key") != peer.entry.custody_key:
        raise MessageRefused(
            f"{where}: the custody history is signed by a key that is not {peer.entry.node_id}'s custody key"
        )
    signed = {}
    for cp in excerpt.get("checkpoints", []):
        try:
            message = json.dumps(
                {"ledger": "hanoinet-custody", "seq": cp["seq"], "head_hash": cp["head_hash"]},
                sort_keys=True,
                separators=(",", ":"),
                ensure_ascii=False,
            ).encode()
            if identity.verify_ed25519(peer.entry.custody_key, _unb64(cp["signature"]), message):
                signed[int(cp["seq"])] = str(cp["head_hash"])
        except (KeyError, TypeError, ValueError):
            continue
    for raw in excerpt["events"]:
        try:
            event = CustodyEvent.from_dict(dict(raw))
        except (KeyError, TypeError, ValueError):
            raise MessageRefused(f"{where}: a custody event is malformed") from None
        if event.computed_hash() != event.hash:
            raise MessageRefused(f"{where}: custody event {event.seq} was altered (its hash does not match)")
        if signed.get(event.seq) != event.hash:
            raise MessageRefused(f"{where}: custody event {event.seq} has no checkpoint signed by {peer.entry.node_id}")


def _records_for(size: int, chunk_size: int) -> int:
    return max(1, -(-size // chunk_size))


def receive_offer(node: Node, uow: UnitOfWork, peer: Peer, message: Message) -> None:
    """Take an offer: the manifest checked item by item, the custody history verified, the secrets opened."""
    identity, _, _ = node.network()
    body = message.body
    transfer_id = body.get("transfer_id")
    if body.get("hanoinet_transfer") != PROTOCOL_VERSION or not isinstance(transfer_id, str):
        raise MessageRefused("not a transfer offer of this protocol version")
    if uow.transfers.get(transfer_id) is not None:
        raise MessageRefused(f"transfer {transfer_id} already exists here")
    request = uow.requests.get(message.request_id or "")
    if request is None or request.peer != peer.entry.node_id:
        raise MessageRefused("evidence is sent for a request exchanged between the two nodes: name it")
    items = body.get("items")
    if not isinstance(items, list) or not items:
        raise MessageRefused("the offer lists no items")
    try:
        secrets_ = json.loads(identity.decrypt(str(body.get("secret", ""))))
    except (EnvelopeRejected, ValueError):
        raise MessageRefused("the offer's secrets cannot be decrypted with this node's key") from None
    if secrets_.get("transfer_id") != transfer_id or not isinstance(secrets_.get("token"), str):
        raise MessageRefused("the offer's secrets are for another transfer")
    keyed = {int(s["idx"]) for s in secrets_.get("items", [])}
    records: list[TransferItemRecord] = []
    for index, item in enumerate(items):
        where = f"item {index}"
        try:
            sha256, size, chunk = str(item["sha256"]), int(item["size"]), int(item["chunk_size"])
            total = int(item["records"])
            HandlingConditions.from_dict(dict(item["conditions"]))
            Origin.from_dict(dict(item["origin"]))
            described = dict(item["described"])
            datetime.fromisoformat(str(described["acquired_at"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise MessageRefused(f"{where}: the manifest is incomplete or malformed ({exc})") from None
        if len(sha256) != 64 or size < 0 or not 1 <= chunk <= 64 * 1024 * 1024 or total != _records_for(size, chunk):
            raise MessageRefused(f"{where}: size, chunk size and record count do not agree")
        if int(item.get("idx", -1)) != index or index not in keyed:
            raise MessageRefused(f"{where}: its key is missing from the offer's secrets")
        _check_excerpt(node, peer, item.get("custody"), where)
        records.append(
            TransferItemRecord(
                index, str(item["item_id"]), sha256, size, chunk, total, state=TransferItemState.RECEIVING
            )
        )
    now = node.clock.now()
    uow.transfers.add(
        TransferRecord(
            id=transfer_id,
            direction=Direction.INCOMING,
            peer=peer.entry.node_id,
            request_id=request.id,
            case_id=request.case_id,
            state=TransferState.RECEIVING,
            created_at=now,
            updated_at=now,
            created_by=str(body.get("sent_by", ""))[:256],
            reason=str(body.get("reason", ""))[:2000],
            offer_id=message.id,
            offer=body,
            items=tuple(records),
            token_hash=hashlib.sha256(secrets_["token"].encode()).hexdigest(),
        )
    )


@dataclass
class _Open:
    """An incoming item being assembled in this process: its assembly and checker, one writer at a time."""

    assembly: Assembly
    opener: ChunkOpener
    records: int
    lock: threading.Lock = field(default_factory=threading.Lock)


_OPEN: dict[tuple[str, int], _Open] = {}
_OPEN_LOCK = threading.Lock()


def _incoming(node: Node, transfer_id: str, token: str) -> TransferRecord:
    with node.uow() as uow:
        transfer = uow.transfers.get(transfer_id)
    if transfer is None or transfer.direction is not Direction.INCOMING:
        raise NotFound(f"no incoming transfer {transfer_id!r}")
    digest_ = hashlib.sha256(token.encode()).hexdigest()
    if not transfer.token_hash or not hmac.compare_digest(digest_, transfer.token_hash):
        raise TransferUnauthorized("this transfer's token is required (Authorization: Bearer …)")
    return transfer


def _opened(node: Node, transfer: TransferRecord, idx: int) -> _Open:
    """The item's assembly, opened (or resumed from its verified prefix) once per process."""
    identity, _, _ = node.network()
    key = (transfer.id, idx)
    with _OPEN_LOCK:
        found = _OPEN.get(key)
        if found is not None:
            return found
        item = next((i for i in transfer.items if i.idx == idx), None)
        if item is None:
            raise NotFound(f"transfer {transfer.id} has no item {idx}")
        secret = json.loads(identity.decrypt(str(transfer.offer["secret"])))
        fields = next(s for s in secret["items"] if int(s["idx"]) == idx)
        sealed = SealedContent(
            item.sha256,
            item.chunk_size,
            item.chunks_total,
            _unb64(fields["nonce_prefix"]),
            _unb64(fields["header_hash"]),
            _unb64(fields["data_key"]),
        )
        vault = _sealed_vault(node)
        name = f"t-{transfer.id}-{idx}"
        try:
            assembly = vault.assembly(name, item.chunk_size)
        except AssemblyInUse:
            raise Conflict(f"item {idx} of transfer {transfer.id} is being written by another process") from None
        opened = _Open(assembly, vault.opener(sealed), item.chunks_total)
        _OPEN[key] = opened
        return opened


def transfer_status(node: Node, transfer_id: str, token: str) -> dict[str, Any]:
    """How far each item of an incoming transfer got: the sender resumes from there."""
    transfer = _incoming(node, transfer_id, token)
    items = []
    for item in transfer.items:
        if item.local_item_id is not None or transfer.state == TransferState.COMPLETED:
            items.append(
                {"idx": item.idx, "chunks_done": item.chunks_total, "records": item.chunks_total, "stored": True}
            )
            continue
        opened = _opened(node, transfer, item.idx)
        items.append(
            {"idx": item.idx, "chunks_done": opened.assembly.chunks_done, "records": item.chunks_total, "stored": False}
        )
    return {"transfer_id": transfer.id, "state": transfer.state.value, "items": items}


class ChunkWriter:
    """Takes the records of one item in order, authenticating each before it is written."""

    def __init__(self, node: Node, transfer: TransferRecord, opened: _Open) -> None:
        self._node = node
        self._transfer = transfer
        self._opened = opened

    @property
    def chunks_done(self) -> int:
        """Verified chunks stored so far."""
        return self._opened.assembly.chunks_done

    @property
    def chunk_size(self) -> int:
        """The item's chunk size: a record stating more content bytes is refused before it is read."""
        return self._opened.opener.chunk_size

    def take(self, record: bytes) -> None:
        """Authenticate the next record and write it; a refused one is recorded and raised as ChunkRefused."""
        index = self._opened.assembly.chunks_done
        if index >= self._opened.records:
            raise OffsetMismatch(self._opened.records)
        try:
            plaintext, last = self._opened.opener.open(index, record)
        except ChunkRefused as exc:
            # The sender's content is not what it offered (damaged at the source): the transfer cannot succeed.
            # It is refused, what arrived is thrown away, and the sender is told which chunk (it runs a verify).
            with self._node.uow() as uow:
                uow.rejections.add(
                    Rejection(
                        self._node.now_wall(),
                        "chunk_rejected",
                        f"transfer {self._transfer.id}: {exc}",
                        self._transfer.peer,
                    )
                )
                uow.transfers.update(
                    self._transfer.id, state=TransferState.FAILED, at=self._node.clock.now(), error=str(exc)
                )
                uow.commit()
            with _OPEN_LOCK:
                for key in [k for k in _OPEN if k[0] == self._transfer.id]:
                    _OPEN.pop(key).assembly.discard()
            raise
        if last != (index == self._opened.records - 1):
            raise OffsetMismatch(index)
        self._opened.assembly.append(plaintext, last=last)

    def release(self) -> None:
        """Let the next call write to this item."""
        self._opened.lock.release()


def chunk_writer(node: Node, transfer_id: str, idx: int, start: int, token: str) -> ChunkWriter:
    """A writer for an item's records from ``start``; raise OffsetMismatch if ``start`` is not the next one needed."""
    transfer = _incoming(node, transfer_id, token)
    if transfer.state != TransferState.RECEIVING:
        raise Conflict(f"transfer {transfer_id} is {transfer.state}: it takes no more chunks")
    opened = _opened(node, transfer, idx)
    if not opened.lock.acquire(blocking=False):
        raise Conflict(f"item {idx} of transfer {transfer_id} is being written by another call")
    if opened.assembly.chunks_done != start:
        opened.lock.release()
        raise OffsetMismatch(opened.assembly.chunks_done)
    return ChunkWriter(node, transfer, opened)


def complete_transfer(node: Node, transfer_id: str, token: str) -> str:
    """Check every item whole against its manifest, store it, record custody, and return the signed receipt."""
    identity, _, _ = node.network()
    transfer = _incoming(node, transfer_id, token)
    if transfer.state == TransferState.COMPLETED and transfer.receipt:
        return transfer.receipt  # asked again (the answer was lost): the same receipt
    if transfer.state != TransferState.RECEIVING:
        raise Conflict(f"transfer {transfer_id} is {transfer.state}")
    manifest = {int(i["idx"]): i for i in transfer.offer["items"]}
    stored: dict[int, Any] = {}
    for item in transfer.items:
        opened = _opened(node, transfer, item.idx)
        if not opened.assembly.complete:
            raise Conflict(
                f"item {item.idx} has {opened.assembly.chunks_done} of {item.chunks_total} chunks: send the rest first"
            )
        try:
            stored[item.idx] = opened.assembly.finish(item.sha256, item.size)
        except ContentMismatch as exc:
            with _OPEN_LOCK:
                _OPEN.pop((transfer.id, item.idx), None)
            _fail(node, transfer.id, f"item {item.idx}: {exc}")
            raise
        with _OPEN_LOCK:
            _OPEN.pop((transfer.id, item.idx), None)
    _, signer = node.evidence_store()
    now = node.clock.now()
    with node.uow() as uow:
        peer = _peer_of(uow, transfer)
        custody = Custody(uow, signer, f"{peer.entry.authority} ({peer.entry.state})"[:256], now)
        results = []
        for item in transfer.items:
            entry = manifest[item.idx]
            d = entry["described"]
            exhibit = _exhibit(uow, transfer.case_id or "", f"{peer.entry.state}-{d['exhibit']}")
            origin = entry["origin"] if entry["origin"].get("node_id") != identity.node_id else None
            conditions = HandlingConditions.from_dict({**entry["conditions"], "origin": origin})  # back home: ours
            evidence = EvidenceItem(
                id=new_id(),
                sha256=item.sha256,
                size=item.size,
                hashes={"sha256": item.sha256},
                # An offer may leave out what is empty; the case and the exhibit number are this node's.
                described=ItemDescription.from_dict(
                    {
                        "acquisition_tool": "",
                        "description": "",
                        "file_name": "",
                        **d,
                        "case_id": transfer.case_id or "",
                        "exhibit": exhibit,
                    }
                ),
                conditions=conditions,
                created_at=now,
            )
            uow.evidence.add(evidence)
            event = custody.record(
                evidence.id,
                CustodyAction.TRANSFER_IN,
                f"received from {peer.entry.node_id}: {transfer.reason}",
                metadata_digest=metadata_digest(evidence),
                from_node=peer.entry.node_id,
                from_state=peer.entry.state,
                transfer_id=transfer.id,
                request_id=transfer.request_id,
                their_item_id=item.item_id,
                size=item.size,
                hashes={"sha256": item.sha256},
                their_hashes=entry.get("hashes", {}),
                verified="each chunk authenticated on arrival; the SHA-256 of the whole matches the manifest",
                stored_once=bool(getattr(stored[item.idx], "deduplicated", False)),
                their_custody=entry["custody"],
            )
            uow.transfers.update_item(
                transfer.id,
                item.idx,
                chunks_done=item.chunks_total,
                state=TransferItemState.STORED,
                local_item_id=evidence.id,
            )
            results.append(
                {
                    "idx": item.idx,
                    "item_id": item.item_id,
                    "sha256": item.sha256,
                    "size": item.size,
                    "local_item_id": evidence.id,
                    "custody_event": {"seq": event.seq, "hash": event.hash},
                }
            )
        claims = {
            "hanoinet_transfer_receipt": PROTOCOL_VERSION,
            "transfer": transfer.id,
            "from": identity.node_id,
            "to": peer.entry.node_id,
            "at": node.now_wall().isoformat(),
            "items": results,
        }
        receipt = identity.sign(claims, TYP_TRANSFER_RECEIPT)
        uow.transfers.update(transfer.id, state=TransferState.COMPLETED, at=now, receipt=receipt)
        items = [r["local_item_id"] for r in results]
        audit.record(
            uow, node, audit.by_node(peer.entry.node_id, "transfer:receive", "transfer", transfer.id, items=items)
        )
        compose(
            node,
            uow,
            peer,
            MessageKind.TRANSFER_RECEIPT,
            {"transfer_id": transfer.id, "receipt": receipt},
            actor="node",
            request_id=transfer.request_id,
        )
        uow.commit()
    node.outbox_changed(transfer.peer)
    return receipt


def _exhibit(uow: UnitOfWork, case_id: str, wanted: str) -> str:
    """An exhibit number for a received item that does not clash with the case's others."""
    exhibit, n = wanted[:120], 1
    while uow.evidence.by_exhibit(case_id, exhibit) is not None:
        n += 1
        exhibit = f"{wanted[:115]}-{n}"
    return exhibit
