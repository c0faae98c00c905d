"""line_crossings: per-camera, per-line, per-direction crossing counts in time buckets

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04 21:35:00

Until now line crossings were live totals since the process started. Each analysed frame's
crossings are now recorded through the outbox (kind ``crossings``) and added to a row per
camera, line, direction and one-minute bucket, so the console can chart them over 1 h / 24 h /
7 d like the crowd series. The primary key leads with the camera and line, which is how the
dashboard reads them (one camera, a time window).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from vigil.storage.types import UtcDateTime

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "line_crossings",
        sa.Column("camera_id", sa.String(64), nullable=False),
        sa.Column("line", sa.String(100), nullable=False),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("bucket_start", UtcDateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "camera_id", "line", "direction", "bucket_start", name=op.f("pk_line_crossings")
        ),
    )


def downgrade() -> None:
    op.drop_table("line_crossings")
