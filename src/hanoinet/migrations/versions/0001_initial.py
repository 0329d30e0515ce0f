"""Initial schema: cases, requests and their events, treaty deposits.

Timestamps are stored in UTC (on SQLite without an offset; the application type adds it back on read).

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-23 13:22:46.948169
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "cases",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("offence", sa.String(length=64), nullable=False),
        sa.Column("max_penalty_years", sa.Integer(), nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("legal_qualification", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases")),
        sa.UniqueConstraint("reference", name=op.f("uq_cases_reference")),
    )
    op.create_table(
        "deposit_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("instrument", sa.String(length=32), nullable=False),
        sa.Column("party", sa.String(length=8), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("on", sa.Date(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deposit_events")),
        sa.UniqueConstraint("instrument", "party", "action", "on", name="uq_deposit_events_event"),
    )
    op.create_table(
        "requests",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("instrument", sa.String(length=32), nullable=False),
        sa.Column("type", sa.String(length=48), nullable=False),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("requesting_state", sa.String(length=8), nullable=False),
        sa.Column("requested_state", sa.String(length=8), nullable=False),
        sa.Column("counterpart_state", sa.String(length=8), nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("emergency", sa.Boolean(), nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=True),
        sa.Column("follows_up", sa.String(length=36), nullable=True),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("next_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_clock", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_requests_case_id_cases")),
        sa.ForeignKeyConstraint(["follows_up"], ["requests.id"], name=op.f("fk_requests_follows_up_requests")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_requests")),
    )
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_requests_case_id"), ["case_id"], unique=False)
        batch_op.create_index(
            "ix_requests_counterpart_type_due", ["counterpart_state", "type", "next_due_at"], unique=False
        )
        batch_op.create_index("ix_requests_created_at", ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_requests_follows_up"), ["follows_up"], unique=False)
        batch_op.create_index("ix_requests_next_due_at", ["next_due_at"], unique=False)
        batch_op.create_index("ix_requests_state_due", ["state", "next_due_at"], unique=False)
        batch_op.create_index("ix_requests_type_due", ["type", "next_due_at"], unique=False)

    op.create_table(
        "request_events",
        sa.Column("request_id", sa.String(length=36), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("state_from", sa.String(length=32), nullable=True),
        sa.Column("state_to", sa.String(length=32), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["request_id"], ["requests.id"], name=op.f("fk_request_events_request_id_requests")),
        sa.PrimaryKeyConstraint("request_id", "seq", name=op.f("pk_request_events")),
    )


def downgrade() -> None:

    op.drop_table("request_events")
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.drop_index("ix_requests_type_due")
        batch_op.drop_index("ix_requests_state_due")
        batch_op.drop_index("ix_requests_next_due_at")
        batch_op.drop_index(batch_op.f("ix_requests_follows_up"))
        batch_op.drop_index("ix_requests_created_at")
        batch_op.drop_index("ix_requests_counterpart_type_due")
        batch_op.drop_index(batch_op.f("ix_requests_case_id"))

    op.drop_table("requests")
    op.drop_table("deposit_events")
    op.drop_table("cases")
