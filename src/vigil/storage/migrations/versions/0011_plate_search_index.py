"""Indexed plate search (folded text, trigram index) and per-user search rates

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 18:00:00

Plate search read every stored read (newest 100,000 at most) and compared each in Python: 7.7 s
over 100,000 reads, and reads past the bound were never searched. ``plate_reads.canon`` now
holds the text with confusable characters folded (:mod:`vigil.core.plates`; backfilled here
with the same table as nested ``REPLACE``), indexed two ways: ``(canon, read_at)`` for exact
plates on both engines, and a trigram index for wildcards - pg_trgm's GIN index on PostgreSQL,
an FTS5 ``trigram`` table with external content on SQLite (kept by triggers; it refers to
``plate_reads`` by rowid, which only ``VACUUM`` renumbers: after one, run
``INSERT INTO plate_reads_fts(plate_reads_fts) VALUES('rebuild')``).

``plate_reads.hit_alert_id`` names the ``plate_hit`` alert a hit raised, so a hit people
rejected keeps its read only for the retention of reads on no list (NULL for hits stored
before: they keep their list's retention, as they did).

``search_rate`` counts plate and face searches per user per minute like ``login_rate`` counts
logins, so every API process shares one limit.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from vigil.core.plates import CONFUSABLE_PAIRS
from vigil.storage.types import UtcDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def _folded(column: str) -> str:
    expr = column
    for a, b in CONFUSABLE_PAIRS.items():
        expr = f"REPLACE({expr}, '{a}', '{b}')"
    return expr


def upgrade() -> None:
    with op.batch_alter_table("plate_reads", schema=None) as batch_op:
        batch_op.add_column(sa.Column("canon", sa.String(16), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("hit_alert_id", sa.String(64), nullable=True))
    op.execute(f"UPDATE plate_reads SET canon = {_folded('text')}")
    op.create_index("ix_plate_reads_canon_read", "plate_reads", ["canon", "read_at"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute(
            "CREATE INDEX ix_plate_reads_canon_trgm ON plate_reads USING gin (canon gin_trgm_ops)"
        )
    else:
        op.execute(
            "CREATE VIRTUAL TABLE plate_reads_fts USING fts5("
            "canon, content='plate_reads', tokenize='trigram')"
        )
        op.execute(
            "CREATE TRIGGER plate_reads_fts_insert AFTER INSERT ON plate_reads BEGIN "
            "INSERT INTO plate_reads_fts(rowid, canon) VALUES (new.rowid, new.canon); END"
        )
        op.execute(
            "CREATE TRIGGER plate_reads_fts_delete AFTER DELETE ON plate_reads BEGIN "
            "INSERT INTO plate_reads_fts(plate_reads_fts, rowid, canon) "
            "VALUES ('delete', old.rowid, old.canon); END"
        )
        op.execute(
            "CREATE TRIGGER plate_reads_fts_update AFTER UPDATE OF canon ON plate_reads BEGIN "
            "INSERT INTO plate_reads_fts(plate_reads_fts, rowid, canon) "
            "VALUES ('delete', old.rowid, old.canon); "
            "INSERT INTO plate_reads_fts(rowid, canon) VALUES (new.rowid, new.canon); END"
        )
        op.execute("INSERT INTO plate_reads_fts(plate_reads_fts) VALUES ('rebuild')")
    op.create_table(
        "search_rate",
        sa.Column("key", sa.String(80), nullable=False),
        sa.Column("minute", UtcDateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", "minute", name=op.f("pk_search_rate")),
    )
    op.create_index(op.f("ix_search_rate_minute"), "search_rate", ["minute"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_search_rate_minute"), table_name="search_rate")
    op.drop_table("search_rate")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_plate_reads_canon_trgm")
    else:
        for name in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS plate_reads_fts_{name}")
        op.execute("DROP TABLE IF EXISTS plate_reads_fts")
    op.drop_index("ix_plate_reads_canon_read", table_name="plate_reads")
    with op.batch_alter_table("plate_reads", schema=None) as batch_op:
        batch_op.drop_column("hit_alert_id")
        batch_op.drop_column("canon")
