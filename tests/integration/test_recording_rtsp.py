"""Recording a real RTSP camera (GStreamer's RTSP server streaming vtest.avi as H.264) through
the live worker: segments while it streams, the open segment closed when the camera dies, a new
one when it comes back; the index shows exactly that outage as the one gap."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import av
import pytest

from tests.support.api_env import migrated_db
from tests.support.cameras import RtspServer, rtsp_server
from tests.support.data import shared_data
from tests.support.polling import wait_for
from tests.support.recording import index_over
from vigil.recording.writer import SegmentRecorder
from vigil.sources import CameraState, CameraWorker, SourceSpec
from vigil.storage import Database

pytestmark = [pytest.mark.services, pytest.mark.data]
FAR = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))


@pytest.fixture
def server() -> Iterator[RtspServer]:
    with rtsp_server(shared_data("opencv_vtest", "vtest.avi"), gop=10) as srv:
        yield srv


@pytest.fixture
def sqlite(tmp_path: Path) -> Iterator[Database]:
    db = migrated_db(tmp_path)
    yield db
    db.dispose()


def test_an_rtsp_camera_is_recorded_through_an_outage(
    server: RtspServer, sqlite: Database, tmp_path: Path
) -> None:
    index = index_over(sqlite, tmp_path / "rec")
    rec = SegmentRecorder("door", index.root, index.segment_sink(), segment_s=2.0)
    rec.start()
    spec = SourceSpec("door", server.url, "rtsp", fps=2.0, stall_timeout_s=2.0)
    worker = CameraWorker(spec, reconnect_min_s=0.2, reconnect_max_s=1.0, tee=rec)
    worker.start()
    try:
        wait_for("3 segments", lambda: len(index.window("door", *FAR)) >= 3, 40, 0.1)
        server.kill()
        # The connection ends: the open segment is closed and indexed, not lost.
        wait_for("the camera offline", lambda: worker.snapshot().state is CameraState.OFFLINE, 15)
        wait_for("the open segment closed", lambda: not any(index.root.glob("door/*/*.part")), 15)
        wait_for(
            "the closed segment indexed",
            lambda: len(index.window("door", *FAR)) == rec.status().segments,
            15,
        )
        before = len(index.window("door", *FAR))
        server.start()
        wait_for("2 more segments", lambda: len(index.window("door", *FAR)) >= before + 2, 40, 0.1)
    finally:
        worker.stop(3.0)
        rec.stop()
    rows = index.window("door", *FAR)
    gaps = index.store.gaps("door", *FAR)
    assert len(gaps) == 1  # the outage, and nothing else
    assert gaps[0][0] == rows[before - 1].ended_at
    st = rec.status()
    assert st.write_errors == 0 and st.dropped_packets == 0 and st.segments == len(rows)
    for row in rows:
        with av.open(str(index.root / row.path)) as c:
            frames = sum(1 for _ in c.decode(c.streams.video[0]))
        assert frames >= 1
