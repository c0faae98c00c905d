"""Attribute search over 1,000,000 stored sightings, indexed vs a plain scan, SQLite and PostgreSQL.

The sightings are synthetic (no archive of a million real sightings exists here) with a skewed,
street-like distribution: 200 cameras with Zipf-like traffic, 30 days, 70 % persons and the rest
cars, trucks, buses, motorcycles and bicycles; clothing colours weighted towards black, blue,
grey and white as in the hand-labelled crops (black tops ~40 %, blue or black trousers ~75 %).
Five investigator queries run through the product's own search
(:func:`vigil.storage.attributes.search_sightings`, ranked, limit 50) and the same queries with
the indexes disabled (``plain=True``: SQLite ``NOT INDEXED``, PostgreSQL index scans off) in the
same run; each is timed as the median of ``repeat`` runs. Reported: seconds per query on each
engine and the plain/indexed ratio.

``python -m bench --only attributes`` (1,000,000 rows per engine) or ``--quick`` (100,000).
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from vigil.core.attributes import AttributeQuery, Colour, parse_text
from vigil.storage import Database, DatabaseOptions
from vigil.storage import schema as t
from vigil.storage.attributes import search_sightings

PG_ADMIN = os.environ.get(
    "VIGIL_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
T0 = datetime(2026, 11, 1, tzinfo=UTC)
DAYS = 30
CAMERAS = 200
CLASSES = (("person", 0.70), ("car", 0.20), ("truck", 0.05), ("bus", 0.03))
CLASSES += (("motorcycle", 0.01), ("bicycle", 0.01))
UPPER = {"black": 0.40, "grey": 0.14, "white": 0.12, "blue": 0.12, "red": 0.07, "brown": 0.04}
UPPER |= {"green": 0.03, "yellow": 0.02, "purple": 0.02, "pink": 0.02, "orange": 0.02}
LOWER = {"black": 0.45, "blue": 0.30, "grey": 0.12, "brown": 0.06, "white": 0.04, "green": 0.03}
BODY = {"white": 0.25, "black": 0.2, "grey": 0.25, "blue": 0.1, "red": 0.1, "green": 0.05}
BODY |= {"yellow": 0.05}
DIRS = ("left", "right", "up", "down", "still")


def _pick(rng: np.random.Generator, table: dict[str, float], n: int) -> np.ndarray:
    p = np.array(list(table.values()))
    return rng.choice(np.array(list(table), dtype=object), n, p=p / p.sum())


def rows(n: int, seed: int = 7) -> list[dict[str, Any]]:
    """``n`` synthetic sighting rows (see the module docstring)."""
    rng = np.random.default_rng(seed)
    cam_p = 1.0 / np.arange(1, CAMERAS + 1) ** 0.8
    cams = rng.choice(CAMERAS, n, p=cam_p / cam_p.sum())
    classes = _pick(rng, dict(CLASSES), n)
    secs = np.sort(rng.uniform(0, DAYS * 86400, n))
    upper, lower, body = _pick(rng, UPPER, n), _pick(rng, LOWER, n), _pick(rng, BODY, n)
    score = rng.uniform(0.2, 1.0, n).round(3)
    dirs = rng.choice(np.array(DIRS, dtype=object), n)
    out = []
    for i in range(n):
        start = T0 + timedelta(seconds=float(secs[i]))
        person = classes[i] == "person"
        out.append(
            {
                "id": uuid.UUID(int=int(rng.integers(0, 2**63)) << 64 | i).hex,
                "camera_id": f"cam-{cams[i]:03d}",
                "object_class": classes[i],
                "started_at": start,
                "ended_at": start + timedelta(seconds=8),
                "best_quality": 0.5,
                "crop_key": None,
                "plate_text": None,
                "legal_hold": False,
                "upper_colour": upper[i] if person else None,
                "lower_colour": lower[i] if person else None,
                "body_colour": None if person else body[i],
                "colour_score": float(score[i]),
                "height_frac": 0.3,
                "direction": dirs[i],
            }
        )
    return out


def queries() -> list[tuple[str, AttributeQuery, dict[str, Any]]]:
    """Five investigator queries: (name, query, window and cameras)."""
    day = T0 + timedelta(days=12)
    ten = frozenset(f"cam-{i:03d}" for i in range(20, 30))
    twenty = frozenset(f"cam-{i:03d}" for i in range(0, 200, 10))
    return [
        (
            "red top blue trousers, 10 cameras, 1 h",
            parse_text("person red top blue trousers"),
            {
                "since": day + timedelta(hours=14),
                "until": day + timedelta(hours=15),
                "cameras": ten,
            },
        ),
        (
            "white van, all cameras, 1 day",
            parse_text("white van"),
            {"since": day, "until": day + timedelta(days=1), "cameras": None},
        ),
        (
            "yellow top, 20 cameras, 7 days",
            AttributeQuery(upper=Colour.YELLOW),
            {"since": day, "until": day + timedelta(days=7), "cameras": twenty},
        ),
        (
            "bus, 1 camera, 30 days",
            parse_text("bus"),
            {"since": None, "until": None, "cameras": frozenset({"cam-005"})},
        ),
        (
            "black top black trousers, everywhere, 30 days",
            parse_text("black top black trousers"),
            {"since": None, "until": None, "cameras": None},
        ),
    ]


def _median_s(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _load(db: Database, data: list[dict[str, Any]], batch: int = 20_000) -> float:
    t0 = time.perf_counter()
    for i in range(0, len(data), batch):
        chunk = data[i : i + batch]
        db.write(lambda c, chunk=chunk: c.execute(t.sightings.insert(), chunk))
    if db.dialect == "postgresql":
        db.write(lambda c: c.exec_driver_sql("ANALYZE sightings"))
    else:
        db.write(lambda c: c.exec_driver_sql("ANALYZE"))
    return time.perf_counter() - t0


def _measure(db: Database, data: list[dict[str, Any]], repeat: int) -> dict[str, object]:
    out: dict[str, object] = {"rows": len(data), "load_s": round(_load(db, data), 1)}
    per: list[dict[str, object]] = []
    for name, q, where in queries():
        indexed = search_sightings(db, q, limit=50, **where)
        plain = search_sightings(db, q, limit=50, plain=True, **where)
        assert [s.id for s in indexed] == [s.id for s in plain], f"{name}: plans disagree"
        fast = _median_s(
            lambda q=q, where=where: search_sightings(db, q, limit=50, **where), repeat
        )
        slow = _median_s(
            lambda q=q, where=where: search_sightings(db, q, limit=50, plain=True, **where), repeat
        )
        per.append(
            {
                "query": name,
                "results": len(indexed),
                "indexed_s": round(fast, 4),
                "plain_scan_s": round(slow, 4),
                "speedup_vs_scan": round(slow / fast, 1),
            }
        )
    out["queries"] = per
    out["max_indexed_s"] = max(float(str(p["indexed_s"])) for p in per)
    return out


def run(quick: bool) -> dict[str, object]:
    import psycopg

    n = 100_000 if quick else 1_000_000
    repeat = 3 if quick else 5
    data = rows(n)
    out: dict[str, object] = {"sightings": n, "synthetic": True}
    tmp = Path(tempfile.mkdtemp())
    try:
        db = Database(f"sqlite:///{tmp / 'vigil.db'}", DatabaseOptions())
        db.migrate()
        out["sqlite"] = _measure(db, data, repeat)
        db.dispose()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    name = f"vigil_bench_attr_{uuid.uuid4().hex[:8]}"
    admin = PG_ADMIN.replace("+psycopg", "")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        db = Database(PG_ADMIN.rsplit("/", 1)[0] + "/" + name, DatabaseOptions())
        db.migrate()
        out["postgresql"] = _measure(db, data, repeat)
        db.dispose()
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return out
