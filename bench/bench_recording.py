"""Recording soak: N cameras recording continuously, remux CPU beside decode CPU in the same run.

Each camera reads the Intel H.264 sample (768x432, 10 fps, 1 s GOP) looped at its native rate,
like a live camera, through the real camera worker with its recorder teed into the source (the
live code path: :class:`~vigil.sources.worker.CameraWorker` + :class:`~vigil.recording.writer.
SegmentRecorder`), sampling 1 fps for analysis into drop-oldest queues drained by a stand-in
consumer. Segments (10 s) are indexed in a SQLite database in a temp dir.

Reported, all from the same run:

* ``remux_cpu_s``: CPU time of the recorders' writer threads (muxing, closing, hashing, fsync,
  indexing) beside ``decode_cpu_s``, the decoders' CPU for the 1 fps analysis sampling
  (key-frame decoding), as ``remux_to_decode_ratio``; and ``remux_cpu_pct_of_one_core`` per
  camera. The capture thread's share of recording (deciding cuts, queueing a packet) is not in
  either figure; it is a few microseconds a packet.
* ``gaps``: holes between consecutive segments read back from the index, over every camera
  (target 0), plus segments, bytes, dropped packets and write errors.
* ``rss_mb_*``: resident memory at the start, the middle and the end (bounded queues: the
  growth should stop once every camera has cut its first segments).

``--no-record`` runs the same cameras without recorders, for the RSS and process-CPU baseline
(a separate run: one process cannot hold both without each disturbing the other's figures).

Quick: 10 cameras for 40 s; default (``python -m bench.bench_recording``): 50 cameras for
``--seconds`` (600 in the issue's target; run a shorter one with ``--seconds 120``).
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from vigil.recording.writer import SegmentRecorder
from vigil.sources import CameraWorker, SourceSpec
from vigil.storage import Database
from vigil.storage.recordings import RecordingStore

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
INTEL = DATA / "intel_sample_videos" / "one-by-one-person-detection.mp4"


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _drain(workers: list[CameraWorker], stop: threading.Event) -> None:
    while not stop.is_set():
        idle = True
        for w in workers:
            if w.queue.get(0) is not None:
                idle = False
        if idle:
            stop.wait(0.02)


def soak(
    cameras: int, seconds: float, segment_s: float = 10.0, *, record: bool = True
) -> dict[str, object]:
    """Record ``cameras`` looped real-time cameras for ``seconds``; see the module docstring.
    ``record=False`` runs the same cameras without recorders (the RSS and CPU baseline)."""
    if not INTEL.exists():
        return {"skipped": f"needs {INTEL}"}
    with tempfile.TemporaryDirectory(prefix="vigil-rec-bench-") as tmp:
        db = Database(f"sqlite:///{tmp}/bench.db")
        db.migrate()
        store = RecordingStore(db)
        recorders = [
            SegmentRecorder(f"cam-{i:03d}", Path(tmp) / "rec", store.add, segment_s=segment_s)
            for i in range(cameras)
        ]
        workers = [
            CameraWorker(
                SourceSpec(r.camera_id, str(INTEL), "file", fps=1.0, loop=True, realtime=True),
                tee=r if record else None,
                tamper_enabled=False,
            )
            for r in recorders
        ]
        if not record:
            recorders = []
        stop = threading.Event()
        drain = threading.Thread(target=_drain, args=(workers, stop), daemon=True)
        rss0, cpu0, wall0 = _rss_mb(), _cpu_s(), time.monotonic()
        began = datetime.now(UTC)
        for r in recorders:
            r.start()
        for w in workers:
            w.start()
        drain.start()
        stop.wait(seconds / 2)
        rss_mid = _rss_mb()
        stop.wait(seconds / 2)
        rss_end = _rss_mb()
        for w in workers:
            w.request_stop()
        for w in workers:
            w.join(10)
        stop.set()
        for r in recorders:
            r.stop()
        cpu, wall = _cpu_s() - cpu0, time.monotonic() - wall0
        statuses = [r.status() for r in recorders]
        decode = sum(w.source.counters.snapshot().decode_cpu_s for w in workers)
        remux = sum(s.remux_cpu_s for s in statuses)
        window = (began - timedelta(minutes=1), datetime.now(UTC) + timedelta(minutes=1))
        gaps = sum(len(store.gaps(r.camera_id, *window)) for r in recorders)
        rows = sum(len(store.window(r.camera_id, *window)) for r in recorders)
        db.dispose()
    return {
        "cameras": cameras,
        "record": record,
        "seconds": seconds,
        "segment_s": segment_s,
        "segments_indexed": rows,
        "segments_finished": sum(s.segments for s in statuses),
        "recorded_mb": round(sum(s.bytes for s in statuses) / 1e6, 1),
        "gaps": gaps,
        "dropped_packets": sum(s.dropped_packets for s in statuses),
        "write_errors": sum(s.write_errors for s in statuses),
        "remux_cpu_s": round(remux, 3),
        "decode_cpu_s": round(decode, 3),
        "remux_to_decode_ratio": round(remux / decode, 4) if decode else None,
        "remux_cpu_pct_of_one_core_per_camera": round(100 * remux / wall / cameras, 4),
        "process_cpu_pct_of_one_core": round(100 * cpu / wall, 1),
        "frames_analysed": sum(w.frames for w in workers),
        "analysis_drops": sum(w.queue.dropped for w in workers),
        "rss_mb_start": round(rss0, 1),
        "rss_mb_mid": round(rss_mid, 1),
        "rss_mb_end": round(rss_end, 1),
    }


def run(quick: bool) -> dict[str, object]:
    """``python -m bench`` entry: a bounded soak (quick) or 50 cameras for two minutes."""
    out = soak(10, 40.0) if quick else soak(50, 120.0)
    return {f"soak_{k}": v for k, v in out.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, prog="python -m bench.bench_recording")
    parser.add_argument("--cameras", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=600.0, help="soak length")
    parser.add_argument("--segment-s", type=float, default=10.0)
    parser.add_argument("--json", type=Path, help="also write the result to this file")
    parser.add_argument(
        "--no-record", action="store_true", help="the same cameras without recording (baseline)"
    )
    args = parser.parse_args(argv)
    out = soak(args.cameras, args.seconds, args.segment_s, record=not args.no_record)
    text = json.dumps(out, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
