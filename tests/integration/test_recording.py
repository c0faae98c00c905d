"""Recording on real footage: segments teed from the PyAV source, the index, clips, encryption,
write errors, an overloaded analysis queue, retention with legal hold, and a SIGKILL mid-segment.

The clip is the Intel pedestrian video (H.264, 10 fps, 1 s GOP) from ``../shared/data``, read
faster than real time except in the kill test (which needs a segment open when it kills).
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import av
import numpy as np
import pytest
from sqlalchemy import update

from tests.support.api_env import migrated_db
from tests.support.polling import wait_for
from tests.support.recording import index_over, intel_clip, record_file
from vigil.config.recording import RecordingConfig
from vigil.core.domain import CaseLink, CaseRow
from vigil.core.records import Alert, AlertKind, ObjectClass, PlateRead, Sighting
from vigil.errors import NotFoundError, ValidationError
from vigil.governance.audit import AuditAction, AuditLog, iter_entries
from vigil.governance.recordings import CameraRecording, RecordingService
from vigil.recording.index import SegmentIndex
from vigil.recording.playback import build_clip
from vigil.recording.writer import SegmentRecorder
from vigil.sources.av_source import AVSource
from vigil.sources.base import SourceSpec
from vigil.sources.worker import CameraWorker
from vigil.storage import Database, Repository
from vigil.storage import schema as tbl
from vigil.storage.cases import CaseClip, CaseStore
from vigil.storage.recordings import RecordingStore, SegmentRow
from vigil.storage.repository import plate_key

REPO_ROOT = Path(__file__).resolve().parents[2]


def _frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="bgr24") for f in c.decode(c.streams.video[0])]


@pytest.fixture
def sqlite(tmp_path: Path) -> Database:
    db = migrated_db(tmp_path)
    yield db
    db.dispose()


def test_segments_abut_match_their_hash_and_replay_as_one_clip(
    sqlite: Database, tmp_path: Path
) -> None:
    index = index_over(sqlite, tmp_path / "rec")
    rec = record_file(intel_clip(), index, frames=13, segment_s=2.0)
    st = rec.status()
    assert st.write_errors == 0 and st.dropped_packets == 0 and st.index_pending == 0
    rows = index.window(
        "cam-1", datetime(2000, 1, 1, tzinfo=UTC), datetime.now(UTC) + timedelta(days=1)
    )
    assert len(rows) == st.segments >= 5
    # 0 gaps between consecutive segments, read from the index; every segment is a GOP-aligned
    # 2 s (1 s GOP) except possibly the last.
    assert index.store.gaps("cam-1", rows[0].started_at, rows[-1].ended_at) == []
    assert all(abs((r.ended_at - r.started_at).total_seconds() - 2.0) < 1e-3 for r in rows[:-1])
    for row in rows:
        data = (index.root / row.path).read_bytes()
        assert hashlib.sha256(data).hexdigest() == row.sha256 and len(data) == row.bytes
        assert data[4:8] == b"ftyp" and b"moof" in data  # fragmented MP4
    # A clip across three segments, from inside the second to inside the fourth.
    start = rows[1].started_at + timedelta(seconds=0.5)
    end = rows[3].started_at + timedelta(seconds=1.25)
    out = build_clip(index, "cam-1", start, end, tmp_path / "clip.mp4")
    frames = _frames(out)
    # From the key frame at or before start (rows[1] start) to the first frame after end:
    # 2 s + 2 s + 1.3 s of 10 fps video.
    assert 52 <= len(frames) <= 54
    src = _frames(index.root / rows[2].path)
    assert np.array_equal(frames[20], src[0])  # remuxed, not re-encoded: identical pixels


def test_bad_windows_and_empty_windows(sqlite: Database, tmp_path: Path) -> None:
    index = index_over(sqlite, tmp_path / "rec")
    now = datetime.now(UTC)
    with pytest.raises(ValidationError, match="after start"):
        build_clip(index, "cam-1", now, now - timedelta(seconds=1), tmp_path / "c.mp4")
    with pytest.raises(ValidationError, match="time zone"):
        build_clip(index, "cam-1", now.replace(tzinfo=None), now, tmp_path / "c.mp4")
    with pytest.raises(NotFoundError, match="nothing was recorded"):
        build_clip(index, "cam-1", now - timedelta(hours=1), now, tmp_path / "c.mp4")
    assert not list(tmp_path.glob("c.mp4*"))


def test_encrypted_segments_play_and_a_changed_byte_is_refused(
    sqlite: Database, tmp_path: Path
) -> None:
    key = os.urandom(32)
    index = index_over(sqlite, tmp_path / "rec", key)
    record_file(intel_clip(), index, frames=5, segment_s=2.0)
    rows = index.window(
        "cam-1", datetime(2000, 1, 1, tzinfo=UTC), datetime.now(UTC) + timedelta(days=1)
    )
    assert rows and all(r.encrypted and r.path.endswith(".mp4.enc") for r in rows)
    blob = (index.root / rows[0].path).read_bytes()
    assert b"ftyp" not in blob[:64] and b"moof" not in blob
    out = build_clip(index, "cam-1", rows[0].started_at, rows[0].ended_at, tmp_path / "c.mp4")
    assert len(_frames(out)) >= 20
    # Without the key, or with a flipped byte, nothing plays.
    keyless = SegmentIndex(index.store, index.root)
    with pytest.raises(ValidationError, match="encrypted"):
        build_clip(keyless, "cam-1", rows[0].started_at, rows[0].ended_at, tmp_path / "d.mp4")
    data = bytearray(blob)
    data[len(data) // 2] ^= 0xFF
    (index.root / rows[0].path).write_bytes(bytes(data))
    with pytest.raises(ValidationError, match="SHA-256"):
        build_clip(index, "cam-1", rows[0].started_at, rows[0].ended_at, tmp_path / "e.mp4")


def test_an_overloaded_analysis_queue_never_drops_recording(
    sqlite: Database, tmp_path: Path
) -> None:
    """Nobody takes frames off the camera's analysis queue (size 1): it drops nearly every
    frame, while the recorder sees every packet and indexes the whole file without a gap."""
    index = index_over(sqlite, tmp_path / "rec")
    rec = SegmentRecorder("cam-1", index.root, index.segment_sink(), segment_s=10.0)
    rec.start()
    spec = SourceSpec("cam-1", str(intel_clip()), "file", fps=10.0, realtime=False)
    worker = CameraWorker(spec, queue_size=1, tee=rec, tamper_enabled=False)
    worker.start()
    wait_for("the file to end", lambda: worker.finished, 120)
    rec.stop()
    counters = worker.source.counters.snapshot()
    packets = counters.packets
    # Analysis sampled the frames it would have without a recorder (10 fps of 139.4 s): the
    # tee hands the recorder a copy, so rebasing it never disturbs the sampler's clock.
    assert counters.frames_sampled >= 1390
    st = rec.status()
    assert worker.queue.dropped > 1000  # analysis was "overloaded"
    assert st.packets == packets and st.dropped_packets == 0 and st.write_errors == 0
    rows = index.window(
        "cam-1", datetime(2000, 1, 1, tzinfo=UTC), datetime.now(UTC) + timedelta(days=1)
    )
    assert index.store.gaps("cam-1", rows[0].started_at, rows[-1].ended_at) == []
    covered = (rows[-1].ended_at - rows[0].started_at).total_seconds()
    assert abs(covered - 139.4) < 0.5  # the whole 139.4 s file
    total = sum(len(_frames(index.root / r.path)) for r in rows)
    assert total == packets


def test_write_errors_are_reported_and_capture_goes_on(sqlite: Database, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the recording directory should be")
    index = index_over(sqlite, blocker)
    rec = SegmentRecorder("cam-1", index.root, index.segment_sink(), segment_s=2.0)
    rec.start()
    spec = SourceSpec("cam-1", str(intel_clip()), "file", fps=1.0, realtime=False)
    worker = CameraWorker(spec, queue_size=64, tee=rec, tamper_enabled=False)
    worker.start()
    wait_for("12 frames", lambda: worker.frames >= 12, 60)
    worker.stop()
    rec.stop()
    st = rec.status()
    assert st.state == "error" and st.write_errors >= 1 and st.segments == 0
    assert "cannot open" in (st.last_error or "")
    assert worker.failure is None and worker.frames >= 12  # analysis got its frames


def test_an_index_outage_keeps_rows_pending_then_indexes_them(
    sqlite: Database, tmp_path: Path
) -> None:
    index = index_over(sqlite, tmp_path / "rec")
    down = {"on": True}

    def sink(row: SegmentRow) -> bool:
        if down["on"]:
            raise ConnectionError("database away")
        return index.store.add(row)

    rec = SegmentRecorder("cam-1", index.root, sink, segment_s=2.0)
    rec.start()
    spec = SourceSpec("cam-1", str(intel_clip()), "file", fps=1.0, realtime=False)
    stop = threading.Event()
    frames = AVSource(spec, tee=rec).frames(stop)
    for n, _ in enumerate(frames, start=1):
        if n == 5:
            wait_for("a pending row", lambda: rec.status().index_pending >= 1, 10, 0.02)
            down["on"] = False
        if n >= 9:
            break
    frames.close()
    rec.stop()
    st = rec.status()
    assert st.index_pending == 0 and st.write_errors >= 1
    assert (
        len(
            index.store.window(
                "cam-1", datetime(2000, 1, 1, tzinfo=UTC), datetime.now(UTC) + timedelta(days=1)
            )
        )
        == st.segments
    )


# -- retention and legal hold (both engines) ---------------------------------------------------


def _seg(
    store: RecordingStore, seg_id: str, start: datetime, root: Path, cam: str = "cam-1"
) -> None:
    path = root / cam / f"{seg_id}.mp4"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(seg_id.encode())
    row = SegmentRow(
        seg_id,
        cam,
        start,
        start + timedelta(seconds=10),
        f"{cam}/{seg_id}.mp4",
        len(seg_id),
        hashlib.sha256(seg_id.encode()).hexdigest(),
        False,
        start,
    )
    store.add(row)


def test_retention_keeps_held_segments_and_events_mode_keeps_only_event_footage(
    repo: Repository, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    old = now - timedelta(days=40)
    root = tmp_path / "rec"
    index = index_over(repo.db, root)
    audit = AuditLog(repo)
    cams = {
        "cam-1": CameraRecording("continuous", timedelta(days=31)),
        "cam-2": CameraRecording("events", timedelta(days=31)),
    }
    svc = RecordingService(
        repo,
        audit,
        index,
        cams,
        settings=RecordingConfig(pre_s=5, post_s=5),
        cache_dir=tmp_path / "clips",
        clock=lambda: now,
    )
    # cam-1, 40 days old: s-alert holds an alert of a held case, s-sight a sighting, s-plate
    # a plate read, s-link is linked itself; s-free and s-other-cam (an alert of another
    # camera at the same time) are not held; s-new is within retention.
    for i, name in enumerate(["s-alert", "s-sight", "s-plate", "s-link", "s-free", "s-oc"]):
        _seg(index.store, name, old + timedelta(minutes=i), root)
    _seg(index.store, "s-new", now - timedelta(days=1), root)
    # s-clip is kept by a clip window the case links (2 s inside the segment).
    _seg(index.store, "s-clip", old + timedelta(minutes=6), root)
    t = {
        n: old + timedelta(minutes=i, seconds=5)
        for i, n in enumerate(["a", "s", "p", "l", "f", "o"])
    }
    repo.add_alert(Alert("al-1", AlertKind.PLATE_HIT, "cam-1", t["a"], 0.9))
    repo.add_alert(Alert("al-2", AlertKind.PLATE_HIT, "cam-9", t["o"], 0.9))
    repo.add_sightings(
        [Sighting("si-1", "cam-1", ObjectClass.PERSON, t["s"] - timedelta(seconds=30), t["s"], 0.5)]
    )
    repo.add_plate_reads([PlateRead("cam-1", t["p"], "AB123", 0.9, "us", (0, 0, 1, 1))])
    pkey = plate_key(PlateRead("cam-1", t["p"], "AB123", 0.9, "us", (0, 0, 1, 1)))
    repo.add_case(CaseRow("case-1", "robbery", "inv", now))
    for kind, target in [
        ("alert", "al-1"),
        ("alert", "al-2"),
        ("sighting", "si-1"),
        ("plate_read", pkey),
        ("segment", "s-link"),
    ]:
        repo.link_case(CaseLink("case-1", kind, target, "inv", now))
    clip_at = old + timedelta(minutes=6, seconds=4)
    CaseStore(repo.db).add_clip(
        CaseClip("clip-1", "case-1", "cam-1", clip_at, clip_at + timedelta(seconds=2), "inv", now)
    )
    # cam-2 (events): recent segments, one near a sighting, one quiet.
    recent = now - timedelta(minutes=30)
    _seg(index.store, "e-quiet", recent, root, "cam-2")
    _seg(index.store, "e-event", recent + timedelta(minutes=5), root, "cam-2")
    repo.add_sightings(
        [
            Sighting(
                "si-2",
                "cam-2",
                ObjectClass.PERSON,
                recent + timedelta(minutes=5, seconds=12),
                recent + timedelta(minutes=5, seconds=13),
                0.5,
            )
        ]
    )

    before = len(list(iter_entries(repo)))
    # One segment a page: the first pass judges only the oldest candidate (e-quiet); the kept
    # e-event is judged by the next pass, which starts after it, never re-reading it.
    counts = svc.apply_retention(limit=1)
    assert counts["expired"] == 1 and counts["no_event"] == 1
    counts = svc.apply_retention()
    assert counts == {"expired": 1, "no_event": 0, "bytes": 4}  # s-oc (s-free went first)
    assert svc.apply_retention(limit=1) == {"expired": 0, "no_event": 0}
    left = {r.id for r in index.store.window("cam-1", old - timedelta(days=1), now)}
    left |= {r.id for r in index.store.window("cam-2", old - timedelta(days=1), now)}
    assert left == {"s-alert", "s-sight", "s-plate", "s-link", "s-clip", "s-new", "e-event"}
    assert (
        not (root / "cam-1" / "s-free.mp4").exists()
        and not (root / "cam-2" / "e-quiet.mp4").exists()
    )
    assert (root / "cam-1" / "s-alert.mp4").exists()
    entries = list(iter_entries(repo))[before:]
    assert [e.action for e in entries] == [AuditAction.RECORDING_RETENTION.value] * 2
    # Releasing the hold frees the footage at the next run; a run with nothing to do writes
    # no entry.
    repo.db.write(lambda c: c.execute(update(tbl.cases).values(legal_hold=False)))
    assert svc.apply_retention()["expired"] == 5
    n = len(list(iter_entries(repo)))
    assert svc.apply_retention() == {"expired": 0, "no_event": 0}
    assert len(list(iter_entries(repo))) == n


# -- SIGKILL mid-recording -----------------------------------------------------------------------

CHILD = """
import sys, threading
from pathlib import Path
from vigil.storage import Database
from tests.support.recording import index_over
from vigil.recording.writer import SegmentRecorder
from vigil.sources.av_source import AVSource
from vigil.sources.av_source import AVSource
from vigil.sources.base import SourceSpec

db = Database(sys.argv[1])
index = index_over(db, Path(sys.argv[2]))
rec = SegmentRecorder("cam-1", index.root, index.segment_sink(), segment_s=1.0)
rec.start()
print("recovered", rec.status().recovered_partial, flush=True)
spec = SourceSpec("cam-1", sys.argv[3], "file", fps=1.0, realtime=True, loop=True)
for _ in AVSource(spec, tee=rec).frames(threading.Event()):
    pass
"""


def _start_child(url: str, root: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": f"{REPO_ROOT / 'src'}:{REPO_ROOT}"}
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, url, str(root), str(intel_clip())],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )


def test_sigkill_loses_at_most_the_open_segment_and_a_restart_continues(
    sqlite: Database, tmp_path: Path
) -> None:
    root = tmp_path / "rec"
    index = index_over(sqlite, root)
    url = sqlite.url.render_as_string(hide_password=False)
    far = datetime(2000, 1, 1, tzinfo=UTC), datetime.now(UTC) + timedelta(days=1)
    child = _start_child(url, root)
    try:
        wait_for("3 segments", lambda: len(index.window("cam-1", *far)) >= 3, 60, 0.05)
        wait_for("an open segment", lambda: any(root.glob("cam-1/*/*.part")), 10, 0.02)
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    finally:
        child.kill()
    finished = {p.name for p in root.glob("cam-1/*/*.mp4")}
    partial = list(root.glob("cam-1/*/*.part"))
    assert len(partial) == 1  # the open segment, and only it
    indexed = index.window("cam-1", *far)
    # Every finished file is (or becomes, after the restart) indexed and intact.
    child = _start_child(url, root)
    try:
        assert child.stdout is not None
        assert child.stdout.readline().split() == ["recovered", "1"]
        n = len(finished)
        wait_for("2 more segments", lambda: len(index.window("cam-1", *far)) >= n + 2, 60, 0.05)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    after = index.window("cam-1", *far)
    assert {r.id for r in indexed} <= {r.id for r in after}
    names = {Path(r.path).name for r in after}
    assert finished <= names
    assert not any(p.exists() for p in partial)
    for row in after:
        if (root / row.path).exists():
            assert hashlib.sha256((root / row.path).read_bytes()).hexdigest() == row.sha256
    # The restart continues: new segments after the killed run's last one.
    assert max(r.started_at for r in after) > max(r.ended_at for r in indexed)


def test_recording_leaves_the_analysis_clock_alone(sqlite: Database, tmp_path: Path) -> None:
    """Real-time reading waits between handing a packet to the recorder and decoding it; the
    recorder rebases its own copy meanwhile, so analysis still samples every 0.5 s of video."""
    index = index_over(sqlite, tmp_path / "rec")
    rec = SegmentRecorder("cam-1", index.root, index.segment_sink(), segment_s=1.0)
    rec.start()
    spec = SourceSpec("cam-1", str(intel_clip()), "file", fps=2.0, realtime=True)
    frames = AVSource(spec, tee=rec).frames(threading.Event())
    times = []
    for raw in frames:
        times.append(raw.media_time)
        if len(times) == 7:
            break
    frames.close()
    rec.stop()
    assert times == pytest.approx([0.5 * i for i in range(7)], abs=0.051)
    assert rec.status().segments >= 2


FULL_DISK_CHILD = """
import json, resource, signal, sys, threading
from pathlib import Path
from vigil.recording.writer import SegmentRecorder
from vigil.sources import CameraWorker, SourceSpec

# Files may not grow past 240 kB in this process: a segment write then fails with EFBIG, as
# it would with ENOSPC on a full disk (SIGXFSZ ignored, so the write returns the error).
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (240_000, 240_000))
rows = []
rec = SegmentRecorder("cam-1", Path(sys.argv[1]), rows.append, segment_s=10.0)
rec.start()
spec = SourceSpec("cam-1", sys.argv[2], "file", fps=1.0, realtime=False)
worker = CameraWorker(spec, queue_size=64, tee=rec, tamper_enabled=False)
worker.start()
worker.join(120)
rec.stop()
s = rec.status()
out = {"frames": worker.frames, "failure": repr(worker.failure), "finished": worker.finished}
out |= {"errors": s.write_errors, "segments": s.segments, "last_error": s.last_error}
out |= {"rows": len(rows), "big": [r.bytes for r in rows if r.bytes > 240_000]}
print(json.dumps(out))
"""


def test_a_full_disk_ends_segments_with_an_error_and_analysis_goes_on(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": f"{REPO_ROOT / 'src'}:{REPO_ROOT}"}
    done = subprocess.run(
        [sys.executable, "-c", FULL_DISK_CHILD, str(tmp_path / "rec"), str(intel_clip())],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )
    out = json.loads(done.stdout.strip().splitlines()[-1])
    # The whole 139 s file reached analysis (1 fps), the worker ended normally at its end.
    assert out["finished"] and out["failure"] == "None" and out["frames"] >= 138
    # Segments that outgrew the limit (10 s of this clip is 210-260 kB) were refused as
    # truncated and reported; smaller ones were kept whole; no kept file is cut short.
    assert out["errors"] >= 1 and "truncated" in (out["last_error"] or "")
    assert out["rows"] == out["segments"] >= 1 and out["big"] == []
    leftovers = list((tmp_path / "rec").glob("cam-1/*/*.part"))
    assert leftovers == []  # failed segments are removed, not left half-written


def test_a_stalled_writer_drops_counted_packets_and_cuts_the_segment(
    sqlite: Database, tmp_path: Path
) -> None:
    """The first segment's index write hangs (a stalled disk or database): the recorder's queue
    (16 packets) fills, further packets are dropped and counted, the open segment is cut there,
    capture goes on; once the writer is free, recording resumes at the next key frame and the
    index shows the hole."""
    index = index_over(sqlite, tmp_path / "rec")
    release = threading.Event()

    def slow(row: SegmentRow) -> bool:
        release.wait(30)
        return index.store.add(row)

    rec = SegmentRecorder("cam-1", index.root, slow, segment_s=1.0, queue_packets=16)
    rec.start()
    spec = SourceSpec("cam-1", str(intel_clip()), "file", fps=1.0, realtime=False)
    frames = AVSource(spec, tee=rec).frames(threading.Event())
    for n, _ in enumerate(frames, start=1):
        if n == 6:
            assert rec.status().dropped_packets > 0  # capture did not wait for the writer
            release.set()
        if n >= 20:
            break
    frames.close()
    rec.stop()
    st = rec.status()
    rows = index.window("cam-1", datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))
    assert st.dropped_packets > 0 and st.write_errors == 0 and len(rows) == st.segments >= 3
    assert len(index.store.gaps("cam-1", rows[0].started_at, rows[-1].ended_at)) >= 1
