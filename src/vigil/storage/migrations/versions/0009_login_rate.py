"""Login attempts per client address per minute, shared by every API process

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 17:00:00

The per-client login rate (``api.login_rate_per_min``, against password spraying across
accounts) was a sliding window in each process's memory, so N API processes behind one load
balancer allowed a client N times the rate. ``login_rate`` counts attempts per client per
minute in the database instead: one upsert per attempt, and the rate is the current minute's
count plus the previous minute's weighted by how much of it is still inside the last 60 s.
Rows older than two minutes are deleted as attempts come in. Nothing to carry over.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from vigil.storage.types import UtcDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_rate",
        sa.Column("client", sa.String(64), nullable=False),
        sa.Column("minute", UtcDateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("client", "minute", name=op.f("pk_login_rate")),
    )
    op.create_index(op.f("ix_login_rate_minute"), "login_rate", ["minute"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_login_rate_minute"), table_name="login_rate")
    op.drop_table("login_rate")
