"""Recorded footage: the index of fragmented-MP4 segments per camera

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 20:10:00

One row per finished segment (camera, start, end, path, bytes, SHA-256, encrypted). Segments
are written by the camera's recorder (``vigil.recording``); playback joins consecutive rows of
a camera, retention deletes rows and files past the camera's ``record_retention_days`` unless a
case holds them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from vigil.storage.types import UtcDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "recording_segments",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("camera_id", sa.String(64), nullable=False),
        sa.Column("started_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("encrypted", sa.Boolean(), nullable=False),
        sa.Column("created_at", UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recording_segments")),
    )
    op.create_index(
        "ix_recording_segments_camera_started",
        "recording_segments",
        ["camera_id", "started_at"],
    )
    op.create_index("ix_recording_segments_ended", "recording_segments", ["ended_at"])


def downgrade() -> None:
    op.drop_index("ix_recording_segments_ended", table_name="recording_segments")
    op.drop_index("ix_recording_segments_camera_started", table_name="recording_segments")
    op.drop_table("recording_segments")
