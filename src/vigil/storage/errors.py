"""Storage errors, part of the :mod:`vigil.errors` hierarchy."""

from __future__ import annotations

from vigil.errors import VigilError


class StorageError(VigilError):
    """The database, media store or index failed in a way the caller should see."""

    code = "storage_error"
    http_status = 500


class StorageUnavailableError(StorageError):
    """The database stayed unreachable for the whole retry window; the write was NOT applied.

    The caller still holds the batch and must keep it (or fail loudly): nothing is dropped silently.
    """

    code = "storage_unavailable"
    http_status = 503


class QueryTimeoutError(StorageError):
    """A read ran past its time limit and was cancelled."""

    code = "query_timeout"
    http_status = 503
