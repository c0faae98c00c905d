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

import pytest

from tests.support.outage import config, run
from tests.support.pg_cluster import private_pg
from tests.support.polling import wait_for
from vigil.system.assembly import Assembly, assemble

pytestmark = [pytest.mark.models, pytest.mark.data]

OUTAGE_S = 30.0


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
            wait_for("first records written", lambda: outbox.stats.written >= 2, 120)
            pg.stop("fast")
            t0 = time.monotonic()
            timeline["written_before"] = outbox.stats.written
            wait_for("records spooled to disk", lambda: outbox.stats.spooled > 0, OUTAGE_S)
            time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - t0)))
            snap = outbox.snapshot()
            timeline.update(
                spooled=snap["spooled"],
                spool_bytes=snap["spool_bytes"],
                lag_at_restart_s=snap["lag_s"],
                pending_at_restart=snap["queued"] + snap["spool_items"],
            )
            pg.start()
            timeline["replay_s"] = wait_for("backlog replayed", lambda: outbox.pending == 0, 120)

        got = run(built, during=outage)

    print("outage:", timeline, "outbox:", got["outbox"])
    assert timeline["pending_at_restart"] > 0 and timeline["spooled"] > 0
    assert got["outbox"]["refused"] == 0 and got["outbox"]["failed"] == 0
    assert sorted(got["keys"]) == sorted(reference["keys"])  # each key once (primary key)
    assert got["series"] == reference["series"]  # every sample, none twice, same counts
    assert got["alerts"] == reference["alerts"]
    assert not list((tmp_path / "pg" / "outbox").glob("*.spool")), "spool left behind"
