"""API tokens for machines: created with their roles, shown once, stored only as a hash, revocable."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from typing import TYPE_CHECKING

from hanoinet.platform.errors import Conflict, Issue, NotFound, ValidationFailed
from hanoinet.platform.ids import new_id
from hanoinet.platform.permissions import Principal, Role

if TYPE_CHECKING:
    from hanoinet.app.node import Node

TOKEN_PREFIX = "hnt_"  # noqa: S105 - a public marker that makes leaked tokens findable, not a secret


def token_hash(token: str) -> str:
    """SHA-256 of a token: tokens are 256-bit random, so a fast hash is enough (no password to stretch)."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(node: Node, name: str, roles: Sequence[Role]) -> str:
    """Create a token for a machine with these roles; return it — the only time it is ever shown."""
    if not name.strip() or len(name) > 128:
        raise ValidationFailed([Issue("name", "must be 1-128 characters")])
    if not roles:
        raise ValidationFailed([Issue("roles", "give at least one role")])
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with node.uow() as uow:
        if uow.tokens.by_name(name):
            raise Conflict(f"a token named {name!r} already exists")
        uow.tokens.add(new_id(), name, roles, token_hash(token), node.clock.now())
        uow.commit()
    return token


def revoke_token(node: Node, name: str) -> None:
    """Revoke a token; it is refused from then on."""
    with node.uow() as uow:
        if not uow.tokens.revoke(name, node.clock.now()):
            raise NotFound(f"no active token named {name!r}")
        uow.commit()


def authenticate(node: Node, token: str) -> Principal | None:
    """Return who holds this token, or None if it is unknown or revoked."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    with node.uow() as uow:
        return uow.tokens.principal(token_hash(token))
