"""postevent_jobs: post-event search jobs over recorded footage, their progress and results

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04 21:30:00

A job row holds what was asked (case, authorisation, cameras, window, threshold) and its state;
``postevent_segments`` marks each segment finished (so a restarted job resumes where it stopped);
``postevent_results`` holds the hits: camera, time, score and the calibrated false-match rate.
No probe template and no face of the footage is stored in any of them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from vigil.storage.types import UtcDateTime

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "postevent_jobs",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column(
            "case_id",
            sa.String(64),
            sa.ForeignKey("cases.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("authorisation_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("query", sa.String(64), nullable=False),
        sa.Column("camera_ids", sa.Text(), nullable=False),
        sa.Column("start_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("end_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("segments_total", sa.Integer(), nullable=False),
        sa.Column("segments_done", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UtcDateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "postevent_segments",
        sa.Column(
            "job_id",
            sa.String(64),
            sa.ForeignKey("postevent_jobs.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("segment_id", sa.String(64), primary_key=True),
        sa.Column("done_at", UtcDateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "postevent_results",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column(
            "job_id",
            sa.String(64),
            sa.ForeignKey("postevent_jobs.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("camera_id", sa.String(64), nullable=False),
        sa.Column("segment_id", sa.String(64), nullable=False),
        sa.Column("at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("rate_point", sa.Float(), nullable=True),
        sa.Column("rate_upper", sa.Float(), nullable=True),
    )
    op.create_index("ix_postevent_results_job_at", "postevent_results", ["job_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_postevent_results_job_at", table_name="postevent_results")
    op.drop_table("postevent_results")
    op.drop_table("postevent_segments")
    op.drop_table("postevent_jobs")
