"""Login back-off per (account, client), and who issued each API key

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 09:00:00

``login_throttle`` replaces the account-wide lock (``users.locked_until`` doubling without a cap,
which let anyone lock any known account): failed logins are counted per account *and* client, so
an attacker's client is slowed while the owner can still log in from theirs. ``users``'s columns
stay: ``failed_logins`` now counts failures from every client since the last success and
``locked_until`` marks the account as under broad attack (every client then gets one try before
back-off). Nothing to carry over: the table starts empty and existing counters keep their meaning
closely enough (a locked account simply becomes "under attack" until its time passes).

``sessions.issued_by`` names the person who issued an API key (an admin may issue one in
another user's name); NULL for login sessions and for keys issued before this revision.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from vigil.storage.types import UtcDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_throttle",
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("client", sa.String(64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_attempt_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("blocked_until", UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_login_throttle_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "client", name=op.f("pk_login_throttle")),
    )
    op.create_index(
        op.f("ix_login_throttle_last_attempt_at"),
        "login_throttle",
        ["last_attempt_at"],
        unique=False,
    )
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("issued_by", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_column("issued_by")
    op.drop_index(op.f("ix_login_throttle_last_attempt_at"), table_name="login_throttle")
    op.drop_table("login_throttle")
