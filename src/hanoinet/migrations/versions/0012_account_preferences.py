"""An account's time zone; its language means "the browser's" until the account chooses one (issue 12).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 17:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("time_zone", sa.String(length=64), server_default="UTC", nullable=False))
    # no account could choose a language before: "en" was the default written for every one, not a choice
    op.execute("UPDATE users SET language = '' WHERE language = 'en'")


def downgrade() -> None:
    op.execute("UPDATE users SET language = 'en' WHERE language = ''")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("time_zone")
