"""The OpenAPI shapes of the evidence routes: what ``evidence.present`` and ``evidence.api`` write."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from hanoinet.platform.api import DateTime, Day, Shape


class UploadOut(Shape):
    """A resumable upload: how many bytes the node holds durably, of how many declared."""

    id: str
    offset: int
    size: int | None = Field(default=None, description="The declared size, if one was given")
    expires_at: DateTime | None = Field(default=None, description="When the upload is deleted if nobody touches it")


class PieceOut(Shape):
    """Where the upload stands after a piece: resume from ``offset``."""

    id: str
    offset: int


class OriginOut(Shape):
    """Where a received item came from: the node and State that first sent it, and its id there."""

    node_id: str
    state: str
    item_id: str


class ConditionsOut(Shape):
    """What the sender or acquirer allows: who may see the item, for what, until when."""

    allowed_roles: list[str]
    allowed_users: list[str]
    purpose: str
    retention_until: Day | None
    onward_transfer_allowed: bool
    origin: OriginOut | None = None


class EvidenceItemOut(Shape):
    """An evidence item's record (never its content)."""

    id: str
    case_id: str
    exhibit: str
    sha256: str
    size: int
    hashes: dict[str, str]
    file_name: str
    source: str
    acquisition_method: str
    acquisition_tool: str
    acquired_by: str
    acquired_at: DateTime
    description: str
    conditions: ConditionsOut
    created_at: DateTime
    disposed_at: DateTime | None


class CustodyEventOut(Shape):
    """One custody event with its place in the hash chain."""

    seq: int
    item_id: str
    action: str
    actor: str
    at: DateTime
    reason: str
    details: dict[str, Any]
    prev_hash: str
    hash: str


class VerifyOut(Shape):
    """What a verify found: the items and events checked, and every problem, precisely."""

    ok: bool
    items: int
    events: int = Field(description="Ledger events whose place in the chain was checked (from ``since``)")
    problems: list[str]
    checkpoints: int = Field(default=0, description="Signed checkpoints checked with them")
    full: bool = Field(default=False, description="Whether the whole ledger was checked, from its first event")
    since: int = Field(default=1, description="The first event checked; before it, the last verify found it whole")
    item_events: int = Field(default=0, description="The item's own events, each checked against its signature")
