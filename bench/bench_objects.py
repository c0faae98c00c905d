"""People/vehicle detection and the per-frame people pipeline.

* ``det_*``: person recall / precision (MOT17-mini, visible pedestrians, IoU 0.5, the protocol
  of ``vigil eval tracking``) and ms per frame, for NanoDet whole-frame, NanoDet tiled
  (1 + 2×2 + 3×3) and OpenCV's HOG people detector — all in this run, one inference thread each,
  with ``*_ratio`` keys (NanoDet over HOG).
* ``pipeline_*``: vtest.avi (768×576) sampled at 5 fps through the live path of ``vigil run``, on
  one thread: the people stage (:class:`vigil.system.people.PeopleStage`, default ``people``
  config: NanoDet whole frame, then the pure step — ByteTrack, counts, crowd samples), then the
  face path of a camera inside a deployment (YuNet + quality + embedding of usable faces, the
  face tracker) with each face track linked to its person track. Per-stage ms are wall time:
  ``detect_objects`` (NanoDet), ``track`` (the people step), ``detect_faces`` (face analysis
  including embedding), ``face_tracks`` (face tracker + linking). ``pipeline_cpu_ms_per_frame``
  is process CPU time, the fairer number on a shared machine (wall time includes waiting for
  other processes). Real time at 5 fps means ≤ 200 ms per frame. Matching against a watchlist
  is not included (``bench_match`` measures it).

Quick: 14 MOT frames and 10 s of video; full: 39 frames and the whole video.
"""

from __future__ import annotations

import os
import resource
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from vigil.core import Detections, FrameRef, ObjectClass
from vigil.eval.tracking import count_matches, drop_ignored, find_sequences, gt_frame
from vigil.perception.objects.detector import ObjectDetector

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
VTEST = DATA / "opencv_vtest" / "vtest.avi"
MOT = DATA / "mot17_mini"


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _score(
    name: str, detect: object, frames: list[tuple[np.ndarray, np.ndarray]], thr: float
) -> dict[str, float]:
    tp = hyps = gts = 0
    t0, c0 = time.perf_counter(), _cpu_s()
    for image, gt_rows in frames:
        dets: Detections = detect(image)  # type: ignore[operator]
        dets = dets.of_class(ObjectClass.PERSON)
        dets = dets[dets.confidence >= thr]
        frame_no = int(gt_rows[0, 0]) if len(gt_rows) else -1
        gt, _, ignore = gt_frame(gt_rows, frame_no, 0.5)
        kept = dets.xyxy[drop_ignored(dets.xyxy, gt, ignore)]
        tp += count_matches(kept, gt)
        hyps += len(kept)
        gts += len(gt)
    n = len(frames)
    return {
        f"det_{name}_recall": round(tp / max(gts, 1), 3),
        f"det_{name}_precision": round(tp / max(hyps, 1), 3),
        f"det_{name}_ms_per_frame": round((time.perf_counter() - t0) * 1000 / n, 1),
        f"det_{name}_cpu_ms_per_frame": round((_cpu_s() - c0) * 1000 / n, 1),
    }


def _detectors(quick: bool) -> dict[str, object]:
    from vigil.perception.objects import HogPersonDetector, NanoDetDetector

    frames = []
    for seq in find_sequences(MOT):
        for path in seq.frames[: 2 if quick else None]:
            rows = seq.gt[seq.gt[:, 0] == int(path.stem)]
            frames.append((np.asarray(cv2.imread(str(path)), np.uint8), rows))
    m: dict[str, float] = {}
    nano = NanoDetDetector(tile_grids=(1,), threads=1, score_threshold=0.3)
    m |= _score("nanodet", nano.detect, frames, 0.45)
    tiled = NanoDetDetector(tile_grids=(1, 2, 3), threads=1, score_threshold=0.3)
    m |= _score("nanodet_tiled", tiled.detect, frames, 0.5)
    m |= _score("hog", HogPersonDetector().detect, frames, 0.0)
    for k in ("recall", "ms_per_frame", "cpu_ms_per_frame"):
        hog = max(m[f"det_hog_{k}"], 1e-9)
        m[f"det_nanodet_over_hog_{k}_ratio"] = round(m[f"det_nanodet_{k}"] / hog, 2)
        m[f"det_tiled_over_hog_{k}_ratio"] = round(m[f"det_nanodet_tiled_{k}"] / hog, 2)
    out: dict[str, object] = {"det_frames": len(frames), **m}
    return out


class _TimedDetector:
    """The live stage's detector, with its wall time added up (so the stage runs unchanged)."""

    def __init__(self, inner: ObjectDetector) -> None:
        self.inner, self.name, self.ms = inner, inner.name, 0.0

    def detect(self, image: npt.NDArray[np.uint8]) -> Detections:
        t0 = time.perf_counter()
        try:
            return self.inner.detect(image)
        finally:
            self.ms += (time.perf_counter() - t0) * 1000


def live_pipeline(limit: int) -> dict[str, object]:
    """Run up to ``limit`` vtest frames (5 fps) through the live people stage and face path."""
    os.environ.setdefault("VIGIL_THREADS", "1")
    from vigil.config.analytics import PeopleConfig
    from vigil.config.settings import FacesConfig
    from vigil.identification.person_links import link_face_tracks
    from vigil.identification.tracks import FaceTracker
    from vigil.perception.faces.pipeline import FacePipeline
    from vigil.perception.objects import NanoDetDetector
    from vigil.system.people import PeopleStage

    config = PeopleConfig()
    grids = tuple(config.tile_grids)
    detector = _TimedDetector(NanoDetDetector(tile_grids=grids, threads=1, score_threshold=0.1))
    stage = PeopleStage("vtest", detector, config)
    faces, face_tracker = FacePipeline.from_config(FacesConfig()), FaceTracker("vtest")
    ms = dict.fromkeys(("people", "detect_faces", "face_tracks"), 0.0)
    cap = cv2.VideoCapture(str(VTEST))
    t_start = datetime(2026, 1, 1, tzinfo=UTC)
    decode_ms, index, n, closed = 0.0, 0, 0, []
    t0, c0 = time.perf_counter(), _cpu_s()
    while n < limit:
        td = time.perf_counter()
        ok, image = cap.read()  # vtest is 10 fps: keep every 2nd frame for 5 fps
        ok2 = ok and cap.grab()
        decode_ms += (time.perf_counter() - td) * 1000
        if not ok:
            break
        frame = FrameRef(
            "vtest", t_start + timedelta(seconds=index / 10), index, image.shape[1], image.shape[0]
        )
        img = np.asarray(image, np.uint8)
        t = time.perf_counter()
        stage.process(img, frame)
        t, ms["people"] = time.perf_counter(), ms["people"] + (time.perf_counter() - t) * 1000
        found = faces.analyse(img, frame)
        t, ms["detect_faces"] = (
            time.perf_counter(),
            ms["detect_faces"] + (time.perf_counter() - t) * 1000,
        )
        closed += face_tracker.update(found.observations, found.crops)
        assert stage.last is not None
        link_face_tracks(face_tracker.open.values(), stage.last)
        ms["face_tracks"] += (time.perf_counter() - t) * 1000
        index += 2
        n += 1
        if not ok2:
            break
    stage.finish()
    closed += face_tracker.close_all()
    wall, cpu = time.perf_counter() - t0, _cpu_s() - c0
    per = {
        "detect_objects": detector.ms,
        "track": ms["people"] - detector.ms,
        "detect_faces": ms["detect_faces"],
        "face_tracks": ms["face_tracks"],
    }
    return {
        "pipeline_frames": n,
        "pipeline_fps": round(n / wall, 2),
        "pipeline_ms_per_frame": round(wall * 1000 / n, 1),
        "pipeline_cpu_ms_per_frame": round(cpu * 1000 / n, 1),
        "pipeline_decode_ms": round(decode_ms / n, 1),
        **{f"pipeline_{k}_ms": round(v / n, 1) for k, v in per.items()},
        "pipeline_realtime_at_5fps_cpu": cpu * 1000 / n <= 200,
        "pipeline_person_tracks": stage.view.person_tracks_total,
        "pipeline_crowd_samples": stage.view.crowd_samples,
        "pipeline_face_tracks": len(closed),
        "pipeline_face_tracks_on_a_person": sum(t.person_track_id is not None for t in closed),
    }


def run(quick: bool) -> dict[str, object]:
    if not (VTEST.is_file() and MOT.is_dir()):
        return {"skipped": "needs ../shared/data/opencv_vtest and mot17_mini"}
    return _detectors(quick) | live_pipeline(50 if quick else 10**9)
