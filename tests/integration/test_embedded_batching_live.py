"""Cross-camera batching on real video: two face cameras share one queue per embedding model,
their faces are embedded through it, and the statistics reach the camera view's system."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.support.scenes import lfw_people, scene_video
from vigil.config.settings import VigilConfig
from vigil.system.embedded import EmbeddedSystem

pytestmark = [pytest.mark.models, pytest.mark.data]


def test_two_cameras_share_the_embedding_queues(
    vtest_video: Path, lfw_dir: Path, tmp_path: Path
) -> None:
    video = scene_video(vtest_video, lfw_people(lfw_dir, 1)[0][1], tmp_path / "scene.mp4")
    cams = [
        {"id": c, "url": str(video), "analytics": ["faces"], "realtime": True, "fps": 2.0}
        for c in ("cam-a", "cam-b")
    ]
    config = VigilConfig.model_validate(
        {
            "cameras": cams,
            "system": {"data_dir": str(tmp_path / "var")},
            "runtime": {"batching": {"enabled": True, "max_wait_ms": 100, "analysis_threads": 2}},
        }
    )
    system = EmbeddedSystem(config)
    assert system.shared is not None and system.analysis.threads == 2
    system.start()
    try:
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            rows = {r["camera_id"]: r for r in system.camera_view()}
            if all(r["faces_embedded"] >= 2 for r in rows.values()):
                break
            time.sleep(0.2)
    finally:
        system.stop()
    stats = system.inference_status()
    assert set(stats) == {"sface", "fr_feature", "mobilefacenet"}  # one queue per model
    rows = {r["camera_id"]: r for r in system.camera_view()}
    brief = {
        c: (r["frames_analysed"], r["faces_seen"], r["faces_embedded"]) for c, r in rows.items()
    }
    assert all(r["faces_embedded"] >= 2 for r in rows.values()), (brief, stats)
    assert all(r["analysis_failures"] == 0 for r in rows.values()), rows
    for s in stats.values():
        assert s["answered"] >= 2 and s["failed"] == 0
        assert s["mean_batch"] >= 1 and sum(s["batch_sizes"].values()) == s["batches"]
        assert s["wait_ms"]["p99"] <= 100 + 1000  # the latency bound, plus scheduling slack
