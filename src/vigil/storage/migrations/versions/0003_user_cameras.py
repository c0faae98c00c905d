"""users.cameras: the cameras a person may see

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 20:40:00

A control-room operator usually watches the cameras of one district, not the whole city. The
column holds the camera ids a person is assigned to (comma-separated); NULL keeps the earlier
behaviour (every camera), so existing accounts are unchanged by the upgrade. API keys keep their
own ``camera:<id>`` scopes; a request sees the intersection of the two.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cameras", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("cameras")
