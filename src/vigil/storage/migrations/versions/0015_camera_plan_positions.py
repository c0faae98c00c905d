"""camera_plan_positions: cameras get an optional site-plan position in metres

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 21:00:00

Trajectories check each hop between cameras against travel time, which needs the cameras'
positions. ``cameras.lat``/``lon`` existed; a campus, station or mall often has a site plan but
no GPS survey, so ``plan_x``/``plan_y`` (metres on the plan) are added beside them. Both nullable:
a camera without a position gives hops whose plausibility is unknown (shown as such).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cameras") as batch:
        batch.add_column(sa.Column("plan_x", sa.Float(), nullable=True))
        batch.add_column(sa.Column("plan_y", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cameras") as batch:
        batch.drop_column("plan_y")
        batch.drop_column("plan_x")
