"""PostgreSQL stopped for 30 s in the middle of a run: nothing is lost, nothing is doubled.

Real parts throughout: OpenCV's vtest.avi read by the camera worker with PyAV (file source, read
as fast as possible into a queue that holds the whole clip, so no frame is dropped and the run
is deterministic), NanoDet people counting with crowd samples and crowd alerts, the embedded
system built by the composition root, and a PostgreSQL cluster of the test's own
(tests/support/pg_cluster.py) that the test stops with ``pg_ctl stop -m fast`` once records are
flowing and starts again 30 s later.

A reference run of the same footage into SQLite gives what must be there; after the outage the
PostgreSQL run must hold exactly the same records (same idempotency keys, same counts in the
same order, same crowd alerts), each once. Spooled records and replay time are printed, not
asserted (timings belong to benchmarks).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.support.pg_cluster import private_pg
from vigil.config import VigilConfig
from vigil.core.records import AlertKind
from vigil.storage import schema as t
from vigil.system.assembly import Assembly, assemble

pytestmark = [pytest.mark.models, pytest.mark.data]

OUTAGE_S = 30.0


def config(data_dir: Path, url: str, video: Path) -> VigilConfig:
    return VigilConfig.model_validate(
        {
            "system": {"data_dir": str(data_dir)},
            "storage": {"url": url, "write_retry_s": 2.0, "outbox": {"memory_items": 4}},
            "people": {"crowd": {"sample_every_s": 2.0, "overcrowd": 4, "sustain": 1}},
            "cameras": [
                {
                    "id": "street",
                    "url": str(video),
                    "analytics": ["persons", "crowd"],
                    "fps": 2.0,
                    "realtime": False,
                    "queue_size": 256,  # the whole clip (159 sampled frames): nothing dropped
                    "zones": [
                        {"name": "near", "polygon": [[0, 288], [768, 288], [768, 576], [0, 576]]}
                    ],
                }
            ],
        }
    )


def finished(built: Assembly) -> bool:
    system = built.system
    assert system is not None
    (worker,) = system.supervisor.workers.values()
    (row,) = system.camera_view()
    return bool(worker.finished) and row["frames_analysed"] >= worker.frames


def wait(what: str, check: Any, timeout: float) -> float:
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > timeout:
            pytest.fail(f"{what} did not happen within {timeout:.0f} s")
        time.sleep(0.2)
    return time.monotonic() - start


def records(built: Assembly) -> dict[str, Any]:
    """What the run stored: keys, the crowd series (counts in order), crowd alerts."""
    repo = built.services.repo
    with repo.db.read() as c:
        keys = [r[0] for r in c.execute(select(t.record_keys.c.key))]
    samples = repo.list_crowd_samples("street", limit=1000)
    alerts = repo.list_alerts(kind=AlertKind.CROWD, limit=1000)
    return {
        "keys": keys,
        "series": [(s.zone, round(s.count, 6)) for s in samples],
        "alerts": sorted(a.detail for a in alerts),
    }


def run(built: Assembly, during: Any = None) -> dict[str, Any]:
    system = built.system
    assert system is not None
    system.start()
    try:
        if during is not None:
            during(built)
        wait("the clip analysed", lambda: finished(built), 300)
        assert system.outbox is not None
        assert system.outbox.drain(120), system.outbox.snapshot()
    finally:
        system.stop()
    (row,) = system.camera_view()
    assert row["dropped_frames"] == 0 and row["analysis_failures"] == 0, row
    out = records(built)
    out["outbox"] = system.recorder_status()
    built.services.repo.db.dispose()
    return out


@pytest.mark.timeout(600)
def test_postgresql_away_for_30_s_mid_run_loses_and_doubles_nothing(
    tmp_path: Path, vtest_video: Path
) -> None:
    reference = run(assemble(config(tmp_path / "ref", f"sqlite:///{tmp_path}/ref.db", vtest_video)))
    assert len(reference["keys"]) >= 20 and reference["alerts"], reference
    timeline: dict[str, float] = {}

    with private_pg() as pg:
        built = assemble(config(tmp_path / "pg", pg.url, vtest_video))

        def outage(b: Assembly) -> None:
            outbox = b.system.outbox if b.system else None
            assert outbox is not None
            wait("first records written", lambda: outbox.stats.written >= 2, 120)
            pg.stop("fast")
            t0 = time.monotonic()
            timeline["written_before"] = outbox.stats.written
            wait("records spooled to disk", lambda: outbox.stats.spooled > 0, OUTAGE_S)
            time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - t0)))
            snap = outbox.snapshot()
            timeline.update(
                spooled=snap["spooled"],
                spool_bytes=snap["spool_bytes"],
                lag_at_restart_s=snap["lag_s"],
                pending_at_restart=snap["queued"] + snap["spool_items"],
            )
            pg.start()
            timeline["replay_s"] = wait("backlog replayed", lambda: outbox.pending == 0, 120)

        got = run(built, during=outage)

    print("outage:", timeline, "outbox:", got["outbox"])
    assert timeline["pending_at_restart"] > 0 and timeline["spooled"] > 0
    assert got["outbox"]["refused"] == 0 and got["outbox"]["failed"] == 0
    assert sorted(got["keys"]) == sorted(reference["keys"])  # each key once (primary key)
    assert got["series"] == reference["series"]  # every sample, none twice, same counts
    assert got["alerts"] == reference["alerts"]
    assert not list((tmp_path / "pg" / "outbox").glob("*.spool")), "spool left behind"
