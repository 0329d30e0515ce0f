"""Ports every capability may need: a clock, a signer for the node's checkpoints, the page-size limit."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

MAX_PAGE = 500
MAX_ROWS = 1000
"""The most rows one repository query returns, whatever page its caller asks for (the API pages at ``MAX_PAGE``)."""
MAX_OFFSET = 2**31 - 1
"""The largest offset a page may start at: any real list is shorter, and every database takes it (an offset past
64 bits made SQLite raise an overflow, answered as a server error)."""


class Signer(Protocol):
    """The node's signing key."""

    def sign(self, message: bytes) -> bytes:
        """Return the node's signature of ``message``."""

    def public_key_hex(self) -> str:
        """The node's public key, hex."""

    def verify(self, signature: bytes, message: bytes) -> bool:
        """True if ``signature`` is this node's signature of ``message``."""


class Clock(Protocol):
    """The current time; a port so that tests and training exercises can control it."""

    def now(self) -> datetime:
        """Return the current time, timezone-aware UTC."""
