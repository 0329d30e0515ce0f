"""The bytes every hash and signature is computed over, and the one text of an instant: shared by the custody
ledger, the audit log and the exports, so that each can be checked by the same rules."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any


def utc_iso(moment: datetime) -> str:
    """An instant in UTC, ISO 8601: the same text whatever offset it was given in or read back with."""
    return moment.astimezone(UTC).isoformat()


def canonical(data: Any) -> bytes:
    """Canonical JSON (sorted keys, no spaces, UTF-8): the bytes every hash and signature is computed over."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()
