"""What the PostgreSQL-outage and failover tests share: people-counting cameras on vtest.avi whose
records are deterministic (file read as fast as possible into a queue that holds the whole clip),
a run of one in the embedded mode, and what a run stored per camera (keys, crowd series, crowd
alerts)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy import select

from tests.support.polling import wait_for
from vigil.config import VigilConfig
from vigil.core.records import AlertKind
from vigil.storage import Repository
from vigil.storage import schema as t
from vigil.system.assembly import Assembly


def camera(camera_id: str, video: Path, fps: float = 2.0, realtime: bool = False) -> dict[str, Any]:
    """A camera counting people in the lower half of ``video``, read as fast as possible (or at
    the clip's own pace, ``realtime``) into a queue that holds the whole clip (vtest.avi sampled
    at 2 fps: 159 frames), so nothing is dropped and every run analyses the same frames."""
    return {
        "id": camera_id,
        "url": str(video),
        "analytics": ["persons", "crowd"],
        "fps": fps,
        "realtime": realtime,
        "queue_size": 256,
        "zones": [{"name": "near", "polygon": [[0, 288], [768, 288], [768, 576], [0, 576]]}],
    }


def config(
    data_dir: Path,
    url: str,
    video: Path,
    *,
    cameras: tuple[str, ...] = ("street",),
    fps: float = 2.0,
    realtime: bool = False,
    **extra: Any,
) -> VigilConfig:
    """``cameras`` counting people (crowd samples every 2 s, a crowd alert from 4 people)."""
    return VigilConfig.model_validate(
        {
            **extra,
            "system": {"data_dir": str(data_dir)},
            "storage": {"url": url, "write_retry_s": 2.0, "outbox": {"memory_items": 4}},
            "people": {"crowd": {"sample_every_s": 2.0, "overcrowd": 4, "sustain": 1}},
            "cameras": [camera(c, video, fps, realtime) for c in cameras],
        }
    )


def finished(built: Assembly) -> bool:
    system = built.system
    assert system is not None
    (worker,) = system.supervisor.workers.values()
    (row,) = system.camera_view()
    return bool(worker.finished) and row["frames_analysed"] >= worker.frames


def records(repo: Repository, camera_id: str = "street") -> dict[str, Any]:
    """What a run stored for one camera: keys, the crowd series (counts in order), crowd
    alerts."""
    keyed = t.record_keys.c
    with repo.db.read() as c:
        rows = c.execute(select(keyed.key, keyed.kind).where(keyed.camera_id == camera_id)).all()
    keys = [r.key for r in rows]
    kinds = dict(Counter(r.kind for r in rows))
    samples = repo.list_crowd_samples(camera_id, limit=1000)
    alerts = repo.list_alerts(kind=AlertKind.CROWD, camera_id=camera_id, limit=1000)
    return {
        "keys": keys,
        "kinds": kinds,
        "series": [(s.zone, round(s.count, 6)) for s in samples],
        "alerts": sorted(a.detail for a in alerts),
    }


def run(built: Assembly, during: Any = None, camera_id: str = "street") -> dict[str, Any]:
    system = built.system
    assert system is not None
    system.start()
    try:
        if during is not None:
            during(built)
        wait_for("the clip analysed", lambda: finished(built), 300)
        assert system.outbox is not None
        assert system.outbox.drain(120), system.outbox.snapshot()
    finally:
        system.stop()
    (row,) = system.camera_view()
    assert row["dropped_frames"] == 0 and row["analysis_failures"] == 0, row
    out = records(built.services.repo, camera_id)
    out["outbox"] = system.recorder_status()
    built.services.repo.db.dispose()
    return out
