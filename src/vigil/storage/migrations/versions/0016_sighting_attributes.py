"""sighting_attributes: non-biometric appearance descriptors on sightings, and their indexes

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04 21:00:00

A person sighting gets the dominant colour of its upper and lower body, a vehicle sighting its
body colour; both get the colours' mean share (the rank of a search hit), the median box height
as a share of the frame and the image direction of travel. They are columns of the sighting row,
so they expire and are purged with it. Two indexes serve the attribute search's filters (class
and colours, then time); camera and time use the existing ``ix_sightings_camera_started``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

COLUMNS = (
    ("upper_colour", sa.String(16)),
    ("lower_colour", sa.String(16)),
    ("body_colour", sa.String(16)),
    ("colour_score", sa.Float()),
    ("height_frac", sa.Float()),
    ("direction", sa.String(8)),
)


def upgrade() -> None:
    with op.batch_alter_table("sightings") as batch:
        for name, type_ in COLUMNS:
            batch.add_column(sa.Column(name, type_, nullable=True))
    op.create_index(
        "ix_sightings_class_upper_lower_started",
        "sightings",
        ["object_class", "upper_colour", "lower_colour", "started_at"],
    )
    op.create_index(
        "ix_sightings_class_body_started",
        "sightings",
        ["object_class", "body_colour", "started_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_sightings_class_body_started", table_name="sightings")
    op.drop_index("ix_sightings_class_upper_lower_started", table_name="sightings")
    with op.batch_alter_table("sightings") as batch:
        for name, _ in reversed(COLUMNS):
            batch.drop_column(name)
