"""A delivery record per notification sink, so each alert is announced once across restarts

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 17:45:00

The event watcher re-reads the last two minutes of alerts when it starts (an alert committed
just before a restart must still be announced), and a newly elected notification leader must
send what the old one had not. Without a record of what went out, both meant duplicates or
losses at webhooks and MQTT subscribers. ``notification_deliveries`` holds one row per (sink,
alert) written once the receiver acknowledged it; senders skip alerts found here. Rows older
than a day are pruned by the senders. Nothing to carry over: alerts sent before this revision
are older than the watcher's window by the time it runs.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from vigil.storage.types import UtcDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notification_deliveries",
        sa.Column("sink", sa.String(64), nullable=False),
        sa.Column("alert_id", sa.String(64), nullable=False),
        sa.Column("delivered_at", UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sink", "alert_id", name=op.f("pk_notification_deliveries")),
    )
    op.create_index(
        op.f("ix_notification_deliveries_delivered_at"),
        "notification_deliveries",
        ["delivered_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_notification_deliveries_delivered_at"), table_name="notification_deliveries"
    )
    op.drop_table("notification_deliveries")
