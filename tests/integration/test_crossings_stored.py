"""Line crossings of the real people stage on real footage are stored in minute buckets that
add up to the live counter, exactly once, on SQLite and PostgreSQL.

Real parts: OpenCV's vtest.avi (pedestrians, 768×576, 10 fps) decoded by the camera source
(PyAV), the NanoDet detector from the installed model cache, ByteTrack and the zone step with two
counting lines, then the running system's outbox and decision writer into a real database. The
first 150 frames (15 s of footage, every frame analysed so tracks survive their crossings) are
analysed once per module; the frame times start ten seconds before a minute so the crossings
fall into two buckets. Every record is then submitted twice, as a replay after a lost
acknowledgement would, and the stored buckets must still equal the live counter.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from vigil.analytics.zones import CountLine, ZoneAnalytics
from vigil.config import VigilConfig
from vigil.config.analytics import PeopleConfig
from vigil.core import FrameRef
from vigil.core.keys import file_epoch
from vigil.core.records import CrossingCount
from vigil.perception.objects import NanoDetDetector
from vigil.sources.av_source import AVSource
from vigil.sources.base import SourceSpec
from vigil.storage import Repository
from vigil.storage.console import ConsoleStore
from vigil.system.decisions import CrossingRecord, DecisionWriter
from vigil.system.outbox import Outbox
from vigil.system.people import PeopleStage

pytestmark = pytest.mark.models

T0 = datetime(2026, 6, 1, 8, 0, 50, tzinfo=UTC)
FRAMES = 150


@dataclass
class Run:
    records: list[CrossingRecord]
    live: dict[str, int]  # the stage's view: "<line>:<direction>" -> total


@pytest.fixture(scope="module")
def run(vtest_video: Path) -> Run:
    zones = ZoneAnalytics(
        [],
        [CountLine("mid", (384.5, 0), (384.5, 576)), CountLine("across", (0, 330), (768, 330))],
    )
    records: list[CrossingRecord] = []
    stage = PeopleStage(
        "street",
        NanoDetDetector(VigilConfig().models.dir),
        PeopleConfig(),
        zones=zones,
        crossings=lambda counts, key: records.append(CrossingRecord(key, counts)),
    )
    spec = SourceSpec(
        "street", str(vtest_video), "file", fps=10.0, decode_mode="all", realtime=False
    )
    epoch = file_epoch(vtest_video, 0)
    for n, raw in enumerate(AVSource(spec).frames(threading.Event())):
        if n >= FRAMES:
            break
        h, w = raw.image.shape[:2]
        at = T0 + timedelta(seconds=raw.media_time if raw.media_time is not None else n / 10)
        stage.process(raw.image, FrameRef("street", at, n, w, h, epoch))
    return Run(records, dict(stage.view.line_crossings))


def test_stored_buckets_add_up_to_the_live_counter(
    run: Run, repo: Repository, tmp_path: Path
) -> None:
    assert sum(run.live.values()) >= 3, f"too few crossings on the footage: {run.live}"
    outbox = Outbox(DecisionWriter(repo), tmp_path / "outbox")
    outbox.start()
    try:
        for record in run.records + run.records:  # each one replayed once
            outbox.submit(record)
        assert outbox.drain(30.0), "the outbox did not drain"
    finally:
        outbox.stop()
    rows, more = ConsoleStore(repo.db).crossing_window(
        "street", None, T0 - timedelta(minutes=1), T0 + timedelta(minutes=2)
    )
    assert not more
    stored: dict[str, int] = {}
    for line, direction, start, count in rows:
        assert start.second == 0 and start.microsecond == 0
        key = f"{line}:{direction}"
        stored[key] = stored.get(key, 0) + count
    assert stored == run.live
    assert len({start for *_, start, _ in rows}) == 2  # 08:00 and 08:01
    per_record = [c for r in run.records for c in r.counts]
    assert all(isinstance(c, CrossingCount) for c in per_record)
    assert sum(c.count for c in per_record) == sum(run.live.values())
