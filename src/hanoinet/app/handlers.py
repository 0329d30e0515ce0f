"""Which capability applies each kind of message another node sends.

Chosen here, in the composition root: requests import federation to send, so federation — which receives — cannot
import requests back without a cycle between the two packages (ADR 0006). Every kind has its handler; a kind
missing here would be refused with its reason, never dropped silently.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hanoinet.federation import consents, inbound, transfers
from hanoinet.federation.domain import MessageKind
from hanoinet.requests import service as requests

if TYPE_CHECKING:
    from hanoinet.federation.ports import MessageHandler


def message_handlers() -> dict[MessageKind, MessageHandler]:
    """The handler of every kind of message."""
    return {
        MessageKind.REQUEST: requests.receive_request,
        MessageKind.ACTION: requests.receive_action,
        MessageKind.CORRESPONDENCE: inbound.note,
        MessageKind.SPONTANEOUS_INFORMATION: inbound.note,
        MessageKind.READ: inbound.read_notice,
        MessageKind.TRANSFER_OFFER: transfers.receive_offer,
        MessageKind.TRANSFER_RECEIPT: transfers.receive_receipt,
        MessageKind.CONSENT_REQUEST: consents.receive_request,
        MessageKind.CONSENT_DECISION: consents.receive_decision,
    }
