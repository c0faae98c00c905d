"""record_keys: the idempotency keys of recorded decisions

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 17:00:00

Every decision a pipeline records (a face decision, a scan summary, a crowd sample with its
alerts, a plate read or hit) now carries a deterministic key (camera, stream epoch, position,
kind; see ``vigil.core.keys``), inserted in the same transaction as the decision. A decision
whose key is already here is skipped, which makes at-least-once delivery (outbox replay after a
database outage or a crash) exactly once in effect. Rows are pruned by retention. Existing
records have no keys; nothing recorded before the upgrade is replayed after it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from vigil.storage.types import UtcDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "record_keys",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("camera_id", sa.String(64), nullable=False),
        sa.Column("recorded_at", UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_record_keys")),
    )
    with op.batch_alter_table("record_keys", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_record_keys_recorded_at"), ["recorded_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("record_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_record_keys_recorded_at"))
    op.drop_table("record_keys")
