"""A PostgreSQL cluster of a test's own, on a free port, that the test may stop and start.

The shared server on :5432 belongs to every test (and every engineer on the machine), so a test
that takes PostgreSQL away runs its own: ``initdb`` in a temporary folder, ``pg_ctl`` to start
and stop it. PostgreSQL refuses to run as root, so the commands run as the ``postgres`` user
(``runuser``) in a folder that user owns. Without the binaries the test is skipped, saying why.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import psycopg
import pytest

from tests.support.cameras import free_port

PG_BIN = Path("/usr/lib/postgresql/15/bin")


class PgCluster:
    """One private PostgreSQL cluster: :attr:`url` for Vigil, :meth:`stop` / :meth:`start`."""

    def __init__(self, folder: Path, port: int) -> None:
        self.folder = folder
        self.port = port
        self.data = folder / "data"
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/vigil"

    def _run(self, *args: str, timeout: float = 60) -> None:
        cmd = ["runuser", "-u", "postgres", "--", *args]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {done.stdout[-800:]} {done.stderr[-800:]}")

    def init(self) -> None:
        self._run(str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres")
        self.start()
        with psycopg.connect(
            f"postgresql://postgres@127.0.0.1:{self.port}/postgres", autocommit=True
        ) as conn:
            conn.execute("CREATE DATABASE vigil")

    def start(self) -> None:
        opts = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = str(self.folder / "pg.log")
        self._run(
            str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-o", opts, "-l", log, "-w", "start"
        )

    def stop(self, mode: str = "fast") -> None:
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")


@contextmanager
def private_pg() -> Iterator[PgCluster]:
    """A fresh cluster with an empty ``vigil`` database; stopped and removed afterwards."""
    if not (PG_BIN / "initdb").exists() or shutil.which("runuser") is None:
        pytest.skip(f"PostgreSQL 15 binaries ({PG_BIN}) or runuser missing: no private cluster")
    folder = Path(tempfile.mkdtemp(prefix="vigil-pg-"))
    shutil.chown(folder, "postgres", "postgres")
    cluster = PgCluster(folder, free_port())
    try:
        cluster.init()
        yield cluster
    finally:
        with suppress(RuntimeError, subprocess.TimeoutExpired):  # already stopped
            cluster.stop("immediate")
        shutil.rmtree(folder, ignore_errors=True)
