"""Refused transmissions beyond those recorded one by one, as counts per source address and window (issue 11).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-20 10:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "federation_refusal_counts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("remote", sa.String(length=64), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("refused", sa.Integer(), nullable=False),
        sa.Column("throttled", sa.Integer(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_federation_refusal_counts")),
    )
    with op.batch_alter_table("federation_refusal_counts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_federation_refusal_counts_window_start"), ["window_start"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("federation_refusal_counts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_federation_refusal_counts_window_start"))
    op.drop_table("federation_refusal_counts")
