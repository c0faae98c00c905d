"""alerts.template_id: the enrolled-image reference as a column

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 20:20:00

Before this revision the live identifier wrote the matched template's id only into the free-text
``alerts.detail`` (``template=<id> watchlist=<id> gallery=<n>``) and the API parsed it back. The
column makes the reference queryable and keeps it consistent: it points at ``templates.id`` and is
set to NULL when the subject (and so the template and its photo) is removed.

Existing rows keep their ``detail`` text unchanged and get ``template_id`` filled from it when the
template still exists; a template removed earlier leaves NULL (its photo is gone too).
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_TEMPLATE = re.compile(r"(?:^|\s)template=([^\s]+)")


def upgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("template_id", sa.String(length=64), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_alerts_template_id_templates"),
            "templates",
            ["template_id"],
            ["id"],
            ondelete="SET NULL",
        )
    _backfill()


def _backfill() -> None:
    """Copy ``template=<id>`` out of ``detail`` for alerts whose template still exists."""
    conn = op.get_bind()
    alerts = sa.table(
        "alerts", sa.column("id", sa.String), sa.column("detail", sa.Text), sa.column("template_id")
    )
    templates = sa.table("templates", sa.column("id", sa.String))
    known = {r[0] for r in conn.execute(sa.select(templates.c.id))}
    rows = conn.execute(
        sa.select(alerts.c.id, alerts.c.detail).where(alerts.c.detail.like("%template=%"))
    ).all()
    for alert_id, detail in rows:
        m = _TEMPLATE.search(detail or "")
        if m and m.group(1) in known:
            conn.execute(
                sa.update(alerts).where(alerts.c.id == alert_id).values(template_id=m.group(1))
            )


def downgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_alerts_template_id_templates"), type_="foreignkey")
        batch_op.drop_column("template_id")
