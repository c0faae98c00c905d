"""Engines, transactions, retries and migrations for SQLite (embedded) and PostgreSQL (cluster).

One :class:`Database` wraps two SQLAlchemy engines:

* a **writer**: on SQLite exactly one connection, guarded by a lock, each transaction opened with
  ``BEGIN IMMEDIATE`` so concurrent writers queue in Python instead of failing with
  ``database is locked`` half-way through; on PostgreSQL a small pool (the server serialises).
* **readers**: a pool of read-only connections (SQLite ``query_only``; WAL lets them read while
  the writer writes) with a per-query time limit (SQLite: a progress handler that interrupts;
  PostgreSQL: ``statement_timeout``).

Writes go through :meth:`Database.write`, which runs a whole transaction function and, when the
connection is lost or the file is busy, **re-runs the whole function** with back-off until
``write_retry_s`` has passed, then raises :class:`StorageUnavailableError` (the caller still holds
the batch: nothing is dropped silently). Re-running is safe because every write function of the
repository is idempotent (client-generated ids and ``ON CONFLICT DO NOTHING``), so a commit whose
acknowledgement was lost is not applied twice.

**Units of work.** A state change and its audit entry must commit together or not at all.
:meth:`Database.transaction` opens one write transaction and binds it to the calling context
(a :class:`~contextvars.ContextVar`, so it follows the thread or task that opened it): every
:meth:`write` and :meth:`read` made through this database inside the block joins it, each nested
write in its own SAVEPOINT (so a caught constraint error does not poison the transaction on
PostgreSQL). The block commits when it ends and rolls back on any exception; callbacks registered
with :meth:`after_commit` (the audit anchor) run only after a successful commit. A unit is not
re-run on connection loss (it may hold arbitrary Python steps): it fails with
:class:`StorageUnavailableError` and nothing is committed, and the caller retries the request.

Trade-offs: ``sqlite_synchronous="FULL"`` (default) fsyncs the WAL on each commit, so a commit that
returned survives even power loss; ``NORMAL`` is faster and still survives a process crash.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, OperationalError
from sqlalchemy.pool import ConnectionPoolEntry

from vigil.errors import ValidationError
from vigil.logs import redact
from vigil.storage.errors import QueryTimeoutError, StorageUnavailableError

log = logging.getLogger(__name__)
T = TypeVar("T")
MIGRATIONS = Path(__file__).with_name("migrations")


@dataclass(frozen=True, slots=True)
class DatabaseOptions:
    """Knobs of a :class:`Database`.

    Attributes:
        readers: pooled read connections; more lets more API requests read at once.
        busy_timeout_ms: how long SQLite waits on a lock held by another process before failing.
        query_timeout_s: default time limit of one read; long scans are cancelled, not left hanging.
        write_retry_s: how long a write keeps retrying a lost connection before giving up loudly.
        sqlite_synchronous: ``FULL`` survives power loss, ``NORMAL`` only process crashes (faster).
    """

    readers: int = 4
    busy_timeout_ms: int = 5000
    query_timeout_s: float = 30.0
    write_retry_s: float = 30.0
    sqlite_synchronous: Literal["FULL", "NORMAL"] = "FULL"


URL_FORMS = "sqlite:///path/to/vigil.db or postgresql+psycopg://user:password@host:5432/name"


def parse_database_url(url: str | URL) -> URL:
    """Parse a database URL, or raise :class:`ValidationError` with one line saying what is
    wrong and what is expected (never SQLAlchemy's traceback, never the password)."""
    if isinstance(url, URL):
        return url
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:  # a bad port is a ValueError from int()
        why = "the port is not a number" if isinstance(exc, ValueError) else "unparsable"
        raise ValidationError(
            f"database URL is malformed ({why})", hint=f"use {URL_FORMS}"
        ) from None
    if parsed.get_backend_name() not in {"sqlite", "postgresql"}:
        raise ValidationError(
            f"database must be sqlite or postgresql, got {parsed.get_backend_name()!r}",
            hint=f"use {URL_FORMS}",
        )
    try:
        parsed.get_dialect()
    except NoSuchModuleError:
        raise ValidationError(
            f"database driver {parsed.drivername!r} is not available", hint=f"use {URL_FORMS}"
        ) from None
    return parsed


class _Deadline:
    """Per-connection deadline the SQLite progress handler checks (monotonic seconds)."""

    __slots__ = ("at",)

    def __init__(self) -> None:
        self.at = float("inf")


class _Unit:
    """The open unit of work of one context: its connection and its after-commit callbacks."""

    __slots__ = ("after", "conn")

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.after: list[Callable[[], None]] = []


class Database:
    """The system of record: one writer, pooled readers, retried idempotent writes, migrations."""

    def __init__(self, url: str | URL, options: DatabaseOptions | None = None) -> None:
        self.url = parse_database_url(url)
        self.options = options or DatabaseOptions()
        self.dialect = self.url.get_backend_name()
        self._write_lock = threading.Lock()
        self._unit: ContextVar[_Unit | None] = ContextVar(f"vigil_unit_{id(self)}", default=None)
        if self.dialect == "sqlite":
            self.writer, self.reader = self._sqlite_engines()
        else:
            self.writer, self.reader = self._postgres_engines()

    # -- engines --------------------------------------------------------------------------------

    @property
    def sqlite_path(self) -> Path | None:
        """The database file (SQLite only)."""
        return Path(self.url.database or "") if self.dialect == "sqlite" else None

    def _sqlite_engines(self) -> tuple[Engine, Engine]:
        path = self.sqlite_path
        if path is None or self.url.database in {None, "", ":memory:"}:
            raise ValidationError(
                "SQLite needs a file path (WAL does not work in memory)", hint=f"use {URL_FORMS}"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():  # biometric data: owner-only (SQLite copies the mode to -wal/-shm)
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        opts = self.options
        args = {"check_same_thread": False, "timeout": opts.busy_timeout_ms / 1000}
        writer = create_engine(
            self.url, pool_size=1, max_overflow=0, pool_timeout=3600, connect_args=args
        )
        reader = create_engine(
            self.url, pool_size=opts.readers, max_overflow=0, pool_timeout=60, connect_args=args
        )

        def on_connect(dbapi_conn: Any, record: ConnectionPoolEntry, *, read: bool) -> None:
            dbapi_conn.isolation_level = None  # SQLAlchemy emits BEGIN itself (below)
            cur = dbapi_conn.cursor()
            if not read:
                cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA synchronous={opts.sqlite_synchronous}")
            cur.execute(f"PRAGMA busy_timeout={int(opts.busy_timeout_ms)}")
            cur.execute("PRAGMA foreign_keys=ON")
            if read:
                cur.execute("PRAGMA query_only=ON")
                deadline = _Deadline()
                record.info["deadline"] = deadline
                dbapi_conn.set_progress_handler(lambda: time.monotonic() > deadline.at, 20_000)
            cur.close()

        event.listen(writer, "connect", lambda c, r: on_connect(c, r, read=False))
        event.listen(reader, "connect", lambda c, r: on_connect(c, r, read=True))
        event.listen(writer, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
        event.listen(reader, "begin", lambda conn: conn.exec_driver_sql("BEGIN"))
        return writer, reader

    def _postgres_engines(self) -> tuple[Engine, Engine]:
        opts = self.options
        timeout_ms = int(opts.query_timeout_s * 1000)
        # No pre-ping on the writer: write() retries a dead connection anyway, and a ping would
        # cost a round trip per transaction. Readers have no retry, so they ping.
        writer = create_engine(
            self.url, pool_size=4, max_overflow=4, connect_args={"connect_timeout": 5}
        )
        reader = create_engine(
            self.url,
            pool_size=opts.readers,
            max_overflow=0,
            pool_pre_ping=True,
            connect_args={"connect_timeout": 5, "options": f"-c statement_timeout={timeout_ms}"},
        )
        return writer, reader

    def dispose(self) -> None:
        """Close every pooled connection (the object stays usable; pools reconnect on demand)."""
        self.writer.dispose()
        self.reader.dispose()

    # -- transactions ---------------------------------------------------------------------------

    def _retryable(self, exc: DBAPIError) -> bool:
        if exc.connection_invalidated:
            return True
        if not isinstance(exc, OperationalError):
            return False
        message = str(exc.orig).lower()
        if self.dialect == "sqlite":
            return "locked" in message or "busy" in message
        return "cancel" not in message  # statement timeouts are not connection trouble

    @property
    def in_transaction(self) -> bool:
        """Whether the calling context is inside :meth:`transaction`."""
        return self._unit.get() is not None

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One write transaction that every write and read of this context joins (see the module
        docstring). Nested use joins the outer unit; the outermost commits."""
        if (unit := self._unit.get()) is not None:
            yield unit.conn
            return
        try:
            with self._write_lock, self.writer.begin() as conn:
                unit = _Unit(conn)
                token = self._unit.set(unit)
                try:
                    yield conn
                finally:
                    self._unit.reset(token)
        except DBAPIError as exc:
            if not self._retryable(exc):
                raise
            raise StorageUnavailableError(
                f"the transaction failed and was rolled back: {redact(str(exc.orig))}",
                hint="nothing was stored; try again",
            ) from exc
        for callback in unit.after:
            try:
                callback()
            except Exception:  # the commit stands; a failed callback is loud, not fatal
                log.exception("after-commit callback %r failed", callback)

    def unit(self, fn: Callable[[], T], *, retry_s: float | None = None) -> T:
        """Run ``fn`` as one unit of work (like :meth:`transaction`), re-running it whole when the
        connection is lost or the file is busy, until ``write_retry_s`` has passed.

        For the pipelines' records (a face decision, a plate hit, a crowd sample): a database that
        is away for a while delays them instead of losing them. ``fn`` must be safe to run again
        from the start: the failed attempt was rolled back whole, so it only needs to make no
        side effect outside the database before it returns (files are written before the unit,
        callbacks registered with :meth:`after_commit` run once, after the commit that counts).
        Inside an open unit it simply joins it (the outer unit decides). ``retry_s`` overrides
        ``write_retry_s`` for this unit (the outbox uses a short one: it keeps the decision
        itself rather than hold the camera's thread for the whole window).
        """
        if self._unit.get() is not None:
            return fn()

        def attempt() -> T:
            with self.transaction():
                return fn()

        return self._retrying(attempt, "unit of work", retry_s)

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once the current unit commits (now, outside a unit)."""
        unit = self._unit.get()
        if unit is None:
            callback()
        else:
            unit.after.append(callback)

    def write(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn`` in one write transaction, re-running it whole on connection loss.

        ``fn`` must be idempotent (it may run again after a commit whose acknowledgement was
        lost). Raises :class:`StorageUnavailableError` when ``write_retry_s`` is exhausted.
        Inside :meth:`transaction`, ``fn`` runs once in a SAVEPOINT of the open unit instead.
        """
        if (unit := self._unit.get()) is not None:
            with unit.conn.begin_nested():
                return fn(unit.conn)

        def attempt() -> T:
            with self._write_lock, self.writer.begin() as conn:
                return fn(conn)

        return self._retrying(attempt, "write")

    def _retrying(self, attempt: Callable[[], T], what: str, retry_s: float | None = None) -> T:
        """Run ``attempt`` until it succeeds, re-running it on connection loss or a busy file
        (directly, or as the cause of a rolled-back unit) with back-off, until
        ``write_retry_s`` has passed; then :class:`StorageUnavailableError`."""
        window = self.options.write_retry_s if retry_s is None else retry_s
        deadline = time.monotonic() + window
        tries = 0
        while True:
            try:
                return attempt()
            except (DBAPIError, StorageUnavailableError) as exc:
                cause = exc if isinstance(exc, DBAPIError) else exc.__cause__
                if not isinstance(cause, DBAPIError) or not self._retryable(cause):
                    raise
                tries += 1
                reason = (redact(str(cause.orig)).splitlines() or ["(no message)"])[0]
                if time.monotonic() >= deadline:
                    raise StorageUnavailableError(
                        f"{what} failed after {tries} attempts over {window:.0f} s: {reason}",
                        hint="nothing of it was stored; the caller keeps it and must retry",
                    ) from exc
                delay = min(2.0, 0.05 * 2 ** (tries - 1))
                log.warning(
                    "%s attempt %d failed (%s); retrying in %.2f s", what, tries, reason, delay
                )
                time.sleep(delay)

    @contextmanager
    def read(self, timeout_s: float | None = None) -> Iterator[Connection]:
        """A read-only connection in one snapshot transaction, cancelled after ``timeout_s``."""
        if (unit := self._unit.get()) is not None:  # read your own uncommitted writes
            yield unit.conn
            return
        limit = self.options.query_timeout_s if timeout_s is None else timeout_s
        try:
            with self.reader.connect() as conn:
                deadline = conn.info.get("deadline")
                if isinstance(deadline, _Deadline):
                    deadline.at = time.monotonic() + limit
                try:
                    with conn.begin():
                        if self.dialect == "postgresql" and timeout_s is not None:
                            # LOCAL: ends with this transaction, the pool default comes back.
                            conn.exec_driver_sql(
                                f"SET LOCAL statement_timeout = {int(limit * 1000)}"
                            )
                        yield conn
                finally:
                    if isinstance(deadline, _Deadline):
                        deadline.at = float("inf")
        except OperationalError as exc:
            message = str(exc.orig).lower()
            if "interrupted" in message or "statement timeout" in message:
                raise QueryTimeoutError(f"query ran past its {limit:.1f} s limit") from exc
            raise

    # -- migrations -----------------------------------------------------------------------------

    def _alembic_config(self) -> Any:
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        return cfg

    def migrate(self, revision: str = "head") -> str | None:
        """Upgrade the schema to ``revision`` (default: newest); returns the current revision."""
        from alembic import command

        cfg = self._alembic_config()

        def run(conn: Connection) -> None:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)

        self.write(run)
        return self.current_revision()

    def current_revision(self) -> str | None:
        """The schema revision in the database, or ``None`` for an empty database."""
        from alembic.runtime.migration import MigrationContext

        try:
            with self.writer.connect() as conn:
                return MigrationContext.configure(conn).get_current_revision()
        except OperationalError as exc:  # the first contact of `vigil db ...`: one clear line
            raise StorageUnavailableError(
                f"cannot reach the {self.dialect} database: {redact(str(exc.orig)).splitlines()[0]}"
            ) from None

    def head_revision(self) -> str | None:
        """The newest revision shipped with this version of Vigil."""
        from alembic.script import ScriptDirectory

        return ScriptDirectory.from_config(self._alembic_config()).get_current_head()


def open_database(
    url: str | URL, options: DatabaseOptions | None = None, *, migrate: bool = True
) -> Database:
    """Open (and by default migrate) the database at ``url``."""
    db = Database(url, options)
    if migrate:
        rev = db.migrate()
        log.info("database %s at schema revision %s", db.dialect, rev)
    return db
