"""Alembic environment: runs on the connection :meth:`vigil.storage.database.Database.migrate`
passes in (no alembic.ini, no URL here), with batch mode so SQLite can alter tables later."""

from __future__ import annotations

from alembic import context

from vigil.storage.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "run migrations through vigil.storage.Database.migrate or `vigil db migrate`"
    )
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=True,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
