"""Storage: the system of record over SQLite (embedded) and PostgreSQL (cluster), the media store
and the sighting archive index.

Import from here: :class:`Database`/:func:`open_database` (engines, retried idempotent writes,
migrations), :class:`Repository` (the one typed repository interface), :class:`LocalMediaStore`
(content-addressed bytes) and :class:`FaissArchiveIndex` (approximate search over stored
embeddings). Heavy modules (FAISS) are imported lazily by their own module, not here.
"""

from __future__ import annotations

from vigil.storage.attributes import AttributeRepository
from vigil.storage.database import Database, DatabaseOptions, open_database
from vigil.storage.errors import QueryTimeoutError, StorageError, StorageUnavailableError
from vigil.storage.repo_admin import AdminRepository
from vigil.storage.repository import PipelineRepository


class Repository(PipelineRepository, AdminRepository, AttributeRepository):
    """The whole repository interface over one :class:`Database` (either engine)."""


__all__ = [
    "Database",
    "DatabaseOptions",
    "QueryTimeoutError",
    "Repository",
    "StorageError",
    "StorageUnavailableError",
    "open_database",
]
