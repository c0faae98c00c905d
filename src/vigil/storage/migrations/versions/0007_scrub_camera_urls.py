"""Scrub camera credentials already stored in ``cameras.source_url``

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 14:00:00

Earlier versions stored each camera's source URL as resolved from the config, credentials
included (``rtsp://admin:secret@cam/...``, ``?password=...``). Nothing reads the URL back (the
running system takes it from the config file), so the upgrade rewrites every row with the
credentials replaced by ``***``; from now on the repository stores URLs only that way. The
downgrade cannot bring the secrets back and leaves the rows as they are; the next start-up
writes them again from the config, redacted.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from vigil.logs import redact

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_cameras = sa.table("cameras", sa.column("id", sa.String), sa.column("source_url", sa.Text))


def upgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.select(_cameras.c.id, _cameras.c.source_url)).all()
    for camera_id, url in rows:
        clean = redact(url)
        if clean != url:
            conn.execute(
                _cameras.update().where(_cameras.c.id == camera_id).values(source_url=clean)
            )


def downgrade() -> None:
    """Nothing to undo: the removed credentials are not kept anywhere."""
