"""NanoDet on real data: converted model vs the numpy TF reference, and people on vtest."""

from __future__ import annotations

from collections.abc import Iterator

import cv2
import numpy as np
import onnxruntime as ort
import pytest

from tests.support.data import shared_data
from vigil.core import CLASS_IDS, ObjectClass
from vigil.errors import ModelNotInstalledError
from vigil.models import tfjs
from vigil.models.builtin_objects import NANODET_GRAPH, NANODET_SHARD, NANODET_WEIGHTS
from vigil.models.installer import model_path
from vigil.perception.objects import HogPersonDetector, NanoDetDetector, load_nanodet_onnx


@pytest.fixture(scope="module")
def detector() -> Iterator[NanoDetDetector]:
    try:
        yield NanoDetDetector(threads=1)
    except ModelNotInstalledError as exc:
        pytest.skip(f"{exc} (run `vigil models install`)")


def _vtest_frame(index: int = 100) -> np.ndarray:
    cap = cv2.VideoCapture(str(shared_data("opencv_vtest", "vtest.avi")))
    frame = None
    for _ in range(index):
        ok, frame = cap.read()
        assert ok
    cap.release()
    assert frame is not None
    return frame


def test_converted_nanodet_matches_tf_semantics(detector: NanoDetDetector) -> None:
    graph = tfjs.parse_graph(
        model_path(NANODET_GRAPH).read_bytes(),
        {NANODET_SHARD: model_path(NANODET_WEIGHTS).read_bytes()},
    )
    x = np.random.default_rng(1).normal(size=(1, 3, 416, 416)).astype(np.float32)
    ref = tfjs.evaluate(graph, {"input_1": x})
    session = ort.InferenceSession(load_nanodet_onnx(), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    for name, got in zip(names, session.run(None, {"input_1": x}), strict=True):
        np.testing.assert_allclose(got, ref[name], rtol=1e-3, atol=2e-4, err_msg=name)


def test_vtest_people_and_vehicles(detector: NanoDetDetector) -> None:
    dets = detector.detect(_vtest_frame())
    people = dets.of_class(ObjectClass.PERSON)
    vehicles = dets[
        np.isin(dets.class_id, [CLASS_IDS[ObjectClass.CAR], CLASS_IDS[ObjectClass.TRUCK]])
    ]
    assert len(people) >= 6, people.xyxy
    assert len(vehicles) >= 1, dets.class_id
    heights = people.xyxy[:, 3] - people.xyxy[:, 1]
    assert np.median(heights) > 40  # boxes are people-sized, not cells


def test_hog_fallback_finds_someone_when_upscaled() -> None:
    if not hasattr(cv2, "HOGDescriptor"):
        pytest.skip("OpenCV >= 5 has no HOG")
    dets = HogPersonDetector(upscale=2.0).detect(_vtest_frame())
    assert len(dets) >= 1
    assert set(dets.class_id.tolist()) == {CLASS_IDS[ObjectClass.PERSON]}
