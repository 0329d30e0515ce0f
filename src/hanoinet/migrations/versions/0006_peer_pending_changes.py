"""Peers' pending changes of identity: a newer entry that changes a peer's State, authority, roles or endpoint
waits here, next to the confirmed values, until an operator confirms or rejects it (issue 11).

Revision ID: 0006
Revises: 0005
Create Date: 2027-01-10 09:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("federation_peers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pending_change", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("federation_peers", schema=None) as batch_op:
        batch_op.drop_column("pending_change")
