"""Identifiers that nodes can create without coordinating."""

from __future__ import annotations

import uuid


def new_id() -> str:
    """Return a fresh identifier; random, so that nodes can create ids without coordinating."""
    return str(uuid.uuid4())
