"""case_lifecycle: case outcomes, clip links, who closed a case

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 20:00:00

A case now has a lifecycle (open, close, reopen, release its holds) and records what came of it:
``case_outcomes`` holds one row per outcome recorded (arrest, charged, no further action, false
match, other), each with a reason and, when it follows from one alert, that alert's id - so the
oversight report can say which alerts led to which outcomes. ``case_clips`` holds the footage a
case keeps: a camera and a time window (the recording's retention keeps the segments of a held
case's windows). ``cases.closed_by`` names who closed it (``closed_at`` existed already).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from vigil.storage.types import UtcDateTime

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("closed_by", sa.String(64), nullable=True))
    op.create_table(
        "case_outcomes",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("alert_id", sa.String(64), nullable=True),
        sa.Column("recorded_by", sa.String(64), nullable=False),
        sa.Column("recorded_at", UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_case_outcomes_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_outcomes")),
    )
    op.create_index(op.f("ix_case_outcomes_case_id"), "case_outcomes", ["case_id"])
    op.create_table(
        "case_clips",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("camera_id", sa.String(64), nullable=False),
        sa.Column("start_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("end_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("added_by", sa.String(64), nullable=False),
        sa.Column("added_at", UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_clips_case_id_cases"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_clips")),
    )
    op.create_index(op.f("ix_case_clips_case_id"), "case_clips", ["case_id"])
    op.create_index("ix_case_clips_camera_window", "case_clips", ["camera_id", "start_at"])


def downgrade() -> None:
    op.drop_index("ix_case_clips_camera_window", table_name="case_clips")
    op.drop_index(op.f("ix_case_clips_case_id"), table_name="case_clips")
    op.drop_table("case_clips")
    op.drop_index(op.f("ix_case_outcomes_case_id"), table_name="case_outcomes")
    op.drop_table("case_outcomes")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("closed_by")
