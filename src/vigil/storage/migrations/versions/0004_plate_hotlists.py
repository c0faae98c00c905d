"""Plate hotlists, their entries, and the hotlist a plate read hit

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 10:00:00

Hotlists (priority, reason, owner, expiry, retention of their hits) hold exact or wildcard plate
entries. ``plate_reads.hotlist_id`` marks a read that hit a list: such reads are kept for that
list's retention, all others only for ``plates.read_retention_days`` (NULL for every existing
read, so the upgrade treats them as reads of vehicles on no hotlist). ``ix_plate_reads_read``
serves the retention query, which is by time across cameras.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from vigil.storage.types import UtcDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hotlists",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("owner_id", sa.String(64), nullable=False),
        sa.Column("expires_at", UtcDateTime(timezone=True), nullable=True),
        sa.Column("retention_days", sa.Float(), nullable=False),
        sa.Column("created_at", UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hotlists")),
    )
    op.create_table(
        "hotlist_entries",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("hotlist_id", sa.String(64), nullable=False),
        sa.Column("pattern", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("added_by", sa.String(64), nullable=False),
        sa.Column("added_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["hotlist_id"],
            ["hotlists.id"],
            name=op.f("fk_hotlist_entries_hotlist_id_hotlists"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hotlist_entries")),
        sa.UniqueConstraint("hotlist_id", "pattern", name="uq_hotlist_entries_list_pattern"),
    )
    op.create_index(
        op.f("ix_hotlist_entries_hotlist_id"), "hotlist_entries", ["hotlist_id"], unique=False
    )
    with op.batch_alter_table("plate_reads", schema=None) as batch_op:
        batch_op.add_column(sa.Column("hotlist_id", sa.String(64), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_plate_reads_hotlist_id_hotlists"),
            "hotlists",
            ["hotlist_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_index("ix_plate_reads_read", ["read_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("plate_reads", schema=None) as batch_op:
        batch_op.drop_index("ix_plate_reads_read")
        batch_op.drop_constraint(
            batch_op.f("fk_plate_reads_hotlist_id_hotlists"), type_="foreignkey"
        )
        batch_op.drop_column("hotlist_id")
    op.drop_index(op.f("ix_hotlist_entries_hotlist_id"), table_name="hotlist_entries")
    op.drop_table("hotlist_entries")
    op.drop_table("hotlists")
