"""Post-event plate search speed: key-frame-first scan vs reading every frame, same run.

The footage is :mod:`tests.support.plate_footage`: real OpenALPR car photos seen by a virtual
camera (the sought car ``DH7X317`` for 3 s twice, a bystander ``5LTA600`` for 3 s between, empty
road otherwise), H.264 at 4 fps with a 1 s GOP, 21 s. Every pass runs the live path's plate
reading (NanoDet vehicle boxes, the configured PP-OCR reader; :func:`vigil.system.postevent.
plate_frame_reader`) through :class:`vigil.governance.postevent_plates.PlateScorer`:

* ``every_frame``: :func:`vigil.recording.scan.scan_every_frame`, every frame read;
* ``keyfirst_present``: :func:`vigil.recording.scan.scan_segment` for the sought plate - key
  frames, then every frame within 2 s of a key frame that matched or was a candidate;
* ``keyfirst_absent``: the same for a plate not in the footage (``ZX90QK``): only frames near
  key frames with an unread vehicle are read densely.

Reported: video seconds, wall seconds, frames read and hits of each, each as a multiple of real
time, and ``*_speedup_ratio`` (every-frame wall / key-first wall). The gain depends on how much
of the footage shows vehicles: here 9 s of 21 do. ``python -m bench --only postevent_plates``.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from vigil.config import VigilConfig
from vigil.governance.postevent_plates import CANDIDATE, MATCH, PlateScorer
from vigil.recording.scan import scan_every_frame, scan_segment
from vigil.system.plates import profile_from_config
from vigil.system.postevent import plate_frame_reader


def run(quick: bool = False) -> dict[str, object]:
    from tests.support.plate_footage import FPS, SOUGHT, plate_footage, plate_of

    del quick  # one size: the footage is 21 s
    with tempfile.TemporaryDirectory() as tmp:
        blob = Path(plate_footage(Path(tmp))).read_bytes()
    cfg = VigilConfig()
    profile = profile_from_config(cfg.plates)
    reader = plate_frame_reader(cfg, profile)

    def scorer(plate: str) -> PlateScorer:
        return PlateScorer(
            reader, plate, profile, max_distance=0, min_confidence=cfg.plates.min_confidence
        )

    t0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    start = time.perf_counter()
    every = scan_every_frame(blob, t0, scorer(plate_of(SOUGHT)))
    every_wall = time.perf_counter() - start
    video_s = every.video_s + 1 / FPS
    out: dict[str, object] = {
        "video_s": round(video_s, 1),
        "every_frame_wall_s": round(every_wall, 2),
        "every_frame_frames": every.dense_frames,
        "every_frame_x_realtime": round(video_s / every_wall, 2),
    }
    for name, plate in (("present", plate_of(SOUGHT)), ("absent", "ZX90QK")):
        start = time.perf_counter()
        hits, key = scan_segment(blob, t0, scorer(plate), threshold=MATCH, candidate=CANDIDATE)
        wall = time.perf_counter() - start
        out |= {
            f"keyfirst_{name}_wall_s": round(wall, 2),
            f"keyfirst_{name}_frames": key.key_frames + key.dense_frames,
            f"keyfirst_{name}_hits": len(hits),
            f"keyfirst_{name}_x_realtime": round(video_s / wall, 2),
            f"keyfirst_{name}_speedup_ratio": round(every_wall / wall, 2),
        }
    return out


if __name__ == "__main__":
    print(json.dumps(run("--quick" in sys.argv), indent=2))
