"""Inbox at scale: an ``is_open`` flag derived from the state, and indexes for "open, newest first" and
"by State and type, newest first" (measured with bench/inbox.py over a million requests).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN_STATES = (
    "sent",
    "received",
    "acknowledged",
    "more_information_requested",
    "postponed",
    "in_execution",
    "preserved",
)
"""The open states at the time of this migration (``domain.requests.OPEN_STATES``), frozen here on purpose."""


def upgrade() -> None:
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("is_open", sa.Boolean(), server_default="0", nullable=False))
    requests = sa.table("requests", sa.column("state", sa.String), sa.column("is_open", sa.Boolean))
    op.execute(requests.update().where(requests.c.state.in_(OPEN_STATES)).values(is_open=True))
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.create_index("ix_requests_open_created", ["is_open", "created_at"], unique=False)
        batch_op.create_index(
            "ix_requests_counterpart_type_created", ["counterpart_state", "type", "created_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.drop_index("ix_requests_counterpart_type_created")
        batch_op.drop_index("ix_requests_open_created")
        batch_op.drop_column("is_open")
