"""Federation: the directory of peers and their keys, this node's own entry, the outbox and inbound messages,
receipts, replay protection, rejections, evidence transfers and consents to onward transfer; requests learn which
peer they are exchanged with.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 01:39:45.426956
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "federation_consents",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("item_id", sa.String(length=36), nullable=False),
        sa.Column("peer", sa.String(length=64), nullable=False),
        sa.Column("destination", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("requested_by", sa.String(length=256), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=256), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_federation_consents")),
    )
    with op.batch_alter_table("federation_consents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_federation_consents_item_id"), ["item_id"], unique=False)

    op.create_table(
        "federation_inbound",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("peer", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("request_id", sa.String(length=36), nullable=True),
        sa.Column("jws", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("batch_id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("read_by", sa.String(length=256), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_federation_inbound")),
    )
    with op.batch_alter_table("federation_inbound", schema=None) as batch_op:
        batch_op.create_index("ix_federation_inbound_kind_received", ["kind", "received_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_federation_inbound_request_id"), ["request_id"], unique=False)

    op.create_table(
        "federation_keys",
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.Column("use", sa.String(length=8), nullable=False),
        sa.Column("jwk", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("kid", name=op.f("pk_federation_keys")),
    )
    with op.batch_alter_table("federation_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_federation_keys_node_id"), ["node_id"], unique=False)

    op.create_table(
        "federation_outbox",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("peer", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("request_id", sa.String(length=36), nullable=True),
        sa.Column("jws", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=256), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("first_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("receipt_id", sa.String(length=36), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_federation_outbox")),
        sa.UniqueConstraint("id", name=op.f("uq_federation_outbox_id")),
    )
    with op.batch_alter_table("federation_outbox", schema=None) as batch_op:
        batch_op.create_index("ix_federation_outbox_peer_kind_status", ["peer", "kind", "status", "seq"], unique=False)
        batch_op.create_index("ix_federation_outbox_peer_status_seq", ["peer", "status", "seq"], unique=False)
        batch_op.create_index(batch_op.f("ix_federation_outbox_request_id"), ["request_id"], unique=False)

    op.create_table(
        "federation_own_entry",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.Column("serial", sa.Integer(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("entry", sa.JSON(), nullable=False),
        sa.Column("revoked_kids", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_federation_own_entry")),
    )
    op.create_table(
        "federation_peers",
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("authority", sa.Text(), nullable=False),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("endpoint", sa.Text(), nullable=False),
        sa.Column("serial", sa.Integer(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("entry", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_delivery_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("node_id", name=op.f("pk_federation_peers")),
    )
    with op.batch_alter_table("federation_peers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_federation_peers_state"), ["state"], unique=False)

    op.create_table(
        "federation_receipts",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("batch_id", sa.String(length=36), nullable=False),
        sa.Column("peer", sa.String(length=64), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("jws", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_federation_receipts")),
    )
    with op.batch_alter_table("federation_receipts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_federation_receipts_batch_id"), ["batch_id"], unique=False)

    op.create_table(
        "federation_rejections",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("claimed_sender", sa.String(length=64), nullable=True),
        sa.Column("remote", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_federation_rejections")),
    )
    with op.batch_alter_table("federation_rejections", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_federation_rejections_at"), ["at"], unique=False)

    op.create_table(
        "federation_seen",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("peer", sa.String(length=64), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_federation_seen")),
    )
    with op.batch_alter_table("federation_seen", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_federation_seen_seen_at"), ["seen_at"], unique=False)

    op.create_table(
        "federation_transfers",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("peer", sa.String(length=64), nullable=False),
        sa.Column("request_id", sa.String(length=36), nullable=True),
        sa.Column("case_id", sa.String(length=36), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=256), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("offer_id", sa.String(length=36), nullable=False),
        sa.Column("offer", sa.JSON(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=True),
        sa.Column("receipt", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_federation_transfers")),
    )
    with op.batch_alter_table("federation_transfers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_federation_transfers_peer"), ["peer"], unique=False)
        batch_op.create_index(batch_op.f("ix_federation_transfers_request_id"), ["request_id"], unique=False)

    op.create_table(
        "federation_transfer_items",
        sa.Column("transfer_id", sa.String(length=36), nullable=False),
        sa.Column("idx", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("item_id", sa.String(length=36), nullable=False),
        sa.Column("local_item_id", sa.String(length=36), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("chunk_size", sa.Integer(), nullable=False),
        sa.Column("chunks_total", sa.Integer(), nullable=False),
        sa.Column("chunks_done", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["transfer_id"],
            ["federation_transfers.id"],
            name=op.f("fk_federation_transfer_items_transfer_id_federation_transfers"),
        ),
        sa.PrimaryKeyConstraint("transfer_id", "idx", name=op.f("pk_federation_transfer_items")),
    )
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("peer_node", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.drop_column("peer_node")

    op.drop_table("federation_transfer_items")
    with op.batch_alter_table("federation_transfers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_federation_transfers_request_id"))
        batch_op.drop_index(batch_op.f("ix_federation_transfers_peer"))

    op.drop_table("federation_transfers")
    with op.batch_alter_table("federation_seen", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_federation_seen_seen_at"))

    op.drop_table("federation_seen")
    with op.batch_alter_table("federation_rejections", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_federation_rejections_at"))

    op.drop_table("federation_rejections")
    with op.batch_alter_table("federation_receipts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_federation_receipts_batch_id"))

    op.drop_table("federation_receipts")
    with op.batch_alter_table("federation_peers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_federation_peers_state"))

    op.drop_table("federation_peers")
    op.drop_table("federation_own_entry")
    with op.batch_alter_table("federation_outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_federation_outbox_request_id"))
        batch_op.drop_index("ix_federation_outbox_peer_status_seq")
        batch_op.drop_index("ix_federation_outbox_peer_kind_status")

    op.drop_table("federation_outbox")
    with op.batch_alter_table("federation_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_federation_keys_node_id"))

    op.drop_table("federation_keys")
    with op.batch_alter_table("federation_inbound", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_federation_inbound_request_id"))
        batch_op.drop_index("ix_federation_inbound_kind_received")

    op.drop_table("federation_inbound")
    with op.batch_alter_table("federation_consents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_federation_consents_item_id"))

    op.drop_table("federation_consents")
