"""Property in cases and the measures States took on it: traced, frozen, released, confiscated, returned, disposed
of (issue 13, Arts 31, 49-52).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 21:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "assets",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("location_state", sa.String(length=8), nullable=False),
        sa.Column("location", sa.String(length=500), nullable=False),
        sa.Column("holder", sa.String(length=500), nullable=False),
        sa.Column("estimated_value", sa.String(length=64), nullable=True),
        sa.Column("currency", sa.String(length=10), nullable=False),
        sa.Column("address", sa.String(length=500), nullable=False),
        sa.Column("network", sa.String(length=500), nullable=False),
        sa.Column("request_ids", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_assets_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assets")),
    )
    with op.batch_alter_table("assets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_assets_case_id"), ["case_id"], unique=False)
    op.create_table(
        "asset_measures",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("asset_id", sa.String(length=36), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("taken_on", sa.Date(), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("amount", sa.String(length=64), nullable=True),
        sa.Column("order_reference", sa.String(length=500), nullable=False),
        sa.Column("order_authority", sa.String(length=500), nullable=False),
        sa.Column("order_document", sa.String(length=36), nullable=True),
        sa.Column("request_id", sa.String(length=36), nullable=True),
        sa.Column("recipient", sa.String(length=32), nullable=True),
        sa.Column("recipient_name", sa.String(length=500), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(["asset_id"], ["assets.id"], name=op.f("fk_asset_measures_asset_id_assets")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_asset_measures")),
        sa.UniqueConstraint("asset_id", "seq", name=op.f("uq_asset_measures_asset_id")),
    )
    with op.batch_alter_table("asset_measures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_asset_measures_asset_id"), ["asset_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_asset_measures_taken_on"), ["taken_on"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("asset_measures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_asset_measures_taken_on"))
        batch_op.drop_index(batch_op.f("ix_asset_measures_asset_id"))
    op.drop_table("asset_measures")
    with op.batch_alter_table("assets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_assets_case_id"))
    op.drop_table("assets")
