"""The custody ledger's verified mark: how far the chain was last checked whole, signed by the node, so that a
normal verify checks only what was appended since (issue 11).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 10:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    ledger_verified = op.create_table(
        "ledger_verified",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("head_hash", sa.String(length=64), nullable=False),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_verified")),
    )
    # Nothing verified yet: the mark is at the genesis, unsigned (the first verify checks the whole ledger).
    op.bulk_insert(ledger_verified, [{"id": 1, "seq": 0, "head_hash": "0" * 64, "signature": b""}])


def downgrade() -> None:
    op.drop_table("ledger_verified")
