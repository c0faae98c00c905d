"""What the PostgreSQL-outage tests share: a people-counting camera on vtest.avi whose records
are deterministic (file read as fast as possible into a queue that holds the whole clip), a run
of it in the embedded mode, and what a run stored (keys, crowd series, crowd alerts)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from vigil.config import VigilConfig
from vigil.core.records import AlertKind
from vigil.storage import Repository
from vigil.storage import schema as t
from vigil.system.assembly import Assembly


def config(data_dir: Path, url: str, video: Path, **extra: Any) -> VigilConfig:
    """One camera counting people (crowd samples every 2 s, a crowd alert from 4 people)."""
    return VigilConfig.model_validate(
        {
            **extra,
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


def records(repo: Repository) -> dict[str, Any]:
    """What a run stored: keys, the crowd series (counts in order), crowd alerts."""
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
    out = records(built.services.repo)
    out["outbox"] = system.recorder_status()
    built.services.repo.db.dispose()
    return out
