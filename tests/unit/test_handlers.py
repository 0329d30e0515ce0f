"""The composition root gives every kind of message a peer may send its handler (federation imports none of them)."""

from __future__ import annotations

from hanoinet.app.handlers import message_handlers
from hanoinet.federation.domain import MessageKind
from hanoinet.requests import service as requests


def test_every_kind_of_message_has_its_handler() -> None:
    handlers = message_handlers()

    # A directory entry travels on its own, never inside a transmission (inbound refuses it before any handler).
    assert set(handlers) == set(MessageKind) - {MessageKind.ENTRY}
    assert handlers[MessageKind.REQUEST] is requests.receive_request
    assert handlers[MessageKind.ACTION] is requests.receive_action
