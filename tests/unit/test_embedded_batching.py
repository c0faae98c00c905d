"""Cross-camera batching in the embedded mode: one queue per model, batches across cameras,
answers split back to the right camera, failures and saturation loud."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from pydantic import ValidationError as PydanticError

from vigil.config.performance import BatchingConfig, RuntimeConfig
from vigil.errors import InferenceSaturatedError
from vigil.perception.batching import Priority
from vigil.perception.faces.embedders import FusionEmbedder, l2_normalise
from vigil.system.batching import SharedEmbedder, camera_context


class _Fake:
    """A fake embedder (unit test of the queue wrapper): a face's template is its mean pixel."""

    def __init__(self, name: str = "fake", fail: bool = False) -> None:
        self.name, self.dim, self.fail = name, 4, fail
        self.calls: list[int] = []
        self.gate = threading.Event()
        self.gate.set()

    def embed(self, faces: np.ndarray) -> np.ndarray:
        self.gate.wait(5)
        self.calls.append(len(faces))
        if self.fail:
            raise RuntimeError("model broke")
        m = faces.reshape(len(faces), -1).mean(axis=1, keepdims=True).astype(np.float32)
        return np.repeat(m, self.dim, axis=1)


def _faces(value: int, n: int) -> np.ndarray:
    return np.full((n, 112, 112, 3), value, np.uint8)


def test_two_cameras_share_one_model_call_and_get_their_own_answers() -> None:
    fake = _Fake()
    shared = SharedEmbedder(fake, BatchingConfig(max_batch=2, max_wait_ms=1000))
    answers: dict[str, np.ndarray] = {}

    def camera(cam: str, value: int, n: int) -> None:
        with camera_context(cam):
            answers[cam] = shared.embed(_faces(value, n))

    threads = [
        threading.Thread(target=camera, args=("a", 10, 2)),
        threading.Thread(target=camera, args=("b", 200, 3)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    try:
        assert fake.calls == [5]  # one call for both cameras' faces
        assert answers["a"].shape == (2, 4) and np.all(answers["a"] == 10)
        assert answers["b"].shape == (3, 4) and np.all(answers["b"] == 200)
        stats = shared.snapshot()
        assert stats["batches"] == 1 and stats["batch_sizes"] == {"2": 1}
        assert stats["answered"] == 2 and stats["dropped"] == 0
        assert stats["wait_ms"]["p50"] >= 0
        assert shared.embed(_faces(1, 0)).shape == (0, 4)  # nothing to embed: no request
    finally:
        shared.close()


def test_a_model_failure_reaches_every_waiting_camera() -> None:
    shared = SharedEmbedder(_Fake(fail=True), BatchingConfig(max_batch=4, max_wait_ms=0))
    try:
        with pytest.raises(RuntimeError, match="model broke"):
            shared.embed(_faces(3, 1))
        assert shared.snapshot()["failed"] == 1
    finally:
        shared.close()


def test_a_saturated_queue_drops_normal_cameras_first_and_counts_them() -> None:
    fake = _Fake()
    fake.gate.clear()  # the model thread blocks on its first batch
    shared = SharedEmbedder(fake, BatchingConfig(max_batch=1, max_wait_ms=0, capacity=1))
    results: list[object] = []

    def call(cam: str, priority: Priority) -> None:
        with camera_context(cam, priority):
            try:
                results.append(shared.embed(_faces(5, 1)))
            except InferenceSaturatedError as exc:
                results.append(exc)

    busy = threading.Thread(target=call, args=("first", Priority.NORMAL))
    busy.start()
    while not shared.queue.stats.batches:  # the model thread has taken it and is blocked
        threading.Event().wait(0.01)
    waiting = threading.Thread(target=call, args=("normal", Priority.NORMAL))
    waiting.start()
    while len(shared.queue) < 1:
        threading.Event().wait(0.01)
    high = threading.Thread(target=call, args=("deployed", Priority.HIGH))
    high.start()
    waiting.join(5)  # evicted by the high-priority request: answered as dropped at once
    fake.gate.set()
    busy.join(5)
    high.join(5)
    shared.close()
    drops = [r for r in results if isinstance(r, InferenceSaturatedError)]
    assert len(drops) == 1 and "normal" in str(drops[0])
    assert shared.snapshot()["drops"] == {"normal": {"normal": 1, "high": 0}}
    assert sum(isinstance(r, np.ndarray) for r in results) == 2


def test_a_fusion_keeps_one_queue_per_member() -> None:
    from vigil.perception.faces.pipeline import FacePipeline
    from vigil.system.batching import share_models

    members = [_Fake("sface"), _Fake("fr_feature")]
    fusion = FusionEmbedder(members, [2.0, 1.0])
    pipeline = FacePipeline(None, fusion, min_quality=0.0, min_face_px=8)  # type: ignore[arg-type]
    from vigil.perception.faces.cascade import make_cascade

    pipeline.cascade = make_cascade(fusion, "sface")
    models = share_models(pipeline, BatchingConfig(max_wait_ms=0))
    try:
        assert set(models.snapshot()) == {"sface", "fr_feature"}
        assert pipeline.cascade is not None and isinstance(pipeline.cascade.cheap, SharedEmbedder)
        out = pipeline.cascade.complete(_faces(9, 2), pipeline.cascade.embed_cheap(_faces(9, 2)))
        np.testing.assert_allclose(out, fusion.embed(_faces(9, 2)), atol=1e-6)
        assert np.allclose(np.linalg.norm(l2_normalise(out), axis=1), 1)
    finally:
        models.close()


@pytest.mark.parametrize(
    "bad",
    [
        {"device": "tpu"},
        {"batching": {"max_batch": 0}},
        {"batching": {"max_wait_ms": -1}},
        {"batching": {"capacity": 0}},
        {"batching": {"unknown": 1}},
    ],
)
def test_runtime_config_refuses_bad_values(bad: dict[str, object]) -> None:
    with pytest.raises(PydanticError):
        RuntimeConfig.model_validate(bad)
