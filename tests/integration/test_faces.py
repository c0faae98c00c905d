"""The face pipeline on real faces with the real models (installed by `make test`)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from vigil.config.settings import CenterFaceDetectorConfig, FacesConfig, YuNetDetectorConfig
from vigil.core import FrameRef, box_iou
from vigil.errors import InputError
from vigil.perception.faces.align import align_faces
from vigil.perception.faces.detectors import make_detector
from vigil.perception.faces.embedders import FusionEmbedder, make_embedder
from vigil.perception.faces.pipeline import FacePipeline
from vigil.perception.faces.quality import assess
from vigil.perception.image import load_image

pytestmark = pytest.mark.models

N_PEOPLE = 6


@pytest.fixture(scope="module")
def yunet() -> object:
    return make_detector(YuNetDetectorConfig())


@pytest.fixture(scope="module")
def faces(lfw_dir: Path) -> dict[str, list[np.ndarray]]:
    # Part of LFW is withheld from ../shared: take the six people with most images present.
    folders = sorted(lfw_dir.iterdir(), key=lambda d: (-len(list(d.glob("*.jpg"))), d.name))
    return {
        d.name: [load_image(f) for f in sorted(d.glob("*.jpg"))[:2]] for d in folders[:N_PEOPLE]
    }


def test_yunet_finds_one_face_with_plausible_landmarks(yunet, faces) -> None:  # type: ignore[no-untyped-def]
    for images in faces.values():
        dets = yunet.detect(images[0])
        assert len(dets) >= 1
        lm = dets.landmarks[0]
        assert lm[0, 0] < lm[1, 0]  # eyes left-to-right in the image
        assert lm[2, 1] > lm[:2, 1].max()  # nose below the eyes
        assert lm[3:, 1].min() > lm[2, 1]  # mouth below the nose


def _scene_with_small_faces(
    faces: dict[str, list[np.ndarray]], size: tuple[int, int], face_px: int
) -> tuple[np.ndarray, np.ndarray]:
    """A real street frame at ``size`` with LFW faces pasted at ``face_px`` wide."""
    w, h = size
    rng = np.random.default_rng(7)
    scene = np.full((h, w, 3), 90, np.uint8)
    scene[:] = rng.integers(60, 140, (1, 1, 3), dtype=np.uint8)
    scene = cv2.GaussianBlur(rng.integers(0, 255, (h, w, 3), dtype=np.uint8), (0, 0), 25)
    truth = []
    for k, images in enumerate(faces.values()):
        crop = images[0][60:190, 60:190]  # the face region of a deep-funneled LFW image
        scale = face_px / 0.7 / crop.shape[1]  # the face is ~70% of this crop
        small = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        x = 150 + (k % 3) * (w - 300) // 3
        y = 150 + (k // 3) * (h - 300) // 2
        scene[y : y + small.shape[0], x : x + small.shape[1]] = small
        truth.append([x, y, x + small.shape[1], y + small.shape[0]])
    return scene, np.array(truth, np.float32)


@pytest.mark.parametrize("backend", ["yunet", "centerface"])
def test_40px_faces_in_a_1080p_frame(faces, backend: str) -> None:  # type: ignore[no-untyped-def]
    config = YuNetDetectorConfig() if backend == "yunet" else CenterFaceDetectorConfig()
    detector = make_detector(config)
    scene, truth = _scene_with_small_faces(faces, (1920, 1080), face_px=40)
    dets = detector.detect(scene)
    hits = (box_iou(truth, dets.xyxy).max(axis=1) > 0.2).sum() if len(dets) else 0
    assert hits >= 5, f"{backend} found {hits} of 6 40-px faces"
    assert len(dets) <= 8, f"{backend} reported {len(dets)} boxes for 6 faces"


def test_tiling_keeps_small_faces_and_merges_overlaps(faces) -> None:  # type: ignore[no-untyped-def]
    scene, truth = _scene_with_small_faces(faces, (3840, 2160), face_px=48)
    whole = make_detector(YuNetDetectorConfig(max_input_side=4096)).detect(scene)
    tiled = make_detector(YuNetDetectorConfig(max_input_side=1024)).detect(scene)
    for dets in (whole, tiled):
        assert (box_iou(truth, dets.xyxy).max(axis=1) > 0.3).sum() >= 5
    # No face is reported twice where tiles overlap.
    iou = box_iou(tiled.xyxy, tiled.xyxy)
    np.fill_diagonal(iou, 0)
    assert iou.max(initial=0) < 0.3


@pytest.mark.parametrize("name", ["fr_feature", "sface", "mobilefacenet"])
def test_embedders_separate_people_and_batch_consistently(yunet, faces, name: str) -> None:  # type: ignore[no-untyped-def]
    crops = []
    for images in faces.values():
        for img in images:
            dets = yunet.detect(img)
            crops.append(align_faces(img, dets.landmarks[:1])[0])
    batch = np.stack(crops)
    embedder = make_embedder(name, batch_size=5)
    emb = embedder.embed(batch)
    assert emb.shape == (len(batch), embedder.dim) and emb.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    singles = np.concatenate([embedder.embed(batch[i : i + 1]) for i in range(3)])
    np.testing.assert_allclose(singles, emb[:3], atol=1e-4)
    sim = emb @ emb.T
    genuine = np.array([sim[2 * i, 2 * i + 1] for i in range(N_PEOPLE)])
    mask = np.ones_like(sim, bool)
    for i in range(N_PEOPLE):
        mask[2 * i : 2 * i + 2, 2 * i : 2 * i + 2] = False
    assert genuine.min() > sim[mask].max(), f"{name}: a stranger scored above a genuine pair"
    assert embedder.embed(np.zeros((0, 112, 112, 3), np.uint8)).shape == (0, embedder.dim)
    with pytest.raises(InputError, match="112, 112, 3"):
        embedder.embed(np.zeros((2, 64, 64, 3), np.uint8))


def test_fusion_dot_product_is_weighted_mean_of_cosines(yunet, faces) -> None:  # type: ignore[no-untyped-def]
    imgs = [images[0] for images in list(faces.values())[:3]]
    crops = np.stack([align_faces(i, yunet.detect(i).landmarks[:1])[0] for i in imgs])
    a, b = make_embedder("fr_feature"), make_embedder("sface")
    fused = FusionEmbedder([a, b], [3.0, 1.0]).embed(crops)
    ea, eb = a.embed(crops), b.embed(crops)
    expected = 0.75 * (ea @ ea.T) + 0.25 * (eb @ eb.T)
    np.testing.assert_allclose(fused @ fused.T, expected, atol=1e-5)


def test_quality_prefers_sharp_large_frontal_faces(yunet, faces) -> None:  # type: ignore[no-untyped-def]
    img = next(iter(faces.values()))[0]
    dets = yunet.detect(img)
    lm = dets.landmarks[0]
    crop = align_faces(img, lm[None])[0]
    sharp = assess(lm, crop)
    blurred = assess(lm, cv2.GaussianBlur(crop, (0, 0), 3))
    small = assess(lm * 0.3, crop)
    turned = lm.copy()
    turned[2, 0] = lm[1, 0] + 2  # nose at the edge of the face: near profile
    profile = assess(turned, crop)
    dark = assess(lm, (crop * 0.1).astype(np.uint8))
    assert sharp.score > 0.5
    for worse in (blurred, small, profile, dark):
        assert worse.score < sharp.score


def test_pipeline_gates_embedding_by_quality(faces) -> None:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    pipeline = FacePipeline.from_config(FacesConfig())
    img = list(faces.values())[1][0]
    frame = FrameRef("cam", datetime.now(UTC), 0, img.shape[1], img.shape[0])
    result = pipeline.analyse(img, frame)
    assert len(result.observations) >= 1
    assert result.usable[0] and result.observations[0].embedding is not None
    tiny = cv2.resize(img, (40, 40))
    tiny_frame = FrameRef("cam", datetime.now(UTC), 1, 40, 40)
    for obs, ok in zip(
        pipeline.analyse(tiny, tiny_frame).observations,
        pipeline.analyse(tiny, tiny_frame).usable,
        strict=True,
    ):
        assert not ok and obs.embedding is None


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((100, 100), np.uint8),
        np.zeros((100, 100, 3), np.float32),
        np.zeros((4, 4, 3), np.uint8),
        "not an array",
    ],
)
def test_detectors_reject_bad_arrays(yunet, bad) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InputError):
        yunet.detect(bad)
