"""case_shares: the people a case's owner shares it with

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 14:00:00

A case (and the records it holds) used to be readable by any supervisor or investigator. It is
now visible to its owner, the people the owner shares it with (one row here each), and auditors.
Existing cases start unshared, so after the upgrade only their owners (and auditors) see them;
an owner who worked a case with colleagues shares it again through ``POST /cases/{id}/shares``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from vigil.storage.types import UtcDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_shares",
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("shared_by", sa.String(64), nullable=False),
        sa.Column("shared_at", UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_shares_case_id_cases"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("case_id", "user_id", name=op.f("pk_case_shares")),
    )


def downgrade() -> None:
    op.drop_table("case_shares")
