"""The live system counts people on real footage and stores the crowd series the API serves.

Real parts: OpenCV's vtest.avi (pedestrians, 768×576) read by the camera worker with PyAV, the
NanoDet model from the installed cache, ByteTrack, a real SQLite system of record, and the real
API route ``GET /cameras/{id}/crowd`` reading it back.
"""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient

from vigil.api.app import create_app
from vigil.config import VigilConfig
from vigil.core.attributes import AttributeQuery, Colour
from vigil.core.domain import Role
from vigil.system.assembly import assemble
from vigil.system.embedded import EmbeddedSystem

pytestmark = pytest.mark.models


def test_people_are_counted_tracked_and_the_crowd_series_is_served(
    tmp_path: Path, vtest_video: Path
) -> None:
    cfg = VigilConfig.model_validate(
        {
            "system": {"data_dir": str(tmp_path)},
            "api": {"secret_key": "test-secret-key"},
            "people": {"crowd": {"sample_every_s": 2.0}},
            "cameras": [
                {
                    "id": "street",
                    "url": str(vtest_video),
                    "analytics": ["persons", "crowd"],
                    "fps": 4.0,
                    "realtime": False,
                    # vtest is 768x576: the lower half of the pavement, and a line across it
                    "zones": [
                        {"name": "near", "polygon": [[0, 288], [768, 288], [768, 576], [0, 576]]}
                    ],
                    "lines": [{"name": "mid", "a": [384.5, 0], "b": [384.5, 576]}],
                }
            ],
        }
    )
    built = assemble(cfg)
    svc, system = built.services, built.system
    assert system is not None
    try:
        assert system.counting == ["street"]
        system.start()
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            (row,) = system.camera_view()
            if (row["crowd_count"] or 0) > 0 and row["frames_analysed"] >= 24:
                break
            time.sleep(0.5)
        system.stop()
        (row,) = system.camera_view()
        assert row["analysis_failures"] == 0, row["last_error"]
        # vtest shows several pedestrians at a time; each is tracked, not counted per frame.
        assert row["people_now"] is not None and row["crowd_count"] > 0
        assert 2 <= row["person_tracks_total"] <= row["frames_analysed"] * 10
        samples = svc.repo.list_crowd_samples("street")
        assert samples and all(s.method == "boxes" and s.count >= 0 for s in samples)
        whole = [s for s in samples if s.zone is None]
        near = [s for s in samples if s.zone == "near"]
        assert max(s.count for s in whole) >= 2 and near  # the zone has its own series
        assert all(n.count <= w.count + 1e-9 for n, w in zip(near, whole, strict=False))
        assert set(row["zone_counts"]) == {"near"}
        # The file is read faster than analysis here, so the analysed frames are seconds apart
        # and tracks rarely survive a crossing: crossing counts are checked on scripted tracks
        # in tests/unit/test_people_stage.py; here only that the line is in the view.
        assert isinstance(row["line_crossings"], dict)
        # Each closed person track was stored as a sighting with its clothing colours.
        people = svc.repo.search_sightings(AttributeQuery(), limit=500)
        assert people, "no person sighting stored at track close"
        palette = {c.value for c in Colour}
        assert all({p.upper_colour, p.lower_colour} <= palette for p in people)
        assert all(p.direction and 0 < (p.height_frac or 0) <= 1 for p in people)

        user = svc.accounts.create_user("op", "a long enough password 1", [Role.OPERATOR])
        token, _ = svc.accounts.start_session(user)
        app = create_app(cfg, services=svc, system=system, start_background=False)
        client = TestClient(app)
        resp = client.get(
            "/api/v1/cameras/street/crowd", headers={"Authorization": f"Bearer {token}"}
        )
        assert resp.status_code == 200, resp.text
        served = resp.json()
        assert len(served) == len(samples) and {s["method"] for s in served} == {"boxes"}
        auth = {"Authorization": f"Bearer {token}"}
        heat = client.get("/api/v1/cameras/street/heatmap", headers=auth)
        assert heat.status_code == 200 and heat.headers["content-type"] == "image/png"
        image = cv2.imdecode(np.frombuffer(heat.content, np.uint8), cv2.IMREAD_COLOR)
        assert image.shape == (576, 768, 3) and image.std() > 0  # people left a mark
        assert client.get("/api/v1/cameras/nowhere/heatmap", headers=auth).status_code == 404
    finally:
        system.stop()
        svc.repo.db.dispose()


def test_plate_cameras_get_the_plate_search_their_config_names(
    tmp_path: Path, vtest_video: Path
) -> None:
    cams = [
        {"id": "street", "url": str(vtest_video), "analytics": ["plates"]},
        {
            "id": "gate",
            "url": str(vtest_video),
            "analytics": ["plates"],
            "plate_search": "whole_frame",
        },
        {"id": "hall", "url": str(vtest_video), "analytics": ["persons"]},
    ]
    cfg = VigilConfig.model_validate(
        {"system": {"data_dir": str(tmp_path)}, "api": {"secret_key": "k" * 16}, "cameras": cams}
    )
    system = EmbeddedSystem(cfg)  # built, not started: no frames are read
    people = system.analysis.people
    assert people["street"].plates is not None and people["street"].plates.passes is None
    assert people["gate"].plates is not None and people["gate"].plates.passes is not None
    assert people["gate"].plates.fuser.min_reads == cfg.plates.pass_min_reads
    assert people["hall"].plates is None
    with pytest.raises(ValueError, match="plate_search"):
        VigilConfig.model_validate({"cameras": [{**cams[1], "plate_search": "everywhere"}]})
