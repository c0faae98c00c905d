"""Plate search over 1,000,000 stored reads: the indexed search beside a full scan, both engines.

Issue 24: an exact-plate search over 100,000 reads took 7.7 s (every row read and compared in
Python) and reads past the newest 100,000 were never searched. Here the real
:class:`~vigil.governance.plate_search.PlateSearch` (validation, index query, distance check,
audit entry) runs exact and wildcard searches over ``N`` reads (1,000,000; ``--quick``:
100,000) of realistic formats spread over 30 days and 64 cameras, on SQLite (FTS5 trigram) and
PostgreSQL (pg_trgm). The baseline is the same SQL with the index defeated (``canon || ''``), a
full scan of the table, run in the same process on the same data. Each figure is the median of
``REPEAT`` runs; the target is <= 200 ms for exact and wildcard searches.

Reads are bulk-loaded (SQLite: one ``executemany`` transaction; PostgreSQL: ``COPY``), which only
changes how long the set-up takes: the searches read what the live recorder writes (the same
columns, triggers and indexes, made by the migrations).

``python -m bench --only plates`` (1,000,000 reads) or ``--quick`` (100,000).
"""

from __future__ import annotations

import os
import random
import shutil
import statistics
import string
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text

from vigil.core.domain import Role
from vigil.core.plates import fold_confusables
from vigil.governance.actors import Actor
from vigil.governance.audit import AuditLog
from vigil.governance.plate_search import PlateSearch, PlateSearchResult
from vigil.perception.plates.profiles import US
from vigil.storage import Database, DatabaseOptions, Repository
from vigil.storage.plates import PlateStore
from vigil.storage.repository import plate_key

PG_ADMIN = os.environ.get(
    "VIGIL_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
T0 = datetime(2026, 11, 1, tzinfo=UTC)
FORMATS = ("LLLNNNN", "NLLLNNN", "LLNNLLL", "LLNNNLL", "LLNNNN")
REPEAT = 7
WHO = Actor.of("bench-investigator", Role.INVESTIGATOR)
COLUMNS = ("key", "camera_id", "read_at", "text", "canon", "confidence", "region")
COLUMNS += ("x1", "y1", "x2", "y2", "track_id")


def _rows(n: int, seed: int = 24) -> Iterator[tuple[object, ...]]:
    rng = random.Random(seed)
    letters, span = string.ascii_uppercase, 30 * 86_400
    weights = [1.0 / (i + 1) for i in range(26)]
    for i in range(n):
        fmt = rng.choice(FORMATS)
        plate = "".join(
            rng.choices(letters, weights)[0] if c == "L" else rng.choice(string.digits) for c in fmt
        )
        at = T0 + timedelta(seconds=rng.random() * span)
        cam = f"cam-{i % 64}"
        key = plate_key_of(cam, at, plate, i)
        yield (key, cam, at, plate, fold_confusables(plate), 0.9, "us", 0, 0, 10, 5, i)


def plate_key_of(cam: str, at: datetime, plate: str, track: int) -> str:
    from vigil.core.records import PlateRead

    return plate_key(PlateRead(cam, at, plate, 0.9, "us", (0, 0, 10, 5), track))


def _load(db: Database, n: int) -> list[str]:
    """Bulk-load ``n`` reads; returns a sample of stored plates to search for."""
    sample: list[str] = []
    chunk: list[tuple[object, ...]] = []
    raw = db.writer.raw_connection()
    try:
        cur = raw.cursor()
        if db.dialect == "sqlite":
            cur.execute("BEGIN")  # the writer runs in autocommit; one transaction, one fsync
        for row in _rows(n):
            chunk.append(row)
            if len(chunk) == 100_000:
                _flush(db.dialect, cur, chunk)
                sample.append(str(chunk[7][3]))
                chunk = []
        if chunk:
            _flush(db.dialect, cur, chunk)
            sample.append(str(chunk[0][3]))
        raw.commit()
        if db.dialect == "postgresql":
            cur.execute("ANALYZE plate_reads")
            raw.commit()
    finally:
        raw.close()
    return sample


def _flush(dialect: str, cur: object, chunk: list[tuple[object, ...]]) -> None:
    names = ", ".join(COLUMNS)
    if dialect == "sqlite":
        marks = ", ".join("?" for _ in COLUMNS)
        cur.executemany(f"INSERT INTO plate_reads ({names}) VALUES ({marks})", chunk)  # type: ignore[attr-defined]
        return
    with cur.copy(f"COPY plate_reads ({names}) FROM STDIN") as copy:  # type: ignore[attr-defined]
        for row in chunk:
            copy.write_row(row)


def _median_ms(fn: Callable[[], object]) -> float:
    fn()  # warm the caches once, as a server that has been running would have them
    times = []
    for _ in range(REPEAT):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return round(statistics.median(times), 1)


def _full_scan(db: Database, like: str) -> Callable[[], int]:
    """The same filter with its index defeated: every row is read."""
    op = "GLOB" if db.dialect == "sqlite" else "LIKE"
    pattern = like if db.dialect == "sqlite" else like.replace("?", "_").replace("*", "%")
    q = text(
        f"SELECT key FROM plate_reads WHERE (canon || '') {op} :p "
        "ORDER BY read_at DESC, key DESC LIMIT 101"
    )

    def run() -> int:
        with db.read(timeout_s=600) as c:
            return len(c.execute(q, {"p": pattern}).all())

    return run


def _engine(url: str, n: int, tmp: Path, name: str) -> dict[str, object]:
    db = Database(url, DatabaseOptions())
    out: dict[str, object] = {}
    try:
        db.migrate()
        t0 = time.perf_counter()
        sample = _load(db, n)
        out[f"{name}_load_s"] = round(time.perf_counter() - t0, 1)
        repo = Repository(db)
        search = PlateSearch(
            PlateStore(db), AuditLog(repo, anchor_path=tmp / f"{name}-anchor.json"), US
        )
        plate = sample[len(sample) // 2]
        cases = {
            "exact": plate,
            "wildcard_suffix": "*" + plate[-4:],
            "wildcard_inner": plate[:2] + "?" + plate[3:5] + "*",
        }
        for case, pattern in cases.items():

            def run(p: str = pattern) -> int:
                return len(search.search(WHO, pattern=p, reason="bench", limit=100).hits)

            indexed = _median_ms(run)
            scan = _median_ms(_full_scan(db, fold_confusables(pattern)))
            out[f"{name}_{case}_pattern"] = pattern
            out[f"{name}_{case}_hits"] = run()
            out[f"{name}_{case}_ms"] = indexed
            out[f"{name}_{case}_full_scan_ms"] = scan
            out[f"{name}_{case}_ratio"] = round(scan / max(indexed, 0.1), 1)

        for k in (1, 2):  # not held to the target; 2 edits usually stops at the time bound

            def fuzzy(k: int = k) -> PlateSearchResult:
                return search.search(WHO, pattern=plate, max_distance=k, reason="bench")

            out[f"{name}_fuzzy{k}_ms"] = _median_ms(fuzzy)
            page = fuzzy()
            out[f"{name}_fuzzy{k}_hits"] = len(page.hits)
            out[f"{name}_fuzzy{k}_candidates"] = page.scanned
            out[f"{name}_fuzzy{k}_truncated"] = page.truncated
    finally:
        db.dispose()
    return out


def run(quick: bool) -> dict[str, object]:
    import psycopg

    n = 100_000 if quick else 1_000_000
    out: dict[str, object] = {"reads": n, "repeat": REPEAT, "target_ms": 200}
    tmp = Path(tempfile.mkdtemp())
    name = f"vigil_bench_{uuid.uuid4().hex[:8]}"
    admin = PG_ADMIN.replace("+psycopg", "")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        out.update(_engine(f"sqlite:///{tmp}/bench.db", n, tmp, "sqlite"))
        out.update(_engine(PG_ADMIN.rsplit("/", 1)[0] + "/" + name, n, tmp, "postgresql"))
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        shutil.rmtree(tmp, ignore_errors=True)
    return out
