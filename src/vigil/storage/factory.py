"""Build the storage objects from the configuration (the one place that reads StorageConfig)."""

from __future__ import annotations

from pathlib import Path

from vigil.config.settings import VigilConfig
from vigil.logs import register_secret
from vigil.storage.archive import ArchiveParams, FaissArchiveIndex
from vigil.storage.database import Database, DatabaseOptions, parse_database_url
from vigil.storage.media import LocalMediaStore


def database_url(config: VigilConfig) -> str:
    """The database URL with ``{data_dir}`` expanded; its password is registered as a secret."""
    url = config.storage.url.get_secret_value().replace("{data_dir}", str(config.system.data_dir))
    register_secret(parse_database_url(url).password)
    return url


def database_options(config: VigilConfig) -> DatabaseOptions:
    s = config.storage
    return DatabaseOptions(
        readers=s.readers,
        busy_timeout_ms=s.busy_timeout_ms,
        query_timeout_s=s.query_timeout_s,
        write_retry_s=s.write_retry_s,
        sqlite_synchronous=s.sqlite_synchronous,
    )


def open_database_from_config(config: VigilConfig, *, migrate: bool = True) -> Database:
    db = Database(database_url(config), database_options(config))
    if migrate:
        db.migrate()
    return db


def _under_data(config: VigilConfig, path: Path) -> Path:
    return path if path.is_absolute() else config.system.data_dir / path


def media_store_from_config(config: VigilConfig) -> LocalMediaStore:
    return LocalMediaStore(_under_data(config, config.storage.media_dir))


def archive_from_config(config: VigilConfig, dim: int = 512) -> FaissArchiveIndex:
    s = config.storage
    params = ArchiveParams(dim=dim, nprobe=s.archive_nprobe, rerank=s.archive_rerank)
    return FaissArchiveIndex(_under_data(config, s.archive_dir), params)
