"""The face pipeline of one frame: detect → align → assess quality → embed (gated).

Only faces that pass the quality gate (``faces.quality``) are embedded: a face too small, too
blurred or too far from frontal is reported (so a tracker can still follow it) but gets no
template, so it can never be matched. This is both a safeguard (fewer wrongful leads from bad
faces) and a saving (embedding is the most expensive step per face).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from vigil.config.settings import FacesConfig
from vigil.core import Detections, FaceObservation, FrameRef
from vigil.perception.faces.align import align_faces
from vigil.perception.faces.detectors import FaceDetector, make_detector
from vigil.perception.faces.embedders import FaceEmbedder, make_embedder
from vigil.perception.faces.quality import FaceQuality, assess, face_size_px


@dataclass(frozen=True)
class FaceAnalysis:
    """Everything the pipeline learnt about the faces of one frame.

    ``observations[i]`` has an embedding only if ``usable[i]``; ``crops`` are the aligned faces
    (biometric data: callers must treat them under the purge rules).
    """

    detections: Detections
    observations: list[FaceObservation]
    qualities: list[FaceQuality]
    usable: npt.NDArray[np.bool_]
    crops: npt.NDArray[np.uint8]


class FacePipeline:
    """Detect, align, assess and embed the faces in frames."""

    def __init__(
        self,
        detector: FaceDetector,
        embedder: FaceEmbedder,
        *,
        min_quality: float,
        min_face_px: int,
    ) -> None:
        self.detector = detector
        self.embedder = embedder
        self.min_quality = min_quality
        self.min_face_px = min_face_px

    @classmethod
    def from_config(cls, config: FacesConfig, model_dir: Path | None = None) -> FacePipeline:
        emb = config.embedder
        embedder = make_embedder(
            emb.backend,
            model_dir,
            batch_size=emb.batch_size,
            flip=emb.flip,
            members=emb.fusion_members,
            weights=emb.fusion_weights or None,
        )
        return cls(
            make_detector(config.detector, model_dir),
            embedder,
            min_quality=config.quality.min_quality,
            min_face_px=config.quality.min_face_px,
        )

    def gate(self, quality: FaceQuality, landmarks: npt.NDArray[np.float32]) -> bool:
        """True when a face is good enough to be embedded and matched."""
        return quality.score >= self.min_quality and face_size_px(landmarks) >= self.min_face_px

    def analyse(
        self, image: npt.NDArray[np.uint8], frame: FrameRef, *, embed: bool = True
    ) -> FaceAnalysis:
        dets = self.detector.detect(image)
        lms = dets.landmarks if dets.landmarks is not None else np.zeros((0, 5, 2), np.float32)
        crops = align_faces(image, lms)
        qualities = [assess(lm, crop) for lm, crop in zip(lms, crops, strict=True)]
        usable = np.array(
            [self.gate(q, lm) for q, lm in zip(qualities, lms, strict=True)], dtype=bool
        )
        embeddings = np.zeros((len(dets), self.embedder.dim), np.float32)
        if embed and usable.any():
            embeddings[usable] = self.embedder.embed(crops[usable])
        observations = [
            FaceObservation(
                frame=frame,
                xyxy=dets.xyxy[i],
                score=float(dets.confidence[i]),
                landmarks=lms[i],
                quality=qualities[i].score,
                embedding=embeddings[i] if (embed and usable[i]) else None,
            )
            for i in range(len(dets))
        ]
        return FaceAnalysis(dets, observations, qualities, usable, crops)
