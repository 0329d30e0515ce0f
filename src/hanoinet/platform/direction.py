"""Which way a thing goes between two States — a request, a message, a transfer of evidence.

In the kernel because requests, federation and statistics all speak of it, and none of them should import another
only for this word.
"""

from __future__ import annotations

from enum import StrEnum


class Direction(StrEnum):
    """Whether this node's State is the requesting (sending) or the requested (receiving) one."""

    OUTGOING = "outgoing"
    INCOMING = "incoming"
