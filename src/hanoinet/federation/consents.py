"""Consent to onward transfer (Art 36): an item received from another State goes to a third one only with the
originator's prior written authorization, for that destination.

The holder asks the originator in a signed message; the originator's people decide; the decision comes back signed
and is what the holder's node checks before it lets the item go. The signed messages are the written record.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from hanoinet.audit import service as audit
from hanoinet.evidence.domain import AccessDenied
from hanoinet.federation.domain import ConsentRole, ConsentStatus, Message, MessageKind, MessageRefused
from hanoinet.federation.messaging import compose, find_peer
from hanoinet.federation.ports import ConsentRecord, Peer
from hanoinet.platform.errors import Conflict, Issue, NotFound, ValidationFailed
from hanoinet.platform.ids import new_id
from hanoinet.platform.permissions import Principal

if TYPE_CHECKING:
    from hanoinet.app.node import Node, UnitOfWork


def request_consent(node: Node, item_id: str, *, destination: str, purpose: str, principal: Principal) -> ConsentRecord:
    """Ask the originator of a received item whether it may go on to ``destination``."""
    if not purpose.strip():
        raise ValidationFailed(
            [Issue("purpose", "say what the destination needs the item for (the originator decides on it)")]
        )
    with node.uow() as uow:
        item = uow.evidence.get(item_id)
        if item is None:
            raise NotFound(f"no evidence item {item_id!r}")
        origin = item.conditions.origin
        if origin is None:
            raise ValidationFailed(
                [Issue("item", f"item {item_id} was acquired here: no other State's consent is needed")]
            )
        if not item.conditions.permits(principal):
            raise AccessDenied(f"{principal.name} may not act on item {item_id}")
        target = find_peer(uow, destination, "destination")
        if target.entry.node_id == origin.node_id:
            raise ValidationFailed([Issue("destination", "the item may always go back to the State that sent it")])
        originator = find_peer(uow, origin.node_id, "item")
        consent = ConsentRecord(
            id=new_id(),
            role=ConsentRole.HOLDER,
            item_id=item.id,
            peer=originator.entry.node_id,
            destination=target.entry.node_id,
            purpose=purpose,
            status=ConsentStatus.REQUESTED,
            requested_at=node.clock.now(),
            requested_by=principal.name,
        )
        uow.consents.add(consent)
        body = {
            "consent_id": consent.id,
            "item_id": origin.item_id,
            "sha256": item.sha256,
            "destination": target.entry.node_id,
            "destination_state": target.entry.state,
            "destination_authority": target.entry.authority,
            "purpose": purpose,
            "requested_by": principal.name,
        }
        compose(node, uow, originator, MessageKind.CONSENT_REQUEST, body, actor=principal.name)
        audit.attach(uow, consent.id)
        uow.commit()
    node.outbox_changed(originator.entry.node_id)
    return consent


def receive_request(node: Node, uow: UnitOfWork, peer: Peer, message: Message) -> None:
    """An item of ours is asked for by a third State through the node we sent it to: record the question."""
    body = message.body
    consent_id, item_id = body.get("consent_id"), body.get("item_id")
    if not isinstance(consent_id, str) or not isinstance(item_id, str):
        raise MessageRefused("a consent request names the consent and the item")
    item = uow.evidence.get(item_id)
    if item is None or item.sha256 != body.get("sha256"):
        raise MessageRefused(f"no item {item_id} with that content originates here")
    if uow.consents.get(consent_id) is not None:
        raise MessageRefused(f"consent request {consent_id} already exists here")
    uow.consents.add(
        ConsentRecord(
            id=consent_id,
            role=ConsentRole.ORIGINATOR,
            item_id=item.id,
            peer=peer.entry.node_id,
            destination=str(body.get("destination", ""))[:64],
            purpose=_purpose(body),
            status=ConsentStatus.REQUESTED,
            requested_at=node.clock.now(),
            requested_by=f"{body.get('requested_by', '')} ({peer.entry.authority})"[:256],
        )
    )


def _purpose(body: dict[str, object]) -> str:
    who = f"{body.get('destination_authority', '')}, {body.get('destination_state', '')}"
    return f"{body.get('purpose', '')} (for {who})"[:2000]


def decide(node: Node, consent_id: str, *, grant: bool, note: str, principal: Principal) -> ConsentRecord:
    """Grant or refuse a consent request about an item of ours; the signed decision goes back to the holder."""
    with node.uow() as uow:
        consent = uow.consents.get(consent_id)
        if consent is None or consent.role is not ConsentRole.ORIGINATOR:
            raise NotFound(f"no consent request {consent_id!r} about an item of this node")
        if consent.status is not ConsentStatus.REQUESTED:
            raise Conflict(f"consent request {consent_id} was already {consent.status}")
        item = uow.evidence.get(consent.item_id)
        if item is None or not item.conditions.permits(principal):
            raise AccessDenied(f"{principal.name} may not decide on item {consent.item_id}")
        holder = find_peer(uow, consent.peer, "consent")
        now = node.clock.now()
        status = ConsentStatus.GRANTED if grant else ConsentStatus.REFUSED
        uow.consents.decide(consent_id, status=status, at=now, by=principal.name, note=note)
        body = {"consent_id": consent_id, "granted": grant, "note": note, "decided_by": principal.name}
        compose(node, uow, holder, MessageKind.CONSENT_DECISION, body, actor=principal.name)
        audit.attach(uow, consent_id)
        uow.commit()
        decided = uow.consents.get(consent_id)
    node.outbox_changed(holder.entry.node_id)
    assert decided is not None
    return decided


def receive_decision(node: Node, uow: UnitOfWork, peer: Peer, message: Message) -> None:
    """The originator's answer: from now on the item may (or still may not) go to that destination."""
    body = message.body
    consent = uow.consents.get(str(body.get("consent_id", "")))
    if consent is None or consent.role is not ConsentRole.HOLDER or consent.peer != peer.entry.node_id:
        raise MessageRefused(f"no consent request {body.get('consent_id')} was sent to {peer.entry.node_id}")
    if consent.status is not ConsentStatus.REQUESTED:
        raise MessageRefused(f"consent request {consent.id} was already {consent.status}")
    status = ConsentStatus.GRANTED if body.get("granted") is True else ConsentStatus.REFUSED
    uow.consents.decide(
        consent.id,
        status=status,
        at=node.clock.now(),
        by=f"{body.get('decided_by', '')} ({peer.entry.authority})"[:256],
        note=str(body.get("note", ""))[:2000],
    )


def list_consents(node: Node, item_id: str | None = None) -> Sequence[ConsentRecord]:
    """Consent requests either way, newest first."""
    with node.uow() as uow:
        return uow.consents.list(item_id=item_id)
