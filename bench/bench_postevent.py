"""Post-event face search speed: key-frame-first scan vs decoding and analysing every frame.

The footage is OpenCV's real pedestrian clip with real face photos composited at known seconds
(``tests/support/postevent.py``: the probe person on screen half of the time, a bystander too),
encoded MPEG-4 at 10 fps with a 1 s GOP; the probe is a different photo of the probe person.
Both passes run the real face pipeline (YuNet + the configured embedder) over the same bytes in
the same run:

* ``keyfirst_present``: :func:`vigil.recording.scan.scan_segment` - key frames only, then every
  frame within 2 s of a key frame that scored near the threshold - with the probe person's
  other photo (on screen half the time);
* ``keyfirst_absent``: the same with an LFW photo of someone not in the footage (no candidate,
  so key frames only);
* ``every_frame``: :func:`vigil.recording.scan.scan_every_frame` - every frame analysed.

Reported: video seconds, wall seconds and frames analysed of each, each as a multiple of real
time (``video_s / wall_s``), and ``*_speedup_ratio`` (every-frame wall / key-first wall). The
speed-up depends on how much of the footage holds candidates: with the person on screen 4 s of
every 8 the +-2 s dense windows cover all of it (no gain); where no key frame is a candidate
only one frame per GOP is analysed.

``cast_*``: the same two passes over the multi-person recording of the recall evaluation
(:mod:`tests.support.postevent_cast`, camera ``cam-1``: enrolled and non-enrolled people one at a
time, a face on screen 2 s of every 3), searching for its first enrolled person (on screen in
about one appearance in four there), scanned as one piece.

Quick: 16 s of video and the small cast's 17 s; default: 48 s and the full cast's 38 s.
``python -m bench --only postevent [--quick]``.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from vigil.config.settings import FacesConfig
from vigil.governance.postevent import face_scorer, probe_template
from vigil.perception.faces.pipeline import FacePipeline
from vigil.perception.image import load_image
from vigil.recording.scan import scan_every_frame, scan_segment


def run(quick: bool = False) -> dict[str, object]:
    from tests.support.data import shared_data
    from tests.support.evidence import embed_photo, face_pipeline
    from tests.support.postevent import scheduled_clip

    repeat = 2 if quick else 6
    with tempfile.TemporaryDirectory() as tmp:
        blob = Path(scheduled_clip(Path(tmp), repeat=repeat)).read_bytes()
    pipeline = face_pipeline()
    lfw = shared_data("lfw", "lfw-deepfunneled", "Aaron_Eckhart", "Aaron_Eckhart_0001.jpg")
    probes = {
        "present": embed_photo("demo-obama"),
        "absent": probe_template(pipeline, load_image(lfw)),
    }
    threshold = FacesConfig().identification.threshold
    t0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    start = time.perf_counter()
    every = scan_every_frame(blob, t0, face_scorer(pipeline, probes["present"]))
    every_wall = time.perf_counter() - start
    video_s = every.video_s + 0.1  # the last frame lasts one frame period (10 fps)
    out: dict[str, object] = {
        "video_s": round(video_s, 1),
        "every_frame_wall_s": round(every_wall, 2),
        "every_frame_frames": every.dense_frames,
        "every_frame_x_realtime": round(video_s / every_wall, 2),
    }
    for name, probe in probes.items():
        score = face_scorer(pipeline, probe)
        start = time.perf_counter()
        hits, key = scan_segment(blob, t0, score, threshold=threshold, candidate=threshold * 0.7)
        wall = time.perf_counter() - start
        out |= {
            f"keyfirst_{name}_wall_s": round(wall, 2),
            f"keyfirst_{name}_frames": key.key_frames + key.dense_frames,
            f"keyfirst_{name}_hits": len(hits),
            f"keyfirst_{name}_x_realtime": round(video_s / wall, 2),
            f"keyfirst_{name}_speedup_ratio": round(every_wall / wall, 2),
        }
    return out | _cast(quick, pipeline, threshold, t0)


def _cast(quick: bool, pipeline: FacePipeline, threshold: float, t0: datetime) -> dict[str, object]:
    """Key-frame-first against every frame on the multi-person recording (same run)."""
    from tests.support.postevent_cast import build_cast, cast_clip

    cast = build_cast(2, 2) if quick else build_cast()
    with tempfile.TemporaryDirectory() as tmp:
        blob = cast_clip(Path(tmp), cast, "cam-1").read_bytes()
    person = next(iter(cast.probes))
    score = face_scorer(pipeline, probe_template(pipeline, load_image(cast.probes[person])))
    start = time.perf_counter()
    every = scan_every_frame(blob, t0, score)
    every_wall = time.perf_counter() - start
    start = time.perf_counter()
    hits, key = scan_segment(blob, t0, score, threshold=threshold, candidate=threshold * 0.7)
    wall = time.perf_counter() - start
    video_s = every.video_s + 0.1
    return {
        "cast_video_s": round(video_s, 1),
        "cast_probe": person,
        "cast_every_frame_wall_s": round(every_wall, 2),
        "cast_every_frame_frames": every.dense_frames,
        "cast_every_frame_x_realtime": round(video_s / every_wall, 2),
        "cast_keyfirst_wall_s": round(wall, 2),
        "cast_keyfirst_frames": key.key_frames + key.dense_frames,
        "cast_keyfirst_hits": len(hits),
        "cast_keyfirst_x_realtime": round(video_s / wall, 2),
        "cast_keyfirst_speedup_ratio": round(every_wall / wall, 2),
    }


if __name__ == "__main__":
    print(json.dumps(run("--quick" in sys.argv), indent=2))
