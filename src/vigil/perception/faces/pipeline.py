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
from vigil.perception.faces.cascade import CascadeEmbedder, make_cascade
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
    """Detect, align, assess and embed the faces in frames.

    ``cascade``: when set (a fusion embedder with ``faces.cascade`` on), ``analyse(cheap=True)``
    embeds with the cheap member only; live identification completes the fusion for the best
    shots that need it (:mod:`vigil.perception.faces.cascade`).
    """

    def __init__(
        self,
        detector: FaceDetector,
        embedder: FaceEmbedder,
        *,
        min_quality: float,
        min_face_px: int,
        cascade: CascadeEmbedder | None = None,
    ) -> None:
        self.detector = detector
        self.embedder = embedder
        self.min_quality = min_quality
        self.min_face_px = min_face_px
        self.cascade = cascade

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
        cascade = (
            make_cascade(embedder, config.cascade.cheap_member) if config.cascade.enabled else None
        )
        return cls(
            make_detector(config.detector, model_dir),
            embedder,
            min_quality=config.quality.min_quality,
            min_face_px=config.quality.min_face_px,
            cascade=cascade,
        )

    def gate(self, quality: FaceQuality, landmarks: npt.NDArray[np.float32]) -> bool:
        """True when a face is good enough to be embedded and matched."""
        return quality.score >= self.min_quality and face_size_px(landmarks) >= self.min_face_px

    def analyse(
        self,
        image: npt.NDArray[np.uint8],
        frame: FrameRef,
        *,
        embed: bool = True,
        cheap: bool = False,
    ) -> FaceAnalysis:
        """Detect, align, assess and (quality-gated) embed one frame's faces.

        ``cheap`` (with a cascade): the observations carry the cheap member's templates, not
        fused ones; only the cascade's caller may complete and compare them.
        """
        embedder = self.cascade.cheap if (cheap and self.cascade is not None) else self.embedder
        dets = self.detector.detect(image)
        lms = dets.landmarks if dets.landmarks is not None else np.zeros((0, 5, 2), np.float32)
        crops = align_faces(image, lms)
        qualities = [assess(lm, crop) for lm, crop in zip(lms, crops, strict=True)]
        usable = np.array(
            [self.gate(q, lm) for q, lm in zip(qualities, lms, strict=True)], dtype=bool
        )
        embeddings = np.zeros((len(dets), embedder.dim), np.float32)
        if embed and usable.any():
            embeddings[usable] = embedder.embed(crops[usable])
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
