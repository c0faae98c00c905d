"""Backups of the system of record: ``vigil db backup`` / ``vigil db restore``.

SQLite uses the online backup API (a consistent copy while the service keeps writing; WAL content
included), written to a temporary file, fsynced and renamed. Restoring copies a backup *into* the
live file with the same API, after checking the backup's integrity; stop the service first (other
processes holding the file would keep stale pages). PostgreSQL uses ``pg_dump -Fc`` and
``pg_restore --clean --single-transaction`` (the PostgreSQL client tools must be installed); the
password travels in ``PGPASSWORD``, never on the command line where ``ps`` shows it.

Media and the archive index are not in the database backup: back up ``media_dir`` with any file
tool (it is content-addressed, so incremental copies are cheap) and rebuild the index from the
database (:func:`vigil.storage.archive.catch_up` from id -1) or copy its folder while stopped.
"""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy.engine import URL

from vigil.errors import InputError
from vigil.logs import redact
from vigil.storage.database import Database
from vigil.storage.errors import StorageError

log = logging.getLogger(__name__)


def _libpq(url: URL) -> tuple[str, dict[str, str]]:
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise StorageError(
            f"{name} is not installed",
            hint="install the PostgreSQL client tools (Debian: apt-get install postgresql-client)",
        )
    return path


def _run(args: list[str], env: dict[str, str]) -> None:
    proc = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise StorageError(f"{Path(args[0]).name} failed: {redact(proc.stderr.strip())[:2000]}")


def backup(db: Database, dest: Path) -> Path:
    """Write a consistent backup of ``db`` to ``dest`` (atomically); returns ``dest``."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".partial")
    tmp.unlink(missing_ok=True)
    os.close(os.open(tmp, os.O_CREAT | os.O_WRONLY, 0o600))  # a backup holds biometric data
    if db.dialect == "sqlite":
        src = sqlite3.connect(str(db.sqlite_path))
        dst = sqlite3.connect(str(tmp))
        try:
            src.backup(dst)
        finally:
            dst.close()
            src.close()
    else:
        url, env = _libpq(db.url)
        _run([_tool("pg_dump"), "--format=custom", "--no-owner", f"--file={tmp}", url], env)
    with open(tmp, "rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, dest)
    log.info("backup of the %s database written to %s", db.dialect, dest)
    return dest


def restore(db: Database, src: Path) -> None:
    """Replace the contents of ``db`` with the backup at ``src`` (stop the service first)."""
    src = Path(src)
    if not src.is_file():
        raise InputError(f"backup {src} does not exist")
    db.dispose()
    if db.dialect == "sqlite":
        source = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
        try:
            if source.execute("PRAGMA integrity_check").fetchone() != ("ok",):
                raise InputError(f"backup {src} fails SQLite's integrity check")
            target = sqlite3.connect(str(db.sqlite_path))
            try:
                source.backup(target)
            finally:
                target.close()
        except sqlite3.DatabaseError as exc:
            raise InputError(f"{src} is not a SQLite backup: {exc}") from exc
        finally:
            source.close()
    else:
        url, env = _libpq(db.url)
        _run(
            [
                _tool("pg_restore"),
                "--clean",
                "--if-exists",
                "--no-owner",
                "--single-transaction",
                f"--dbname={url}",
                str(src),
            ],
            env,
        )
    log.info("restored the %s database from %s", db.dialect, src)
