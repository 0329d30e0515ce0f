"""How a request went to the requested State: the network, or e-mail, the diplomatic channel, INTERPOL, courier or
telephone (issue 12).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 16:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("means", sa.String(length=16), nullable=True))
    # requests sent before this revision went over the network (the only way there was)
    op.execute("UPDATE requests SET means = 'network' WHERE peer_node IS NOT NULL AND state <> 'draft'")


def downgrade() -> None:
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.drop_column("means")
