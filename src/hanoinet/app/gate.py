"""The guard's gate onto accounts and the audit log (``platform.security.Gate``): the composition root wires the
kernel's HTTP guard to the capabilities that know who is calling and keep the log."""

from __future__ import annotations

from hanoinet.accounts import service as accounts
from hanoinet.accounts import tokens
from hanoinet.accounts.service import SignedIn
from hanoinet.app.node import Node
from hanoinet.audit import service as audit
from hanoinet.platform.events import Actor, Event
from hanoinet.platform.permissions import Permission, Principal


class NodeGate:
    """API tokens and sessions from ``accounts``, refusals and entries through ``audit``."""

    def token_holder(self, node: Node, token: str) -> Principal | None:
        """The principal an API token belongs to, or None if it is unknown or revoked."""
        return tokens.authenticate(node, token)

    def signed_in(self, node: Node, cookie: str) -> SignedIn | None:
        """The session a cookie's token opens, if it is still valid."""
        return accounts.signed_in(node, cookie)

    def refuse(
        self, node: Node, actor: Actor, permission: Permission, *, action: str, subject: str, object_id: str
    ) -> None:
        """Raise Forbidden, after recording the refusal, unless the actor's roles allow ``permission``."""
        accounts.authorize(node, actor, permission, action=action, subject=subject, object_id=object_id)

    def log(self, node: Node, event: Event) -> object:
        """Append ``event`` to the audit log in a transaction of its own."""
        return audit.log(node, event)
