"""The per-frame people pipeline of one camera: detect → track → faces → best shots → zones.

Order and why: people and vehicles are detected and tracked on every processed frame; faces are
detected on the same frame and attached to person tracks (:func:`associate_faces`); each face's
quality is assessed but **not embedded** — only the best shot of each track is embedded, when
the track closes (or on :meth:`PeoplePipeline.flush`). Embedding is the costliest per-face step
and embedding every frame of every face would multiply both the cost and the number of poor
faces searched against watchlists.

Each stage's wall time is accumulated in :attr:`PeoplePipeline.timings` (ms) for the benchmark
and for operators sizing a server.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from vigil.core import Detections, FrameRef, ObjectClass, TrackState
from vigil.perception.faces.pipeline import FacePipeline
from vigil.perception.objects.detector import ObjectDetector
from vigil.tracking.bestshot import BestShots, associate_faces
from vigil.tracking.bytetrack import ByteTracker, TrackEvent

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FaceShot:
    """The aligned 112 × 112 crop of a track's best face (biometric data: purge rules apply)."""

    crop: npt.NDArray[np.uint8]
    frame: FrameRef


@dataclass(frozen=True)
class BestShotTemplate:
    """A closed track's best face and its template, ready for matching."""

    track_id: int
    quality: float
    frame: FrameRef
    embedding: npt.NDArray[np.float32]


@dataclass(frozen=True)
class FrameResult:
    objects: Detections
    faces: Detections
    face_track: npt.NDArray[np.int64]
    events: list[TrackEvent]
    templates: list[BestShotTemplate] = field(default_factory=list)


class PeoplePipeline:
    """Runs one camera's frames through detection, tracking, face association and best shots."""

    def __init__(
        self,
        detector: ObjectDetector,
        tracker: ByteTracker,
        faces: FacePipeline | None = None,
        *,
        max_tracks: int = 1024,
    ) -> None:
        self.detector, self.tracker, self.faces = detector, tracker, faces
        self.best: BestShots[FaceShot] = BestShots(max_tracks, faces.min_quality if faces else 0.0)
        self.timings: dict[str, float] = defaultdict(float)
        self.frames = 0

    def _timed(self, stage: str, t0: float) -> float:
        now = time.perf_counter()
        self.timings[stage] += (now - t0) * 1000
        return now

    def process(self, image: npt.NDArray[np.uint8], frame: FrameRef) -> FrameResult:
        t = time.perf_counter()
        dets = self.detector.detect(image)
        t = self._timed("detect_objects", t)
        out = self.tracker.update(dets, frame.captured_at)
        t = self._timed("track", t)
        faces, face_track = Detections.empty(with_landmarks=5), np.zeros(0, np.int64)
        if self.faces is not None:
            analysis = self.faces.analyse(image, frame, embed=False)
            t = self._timed("detect_faces", t)
            faces = analysis.detections
            persons = out.detections.of_class(ObjectClass.PERSON)
            face_track = associate_faces(persons, faces)
            for i, tid in enumerate(face_track.tolist()):
                if tid >= 0 and analysis.usable[i]:
                    shot = FaceShot(analysis.crops[i], frame)
                    self.best.offer(tid, analysis.qualities[i].score, frame.index, shot)
            t = self._timed("associate_faces", t)
        closed = [e.track.track_id for e in out.events if e.kind == TrackState.CLOSED]
        templates = self._embed(closed)
        self._timed("embed_best_shots", t)
        self.frames += 1
        return FrameResult(out.detections, faces, face_track, out.events, templates)

    def _embed(self, track_ids: list[int]) -> list[BestShotTemplate]:
        shots = [(tid, s) for tid in track_ids if (s := self.best.pop(tid)) is not None]
        if not shots or self.faces is None:
            return []
        crops = np.stack([s.payload.crop for _, s in shots])
        emb = self.faces.embedder.embed(crops)
        return [
            BestShotTemplate(tid, s.quality, s.payload.frame, emb[k])
            for k, (tid, s) in enumerate(shots)
        ]

    def flush(self) -> list[BestShotTemplate]:
        """End of stream: close every track and embed the best shots still held."""
        closed = [e.track.track_id for e in self.tracker.close_all()]
        return self._embed(closed)

    def per_frame_ms(self) -> dict[str, float]:
        return {k: v / max(self.frames, 1) for k, v in self.timings.items()}
