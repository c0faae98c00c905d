"""postevent_plates: plate searches of recorded footage beside face searches

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04 23:00:00

A post-event job of kind ``plate`` keeps its query (the plate text, not biometric) in
``postevent_jobs.query`` as face jobs keep a label there; it adds the edit distance its matching
allows and the region profile whose confusable folding it uses. A plate hit keeps the text the
reader read (``postevent_results.text``; empty for face hits), so an investigator sees *what* was
read, not only that it matched. Appearances are computed from these hits when read, not stored.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("postevent_jobs") as batch:
        batch.add_column(
            sa.Column("max_distance", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("profile", sa.String(32), nullable=True))
    with op.batch_alter_table("postevent_results") as batch:
        batch.add_column(sa.Column("text", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("postevent_results") as batch:
        batch.drop_column("text")
    with op.batch_alter_table("postevent_jobs") as batch:
        batch.drop_column("profile")
        batch.drop_column("max_distance")
