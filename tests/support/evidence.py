"""Builders for the evidence tests: real footage with real faces, a signing key, an exporter.

The footage is made like the demo's (:func:`vigil.system.demo.build_demo_video`): OpenCV's real
pedestrian clip with the real face photos of PyPI's ``face_recognition`` sdist composited in -
two photos of the subject (``demo-obama2``, ``demo-obama3``) and one of a bystander
(``demo-biden``), besides the pedestrians of the clip itself. The subject's template is made
from a *third* photo (``demo-obama``), as an enrolment would be.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from tests.support.data import shared_data
from vigil.config.settings import FacesConfig, YuNetDetectorConfig
from vigil.core import FrameRef
from vigil.errors import ModelNotInstalledError
from vigil.governance.evidence import EvidenceExporter, EvidenceRedaction, FootageFiles
from vigil.governance.signing import load_or_create_key
from vigil.perception.faces.pipeline import FacePipeline
from vigil.perception.redaction import Redactor

FOOTAGE_T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
_CACHE: dict[str, object] = {}


def face_pipeline() -> FacePipeline:
    """The default live face pipeline (skips the test when the models are not installed)."""
    if "pipe" not in _CACHE:
        try:
            _CACHE["pipe"] = FacePipeline.from_config(FacesConfig())
        except ModelNotInstalledError as exc:
            pytest.skip(f"face models not installed ({exc}); run `vigil models install`")
    pipe = _CACHE["pipe"]
    assert isinstance(pipe, FacePipeline)
    return pipe


def redaction_pipeline() -> FacePipeline:
    """The face pipeline as the evidence exporter builds it: the redaction detector threshold."""
    from vigil.perception.faces.detectors import make_detector

    live = face_pipeline()
    det = make_detector(YuNetDetectorConfig(score_threshold=0.3, min_face_px=8))
    return FacePipeline(det, live.embedder, min_quality=live.min_quality, min_face_px=16)


def embed_photo(name: str) -> npt.NDArray[np.float32]:
    """The template of the largest face in a packaged demo photo."""
    from vigil.models.installer import model_path
    from vigil.perception.image import load_image

    img = load_image(model_path(name))
    ref = FrameRef("enrol", FOOTAGE_T0, 0, img.shape[1], img.shape[0])
    obs = [o for o in face_pipeline().analyse(img, ref).observations if o.embedding is not None]
    assert obs, f"no usable face in {name}"
    best = max(obs, key=lambda o: float((o.xyxy[2] - o.xyxy[0]) * (o.xyxy[3] - o.xyxy[1])))
    assert best.embedding is not None
    return best.embedding


def demo_clip(folder: Path, seconds: float = 4.0) -> Path:
    """A real clip with several people (see module doc), built once per folder."""
    from vigil.system.demo import build_demo_video

    out = folder / f"footage-{seconds:g}s.mp4"
    if not out.exists():
        vtest = shared_data("opencv_vtest", "vtest.avi")
        build_demo_video(vtest, out, face_pipeline().detector, seconds=seconds)
    return out


def make_redactor(subject: npt.NDArray[np.float32], plates: Collection[str] = ()) -> Redactor:
    threshold = FacesConfig().identification.threshold
    return Redactor(redaction_pipeline(), subject, threshold, plate_texts=plates)


def exporter(
    env_repo: object, media: object, audit: object, tmp: Path, footage: Path | None
) -> EvidenceExporter:
    """An exporter with a fresh key in ``tmp/keys`` (outside the data folder ``tmp/data``),
    real redaction and the footage as camera ``cam-1`` from :data:`FOOTAGE_T0`."""
    key = load_or_create_key(tmp / "keys" / "evidence.key", tmp / "data")
    clips = None if footage is None else FootageFiles({"cam-1": (footage, FOOTAGE_T0)})
    return EvidenceExporter(
        env_repo,  # type: ignore[arg-type]
        media,  # type: ignore[arg-type]
        audit,  # type: ignore[arg-type]
        key,
        redaction=EvidenceRedaction("fusion", make_redactor),
        clips=clips,
        versions={"face_detector": "yunet", "face_embedder": "fusion"},
        threshold=FacesConfig().identification.threshold,
    )
