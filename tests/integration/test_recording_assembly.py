"""`vigil run`'s assembly records a camera configured to: encrypted segments from the live code
path, the recording health in the camera status the API serves, an explicit legal hold on a
segment. The camera runs no analytics here (no models needed): recording does not depend on them.
"""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.support.recording import intel_clip
from vigil.api.app import create_app
from vigil.cli.main import main
from vigil.config import VigilConfig, load_config
from vigil.core.domain import Role
from vigil.errors import NotFoundError
from vigil.governance.actors import Actor
from vigil.storage.factory import open_database_from_config
from vigil.storage.recordings import RecordingStore, SegmentRow
from vigil.system.assembly import assemble


def test_the_assembled_system_records_encrypted_and_reports_it(tmp_path: Path) -> None:
    key = tmp_path / "keys" / "recording.key"
    key.parent.mkdir()
    key.write_bytes(os.urandom(32))
    data = tmp_path / "data"
    cfg = VigilConfig.model_validate(
        {
            "system": {"data_dir": str(data)},
            "api": {"secret_key": "test-secret-key"},
            "recording": {"segment_s": 5, "encryption_key_file": str(key)},
            "cameras": [
                {
                    "id": "door",
                    "url": str(intel_clip()),
                    "analytics": [],
                    "fps": 1.0,
                    "realtime": False,
                    "record": "continuous",
                }
            ],
        }
    )
    built = assemble(cfg)
    svc, system = built.services, built.system
    assert system is not None and svc.recordings is not None
    try:
        system.start()
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and system.supervisor.workers["door"].alive:
            time.sleep(0.2)
        system.stop()  # ends the last segment
        (row,) = system.camera_view()
        assert row["recording"] == "recording" and row["recording_errors"] == 0
        far = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))
        rows = svc.recordings.index.window("door", *far)
        assert len(rows) == row["recording_segments"] >= 27  # 139 s in 5 s segments
        assert all(r.encrypted for r in rows)
        assert all((data / "recordings" / r.path).is_file() for r in rows)
        assert svc.recordings.index.store.gaps("door", *far) == []

        user = svc.accounts.create_user("op", "a long enough password 1", [Role.OPERATOR])
        token, _ = svc.accounts.start_session(user)
        app = create_app(cfg, services=svc, system=system, start_background=False)
        client = TestClient(app, base_url="https://testserver")
        auth = {"Authorization": f"Bearer {token}"}
        (status,) = client.get("/api/v1/cameras/status", headers=auth).json()
        assert status["recording"] == "recording"
        assert status["recording_segments"] == len(rows)
        clip = client.get(
            "/api/v1/cameras/door/clips",
            params={
                "start": rows[3].started_at.isoformat(),
                "end": (rows[3].started_at + timedelta(seconds=3)).isoformat(),
                "reason": "checking the door",
            },
            headers=auth,
        )
        assert clip.status_code == 200 and clip.content[4:8] == b"ftyp"  # decrypted, remuxed

        # An explicit hold on one segment; a mistyped id holds nothing and says so.
        inv = Actor.of("inv-1", Role.INVESTIGATOR)
        case = svc.purger.open_case(inv, "door incident", "case file")
        svc.purger.hold(inv, case.id, "segment", rows[0].id, "the door at 10:00")
        with pytest.raises(NotFoundError, match="no-such-segment"):
            svc.purger.hold(inv, case.id, "segment", "no-such-segment", "typo")
        held = svc.recordings.index.store.expired({}, datetime(2100, 1, 1, tzinfo=UTC))
        assert rows[0].id not in {r.id for r in held} and len(held) == len(rows) - 1
    finally:
        system.stop()
        svc.repo.db.dispose()


def test_cameras_status_reports_recording_from_the_index(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``vigil cameras status`` adds each recording camera's last hour from the index (segments,
    gaps, newest end), in JSON and text; a camera that records nothing has none."""
    cfg = tmp_path / "vigil.yaml"
    cfg.write_text(
        f"system:\n  data_dir: {tmp_path}\n"
        "cameras:\n"
        f"  - {{id: door, url: {intel_clip()}, analytics: [], record: continuous}}\n"
        f"  - {{id: yard, url: {intel_clip()}, analytics: []}}\n"
    )
    db = open_database_from_config(load_config(cfg))
    store = RecordingStore(db)
    now = datetime.now(UTC)
    for i in (0, 1, 3):  # segments 0-1 abut, then a 10 s hole before the third
        start = now - timedelta(minutes=5) + timedelta(seconds=10 * i)
        store.add(
            SegmentRow(
                f"s{i}",
                "door",
                start,
                start + timedelta(seconds=10),
                "x",
                1,
                "0" * 64,
                False,
                start,
            )
        )
    db.dispose()
    capsys.readouterr()
    main(["cameras", "status", str(cfg), "--probe", "1", "--json"])
    rows = {r["camera_id"]: r for r in map(json.loads, capsys.readouterr().out.splitlines())}
    assert rows["yard"]["recording"] is None
    rec = rows["door"]["recording"]
    assert rec["mode"] == "continuous"
    assert rec["segments_last_hour"] == 3 and rec["gaps_last_hour"] == 1
    main(["cameras", "status", str(cfg), "--probe", "1"])
    assert "recording (continuous): 3 segments and 1 gaps" in capsys.readouterr().out
