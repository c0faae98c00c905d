"""False-alert rates as bounds: the point estimate and counts on alerts, the drift watch state

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 20:30:00

``alerts.false_alert_rate`` now holds the one-sided 95% upper bound of the calibrated rate; the
point estimate (``false_alert_point``) and the impostor comparisons it rests on
(``calibration_count`` of ``calibration_comparisons``) sit beside it. Alerts raised before keep
their point estimate in ``false_alert_rate`` and NULL in the new columns, so a reader can tell.

``deployment_drift`` holds each deployment's drift watch (vigil.governance.drift): the
sequential test's statistic and counts, persisted so a restart does not forget them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from vigil.storage.types import UtcDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("false_alert_point", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("calibration_count", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("calibration_comparisons", sa.BigInteger(), nullable=True))
    op.create_table(
        "deployment_drift",
        sa.Column(
            "deployment_id",
            sa.String(64),
            sa.ForeignKey("deployments.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("predicted_rate", sa.Float(), nullable=False),
        sa.Column("statistic", sa.Float(), nullable=False),
        sa.Column("searches", sa.BigInteger(), nullable=False),
        sa.Column("false_alerts", sa.BigInteger(), nullable=False),
        sa.Column("flagged_at", UtcDateTime(), nullable=True),
        sa.Column("flagged_searches", sa.BigInteger(), nullable=True),
        sa.Column("flagged_false_alerts", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_deployment_drift_flagged_at", "deployment_drift", ["flagged_at"])


def downgrade() -> None:
    op.drop_index("ix_deployment_drift_flagged_at", table_name="deployment_drift")
    op.drop_table("deployment_drift")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_column("calibration_comparisons")
        batch_op.drop_column("calibration_count")
        batch_op.drop_column("false_alert_point")
